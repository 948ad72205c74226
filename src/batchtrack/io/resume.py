"""Resume markers: what produced a finished result, so that a rerun can skip it.

A marker records the workflow, the parameter hash, the background's hash, the input's size and
modification time, and batchtrack's version. Tracking saves it as ``batchtrack.json`` inside
its result folder; the other workflows as ``.<input name>.batchtrack.json`` in their output
folder. A rerun skips an entry whose saved marker equals the marker of its current inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import __version__
from .edits import EDITS

__all__ = [
    "MARKER",
    "edits_hash",
    "input_signature",
    "make_marker",
    "marker_matches",
    "write_marker",
]

#: File of a tracking result folder recording what produced it.
MARKER = "batchtrack.json"


def _file_hash(path: Path | None) -> str:
    if path is None:
        return "computed"
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_signature(path: Path) -> dict[str, Any]:
    """Size and modification time of a movie (all frames of a sequence)."""
    if path.is_dir():
        stats = [entry.stat() for entry in os.scandir(path) if entry.is_file()]
        return {
            "files": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "mtime": max((s.st_mtime for s in stats), default=0.0),
        }
    stat = path.stat()
    return {"files": 1, "bytes": stat.st_size, "mtime": stat.st_mtime}


def make_marker(
    entry_path: Path, params_hash: str, background: Path | None, workflow: str
) -> dict[str, Any]:
    """What identifies a finished result: inputs, parameters, background, version."""
    return {
        "workflow": workflow,
        "params": params_hash,
        "background": _file_hash(background),
        "input": input_signature(entry_path),
        "version": __version__,
    }


def edits_hash(folder: Path) -> str | None:
    """Hash of the folder's edit log ``edits.toml``, None if it has none."""
    path = folder / EDITS
    return _file_hash(path) if path.is_file() else None


def marker_matches(marker_file: Path, marker: dict[str, Any]) -> bool:
    """True if ``marker_file`` records a result made from exactly these inputs.

    A corrected result records the hash of its edit log under ``edits``; it matches only while
    the log beside it is the one its tables were saved with.
    """
    try:
        saved = json.loads(marker_file.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(saved, dict):
        return False
    edits = saved.pop("edits", None)
    return bool(saved == marker) and edits == edits_hash(marker_file.parent)


def write_marker(marker_file: Path, marker: dict[str, Any]) -> None:
    """Save a marker (sorted keys, so that equal markers give equal files)."""
    marker_file.write_text(json.dumps(marker, indent=1, sort_keys=True))
