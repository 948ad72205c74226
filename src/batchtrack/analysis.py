"""Per-animal measures: speed of each tracked point and one summary row per identity.

Speed is the norm of the body point's velocity, computed the way movement's
``compute_speed`` computes it on ``tracking.nc`` (central differences as
:func:`numpy.gradient`, second-order on uneven time steps): a frame needs the identity in the
frames just before and after it; at the first frame of the movie (0) and the last one
tracked, one-sided differences are used; next to a gap (frames where the identity is absent)
the speed is unknown (NaN), and a gap is never bridged.

An animal counts as moving in a frame when its speed is above :data:`MOVING_FRACTION` of its
median body length per frame interval (10 % of a body length per frame), a threshold that
does not depend on the calibration.

Everything here works on arrays and tables; nothing reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ANIMAL_COLUMNS",
    "MOVING_FRACTION",
    "PER_ANIMAL_INPUTS",
    "SpeedStream",
    "per_animal",
    "run_speed",
]

#: A frame counts as moving when the speed exceeds this many body lengths per frame interval.
MOVING_FRACTION = 0.1

#: The columns of a result :func:`per_animal` reads (with ``arena`` when there are arenas).
PER_ANIMAL_INPUTS: tuple[str, ...] = (
    "id", "imageNumber", "time", "xBody", "yBody", "speed", "bodyMajorAxisLength",
)  # fmt: skip

#: Columns of :func:`per_animal` (``animals.csv``).
ANIMAL_COLUMNS: tuple[str, ...] = (
    "id", "frames", "coverage", "first_time", "last_time", "distance", "mean_speed",
    "median_speed", "time_moving", "moving_threshold", "body_length", "unit", "time_unit",
)  # fmt: skip


def run_speed(
    frames: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, prev: np.ndarray,
    nxt: np.ndarray, *, last_frame: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Speed of each sample from its neighbours in the same identity's run.

    Parameters
    ----------
    frames, t, x, y : ndarray, shape (n,)
        Frame index, time and position of each sample.
    prev, nxt : ndarray of int, shape (n,)
        Index (into the same arrays) of the previous and the next sample of the same identity,
        -1 when there is none.
    last_frame : int, optional
        The movie's last frame, where a backward difference is used (none if None).

    Returns
    -------
    ndarray of float64, shape (n,)
        Speed; NaN for a sample missing a neighbour in an adjacent frame, except at frame 0
        (forward difference) and at ``last_frame`` (backward difference).
    """
    has_prev = (prev >= 0) & (frames - frames[np.maximum(prev, 0)] == 1)
    has_next = (nxt >= 0) & (frames[np.maximum(nxt, 0)] - frames == 1)
    p, n = np.maximum(prev, 0), np.maximum(nxt, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = np.where(has_prev, t - t[p], np.nan)
        h2 = np.where(has_next, t[n] - t, np.nan)
        both = has_prev & has_next
        velocity = []
        for f in (x, y):
            central = (h1**2 * f[n] - h2**2 * f[p] + (h2**2 - h1**2) * f) / (h1 * h2 * (h1 + h2))
            backward = (f - f[p]) / h1
            forward = (f[n] - f) / h2
            at_start = (frames == 0) & has_next
            at_end = (frames == last_frame) & has_prev if last_frame is not None else both & False
            v = np.where(both, central, np.where(at_end, backward, forward))
            velocity.append(np.where(both | at_start | at_end, v, np.nan))
    return np.hypot(velocity[0], velocity[1])


def _neighbours(ids: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order by (id, frame); previous and next sample of the same id (-1 if none)."""
    order = np.lexsort((frames, ids))
    sorted_ids = ids[order]
    same_prev = np.r_[False, sorted_ids[1:] == sorted_ids[:-1]]
    same_next = np.r_[sorted_ids[1:] == sorted_ids[:-1], False]
    prev = np.full(len(ids), -1, np.int64)
    nxt = np.full(len(ids), -1, np.int64)
    prev[order[same_prev]] = order[np.flatnonzero(same_prev) - 1]
    nxt[order[same_next]] = order[np.flatnonzero(same_next) + 1]
    return order, prev, nxt


@dataclass
class _Held:
    """Samples waiting for their next frame: frames, ids, t, x, y and the rows' payload."""

    frames: np.ndarray
    ids: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    payload: list[np.ndarray]


class SpeedStream:
    """Speeds of rows arriving in frame order, one frame behind, in bounded memory.

    A row's speed needs the next frame, complete, so :meth:`push` returns the rows of every
    frame but the last two it has seen (the last may still be partial), with their speed;
    :meth:`flush` returns the rest. Only two frames of rows and one sample per identity are
    kept.

    Examples
    --------
    >>> stream = SpeedStream()
    >>> out = stream.push(np.array([0, 1]), np.array([0, 0]), np.array([0.0, 1.0]),
    ...                   np.array([0.0, 3.0]), np.array([0.0, 4.0]), [np.arange(2)])
    >>> payload, speed = stream.flush()
    >>> float(speed[0])
    5.0
    """

    def __init__(self) -> None:
        self._held: _Held | None = None
        self._last: dict[int, tuple[int, float, float, float]] = {}  # id -> (frame, t, x, y)

    def push(
        self,
        frames: np.ndarray,
        ids: np.ndarray,
        t: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        payload: list[np.ndarray],
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Add rows (in frame order); return the payload and speed of the rows now complete.

        Parameters
        ----------
        frames, ids, t, x, y : ndarray, shape (k,)
            Frame, identity, time and (calibrated) body position of each row.
        payload : list of ndarray, each of length k
            Arrays carried along with the rows (the table columns), returned in row order.

        Returns
        -------
        payload : list of ndarray
            The complete rows' payload arrays.
        speed : ndarray of float64
            Their speed.
        """
        new = _Held(
            np.asarray(frames, np.int64), np.asarray(ids, np.int64), np.asarray(t, np.float64),
            np.asarray(x, np.float64), np.asarray(y, np.float64), list(payload),
        )  # fmt: skip
        if self._held is not None:
            new = _concat(self._held, new)
        if len(new.frames) == 0:
            self._held = new
            return [p[:0] for p in new.payload], np.empty(0)
        # A row is complete once the frame after it is: rows come in frame order, so only
        # the last frame seen may still be partial (a block may end inside a frame).
        ready = new.frames < new.frames[-1] - 1
        speed = self._speeds(new, final=False)
        self._remember(new, ready)
        self._held = _select(new, ~ready)
        return [p[ready] for p in new.payload], speed[ready]

    def flush(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The held rows (the last frame) with their speed; the stream is then empty."""
        held, self._held = self._held, None
        if held is None:
            return [], np.empty(0)
        speed = self._speeds(held, final=True)
        return held.payload, speed

    def _speeds(self, block: _Held, *, final: bool) -> np.ndarray:
        """Speeds of the block's rows, the last sample of each id before it included."""
        before = [(i, *self._last[i]) for i in np.unique(block.ids).tolist() if i in self._last]
        ids = np.r_[[b[0] for b in before], block.ids].astype(np.int64)
        frames = np.r_[[b[1] for b in before], block.frames].astype(np.int64)
        t = np.r_[[b[2] for b in before], block.t]
        x = np.r_[[b[3] for b in before], block.x]
        y = np.r_[[b[4] for b in before], block.y]
        _, prev, nxt = _neighbours(ids, frames)
        last = int(block.frames.max()) if final and len(block.frames) else None
        return run_speed(frames, t, x, y, prev, nxt, last_frame=last)[len(before) :]

    def _remember(self, block: _Held, ready: np.ndarray) -> None:
        """Keep the last complete sample of each identity (rows are in frame order)."""
        index = np.flatnonzero(ready)[::-1]
        ids, first = np.unique(block.ids[index], return_index=True)
        last = index[first]
        for i, frame, t, x, y in zip(
            ids.tolist(), block.frames[last].tolist(), block.t[last].tolist(),
            block.x[last].tolist(), block.y[last].tolist(),
        ):  # fmt: skip
            self._last[i] = (frame, t, x, y)


def _concat(a: _Held, b: _Held) -> _Held:
    return _Held(
        np.r_[a.frames, b.frames], np.r_[a.ids, b.ids], np.r_[a.t, b.t], np.r_[a.x, b.x],
        np.r_[a.y, b.y], [np.concatenate([p, q]) for p, q in zip(a.payload, b.payload)],
    )  # fmt: skip


def _select(block: _Held, keep: np.ndarray) -> _Held:
    return _Held(
        block.frames[keep], block.ids[keep], block.t[keep], block.x[keep], block.y[keep],
        [p[keep] for p in block.payload],
    )  # fmt: skip


def per_animal(
    table: pd.DataFrame,
    *,
    n_frames: int,
    frame_interval: float,
    unit: str = "px",
    time_unit: str = "frames",
) -> pd.DataFrame:
    """One row per identity: presence, travel and speed.

    Parameters
    ----------
    table : DataFrame
        Columns ``id``, ``imageNumber``, ``time``, ``xBody``, ``yBody``, ``speed`` and
        ``bodyMajorAxisLength`` (calibrated, as in ``tracking.parquet``).
    n_frames : int
        Frames of the movie (for ``coverage``).
    frame_interval : float
        Typical time between frames (in ``time_unit``), for ``time_moving``.
    unit, time_unit : str
        Units written in the ``unit`` and ``time_unit`` columns.

    Returns
    -------
    DataFrame
        Columns :data:`ANIMAL_COLUMNS`: ``frames`` (rows of that id), ``coverage``
        (frames / n_frames), ``first_time``/``last_time``, ``distance`` (sum of the body
        point's steps between consecutive frames), ``mean_speed``/``median_speed``,
        ``time_moving`` (frames above ``moving_threshold`` × ``frame_interval``),
        ``moving_threshold`` (:data:`MOVING_FRACTION` × ``body_length`` / frame interval) and
        ``body_length`` (median ``bodyMajorAxisLength``).
    """
    import pandas as pd

    rows = []
    # the columns as arrays sorted by id then frame (a sorted copy of the whole table would
    # cost its size again), cut at each id
    ids_all = table["id"].to_numpy(np.int64)
    frames_all = table["imageNumber"].to_numpy(np.int64)
    order = np.lexsort((frames_all, ids_all))
    column = {
        name: table[name].to_numpy(np.float64)
        for name in ("xBody", "yBody", "speed", "bodyMajorAxisLength", "time")
    }
    track_ids, starts = np.unique(ids_all[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for n, track_id in enumerate(track_ids.tolist()):
        mine = order[bounds[n] : bounds[n + 1]]  # this id's rows, in frame order
        frames = frames_all[mine]
        xy = np.column_stack([column["xBody"][mine], column["yBody"][mine]])
        consecutive = np.diff(frames) == 1
        steps = np.hypot(*np.diff(xy, axis=0).T)[consecutive]
        speed = column["speed"][mine]
        count = len(frames)
        length = float(np.nanmedian(column["bodyMajorAxisLength"][mine])) if count else np.nan
        threshold = MOVING_FRACTION * length / frame_interval
        finite = speed[np.isfinite(speed)]
        times = column["time"][mine]
        rows.append(
            {
                "id": int(track_id),
                "frames": count,
                "coverage": count / n_frames if n_frames else np.nan,
                "first_time": float(np.nanmin(times)) if np.isfinite(times).any() else np.nan,
                "last_time": float(np.nanmax(times)) if np.isfinite(times).any() else np.nan,
                "distance": float(np.nansum(steps)),
                "mean_speed": float(finite.mean()) if len(finite) else np.nan,
                "median_speed": float(np.median(finite)) if len(finite) else np.nan,
                "time_moving": float(np.count_nonzero(finite > threshold) * frame_interval),
                "moving_threshold": threshold,
                "body_length": length,
                "unit": unit,
                "time_unit": time_unit,
            }
        )
    animals = pd.DataFrame(rows, columns=list(ANIMAL_COLUMNS))
    if "arena" in table:  # arenas: each animal's, after its id
        arena = table.groupby("id", sort=True)["arena"].first().to_numpy(np.int64)
        animals.insert(1, "arena", arena)
    return animals
