"""One movie on every core: chunks of frames detected by worker processes, linked as they come.

:func:`track_chunked` is what ``batchtrack track`` runs. The worker processes start while this
process opens the movie and gets its background; the chunks' detections are then linked, in
frame order, by this process as soon as each next chunk is done, and the result rows are
written as they are linked, so linking and writing overlap detection. The result is the one
process's byte for byte (linking sees the same detections in the same order).

:func:`auto_workers` says how many workers a movie gains from.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .executors import init_worker

if TYPE_CHECKING:
    from ..detect import Region
    from ..movie import AnimalScale, Detections, Progress, TrackSummary
    from ..params import Parameters

__all__ = ["auto_workers", "chunk_starts", "track_chunked"]

#: A movie gains from one more worker process for every this many frames (a worker's start-up
#: costs about what detecting this many frames saves).
FRAMES_PER_WORKER = 400
#: Chunks per worker for a video (each chunk costs a seek: decoding from a key frame).
_VIDEO_CHUNKS_PER_WORKER = 4
#: Chunks submitted ahead per worker.
_IN_FLIGHT_PER_WORKER = 3
#: Frames OpenCV's seek decodes before the frame asked for (see batchtrack.io.frames).
_SEEK_BACK = 16


def auto_workers(n_frames: int, cores: int | None = None) -> int:
    """Worker processes worth starting for a movie of ``n_frames``: 1 (this process) for a
    short movie, one more per :data:`FRAMES_PER_WORKER` frames, at most the cores.

    Examples
    --------
    >>> auto_workers(200, 2), auto_workers(2000, 2), auto_workers(2000, 8)
    (1, 2, 5)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, n_frames // FRAMES_PER_WORKER))


def chunk_starts(n_frames: int, step: int, key_frames: np.ndarray | None = None) -> list[int]:
    """First frames of the chunks of a movie, about ``step`` apart.

    For a video with known key frames each start moves (by less than half a step) to
    16 frames past a key frame, where OpenCV's seek lands after decoding the fewest frames.

    Examples
    --------
    >>> chunk_starts(1000, 300)
    [0, 300, 600, 900]
    >>> chunk_starts(1000, 300, key_frames=np.array([0, 250, 500, 750]))
    [0, 266, 516, 766]
    """
    starts = list(range(0, max(n_frames, 1), max(step, 1)))
    if key_frames is None or len(key_frames) < 2:
        return starts
    landings = np.asarray(key_frames, np.int64) + _SEEK_BACK
    moved = [0]
    for start in starts[1:]:
        best = int(landings[np.argmin(np.abs(landings - start))])
        if abs(best - start) < step // 2 and moved[-1] < best < n_frames:
            moved.append(best)
        elif moved[-1] < start:
            moved.append(start)
    return moved


def _detect_chunk(
    path: str, index: tuple | None, background: np.ndarray, params: Parameters,
    scale: AnimalScale | None, regions: list[Region] | None, start: int, stop: int | None,
) -> tuple[Detections, dict[str, str]]:  # fmt: skip
    """Worker side: detect the objects of frames ``start``…``stop`` of one movie; with the
    content checksums of their files (:func:`batchtrack.io.resume.read_contents`: from the
    bytes read for detection where it can, so that a frame is read once), for a sequence."""
    from ..io.frames import ImageSequence, open_frames
    from ..io.resume import read_contents
    from ..movie import detect_range

    init_worker()
    with open_frames(Path(path), index=index) as source:
        crcs: dict[str, tuple[int, int]] = {}
        if isinstance(source, ImageSequence):
            source.read_crcs = crcs
        found = detect_range(
            source, background, params, start=start, stop=stop, scale=scale, regions=regions
        )
        if not isinstance(source, ImageSequence):
            return found, {}
        names = [os.path.basename(file) for file in source.files[start:stop]]
        return found, read_contents(Path(path), names, crcs)


def _warm_up() -> None:
    """Worker side: import what detection needs while the coordinator reads the background."""
    from .. import movie  # noqa: F401

    init_worker()


