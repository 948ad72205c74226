"""Corrections of a tracking table: swap, rename, merge and delete ids, as one pure function.

An :class:`Edit` names an operation, the ids it concerns and the frames it covers
(``imageNumber`` values, both ends included; ``last=None`` means to the end of the movie).
:func:`apply_edits` applies a list of them in order to a tracking table and returns a new
table; the input is never modified, so an edit log replayed on the original table always gives
the same corrected table. The log itself is read and written by :mod:`batchtrack.io.edits`.

Operations
----------
swap a b
    From ``first`` (to ``last``), the objects of id *a* take id *b* and those of *b* take *a*.
rename a b
    Over the frames, the objects of id *a* take id *b*; *b* must have no object in those
    frames (use *swap*, or *merge*, when it has).
merge a b
    Every object of id *a* takes id *b*; in frames where both ids have an object, *b*'s is kept
    and *a*'s is dropped (the two were fragments of one animal, or one was a duplicate).
delete a
    The objects of id *a* over the frames are removed (one frame: a single object).

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"imageNumber": [0, 0, 1, 1], "id": [0, 1, 0, 1], "xBody": [1, 9, 2, 8]})
>>> fixed = apply_edits(table, [Edit("swap", (0, 1), first=1)])
>>> fixed["xBody"][fixed["id"] == 0].tolist()
[1, 8]
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import BatchtrackError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Edit", "EditError", "Operation", "apply_edits"]


class EditError(BatchtrackError):
    """An edit cannot be applied (an id without objects in its frames, a conflict...)."""


class Operation(str, enum.Enum):
    """The kinds of edit, with the number of ids each takes."""

    SWAP = "swap"
    RENAME = "rename"
    MERGE = "merge"
    DELETE = "delete"

    @property
    def n_ids(self) -> int:
        return 1 if self is Operation.DELETE else 2


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Edit:
    """One correction of a tracking table.

    Parameters
    ----------
    what : Operation or str
        ``"swap"``, ``"rename"``, ``"merge"`` or ``"delete"``.
    ids : tuple of int
        Two ids (*a*, *b*), or one for *delete*.
    first : int
        First frame (``imageNumber``) the edit covers; 0 by default.
    last : int, optional
        Last frame covered (included); None: to the end of the movie. *merge* always covers
        the whole movie.
    when : str
        When the edit was made (ISO 8601, UTC); now by default.

    Raises
    ------
    EditError
        If the operation is unknown, the number of ids is wrong, an id or frame is negative,
        ``last < first``, or *swap*/*rename*/*merge* names the same id twice.
    """

    what: Operation | str
    ids: tuple[int, ...]
    first: int = 0
    last: int | None = None
    when: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        try:
            what = Operation(self.what)
        except ValueError:
            allowed = ", ".join(op.value for op in Operation)
            raise EditError(f"unknown edit {self.what!r}; use one of {allowed}") from None
        object.__setattr__(self, "what", what)
        ids = tuple(int(i) for i in self.ids)
        object.__setattr__(self, "ids", ids)
        if len(ids) != what.n_ids:
            raise EditError(f"{what.value} takes {what.n_ids} id(s), got {len(ids)}: {ids}")
        if any(i < 0 for i in ids) or self.first < 0:
            raise EditError(f"ids and frames are ≥ 0, got ids {ids} from frame {self.first}")
        if len(set(ids)) != len(ids):
            raise EditError(f"{what.value} needs two different ids, got {ids[0]} twice")
        if self.last is not None and self.last < self.first:
            raise EditError(f"frame range {self.first}–{self.last} is empty (last < first)")
        if what is Operation.MERGE and (self.first != 0 or self.last is not None):
            raise EditError("merge covers the whole movie; use rename for a range of frames")

    @property
    def operation(self) -> Operation:
        """``what`` as an :class:`Operation`."""
        return Operation(self.what)

    def frames(self) -> str:
        """The frames covered, in words (``"frames 40–90"``, ``"from frame 120"``)."""
        if self.operation is Operation.MERGE:
            return "all frames"
        if self.last is None:
            return f"from frame {self.first}"
        return (
            f"frame {self.first}"
            if self.last == self.first
            else (f"frames {self.first}–{self.last}")
        )

    def describe(self) -> str:
        """One line for people, e.g. ``"swap 3 5 from frame 120"``."""
        ids = " ".join(str(i) for i in self.ids)
        return f"{self.operation.value} {ids} {self.frames()}"

    def to_record(self) -> dict[str, Any]:
        """A plain mapping for the edit log (``last`` left out when open-ended)."""
        record: dict[str, Any] = {
            "what": self.operation.value, "ids": list(self.ids), "first": self.first,
        }  # fmt: skip
        if self.last is not None:
            record["last"] = self.last
        record["when"] = self.when
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Edit:
        """The edit of a log record (see :meth:`to_record`).

        Raises
        ------
        EditError
            If a key is missing or unknown, or a value is invalid.
        """
        unknown = set(record) - {"what", "ids", "first", "last", "when"}
        if unknown:
            raise EditError(f"unknown key(s) {sorted(unknown)} in edit {dict(record)}")
        try:
            return cls(
                record["what"],
                tuple(record["ids"]),
                first=int(record.get("first", 0)),
                last=None if record.get("last") is None else int(record["last"]),
                when=str(record.get("when", "")),
            )
        except KeyError as missing:
            raise EditError(f"edit {dict(record)} lacks {missing}") from None
        except (TypeError, ValueError) as error:
            raise EditError(f"invalid edit {dict(record)}: {error}") from None


def _in_frames(frames: np.ndarray, edit: Edit) -> np.ndarray:
    inside = frames >= edit.first
    if edit.last is not None:
        inside &= frames <= edit.last
    return inside


def _require(
    ids: np.ndarray, where: np.ndarray, track_id: int, edit: Edit, *, other: int | None = None
) -> None:
    """Raise EditError unless ``track_id`` (or ``other``) has a row where ``where`` holds."""
    wanted = [track_id] if other is None else [track_id, other]
    if not np.any(where & np.isin(ids, wanted)):
        span = edit.frames()
        span = span if span.startswith("from") else f"in {span}"
        if other is None:
            who = f"id {track_id} has no object"
        else:
            who = f"neither id {track_id} nor id {other} has an object"
        raise EditError(f"{edit.describe()}: {who} {span}")


def _apply_one(
    frames: np.ndarray, ids: np.ndarray, keep: np.ndarray, edit: Edit
) -> tuple[np.ndarray, np.ndarray]:
    """New ids and kept rows after one edit (arrays are not modified)."""
    op = edit.operation
    where = _in_frames(frames, edit) & keep
    a = edit.ids[0]
    if op is Operation.SWAP:  # one of the two is enough: "a becomes b (and b, if any, a)"
        _require(ids, where & np.isin(ids, edit.ids), a, edit, other=edit.ids[1])
    else:
        _require(ids, where, a, edit)
    new_ids, new_keep = ids.copy(), keep.copy()
    rows_a = where & (ids == a)
    if op is Operation.DELETE:
        new_keep[rows_a] = False
        return new_ids, new_keep
    b = edit.ids[1]
    rows_b = where & (ids == b)
    if op is Operation.SWAP:
        new_ids[rows_a], new_ids[rows_b] = b, a
    elif op is Operation.RENAME:
        clash = np.intersect1d(frames[rows_a], frames[rows_b])
        if len(clash):
            shown = ", ".join(str(k) for k in clash[:5]) + (", …" if len(clash) > 5 else "")
            raise EditError(
                f"{edit.describe()}: id {b} already has an object in frame(s) {shown}; "
                f"use swap, or merge {a} {b}"
            )
        new_ids[rows_a] = b
    else:  # MERGE
        _require(ids, where, b, edit)
        both = np.isin(frames, frames[rows_b])
        new_keep[rows_a & both] = False
        new_ids[rows_a] = b
    return new_ids, new_keep


def apply_edits(table: pd.DataFrame, edits: Iterable[Edit]) -> pd.DataFrame:
    """Apply edits in order to a tracking table and return the corrected table.

    Parameters
    ----------
    table : DataFrame
        Tracking table with at least the columns ``imageNumber`` and ``id`` (FastTrack's 23
        columns in a result), one row per object per frame. It is not modified.
    edits : iterable of Edit
        The corrections, oldest first; each applies to the table the previous ones made.

    Returns
    -------
    DataFrame
        A new table with the same columns: ids changed, deleted rows removed, rows ordered by
        ``imageNumber`` then ``id`` (stable, so an empty list of edits on a result gives it back
        unchanged), index 0…N-1.

    Raises
    ------
    EditError
        If an edit names an id with no object in the frames it covers, or a *rename* would give
        an id two objects in one frame. The message names the edit and the id; nothing is
        returned (the input table is unchanged in any case).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"imageNumber": [0, 1, 2], "id": [4, 4, 4]})
    >>> apply_edits(table, [Edit("rename", (4, 7), first=1, last=1)])["id"].tolist()
    [4, 7, 4]
    >>> apply_edits(table, [Edit("delete", (9,))])
    Traceback (most recent call last):
    ...
    batchtrack.edits.EditError: delete 9 from frame 0: id 9 has no object from frame 0
    """
    frames = table["imageNumber"].to_numpy(np.int64)
    ids = table["id"].to_numpy(np.int64)
    keep = np.ones(len(table), bool)
    changed = False
    for edit in edits:
        ids, keep = _apply_one(frames, ids, keep, edit)
        changed = True
    if not changed:
        return table.copy().reset_index(drop=True)
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((ids[rows], frames[rows]))]  # stable: by frame, then id
    result = table.take(rows).reset_index(drop=True)
    result["id"] = ids[rows].astype(table["id"].dtype, copy=False)
    return result
