"""The validated description of a network: its model, files and checks."""
