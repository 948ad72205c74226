"""batchtrack: FastTrack-compatible tracking of many movies at once."""

__version__ = "0.1.0"
