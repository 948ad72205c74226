"""Moments of a tracking result that need a look: where identity errors happen.

:func:`find_events` reads a tracking table (and the parameters it was tracked with) and lists
the events below, each with its kind, its first and last frame and the ids concerned. The
review window marks them on its timeline; the quality measures can count them.

========  ==============================================================================
kind      what
========  ==============================================================================
start     an id appears after the movie's first frame (an animal entered, or an identity
          was lost and a new one begun)
end       an id disappears before the movie's last frame
gap       an id is missing for some frames, then comes back (frames: the missing ones)
jump      an id moves at least ``jump`` × ``maxDist`` between two appearances (close to the
          largest distance linking allows: often a wrong link)
merge     an object is much larger than its id usually is (``area`` ≥ ``merged`` × the id's
          median area): two animals touching, detected as one blob
split     an object is much smaller than its id usually is (≤ ``split`` × median): a blob
          broken in pieces
count     frames with fewer or more objects than ``animals`` (when ``animals`` > 0)
========  ==============================================================================

Consecutive frames with the same event (an id merged for 12 frames, 5 frames with one fish
missing) give one event spanning them.

Examples
--------
>>> import pandas as pd
>>> from batchtrack.params import Parameters
>>> table = pd.DataFrame({"imageNumber": [0, 1, 3, 0, 1, 2, 3], "id": [0, 0, 0, 1, 1, 1, 1],
...                       "xBody": [0., 1, 3, 50, 50, 50, 50], "yBody": 0.,
...                       "areaBody": 100.})
>>> find_events(table, Parameters(animals=2))[["kind", "frame", "last", "ids"]]
    kind  frame  last   ids
0    gap      2     2  (0,)
1  count      2     2    ()
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .params import Parameters

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EVENT_KINDS", "EventThresholds", "find_events"]

#: Kinds of event, in the order of the table above.
EVENT_KINDS: tuple[str, ...] = ("start", "end", "gap", "jump", "merge", "split", "count")

_COLUMNS = ("kind", "frame", "last", "ids", "detail")


@dataclass(frozen=True)
class EventThresholds:
    """When a jump or an object's area counts as an event.

    Attributes
    ----------
    jump : float
        Fraction of ``maxDist`` from which a move between two appearances is a jump.
    merged, split : float
        Object area over its id's median area from which (merge) or under which (split) it
        is an event.
    """

    jump: float = 0.8
    merged: float = 1.6
    split: float = 0.55


def _runs(frames: np.ndarray) -> Iterator[tuple[int, int]]:
    """First and last frame of each run of consecutive frames (sorted input)."""
    if len(frames) == 0:
        return
    breaks = np.flatnonzero(np.diff(frames) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(frames) - 1]])
    for s, e in zip(starts.tolist(), ends.tolist()):
        yield int(frames[s]), int(frames[e])


def _track_events(
    track_id: int,
    frames: np.ndarray,
    xy: np.ndarray,
    area: np.ndarray,
    span: tuple[int, int],
    max_dist: float,
    limits: EventThresholds,
) -> Iterator[tuple[str, int, int, tuple[int, ...], str]]:
    ids = (track_id,)
    if frames[0] > span[0]:
        yield "start", int(frames[0]), int(frames[0]), ids, f"id {track_id} starts"
    if frames[-1] < span[1]:
        yield "end", int(frames[-1]), int(frames[-1]), ids, f"id {track_id} ends"
    steps = np.diff(frames)
    for i in np.flatnonzero(steps > 1).tolist():
        first, last = int(frames[i]) + 1, int(frames[i + 1]) - 1
        yield "gap", first, last, ids, f"id {track_id} missing for {last - first + 1} frame(s)"
    if len(frames) > 1 and max_dist > 0:
        moves = np.hypot(*np.diff(xy, axis=0).T)
        for i in np.flatnonzero(moves >= limits.jump * max_dist).tolist():
            k = int(frames[i + 1])
            yield "jump", k, k, ids, f"id {track_id} moves {moves[i]:.0f} px (maxDist {max_dist:g})"
    median = float(np.nanmedian(area)) if np.isfinite(area).any() else 0.0
    if median > 0:
        for kind, mask in (("merge", area >= limits.merged * median),
                           ("split", area <= limits.split * median)):  # fmt: skip
            for first, last in _runs(frames[mask]):
                word = "larger" if kind == "merge" else "smaller"
                yield kind, first, last, ids, f"id {track_id} much {word} than usual"


def _count_events(
    frames: np.ndarray, span: tuple[int, int], animals: int
) -> Iterator[tuple[str, int, int, tuple[int, ...], str]]:
    every = np.arange(span[0], span[1] + 1)
    counts = np.zeros(len(every), np.int64)
    present, n = np.unique(frames, return_counts=True)
    counts[present - span[0]] = n
    wrong = counts != animals
    for first, last in _runs(every[wrong]):
        seen = sorted(set(counts[first - span[0] : last - span[0] + 1].tolist()))
        text = "/".join(str(c) for c in seen)
        yield "count", first, last, (), f"{text} objects for {animals} animals"


def find_events(
    table: pd.DataFrame,
    params: Parameters | None = None,
    *,
    frames: tuple[int, int] | None = None,
    thresholds: EventThresholds | None = None,
) -> pd.DataFrame:
    """List the moments of a tracking result where identity errors are likely.

    Parameters
    ----------
    table : DataFrame
        Tracking table with the columns ``imageNumber``, ``id``, ``xBody``, ``yBody`` and
        ``areaBody`` (FastTrack's ``tracking.txt``).
    params : Parameters, optional
        The tracking parameters: ``maxDist`` (jumps) and ``animals`` (count events; none when
        0, unknown). Defaults if omitted.
    frames : tuple of int, optional
        First and last frame of the movie (both included); by default those of the table.
        Ids that start after the first or end before the last are events.
    thresholds : EventThresholds, optional
        When a jump or an area is an event.

    Returns
    -------
    DataFrame
        One row per event, ordered by frame then kind (as :data:`EVENT_KINDS`), with the
        columns ``kind`` (str), ``frame`` and ``last`` (first and last frame, int), ``ids``
        (tuple of int; empty for count events) and ``detail`` (a short sentence).
    """
    import pandas as pd

    params = params or Parameters()
    limits = thresholds or EventThresholds()
    if len(table) == 0:
        return pd.DataFrame({c: [] for c in _COLUMNS}).astype({"frame": int, "last": int})
    image = table["imageNumber"].to_numpy(np.int64)
    span = frames or (int(image.min()), int(image.max()))
    ordered = table.sort_values(["id", "imageNumber"], kind="stable")
    ids = ordered["id"].to_numpy(np.int64)
    rows: list[tuple[str, int, int, tuple[int, ...], str]] = []
    bounds = np.flatnonzero(np.diff(ids)) + 1
    k = ordered["imageNumber"].to_numpy(np.int64)
    xy = ordered[["xBody", "yBody"]].to_numpy(np.float64)
    area = ordered["areaBody"].to_numpy(np.float64)
    for s, e in zip(np.concatenate([[0], bounds]).tolist(), [*bounds.tolist(), len(ids)]):
        rows.extend(
            _track_events(int(ids[s]), k[s:e], xy[s:e], area[s:e], span, params.maxDist, limits)
        )
    if params.animals > 0:
        rows.extend(_count_events(image, span, params.animals))
    events = pd.DataFrame(rows, columns=list(_COLUMNS))
    events["order"] = events["kind"].map(EVENT_KINDS.index)
    events = events.sort_values(["frame", "order"], kind="stable").drop(columns="order")
    return events.astype({"frame": np.int64, "last": np.int64}).reset_index(drop=True)
