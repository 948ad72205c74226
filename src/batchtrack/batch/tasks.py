"""The tasks a worker runs for one entry; they take paths and parameters, never frames.

A tracking entry runs as three kinds of task:

1. :func:`prepare_task`: open the movie, count its frames, measure the ``"auto"`` parameters
   (each movie its own), compute or check the background, and tell whether a matching
   finished result already exists (resume);
2. :func:`detect_task`: detect the objects of one chunk of frames (chunks run in parallel);
3. :func:`finish_task`: link all chunks in frame order and publish the result folder
   atomically, with its resume marker.

Other workflows (see :mod:`batchtrack.workflows`) run as one :func:`analyse_task` per entry:
the workflow's ``analyse`` writes into a staging folder whose files are then published into
the output folder, followed by a resume marker.

Tasks are module-level functions so that they pickle.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from pydantic import BaseModel

from ..autoparams import AutoReport
from ..errors import OutputError
from ..io.edits import EDITS
from ..io.messages import collect_messages
from ..io.publish import (
    make_staging,
    publish_files,
    remove_staging,
    remove_stale_partials,
    shared_staging,
)
from ..io.results import disk_full_message, is_disk_full
from ..io.resume import (
    MARKER,
    make_marker,
    marker_matches,
    outputs_intact,
    read_marker,
    record_outputs,
    run_report,
    write_marker,
)
from ..params import Parameters, parameters_hash
from ..workflows import get_workflow
from .executors import init_worker

if TYPE_CHECKING:
    from ..arenas import ArenaSet
    from ..io.frames import FrameSource
    from ..movie import AnimalScale, Detections, TrackSummary

__all__ = [
    "Job",
    "Prepared",
    "RecordingJob",
    "RecordingPrepared",
    "analyse_group_task",
    "analyse_task",
    "detect_task",
    "finish_task",
    "prepare_or_track_task",
    "prepare_task",
    "published_in_run",
]


@dataclass(frozen=True)
class Job:
    """What a worker needs to process one entry: paths and parameters only."""

    path: str
    params: BaseModel
    background: str | None
    output: str
    force: bool = False
    #: ``--arenas``: a file of shapes or labels, ``grid:RxC`` or ``auto`` (tracking only).
    arenas: str | None = None
    #: The files of the recording this job tracks as one movie (``path`` is its first).
    recording: RecordingJob | None = None
    #: Token of the batch run (recorded in the resume marker: a task run again within the
    #: same run, because its worker died after publishing, reports what it published).
    run: str = ""

    @property
    def tracking_params(self) -> Parameters:
        """``params`` of a tracking job (the other workflows have their own model)."""
        assert isinstance(self.params, Parameters)
        return self.params


@dataclass(frozen=True)
class RecordingJob:
    """The files of one recording, in order, with their result folders."""

    name: str
    paths: tuple[str, ...]
    outputs: tuple[str, ...]
    #: ``<name>-tracks.parquet``: the files' tables joined on the recording's axis.
    table: str


@dataclass(frozen=True)
class RecordingPrepared:
    """What the prepare task found of each file of a recording."""

    #: Recording frame of each file's first frame, then the total.
    offsets: tuple[int, ...]
    #: Each file's resume marker.
    markers: tuple[dict[str, Any], ...]
    #: Each file's frame times (s) (videos), else None.
    timestamps: tuple[np.ndarray | None, ...]
    #: What to add to each file's times to put them on the recording's clock.
    shifts: tuple[float, ...]


@dataclass(frozen=True)
class Prepared:
    """Result of the prepare task."""

    n_frames: int
    #: The background, PGM-encoded (lossless, and encoded in microseconds where PNG takes 7 ms).
    background_pgm: bytes
    marker: dict[str, Any]
    skip: bool = False
    #: A video's frame index, so that chunk workers seek at once.
    index: tuple[Any, ...] | None = None
    #: The parameters to track with, measured ones included (None when skipped).
    params: Parameters | None = None
    #: What was measured from the movie.
    auto: AutoReport = field(default_factory=AutoReport)
    #: Typical animal area and brightness, measured once for all chunks (``animals > 0``).
    scale: AnimalScale | None = None
    #: The movie's arenas (``--arenas``), found once for all chunks.
    arenas: ArenaSet | None = None
    #: A video's frame times (s), for the time column of the analysis files.
    timestamps: np.ndarray | None = None

    def tracking_params(self, job: Job) -> Parameters:
        """The parameters measured for this entry, or the job's when nothing was measured."""
        return self.params if self.params is not None else job.tracking_params
    #: The result folder being replaced holds edits (``edits.toml``), which are not re-applied.
    edited: bool = False
    #: The files of a recording (None for a single movie).
    recording: RecordingPrepared | None = None
    #: What was logged while preparing (warnings, the decoders' messages), for the result's log.
    notes: tuple[str, ...] = ()

    def chunk_starts(self, step: int) -> list[int]:
        """First frames of the detection chunks of ``step`` frames (never across two files of
        a recording)."""
        if self.recording is None:
            return list(range(0, max(self.n_frames, 1), step))
        bounds = self.recording.offsets
        starts = [k for a, b in itertools.pairwise(bounds) for k in range(a, b, step)]
        return starts or [0]


