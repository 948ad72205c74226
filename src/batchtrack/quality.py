"""Quality of a tracking result without ground truth: measures, a verdict and its reasons.

Each measure is computed from the result table alone (plus the number of frames read, the
unreadable frames and the frame times). A result whose measures all stay within the
thresholds below gets the verdict ``ok``; any other gets ``check``, with one reason per
threshold crossed.

============================  ===============================================  =============
measure                       meaning                                          ``check`` if
============================  ===============================================  =============
``ids`` vs ``animals``        identities made, animals expected (0 = unknown)  ids > animals
``expected_count_fraction``   frames whose object count is the expected one    < 0.90
                              (``animals``, else the most frequent count)
``fragments``                 runs of consecutive frames, over all ids         (informative)
``longest_gap``               longest absence (frames) of an id between two    (informative)
                              of its runs
``merge_events``              an id's area jumping above 1.6 × the median      > 0.01 per
                              area (two animals seen as one); ``split_events``  animal and
                              the return below it                              frame
``jump_fraction``             steps of the linked point longer than 0.8 ×      > 0.01
                              ``maxDist`` (likely wrong links)
``skipped_frames``            unreadable frames, plus frames missing from the  > 0.5 % of
                              timestamps (an interval over 1.5 × the median)   frames
``area_drift``                largest change of the median object area over a  > 0.25
                              block of 10 % of the frames, from the first      (either sign)
                              block (lighting, focus)
no object                     nothing detected                                 always
============================  ===============================================  =============

Everything here works on arrays and tables; nothing reads or writes files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QUALITY_COLUMNS", "THRESHOLDS", "Quality", "assess", "assess_arenas"]

#: The columns of a result :func:`assess` reads (with ``arena`` for :func:`assess_arenas`).
QUALITY_COLUMNS = (
    "imageNumber", "id", "areaBody", "xHead", "yHead", "xTail", "yTail", "xBody", "yBody",
)  # fmt: skip

#: The thresholds of the verdict (see the module docstring).
THRESHOLDS: dict[str, float] = {
    "expected_count_fraction": 0.90,
    "merge_rate": 0.01,
    "merge_area_factor": 1.6,
    "jump_fraction": 0.01,
    "jump_factor": 0.8,
    "skipped_fraction": 0.005,
    "gap_factor": 1.5,
    "area_drift": 0.25,
    "drift_window": 0.10,
}

_SPOTS = {0: ("xHead", "yHead"), 1: ("xTail", "yTail"), 2: ("xBody", "yBody")}


@dataclass
class Quality:
    """The measures of one result, its verdict and the reasons for it."""

    frames: int
    ids: int
    animals: int
    expected_count: int
    expected_count_fraction: float
    fragments: int
    longest_gap: int
    merge_events: int
    split_events: int
    jumps: int
    jump_fraction: float
    skipped_frames: int
    dropped_frames: int
    area_drift: float
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON values (NaN as None), with the thresholds used."""
        values = {
            k: (None if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in asdict(self).items()
        }
        return {**values, "thresholds": dict(THRESHOLDS)}


def _runs(frames: np.ndarray, ids: np.ndarray) -> tuple[int, int]:
    """Runs of consecutive frames over all ids, and the longest gap inside one id."""
    if len(frames) == 0:
        return 0, 0
    order = np.lexsort((frames, ids))
    f, i = frames[order], ids[order]
    same = i[1:] == i[:-1]
    step = np.diff(f)
    breaks = same & (step > 1)
    gaps = step[breaks] - 1
    return int(len(np.unique(i)) + np.count_nonzero(breaks)), int(gaps.max(initial=0))


def _merges(table: pd.DataFrame) -> tuple[int, int]:
    """Transitions of an id into and out of an area above merge_area_factor × median."""
    area = table["areaBody"].to_numpy(np.float64)
    if len(area) == 0:
        return 0, 0
    big = area > THRESHOLDS["merge_area_factor"] * float(np.nanmedian(area))
    order = np.lexsort((table["imageNumber"].to_numpy(), table["id"].to_numpy()))
    ids = table["id"].to_numpy()[order]
    big = big[order]
    same = ids[1:] == ids[:-1]
    merges = np.count_nonzero(same & ~big[:-1] & big[1:])
    splits = np.count_nonzero(same & big[:-1] & ~big[1:])
    return int(merges), int(splits)


def _jumps(table: pd.DataFrame, spot: int, max_dist: float) -> tuple[int, int]:
    """Steps of the linked point (px, consecutive frames) above jump_factor × maxDist."""
    x_name, y_name = _SPOTS.get(spot, _SPOTS[0])
    # sorted as arrays: a sorted copy of the whole table costs its size again
    order = np.lexsort((table["imageNumber"].to_numpy(), table["id"].to_numpy()))
    ids = table["id"].to_numpy()[order]
    frames = table["imageNumber"].to_numpy()[order]
    xy = np.column_stack(
        [table[x_name].to_numpy(np.float64)[order], table[y_name].to_numpy(np.float64)[order]]
    )
    linked = (ids[1:] == ids[:-1]) & (np.diff(frames) == 1)
    steps = np.hypot(*np.diff(xy, axis=0).T)[linked]
    return int(np.count_nonzero(steps > THRESHOLDS["jump_factor"] * max_dist)), len(steps)


def _dropped(times: np.ndarray | None) -> int:
    """Frames missing from the timestamps: intervals above gap_factor × the median."""
    if times is None or len(times) < 3:
        return 0
    steps = np.diff(times[np.isfinite(times)])
    if len(steps) == 0:
        return 0
    median = float(np.median(steps))
    if median <= 0:
        return 0
    long = steps[steps > THRESHOLDS["gap_factor"] * median]
    return int(np.sum(np.rint(long / median) - 1))


def _drift(table: pd.DataFrame, n_frames: int) -> float:
    """The largest relative change of the median object area, block of frames after block
    (drift_window of the movie each), from the first block (sign kept)."""
    window = max(1, round(THRESHOLDS["drift_window"] * n_frames))
    frames = table["imageNumber"].to_numpy(np.int64)
    area = table["areaBody"].to_numpy(np.float64)
    blocks = (frames - frames.min()) // window
    medians = [float(np.nanmedian(area[blocks == b])) for b in np.unique(blocks)]
    if not medians or medians[0] <= 0:
        return float("nan")
    changes = np.asarray(medians) / medians[0] - 1.0
    return float(changes[np.argmax(np.abs(changes))])


def assess(
    table: pd.DataFrame,
    *,
    n_frames: int,
    skipped: tuple[int, ...] | list[int] = (),
    animals: int = 0,
    max_dist: float = 200.0,
    spot: int = 0,
    times: np.ndarray | None = None,
) -> Quality:
    """Measure a result and give its verdict.

    Parameters
    ----------
    table : DataFrame
        The result in pixels (``tracking.txt``'s columns): ``imageNumber``, ``id``,
        ``areaBody`` and the spot's and body's coordinates.
    n_frames : int
        Frames of the movie (unreadable ones included).
    skipped : sequence of int
        Indices of the unreadable frames.
    animals : int
        Animals in the movie, 0 when unknown.
    max_dist, spot : float, int
        The linking parameters ``maxDist`` (px) and ``spot``.
    times : ndarray, optional
        Frame timestamps of a video (s), to find dropped frames.

    Returns
    -------
    Quality

    Examples
    --------
    >>> import pandas as pd
    >>> empty = pd.DataFrame(columns=["imageNumber", "id", "areaBody", "xHead", "yHead"])
    >>> q = assess(empty, n_frames=10)
    >>> q.verdict, q.reasons
    ('check', ['no object detected in any frame'])
    """
    frames = table["imageNumber"].to_numpy(np.int64)
    ids = table["id"].to_numpy(np.int64)
    n_frames = max(n_frames, int(frames.max(initial=-1)) + 1)
    read = np.ones(n_frames, bool)
    lost = np.asarray([k for k in skipped if 0 <= k < n_frames], np.int64)
    read[lost] = False
    counts = np.bincount(frames, minlength=n_frames)[read]
    typical = int(np.bincount(counts).argmax()) if len(counts) else 0
    expected = animals or typical
    fraction = float(np.mean(counts == expected)) if len(counts) else 0.0
    fragments, longest_gap = _runs(frames, ids)
    merges, splits = _merges(table)
    jumps, steps = _jumps(table, spot, max_dist)
    quality = Quality(
        frames=int(read.sum()),
        ids=len(np.unique(ids)),
        animals=animals,
        expected_count=expected,
        expected_count_fraction=fraction,
        fragments=fragments,
        longest_gap=longest_gap,
        merge_events=merges,
        split_events=splits,
        jumps=jumps,
        jump_fraction=jumps / steps if steps else 0.0,
        skipped_frames=len(lost),
        dropped_frames=_dropped(times),
        area_drift=_drift(table, n_frames) if len(table) else float("nan"),
    )
    quality.reasons = _reasons(quality)
    quality.verdict = "check" if quality.reasons else "ok"
    return quality


def assess_arenas(
    table: pd.DataFrame,
    animals: list[int],
    *,
    n_frames: int,
    skipped: tuple[int, ...] | list[int] = (),
    max_dist: float = 200.0,
    spot: int = 0,
) -> list[dict[str, Any]]:
    """Each arena's verdict: :func:`assess` of its rows (``arena`` column) with its count.

    Parameters
    ----------
    table : DataFrame
        The result, with an ``arena`` column (1, 2…).
    animals : list of int
        The animals of each arena (0 = unknown), arena 1 first.
    n_frames, skipped, max_dist, spot
        As for :func:`assess`.

    Returns
    -------
    list of dict
        Per arena: ``arena``, ``animals``, ``ids``, ``expected_count_fraction``, ``verdict``
        and ``reasons``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"imageNumber": [0, 1], "id": [0, 0], "arena": [1, 1],
    ...                      "areaBody": [5.0, 5.0], "xHead": [1.0, 1.0], "yHead": [1.0, 1.0]})
    >>> [(a["arena"], a["verdict"]) for a in assess_arenas(rows, [1, 1], n_frames=2)]
    [(1, 'ok'), (2, 'check')]
    """
    out = []
    arena_of = table["arena"].to_numpy(np.int64)
    for k, count in enumerate(animals, start=1):
        quality = assess(
            table[arena_of == k], n_frames=n_frames, skipped=skipped, animals=count,
            max_dist=max_dist, spot=spot,
        )  # fmt: skip
        out.append(
            {
                "arena": k,
                "animals": count,
                "ids": quality.ids,
                "expected_count_fraction": quality.expected_count_fraction,
                "verdict": quality.verdict,
                "reasons": quality.reasons,
            }
        )
    return out


def _reasons(q: Quality) -> list[str]:
    if q.ids == 0:
        return ["no object detected in any frame"]
    reasons = []
    if q.animals and q.ids > q.animals:
        reasons.append(f"{q.ids} ids for {q.animals} animals")
    if q.expected_count_fraction < THRESHOLDS["expected_count_fraction"]:
        reasons.append(
            f"expected count ({q.expected_count}) in only {q.expected_count_fraction:.0%} of "
            "frames"
        )
    animal_frames = max(1, q.expected_count * q.frames)
    if q.merge_events / animal_frames > THRESHOLDS["merge_rate"]:
        reasons.append(f"{q.merge_events} merges (animals touching: two seen as one)")
    if q.jump_fraction > THRESHOLDS["jump_fraction"]:
        reasons.append(f"{q.jump_fraction:.1%} of steps jump close to maxDist")
    lost = q.skipped_frames + q.dropped_frames
    if lost > THRESHOLDS["skipped_fraction"] * (q.frames + q.skipped_frames):
        reasons.append(
            f"{lost} frames lost ({q.skipped_frames} unreadable, {q.dropped_frames} dropped)"
        )
    if np.isfinite(q.area_drift) and abs(q.area_drift) > THRESHOLDS["area_drift"]:
        reasons.append(f"object area drifts by {q.area_drift:+.0%} (lighting or focus change)")
    return reasons
