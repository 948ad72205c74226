"""Tracking several arenas of one movie, each on its own.

Detection binarises each frame once, then looks for objects inside each arena's box and mask
(:func:`arena_regions`): no object spans two arenas, and one touching its arena's edge keeps
its pixels as if the arena were the whole frame. Each object belongs to the arena holding its
body centre. Linking — and, with a known number of animals, stitching — then runs for each arena
separately with that arena's count (:func:`arena_rows`): an animal never jumps between arenas.

Identities are unique across the movie: arena 1's come first, then arena 2's, and so on (an
arena of ``N`` animals takes ``N`` ids; one of unknown count as many as its tracks). Rows are
spilled to a scratch file while the arenas are linked, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .arenas import ArenaSet, arena_of
from .detect import Region, Regions
from .io.results import TrackingText
from .params import Parameters
from .schema import ID, IMAGE_NUMBER, TRACKING_COLUMNS, X_BODY, Y_BODY

#: ``link(chunks, params)``: linked rows, one block per chunk (``movie.link_detections``).
Link = Callable[[Iterable[Any], Parameters], Iterator[np.ndarray]]
#: ``stitch(blocks, params, scratch)``: (rows, interpolated) blocks (``movie.stitched``).
Stitch = Callable[[Iterable[np.ndarray], Parameters, Path], Iterator[tuple[np.ndarray, np.ndarray]]]

__all__ = ["ArenaResult", "ArenaTexts", "arena_regions", "arena_rows"]

_WIDTH = len(TRACKING_COLUMNS) + 1  # the rows, and the interpolated flag
_WINDOW = 500  # frames merged at once when the arenas' rows are put back in frame order


def arena_regions(
    labels: np.ndarray,
    offset: tuple[int, int] = (0, 0),
    shape: tuple[int, int] | None = None,
    animals: Sequence[int] | None = None,
) -> list[Region]:
    """Each arena as a detection :class:`~batchtrack.detect.Region`, in arena order (a
    :class:`~batchtrack.detect.Regions`: arenas that touch nowhere are searched at once).

    Parameters
    ----------
    labels : ndarray of int32, shape (H, W)
        The arenas' label image (frame coordinates).
    offset, shape : optional
        The region of interest's top-left corner and ``(height, width)``: regions are given
        in its coordinates, and what lies outside it is outside every arena.
    animals : sequence of int, optional
        The animals of each arena.

    Examples
    --------
    >>> [r[:4] for r in arena_regions(np.array([[1, 1, 2, 2, 0]], np.int32))]
    [(0, 0, 2, 1), (2, 0, 4, 1)]
    """
    x_off, y_off = offset
    height, width = shape if shape is not None else labels.shape
    view = labels[y_off : y_off + height, x_off : x_off + width]
    regions, label_of = [], []
    for k in range(1, int(labels.max()) + 1):
        ys, xs = np.nonzero(view == k)
        if len(xs) == 0:
            continue
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        mask = np.where(view[y0:y1, x0:x1] == k, 255, 0).astype(np.uint8)
        count = 0 if animals is None else int(animals[k - 1])
        regions.append(Region(x0, y0, x1, y1, mask, count))
        label_of.append(k)
    return Regions(regions, np.ascontiguousarray(view), label_of)


def _subset(chunk: Any, keep: np.ndarray) -> Any:
    """The objects of ``chunk`` where ``keep`` is true (frames kept, counts recomputed)."""
    frame_of = np.repeat(np.arange(len(chunk.counts)), chunk.counts)
    counts = np.bincount(frame_of[keep], minlength=len(chunk.counts)).astype(np.int64)
    pieces = None if chunk.pieces is None else chunk.pieces[keep]
    return replace(chunk, counts=counts, features=chunk.features[keep], pieces=pieces)


class _Feed:
    """An endless iterator that always gives the item last put in (one chunk per step)."""

    def __init__(self) -> None:
        self.item: Any = None

    def __iter__(self) -> Iterator[Any]:
        while True:
            assert self.item is not None
            yield self.item


class ArenaResult:
    """What :func:`arena_rows` found, once its rows have been consumed.

    Attributes
    ----------
    ids : list of list of int
        The identities of each arena (in the movie's numbering).
    animals : list of int
        The animals of each arena (0 = unknown).
    offsets : list of int
        The first identity of each arena: ``id - offsets[k]`` is arena ``k + 1``'s own id.
    """

    def __init__(self, animals: list[int]) -> None:
        self.animals = animals
        self.ids: list[list[int]] = [[] for _ in animals]
        self.offsets: list[int] = [0] * len(animals)

    def arena_of(self, ids: np.ndarray) -> np.ndarray:
        """The arena (1, 2…) of each identity (movie numbering), once the rows are linked.

        Examples
        --------
        >>> result = ArenaResult([2, 0, 1])
        >>> result.offsets = [0, 2, 2]  # arena 2 has no id
        >>> result.arena_of(np.array([0, 1, 2])).tolist()
        [1, 1, 3]
        """
        return np.searchsorted(np.asarray(self.offsets), np.asarray(ids), side="right")


def arena_rows(
    chunks: Iterable[Any],
    params: Parameters,
    arena_set: ArenaSet,
    scratch: Path,
    result: ArenaResult,
    *,
    link: Link,
    stitch: Stitch,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Link (and stitch) each arena on its own; yield the movie's rows in frame order.

    Parameters
    ----------
    chunks : iterable of Detections
        The movie's detections, in frame order (found in :func:`arena_regions`).
    params : Parameters
        Tracking parameters; ``animals`` is the total, split over the arenas
        (:meth:`ArenaSet.animals`).
    arena_set : ArenaSet
        The arenas.
    scratch : Path
        A file for the spilled rows (deleted at the end).
    result : ArenaResult
        Filled with each arena's ids and offsets.
    link, stitch : callable
        Linking and stitching of one arena (:func:`batchtrack.movie.link_detections` and
        :func:`batchtrack.movie.stitched`).

    Yields
    ------
    rows : ndarray, shape (K, 23)
        Ordered by frame, then id.
    interpolated : ndarray of bool, shape (K,)
    """
    count = arena_set.count
    each = [params.model_copy(update={"animals": n}) for n in result.animals]
    linked_files = [scratch.with_name(f"{scratch.name}.{k}") for k in range(count)]
    linked_sizes: list[list[int]] = [[] for _ in range(count)]
    try:
        streams = [open(path, "wb") for path in linked_files]
        try:
            for k, rows in _linked_per_arena(chunks, each, arena_set.labels, link):
                np.ascontiguousarray(rows, np.float64).tofile(streams[k])
                linked_sizes[k].append(len(rows))
        finally:
            for stream in streams:
                stream.close()
        yield from _merged(each, linked_files, linked_sizes, scratch, result, stitch)
    finally:
        for path in linked_files:
            path.unlink(missing_ok=True)


def _linked_per_arena(
    chunks: Iterable[Any], each: list[Parameters], labels: np.ndarray, link: Link
) -> Iterator[tuple[int, np.ndarray]]:
    """Each chunk's linked rows of every arena in turn, ``(arena index, rows)``, with each
    arena's own ids (0, 1… in order of appearance; pieces of split blobs keep -1).

    When every arena links the same way (all with a known count, or none), one linker links
    all the arenas at once, each object only to objects of its own arena: the same rows as
    a linker per arena (the assignment of a frame splits into independent ones per arena),
    for one assignment per frame instead of one per arena and frame.
    """
    count = len(each)
    if len({bool(p.animals) for p in each}) > 1:  # mixed: a linker per arena
        feeds = [_Feed() for _ in range(count)]
        linkers = [link(iter(feeds[k]), each[k]) for k in range(count)]
        for chunk in chunks:
            arena = arena_of(labels, chunk.features[:, X_BODY], chunk.features[:, Y_BODY])
            for k in range(count):
                feeds[k].item = _subset(chunk, arena == k + 1)
                yield k, next(linkers[k])
        return

    def grouped(chunks: Iterable[Any]) -> Iterator[Any]:
        for chunk in chunks:
            arena = arena_of(labels, chunk.features[:, X_BODY], chunk.features[:, Y_BODY])
            inside = _subset(chunk, arena > 0)
            yield replace(inside, groups=arena[arena > 0].astype(np.int64))

    local = np.full(0, -1, np.int64)  # linker id -> the arena's own id
    seen = np.zeros(count, np.int64)  # ids given in each arena so far
    for rows in link(grouped(chunks), each[0]):
        arena = arena_of(labels, rows[:, X_BODY], rows[:, Y_BODY]) - 1
        ids = rows[:, ID].astype(np.int64)
        linked = ids >= 0
        if linked.any() and ids.max() >= len(local):
            grown = np.full(int(ids.max()) + 1, -1, np.int64)
            grown[: len(local)] = local
            local = grown
        fresh = np.unique(ids[linked][local[ids[linked]] < 0])  # in order of appearance
        for track in fresh.tolist():
            k = int(arena[np.argmax(ids == track)])
            local[track] = seen[k]
            seen[k] += 1
        out = rows.copy()
        out[linked, ID] = local[ids[linked]]
        for k in range(count):
            yield k, out[arena == k]


def _blocks(path: Path, sizes: list[int]) -> Iterator[np.ndarray]:
    total = sum(sizes)
    data = np.memmap(path, np.float64, "r", shape=(total, len(TRACKING_COLUMNS))) if total else None
    offset = 0
    for size in sizes:
        if data is None or size == 0:
            yield np.empty((0, len(TRACKING_COLUMNS)))
        else:
            yield np.array(data[offset : offset + size])
        offset += size
    del data


def _merged(
    each: list[Parameters],
    linked_files: list[Path],
    linked_sizes: list[list[int]],
    scratch: Path,
    result: ArenaResult,
    stitch: Stitch,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each arena's final rows (stitched when its count is known, ids offset), spilled one
    arena after another, then read back window by window in frame order."""
    frames_of: list[np.ndarray] = []
    offset = 0
    with open(scratch, "wb") as spill:
        for k, params in enumerate(each):
            blocks = _blocks(linked_files[k], linked_sizes[k])
            final: Iterator[tuple[np.ndarray, np.ndarray | None]]
            if params.animals:
                final = stitch(blocks, params, linked_files[k].with_suffix(".stitch"))
            else:
                final = ((rows[rows[:, ID] >= 0], None) for rows in blocks)
            arena_frames, arena_ids = [], set()
            for rows, interpolated in final:
                out = np.empty((len(rows), _WIDTH))
                out[:, :-1] = rows
                out[:, ID] += offset
                out[:, -1] = 0 if interpolated is None else interpolated
                out.tofile(spill)
                arena_frames.append(rows[:, IMAGE_NUMBER].astype(np.int64))
                arena_ids.update(np.unique(out[:, ID]).astype(int).tolist())
            frames_of.append(np.concatenate(arena_frames) if arena_frames else np.empty(0, int))
            result.offsets[k] = offset
            result.ids[k] = sorted(arena_ids)
            used = params.animals or (max(arena_ids) + 1 - offset if arena_ids else 0)
            offset += used
    try:
        total = sum(len(f) for f in frames_of)
        data = np.memmap(scratch, np.float64, "r", shape=(total, _WIDTH)) if total else None
        starts = np.cumsum([0] + [len(f) for f in frames_of])
        last = max((int(f[-1]) for f in frames_of if len(f)), default=-1)
        for first in range(0, last + 1, _WINDOW):
            parts = []
            for k, frames in enumerate(frames_of):
                lo, hi = np.searchsorted(frames, [first, first + _WINDOW])
                if hi > lo and data is not None:
                    parts.append(np.array(data[starts[k] + lo : starts[k] + hi]))
            if not parts:
                continue
            rows = np.concatenate(parts)
            rows = rows[np.lexsort((rows[:, ID], rows[:, IMAGE_NUMBER]))]
            yield rows[:, :-1], rows[:, -1].astype(bool)
        del data
    finally:
        scratch.unlink(missing_ok=True)


class ArenaTexts:
    """``arenas/arena_K/tracking.txt``: each arena's rows with its own ids (0, 1…), as
    FastTrack would write that arena tracked alone."""

    def __init__(self, folder: Path, count: int) -> None:
        self.files = [
            TrackingText(folder / f"arena_{k + 1}" / "tracking.txt") for k in range(count)
        ]

    def add(self, rows: np.ndarray, result: ArenaResult) -> None:
        """Route rows (movie ids) to their arenas' files."""
        arena = np.searchsorted(np.asarray(result.offsets), rows[:, ID], side="right") - 1
        for k, text in enumerate(self.files):
            mine = rows[arena == k].copy()
            mine[:, ID] -= result.offsets[k]
            text.write(mine)

    def close(self) -> None:
        for text in self.files:
            text.close()