def _context() -> BaseContext:
    """How worker processes start: forked on Linux while this process runs a single thread
    (no import to repeat: a worker is ready at once), spawned otherwise (fork copies locks
    that other threads may hold)."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def track_chunked(
    path: str | Path,
    params: Parameters,
    *,
    workers: int,
    background: str | Path | None = None,
    output: str | Path | None = None,
    chunk_size: int = 500,
    progress: Progress | None = None,
    arenas: str | Path | None = None,
) -> TrackSummary:
    """Track one movie with ``workers`` detection processes; write its result folder.

    Parameters
    ----------
    path : path
        Image-sequence folder or video file.
    params : Parameters
        Tracking parameters (``"auto"`` values are measured from the movie first).
    workers : int
        Detection processes (spawned; this process links and writes).
    background : path, optional
        Background image to use instead of computing one.
    output : path, optional
        Result folder; FastTrack's by default.
    chunk_size : int
        At most this many frames per chunk (see :func:`batchtrack.batch.run.chunk_frames`).
    progress : callable, optional
        ``progress(frames_done, frames_total)``, called as chunks are linked.
    arenas : str or Path, optional
        Track each arena on its own (see :func:`batchtrack.movie.track_movie`).

    Returns
    -------
    TrackSummary
    """
    from ..analysis_files import warm_up as warm_up_analysis
    from ..io.frames import open_frames
    from ..io.messages import collect_messages
    from ..io.resume import make_marker
    from ..movie import (
        arena_detection_regions,
        measure_animals,
        resolve_arenas,
        resolve_parameters,
        write_result,
    )
    from ..params import parameters_hash
    from .run import chunk_frames

    started = time.perf_counter()
    context = _context()
    if context.get_start_method() == "fork":
        # One OpenCV thread from now on (this process only links and writes), so that no
        # idle OpenCV pool thread is copied into the workers.
        init_worker()
    with (
        cf.ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker) as pool,
        # The analysis files are written by one more process, which imports what they need
        # (pandas alone is half a second) while the others work: this one, which links and
        # writes as the chunks come, sets the pace and never imports pandas.
        cf.ProcessPoolExecutor(1, mp_context=context, initializer=init_worker) as analysis,
    ):
        # Workers start (spawned: import) while this process reads the background.
        warm = [pool.submit(_warm_up) for _ in range(workers)]
        analysis.submit(warm_up_analysis)
        wanted = params
        # what is logged before the result's folder is open, for its log
        with collect_messages() as early, open_frames(path) as source:
            params, bg, measured = resolve_parameters(source, wanted, background)
            scale = measure_animals(source, bg, params) if params.animals else None
            total, index = source.n_frames, source.index
            arena_set = None if arenas is None else resolve_arenas(str(arenas), source.shape, bg)
            regions = None if arena_set is None else arena_detection_regions(arena_set, params)
            keys = getattr(source, "key_frames", None)
            folder = output or source.result_dir
        step = chunk_frames(total, chunk_size)
        if keys is not None:
            step = max(step, -(-total // (_VIDEO_CHUNKS_PER_WORKER * workers)))
        starts = chunk_starts(total, step, keys)
        stops: list[int | None] = [*starts[1:], None]
        ranges = iter(zip(starts, stops))
        del warm

        def submit() -> None:
            for a, b in itertools.islice(ranges, 1):
                futures.append(
                    pool.submit(
                        _detect_chunk, str(path), index, bg, params, scale, regions, a, b
                    )
                )

        # A few chunks in flight per worker: memory stays bounded however long the movie.
        futures: collections.deque[cf.Future[tuple[Detections, dict[str, str]]]] = (
            collections.deque()
        )
        for _ in range(_IN_FLIGHT_PER_WORKER * workers):
            submit()
        given = None if background is None else Path(background)
        marker: dict[str, Any] = {}  # filled once every chunk is in (see in_order)

        def in_order() -> Iterator[Detections]:
            done = 0
            known: dict[str, str] = {}  # content checksums of the frame files, by name
            while futures:
                chunk, contents = futures.popleft().result()
                known.update(contents)
                submit()
                done += len(chunk.frames) + len(chunk.skipped)
                if progress is not None:
                    progress(min(done, total), total)
                yield chunk
            # The marker, complete before write_result (having consumed every chunk) saves
            # it; the parameters as given ("auto" included), as track_movie and the batch
            # hash them.
            marker.update(make_marker(Path(path), parameters_hash(wanted), given, "track", known))

        try:
            summary, _ = write_result(
                in_order(), params, bg, folder, marker=marker, started=started, label=str(path),
                auto=measured, arena_set=arena_set, notes=early,
                offload=lambda function, *args: analysis.submit(function, *args).result,
                spare=lambda function, *args: pool.submit(function, *args).result,
            )  # fmt: skip
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return summary

