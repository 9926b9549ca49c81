"""The version of conv-inspector."""

__version__ = "0.1.0"
