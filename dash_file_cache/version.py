"""Version of dash-file-cache."""

__version__ = "0.3.0"
