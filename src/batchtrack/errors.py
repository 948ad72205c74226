"""Exception types for batchtrack's own failures."""

from __future__ import annotations


class BatchtrackError(Exception):
    """Base class of every error batchtrack raises on purpose."""


class InputError(BatchtrackError):
    """An input (movie, frame, background image) is missing or unreadable."""


class ParameterError(BatchtrackError):
    """A parameter value or a parameter file is invalid."""


class OutputError(BatchtrackError):
    """A result cannot be written where it was asked."""
