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
arenas (e.g. drawn in Fiji). The shapes are turned into arenas by :mod:`batchtrack.arenas`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import OutputError, ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["read_arena_file", "write_arenas_csv"]


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
