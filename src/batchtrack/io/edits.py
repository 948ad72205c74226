"""The edit log of a result folder: ``Tracking_Result/edits.toml``, human-readable, in order.

The log is a list of records, oldest first, each a TOML table ``[[edit]]`` with ``what``
(swap, rename, merge, delete), ``ids``, ``first`` and optionally ``last`` (frames, both
included) and ``when`` (ISO 8601, UTC)::

    # batchtrack edit log: applied in this order to tracking_original.txt
    [[edit]]
    what = "swap"
    ids = [3, 5]
    first = 120
    when = "2026-12-01T11:02:03+00:00"

This module reads and writes the records as plain mappings; :mod:`batchtrack.edits` turns
them into edits and applies them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["EDITS", "ORIGINAL", "read_edit_log", "write_edit_log"]

#: The edit log of a result folder.
EDITS = "edits.toml"
#: The uncorrected table, kept beside the corrected ``tracking.txt`` once a result is edited.
ORIGINAL = "tracking_original.txt"

_HEADER = "# batchtrack edit log: applied in this order to tracking_original.txt\n"


def read_edit_log(folder: str | Path) -> list[dict[str, Any]]:
    """The records of ``folder/edits.toml``, oldest first (none if there is no log).

    Raises
    ------
    InputError
        If the file is not valid TOML or does not hold a list of ``[[edit]]`` tables.
    """
    path = Path(folder) / EDITS
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"cannot read the edit log {path}: {error}") from error
    records = data.get("edit", [])
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(f"{path}: expected [[edit]] tables, got {type(records).__name__}")
    return records


def _value(value: Any) -> str:
    """A TOML value: integer, string, or a one-line array of them."""
    if isinstance(value, bool) or not isinstance(value, (int, str, list, tuple)):
        raise TypeError(f"edit log values are integers, strings or lists, got {value!r}")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def write_edit_log(folder: str | Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write the records to ``folder/edits.toml`` (replacing it), oldest first.

    Each record is one ``[[edit]]`` table, one ``key = value`` line per item, arrays on one
    line, so that the log reads (and diffs) well.
    """
    path = Path(folder) / EDITS
    blocks = [
        "[[edit]]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in record.items())
        for record in records
    ]
    path.write_text(_HEADER + "\n".join(blocks), encoding="utf-8")
    return path
