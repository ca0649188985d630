"""The release's version, in one place: ``derive.__version__``, ``derive --version`` and the build read it."""

__version__ = "0.1.0"
