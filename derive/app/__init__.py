"""The ways in: the Python API, the command line and the gallery."""