def prepare_task(job: Job) -> Prepared:
    """Check for a matching finished result; otherwise open the movie, measure its ``"auto"``
    parameters and get its background.

    The resume marker holds the parameters as given (``"auto"`` included), so a finished
    result is found again without measuring anything."""
    from ..io.frames import open_frames
    from ..movie import measure_animals, resolve_arenas, resolve_parameters

    init_worker()
    if job.recording is not None:
        return _prepare_recording(job, job.recording)
    path = Path(job.path)
    remove_stale_partials(Path(job.output))  # left by killed runs, even if this one skips
    marker = make_marker(path, parameters_hash(job.params), _opt(job.background), "track")
    if job.arenas is not None:  # the arenas are part of what produced the result
        marker["arenas"] = _arenas_signature(job.arenas)
    if not job.force and marker_matches(Path(job.output) / MARKER, marker):
        return Prepared(0, b"", marker, skip=True)
    with collect_messages() as notes, open_frames(path) as source:
        params, background, report = resolve_parameters(
            source, job.tracking_params, _opt(job.background)
        )
        n_frames = source.n_frames
        index = source.index
        scale = measure_animals(source, background, params) if params.animals else None
        arenas = None
        if job.arenas is not None:
            arenas = resolve_arenas(job.arenas, source.shape, background)
        timestamps = source.timestamps
    _, pgm = cv2.imencode(".pgm", background)
    edited = (Path(job.output) / EDITS).is_file()
    return Prepared(
        n_frames, pgm.tobytes(), marker, index=index, params=params, auto=report, scale=scale,
        arenas=arenas,
        timestamps=timestamps,
        edited=edited,
        notes=tuple(notes),
    )  # fmt: skip


def _prepare_recording(job: Job, recording: RecordingJob) -> Prepared:
    """:func:`prepare_task` of a recording: every file's marker (each names all the files, so
    that a change in one redoes the whole recording), one background and one measurement
    over all the files."""
    from ..calibration import Calibration
    from ..io.recordings import open_recording, time_shifts
    from ..movie import measure_animals, resolve_arenas, resolve_parameters

    for output in recording.outputs:
        remove_stale_partials(Path(output))
    remove_stale_partials(Path(recording.table))
    # each file's marker (its inputs hashed once), then what ties it to the others
    markers = [
        make_marker(Path(path), parameters_hash(job.params), _opt(job.background), "track")
        for path in recording.paths
    ]
    together = {
        "name": recording.name,
        "files": [Path(p).name for p in recording.paths],
        "inputs": [marker["input"]["digest"] for marker in markers],
    }
    arena_spec = None if job.arenas is None else _arenas_signature(job.arenas)
    for marker in markers:
        marker["recording"] = together
        if arena_spec is not None:
            marker["arenas"] = arena_spec
    done = all(
        marker_matches(Path(output) / MARKER, marker)
        for output, marker in zip(recording.outputs, markers, strict=True)
    )
    if done and not job.force:
        return Prepared(0, b"", markers[0], skip=True)
    opened = open_recording(recording.paths, name=recording.name)
    with collect_messages() as notes, opened as source:
        params, background, report = resolve_parameters(
            source, job.tracking_params, _opt(job.background)
        )
        scale = measure_animals(source, background, params) if params.animals else None
        arenas = None
        if job.arenas is not None:
            arenas = resolve_arenas(job.arenas, source.shape, background)
        files = RecordingPrepared(
            offsets=tuple(int(k) for k in source.offsets),
            markers=tuple(markers),
            timestamps=tuple(s.timestamps for s in source.sources),
            shifts=tuple(time_shifts(source.sources, Calibration.from_params(params))),
        )
        n_frames, index = source.n_frames, source.index
    _, pgm = cv2.imencode(".pgm", background)
    edited = any((Path(output) / EDITS).is_file() for output in recording.outputs)
    return Prepared(
        n_frames, pgm.tobytes(), markers[0], index=index, params=params, auto=report,
        scale=scale, arenas=arenas, edited=edited, recording=files, notes=tuple(notes),
    )  # fmt: skip


