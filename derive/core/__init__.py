"""The mathematics: activations and losses, exact numbers, the graph, the chain rule, the steps."""
