"""Track a recording: one experiment saved as several files, identities continuing across.

The files are read in order as one movie (:class:`batchtrack.io.recordings.RecordingFrames`):
one background computed over all of them (unless given), parameters measured on all of them,
detection of any frame range (in parallel in the batch), then one linking — and stitching,
with a known number of animals — over the whole recording, so that an animal keeps its id
from one file into the next. The rows are then written per file, each file getting a complete
``Tracking_Result`` of its own (frame numbers and times of that file, as if tracked alone but
with the recording's ids), and the recording gets ``<name>-tracks.parquet``: every file's
``tracking.parquet`` joined, on a recording-wide frame and time axis
(:func:`batchtrack.io.recordings.write_recording_tracks`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import SpeedStream
from .arena_tracking import ArenaResult
from .arenas import ArenaSet
from .autoparams import AutoReport
from .calibration import Calibration
from .io.frames import FrameSource
from .io.messages import collect_messages
from .io.publish import make_staging, publish_files
from .io.recordings import open_recording, time_shifts, write_recording_tracks
from .io.results import ResultWriter
from .io.resume import file_digest
from .movie import (
    Detections,
    Progress,
    ResultSink,
    TrackSummary,
    arena_detection_regions,
    detect_range,
    linked_blocks,
    measure_animals,
    require_measured,
    resolve_arenas,
    resolve_parameters,
)
from .params import Parameters
from .schema import IMAGE_NUMBER

__all__ = ["RecordingFile", "recording_chunks", "track_recording", "write_recording"]


@dataclass(frozen=True)
class RecordingFile:
    """One file of a recording, as its result is written.

    Attributes
    ----------
    output : Path
        Its result folder.
    start : int
        The recording frame of its first frame.
    n_frames : int
        Its frames.
    label : str
        The file, for messages.
    timestamps : ndarray, optional
        Its frame times (s) (videos), for the ``time`` of its analysis files.
    marker : dict, optional
        Its resume marker.
    """

    output: Path
    start: int
    n_frames: int
    label: str = ""
    timestamps: np.ndarray | None = None
    marker: dict | None = None


def write_recording(
    chunks: Iterable[Detections],
    params: Parameters,
    background: np.ndarray,
    files: Sequence[RecordingFile],
    table: Path | None,
    *,
    shifts: Sequence[float] | None = None,
    arena_set: ArenaSet | None = None,
    auto: AutoReport | None = None,
    started: float | None = None,
    notes: Sequence[str] = (),
) -> list[TrackSummary]:
    """Link a recording's detections in order and publish one result folder per file.

    Parameters
    ----------
    chunks : iterable of Detections
        Consecutive frame ranges of the recording (recording frame numbers), in order.
    params : Parameters
        Tracking parameters (the same for every file).
    background : ndarray of uint8
        The recording's background.
    files : sequence of RecordingFile
        The files, in order (``start`` increasing, ranges adjacent).
    table : Path, optional
        Where to write the joined ``<name>-tracks.parquet`` (None: not written). It is
        published before the last file's folder, whose resume marker records it.
    shifts : sequence of float, optional
        What to add to each file's times to get the recording's
        (:func:`batchtrack.io.recordings.time_shifts`); frame numbers by default.
    arena_set : ArenaSet, optional
        The arenas (the same in every file).
    auto : AutoReport, optional
        What was measured from the recording (logged in every file's ``log``).
    notes : sequence of str
        Messages of what came before (opening, measuring), for every file's ``log``; the
        chunks' own messages go to the log of their file.

    Returns
    -------
    list of TrackSummary
        One per file.
    """
    require_measured(params, params.auto)
    auto = auto or AutoReport()
    started = time.perf_counter() if started is None else started
    starts = np.asarray([f.start for f in files], np.int64)
    shared = None if arena_set is None else ArenaResult(arena_set.animals(params.animals))
    beside = table or Path(files[0].output)  # the spilled rows are staged beside it
    scratch = make_staging(beside.with_name(f"{beside.name}.recording"))
    summaries: list[TrackSummary] = []
    pending: list[tuple[list[np.ndarray], list[tuple[int, str]], list[str]]] = [
        ([], [], []) for _ in files
    ]
    sink: ResultSink | None = None
    current = -1

    def open_file(j: int) -> ResultSink:
        file = files[j]
        calibration = Calibration.from_params(params, file.timestamps)
        writer = ResultWriter(
            file.output, calibration=calibration, speeds=SpeedStream(),
            arenas=arena_set is not None,
        )  # fmt: skip
        opened = ResultSink(
            writer, params, background, calibration, file.label or str(file.output),
            arena_set, arena_result=shared,
        )  # fmt: skip
        for note in notes:
            writer.log(note)
        for line in auto.lines():
            writer.log(f"measured {line}")
        local_frames, local_skipped, local_notes = pending[j]
        for frames in local_frames:
            opened.note(frames, [])
        if local_skipped or local_notes:
            opened.note(np.empty(0, np.int64), local_skipped, local_notes)
        pending[j] = ([], [], [])
        return opened

    def close_file(j: int, done: ResultSink) -> None:
        before = None
        if j == len(files) - 1 and table is not None:
            before = lambda: _publish_table(files, done, summaries, table, shifts)  # noqa: E731
        folder = done.finish(marker=files[j].marker, before_publish=before)
        seconds = time.perf_counter() - started
        summary = TrackSummary(
            folder, done.n_frames, done.writer.n_rows, done.n_ids, done.skipped, seconds,
            params, auto,
        )  # fmt: skip
        summaries.append(summary)

    def advance_to(j: int) -> ResultSink:
        """Finish the files before file ``j`` (empty ones included) and open file ``j``."""
        nonlocal sink, current
        while current < j:
            if sink is not None:
                close_file(current, sink)
                sink = None
            current += 1
            sink = open_file(current)
        assert sink is not None
        return sink

    def routed(chunks: Iterable[Detections]) -> Iterator[Detections]:
        for chunk in chunks:
            part = np.searchsorted(starts, chunk.frames, side="right") - 1
            for j in np.unique(part).tolist():
                local = chunk.frames[part == j] - starts[j]
                _note(j, local, [])
            for k, reason in chunk.skipped:
                j = int(np.searchsorted(starts, k, side="right")) - 1
                _note(j, np.empty(0, np.int64), [(k - int(starts[j]), reason)])
            if chunk.notes:  # a chunk is inside one file: that of its first frame
                first = chunk.frames[:1].tolist() + [k for k, _ in chunk.skipped[:1]]
                j = int(np.searchsorted(starts, min(first), side="right")) - 1 if first else 0
                _note(j, np.empty(0, np.int64), [], chunk.notes)
            yield chunk

    def _note(
        j: int, frames: np.ndarray, skipped: list[tuple[int, str]], said: Sequence[str] = ()
    ) -> None:
        if j == current and sink is not None:
            sink.note(frames, skipped, said)
        else:
            pending[j][0].append(frames)
            pending[j][1].extend(skipped)
            pending[j][2].extend(said)

    try:
        for rows, interpolated in linked_blocks(routed(chunks), params, scratch, arena_set, shared):
            if len(rows) == 0:
                continue
            part = np.searchsorted(starts, rows[:, IMAGE_NUMBER], side="right") - 1
            for j in np.unique(part).tolist():
                mine = part == j
                local = rows[mine].copy()
                local[:, IMAGE_NUMBER] -= starts[j]
                advance_to(j).add(local, None if interpolated is None else interpolated[mine])
        close_file(current, advance_to(len(files) - 1))
        sink = None
    finally:
        if sink is not None:
            sink.writer.abort()
        shutil.rmtree(scratch, ignore_errors=True)
    return summaries


def _publish_table(
    files: Sequence[RecordingFile],
    last: ResultSink,
    summaries: list[TrackSummary],
    table: Path,
    shifts: Sequence[float] | None,
) -> dict:
    """Write and publish the joined table from the files' published folders and the last
    file's staging folder; what the last file's marker records of it."""
    from .io.tables import PARQUET_FILE

    folders = [s.folder for s in summaries] + [last.writer.partial]
    if any(folder is None or not (Path(folder) / PARQUET_FILE).is_file() for folder in folders):
        return {}  # no tracking.parquet (pyarrow not installed)
    staging = make_staging(table)
    try:
        names = [Path(f.label).name if f.label else Path(f.output).name for f in files]
        write_recording_tracks(
            [Path(folder) for folder in folders if folder is not None], names,
            [f.start for f in files],
            list(shifts) if shifts is not None else [float(f.start) for f in files],
            staging / table.name,
        )  # fmt: skip
        publish_files(staging, table.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = table.stat().st_size
    relative = os.path.relpath(table, Path(files[-1].output))
    return {relative: {"bytes": size, "digest": file_digest(table, size)}}


def track_recording(
    paths: Sequence[str | os.PathLike[str]],
    params: Parameters | None = None,
    *,
    name: str = "recording",
    background: str | Path | np.ndarray | None = None,
    outputs: Sequence[str | Path] | None = None,
    table: str | Path | None = None,
    arenas: str | Path | None = None,
    progress: Progress | None = None,
    chunk_size: int = 500,
) -> list[TrackSummary]:
    """Track the files of one recording in order, identities continuing across files.

    Parameters
    ----------
    paths : sequence of path
        Image-sequence folders or video files, in recording order.
    params : Parameters, optional
        Tracking parameters (defaults if omitted); ``"auto"`` values are measured on the
        whole recording.
    name : str
        The recording's name (``<name>-tracks.parquet``).
    background : path or ndarray, optional
        The background of every file; by default computed over all the files.
    outputs : sequence of path, optional
        Each file's result folder (FastTrack's beside each file by default).
    table : path, optional
        The joined table (default: ``<name>-tracks.parquet`` in the first file's folder).
    arenas : str or Path, optional
        Track each arena on its own (see :func:`batchtrack.movie.track_movie`).
    progress : callable, optional
        ``progress(frames_done, frames_total)`` over the whole recording.
    chunk_size : int
        Frames detected between two writes of result rows.

    Returns
    -------
    list of TrackSummary
        One per file.

    Examples
    --------
    >>> from batchtrack import Parameters
    >>> from batchtrack.recording import track_recording
    >>> done = track_recording(
    ...     ["exp/Run1/images", "exp/Run2/images"],
    ...     Parameters(thresh=60, methBack=1, maxArea=400), name="day1",
    ... )
    >>> [s.n_frames for s in done]
    [20, 20]
    >>> import os; os.path.isfile("exp/Run1/day1-tracks.parquet")
    True
    """
    started = time.perf_counter()
    wanted = params or Parameters()
    with collect_messages() as early, open_recording(paths, name=name) as source:
        params, bg, measured = resolve_parameters(source, wanted, background)
        scale = measure_animals(source, bg, params) if params.animals else None
        arena_set = None if arenas is None else resolve_arenas(str(arenas), source.shape, bg)
        regions = None if arena_set is None else arena_detection_regions(arena_set, params)
        total = source.n_frames
        folders = [Path(p) for p in outputs] if outputs else [s.result_dir for s in source.sources]
        files = [
            RecordingFile(folder, int(start), s.n_frames, str(s.path), s.timestamps)
            for folder, start, s in zip(folders, source.offsets, source.sources, strict=False)
        ]
        target = Path(table) if table else Path(paths[0]).parent / f"{name}-tracks.parquet"

        def chunks() -> Iterator[Detections]:
            for start, stop in recording_chunks(source, chunk_size):
                report = None
                if progress is not None:
                    report = lambda n, start=start: progress(start + n, total)  # noqa: E731
                yield detect_range(
                    source, bg, params, start=start, stop=stop, progress=report, scale=scale,
                    regions=regions,
                )

        return write_recording(
            chunks(), params, bg, files, target,
            shifts=time_shifts(source.sources, Calibration.from_params(params)),
            arena_set=arena_set, auto=measured, started=started, notes=early,
        )  # fmt: skip


def recording_chunks(source: FrameSource, chunk_size: int) -> list[tuple[int, int]]:
    """Frame ranges ``(start, stop)`` of at most ``chunk_size`` frames that never span two
    files of a recording (any other source: plain ranges).

    Examples
    --------
    >>> from batchtrack.io.recordings import open_recording
    >>> with open_recording(["exp/Run1/images", "exp/Run2/images"]) as rec:
    ...     recording_chunks(rec, 15)
    [(0, 15), (15, 20), (20, 35), (35, 40)]
    """
    bounds = getattr(source, "offsets", np.asarray([0, source.n_frames]))
    ranges = []
    for first, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        ranges += [(k, min(k + chunk_size, end)) for k in range(first, end, chunk_size)]
    return ranges