def _open_job(job: Job, index: tuple | None) -> FrameSource:
    """The job's movie: its file, or the files of its recording as one movie."""
    from ..io.frames import open_frames
    from ..io.recordings import open_recording

    if job.recording is None:
        return open_frames(Path(job.path), index=index)
    indexes = None if index is None else list(index[1])
    return open_recording(job.recording.paths, name=job.recording.name, indexes=indexes)


def _arenas_signature(spec: str) -> str:
    """The ``--arenas`` value, with the hash of the file it names."""
    from ..arenas import is_file_spec

    path = Path(spec).expanduser()
    if not (is_file_spec(spec) and path.is_file()):
        return spec
    return f"{spec}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def detect_task(job: Job, prepared: Prepared, start: int, stop: int | None) -> Detections:
    """Detect the objects of frames ``start``…``stop`` of one movie (or recording)."""
    from ..movie import arena_detection_regions, detect_range

    init_worker()
    background = _decode(prepared.background_pgm)
    regions = None
    if prepared.arenas is not None:
        regions = arena_detection_regions(prepared.arenas, prepared.tracking_params(job))
    with _open_job(job, prepared.index) as source:
        params = prepared.tracking_params(job)
        return detect_range(
            source, background, params, start=start, stop=stop, scale=prepared.scale,
            regions=regions,
        )  # fmt: skip


def finish_task(
    job: Job, prepared: Prepared, chunks: list[Detections]
) -> TrackSummary | list[TrackSummary]:
    """Link the chunks in order and publish the result folder with its resume marker (a
    recording: one folder per file, and a summary per file)."""
    from ..movie import write_result

    if job.recording is not None:
        return _finish_recording(job, job.recording, prepared, chunks)
    summary, _ = write_result(
        chunks,
        prepared.tracking_params(job),
        _decode(prepared.background_pgm),
        job.output,
        marker=prepared.marker,
        label=job.path,
        auto=prepared.auto,
        arena_set=prepared.arenas,
        timestamps=prepared.timestamps,
        notes=prepared.notes,
    )
    return summary


def _finish_recording(
    job: Job, recording: RecordingJob, prepared: Prepared, chunks: list[Detections]
) -> list[TrackSummary]:
    from ..recording import RecordingFile, write_recording

    files = prepared.recording
    assert files is not None
    parts = []
    for i, (path, output) in enumerate(zip(recording.paths, recording.outputs, strict=True)):
        start, n_frames = files.offsets[i], files.offsets[i + 1] - files.offsets[i]
        stamps, marker = files.timestamps[i], files.markers[i]
        parts.append(RecordingFile(Path(output), start, n_frames, path, stamps, marker))
    return write_recording(
        chunks, prepared.tracking_params(job), _decode(prepared.background_pgm), parts,
        Path(recording.table), shifts=files.shifts, arena_set=prepared.arenas,
        auto=prepared.auto, notes=prepared.notes,
    )  # fmt: skip


