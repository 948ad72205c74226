"""``name=value`` pairs of the command line (``--param``, repeatable); not a command itself.

Parameter files are read by :mod:`batchtrack.workflows.parameters`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["parse_assignments"]


def parse_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    """``["min_size=30", "threshold=otsu"]`` -> ``{"min_size": 30, "threshold": "otsu"}``.

    Values are read as TOML (``30``, ``0.5``, ``true``, ``"text"``); anything else is kept as
    text.

    Raises
    ------
    ParameterError
        A pair has no ``=`` or no name.
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(
                f"parameter {pair!r} must be written name=value (e.g. min_size=30)"
            )
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        values[name.strip()] = value
    return values
