"""Reading arena files and writing what a result says about its arenas.

An arena file (``--arenas FILE``) is either a **TOML file** of shapes, in pixel coordinates::

    [[arena]]
    shape = "circle"
    centre = [120, 140]
    radius = 80
    animals = 1              # optional: the count in this arena

    [[arena]]
    shape = "rectangle"
    corner = [300, 40]       # top-left
    size = [200, 200]        # width, height

    [[arena]]
    shape = "polygon"
    points = [[10, 300], [200, 300], [100, 420]]

or a **label image** the size of the frames (PNG, TIFF, PGM…): 0 outside, 1, 2… for the
arenas (e.g. drawn in Fiji). The shapes are turned into arenas by :mod:`batchtrack.arenas`;
:func:`write_arena_file` writes shapes back (the GUI's arena editor saves with it).

A result tracked with arenas holds their label image, ``arena_labels.png`` (16-bit PNG, the
arenas exactly as tracked; itself a valid ``--arenas`` file), read by :func:`read_result_arenas`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tomli_w

from ..errors import OutputError, ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "LABELS_FILE",
    "read_arena_file",
    "read_result_arenas",
    "write_arena_file",
    "write_arenas_csv",
]

#: The label image of the arenas a result was tracked with, in its folder.
LABELS_FILE = "arena_labels.png"


def read_arena_file(path: str | Path) -> list[dict[str, Any]] | np.ndarray:
    """The ``[[arena]]`` tables of a TOML file, or the label image of an image file.

    Raises
    ------
    ParameterError
        A missing file, invalid TOML, no ``[[arena]]`` table, or an unreadable image.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ParameterError(
            f"arena file {path} does not exist; give a TOML file of shapes, a label image, "
            "grid:ROWSxCOLS or auto"
        )
    if path.suffix.lower() != ".toml":
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ParameterError(
                f"arena file {path} is neither a TOML file of shapes nor a readable image"
            )
        return image
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ParameterError(f"arena file {path} is not valid TOML: {error}") from None
    items = document.get("arena")
    if not isinstance(items, list) or not items:
        raise ParameterError(
            f"arena file {path} has no [[arena]] table; write one per arena with shape = "
            '"circle", "rectangle" or "polygon"'
        )
    return items


def write_arenas_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``arenas.csv`` (comma-separated): one row per arena (``arena``, ``name``, ``shape``,
    ``area_px``, ``animals``, ``ids``).

    Raises
    ------
    OutputError
        If the file cannot be written.
    """
    fields = ["arena", "name", "shape", "area_px", "animals", "ids"]
    try:
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error}") from error


def write_arena_file(path: str | Path, arenas: Sequence[Mapping[str, Any]]) -> Path:
    """Write arenas as a TOML file of shapes (one ``[[arena]]`` table each).

    :func:`read_arena_file` and :func:`batchtrack.arenas.make_arena_set` read it back to the
    same shapes.

    Parameters
    ----------
    path : str or Path
        The file to write (``.toml``).
    arenas : sequence of mapping
        At least one; each a table as :func:`batchtrack.arenas.arena_to_mapping` makes it
        (``shape`` and its coordinates, optional ``animals`` and ``name``).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ParameterError
        No arena, or a file name that does not end in ``.toml``.
    OutputError
        If the file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> circle = {"shape": "circle", "centre": [5.0, 5.0], "radius": 3.0}
    >>> saved = write_arena_file(folder / "a.toml", [circle])
    >>> read_arena_file(saved)
    [{'shape': 'circle', 'centre': [5.0, 5.0], 'radius': 3.0}]
    """
    path = Path(path).expanduser()
    if not arenas:
        raise ParameterError(f"no arena to write to {path}; draw at least one")
    if path.suffix.lower() != ".toml":
        raise ParameterError(f"arena file {path} must end in .toml (a TOML file of shapes)")
    header = "# Arenas (pixel coordinates), read by batchtrack --arenas FILE\n\n"
    text = header + tomli_w.dumps({"arena": [dict(a) for a in arenas]})
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputError(
            f"cannot write {path}: {error.strerror or error}; check the folder"
        ) from error
    return path


def read_result_arenas(folder: str | Path) -> np.ndarray | None:
    """The label image of the arenas a result folder was tracked with (None: no arenas).

    Returns
    -------
    ndarray of int32, shape (H, W) or None
        0 outside, ``k`` inside arena ``k``; None when the folder has no ``arena_labels.png``
        (tracked without arenas, or before batchtrack wrote it).

    Raises
    ------
    ParameterError
        If the file exists but is not a readable one-channel image.
    """
    path = Path(folder) / LABELS_FILE
    if not path.is_file():
        return None
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise ParameterError(f"{path} is not a one-channel label image; track the movie again")
    return labels.astype(np.int32)