def prepare_or_track_task(
    job: Job, short: int
) -> Prepared | tuple[Prepared, TrackSummary | list[TrackSummary], float]:
    """:func:`prepare_task`; a movie of at most ``short`` frames is then also detected and
    finished in the same call (one task instead of three: what thousands of short clips
    spend their time on otherwise), and the summary comes with what was prepared and the
    task's duration (s)."""
    started = time.perf_counter()
    prepared = prepare_task(job)
    if prepared.skip or prepared.n_frames > short:
        return prepared
    starts = prepared.chunk_starts(max(prepared.n_frames, 1))  # one chunk per file
    stops: list[int | None] = [*starts[1:], None]
    chunks = [detect_task(job, prepared, a, b) for a, b in zip(starts, stops, strict=True)]
    summary = finish_task(job, prepared, chunks)
    return prepared, summary, time.perf_counter() - started


@functools.lru_cache(maxsize=4)
def _decode(pgm: bytes) -> np.ndarray:
    """The background of a prepared movie (decoded once per process for all its chunks;
    read-only, as every user treats it)."""
    background = cv2.imdecode(np.frombuffer(pgm, np.uint8), cv2.IMREAD_GRAYSCALE)
    background.flags.writeable = False
    return background


def _opt(path: str | None) -> Path | None:
    return None if path is None else Path(path)


def _marker_path(output_dir: Path, input_path: Path) -> Path:
    return output_dir / f".{input_path.name}.batchtrack.json"


def analyse_task(workflow_name: str, job: Job) -> dict[str, Any]:
    """Run one input of a non-chunked workflow with staging, publishing and a resume marker.

    Returns ``{"skipped": True}``, or ``frames`` and ``message``; with ``seconds``, the
    task's duration."""
    started = time.perf_counter()
    init_worker()
    workflow = get_workflow(workflow_name)
    assert workflow.analyse is not None, f"{workflow_name} runs as chunked tasks"
    input_path, output_dir = Path(job.path), Path(job.output)
    marker = make_marker(input_path, parameters_hash(job.params), None, workflow_name)
    marker_file = _marker_path(output_dir, input_path)
    remove_stale_partials(shared_staging(output_dir, input_path.name))
    saved = read_marker(marker_file)
    report = run_report(saved, job.run)  # this run published it already: its report
    if (
        saved is not None
        and (report is not None or not job.force)
        and marker_matches(marker_file, marker, output_dir, saved=saved)
    ):
        if report is not None:  # run again, e.g. its worker died before the result came back
            return {**report, "seconds": time.perf_counter() - started}
        return {"skipped": True, "seconds": time.perf_counter() - started}
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = make_staging(shared_staging(output_dir, input_path.name))
    try:
        params = job.params
        if not isinstance(params, workflow.params_model):
            params = workflow.params_model.model_validate(dict(params))
        result = workflow.analyse(input_path, staging, params, None) or {}
        published = publish_files(staging, output_dir)
    except (OSError, sqlite3.Error) as error:
        if is_disk_full(error):
            raise OutputError(disk_full_message(output_dir)) from error
        raise
    finally:
        remove_staging(staging)
    report = {"frames": int(result.get("frames", 1)), "message": str(result.get("message", ""))}
    outputs = record_outputs(marker, output_dir, [p.name for p in published])
    write_marker(marker_file, {**outputs, "run": job.run, "result": report} if job.run else outputs)
    return {**report, "seconds": time.perf_counter() - started}


def analyse_group_task(workflow_name: str, jobs: list[Job]) -> list[dict[str, Any] | Exception]:
    """:func:`analyse_task` for several short inputs in turn, in one task (on a cluster, a
    task's own cost is several milliseconds: as much as measuring a small image).

    Returns each input's result, or the exception it raised: one bad input fails alone.
    """
    import pickle

    results: list[dict[str, Any] | Exception] = []
    for job in jobs:
        try:
            results.append(analyse_task(workflow_name, job))
        except Exception as error:
            try:
                pickle.dumps(error)
            except Exception:
                error = RuntimeError(f"{type(error).__name__}: {error}")
            results.append(error)
    return results


def published_in_run(job: Job) -> dict[str, Any] | None:
    """What :func:`analyse_task` reported for ``job`` if this run (``job.run``) published
    its complete result already, else None (read from the resume marker)."""
    input_path, output_dir = Path(job.path), Path(job.output)
    marker_file = _marker_path(output_dir, input_path)
    saved = read_marker(marker_file)
    report = run_report(saved, job.run)
    if report is None or saved is None or not outputs_intact(saved, output_dir):
        return None
    return report
