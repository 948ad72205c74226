"""The tracking table's columns, named once for every stage.

Every stage passes the same table: detection gives the 21 feature columns of each object,
linking appends the frame index and the identity, and ``tracking.txt`` / ``tracking.db`` hold
the 23 columns in FastTrack's order. Code addresses columns through the names and indices
below, never through bare numbers, so that a new column cannot silently shift another.

Examples
--------
>>> TRACKING_COLUMNS[ID], TRACKING_COLUMNS[X_BODY]
('id', 'xBody')
>>> len(FEATURE_COLUMNS), len(TRACKING_COLUMNS)
(21, 23)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AREA_BODY",
    "FEATURE_COLUMNS",
    "ID",
    "IMAGE_NUMBER",
    "N_FEATURES",
    "PERIMETER_BODY",
    "SPOT_COLUMNS",
    "TRACKING_COLUMNS",
    "T_BODY",
    "X_BODY",
    "Y_BODY",
    "column",
    "tracking_table",
]

#: Per-object feature columns, in FastTrack's order (the 21 first columns of ``tracking.txt``).
FEATURE_COLUMNS: tuple[str, ...] = (
    "xHead", "yHead", "tHead", "xTail", "yTail", "tTail", "xBody", "yBody", "tBody",
    "curvature", "areaBody", "perimeterBody",
    "headMajorAxisLength", "headMinorAxisLength", "headExcentricity",
    "tailMajorAxisLength", "tailMinorAxisLength", "tailExcentricity",
    "bodyMajorAxisLength", "bodyMinorAxisLength", "bodyExcentricity",
)  # fmt: skip

#: The 23 columns of ``tracking.txt`` and of the ``tracking`` table of ``tracking.db``.
TRACKING_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, "imageNumber", "id")

N_FEATURES = len(FEATURE_COLUMNS)


def column(name: str) -> int:
    """Index of a column of :data:`TRACKING_COLUMNS` (the first 21 are also the features').

    Examples
    --------
    >>> column("areaBody")
    10
    """
    return TRACKING_COLUMNS.index(name)


X_BODY, Y_BODY, T_BODY = column("xBody"), column("yBody"), column("tBody")
AREA_BODY, PERIMETER_BODY = column("areaBody"), column("perimeterBody")
IMAGE_NUMBER, ID = column("imageNumber"), column("id")

#: Feature columns (x, y, angle) of the spot used for linking: 0 head, 1 tail, 2 body.
SPOT_COLUMNS: dict[int, tuple[int, int, int]] = {
    0: (column("xHead"), column("yHead"), column("tHead")),
    1: (column("xTail"), column("yTail"), column("tTail")),
    2: (X_BODY, Y_BODY, T_BODY),
}


def tracking_table(blocks: Sequence[np.ndarray]) -> pd.DataFrame:
    """The tracking table of row blocks, each of shape (k, 23); ``imageNumber`` and ``id`` as
    integers.

    Examples
    --------
    >>> tracking_table([np.zeros((2, 23))]).dtypes["id"]
    dtype('int64')
    """
    import pandas as pd  # only when a table is asked for: it costs 0.16 s to import

    rows = np.concatenate(blocks) if len(blocks) else np.empty((0, len(TRACKING_COLUMNS)))
    table = pd.DataFrame(rows, columns=list(TRACKING_COLUMNS))
    return table.astype({"imageNumber": np.int64, "id": np.int64})
