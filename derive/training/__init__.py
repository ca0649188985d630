"""Gradient descent over many updates: the 40-digit updates, a float engine and a matrix engine."""
