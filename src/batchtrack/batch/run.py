"""Running a stack: executors, per-entry tasks, progress and status, resume markers, shards.

Every backend is a :class:`concurrent.futures.Executor`: an in-process thread, a pool of local
processes (spawn start method, one OpenCV thread each), or a Dask cluster
(``Client.get_executor()``), reached by address or started through dask-jobqueue (SLURM, PBS).

A tracking entry runs as three kinds of task, all taking paths and parameters (never frames):

1. ``prepare``: open the movie, count its frames, compute or check the background, and tell
   whether a matching finished result already exists (resume);
2. ``detect``: detect the objects of one chunk of frames (chunks run in parallel);
3. ``finish``: link all chunks in frame order and publish the result folder atomically, with
   a marker (parameter hash, background hash, input signature, version).

Other workflows (see :mod:`batchtrack.workflows`) run as one ``analyse`` task per entry.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import hashlib
import heapq
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel

from .. import __version__
from ..errors import BatchtrackError, ParameterError
from ..io.results import MARKER
from ..params import Parameters, parameters_hash
from ..workflows import analyse_task, get_workflow
from .stack import Entry, Stack, Status

__all__ = [
    "BACKENDS",
    "RunSummary",
    "jobqueue_cluster",
    "open_executor",
    "parse_shard",
    "run_stack",
    "select_shard",
]

log = logging.getLogger(__name__)

BACKENDS = ("inprocess", "local", "dask")


# -- executors ---------------------------------------------------------------------------------
_WORKER_READY = False


def init_worker() -> None:
    """Prepare a worker process once: one OpenCV thread (parallelism comes from processes),
    and a glibc heap that keeps freed memory.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc hand
    memory back to the system after every large free; the feature kernel allocates and frees
    arrays of a few MB per batch, and ran twice as slow under that setting.
    """
    global _WORKER_READY
    if _WORKER_READY:
        return
    cv2.setNumThreads(1)
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        libc = ctypes.CDLL("libc.so.6")
        # Setting one threshold disables glibc's dynamic mmap threshold: set both.
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    _WORKER_READY = True


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


@contextlib.contextmanager
def open_executor(
    backend: str = "local",
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    jobqueue: str | None = None,
    jobqueue_options: dict | None = None,
) -> Iterator[cf.Executor]:
    """An executor for the chosen backend, shut down on exit.

    Parameters
    ----------
    backend : {"inprocess", "local", "dask"}
        ``inprocess``: one thread of this process (for debugging and small runs); ``local``:
        ``workers`` processes of this machine; ``dask``: a Dask cluster.
    workers : int, optional
        Local processes (default: every core); for a jobqueue cluster, jobs to start.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); implies ``dask``.
    jobqueue : {"slurm", "pbs", "sge", "lsf"}, optional
        Start a Dask cluster through dask-jobqueue with ``jobqueue_options``
        (e.g. ``{"cores": 8, "memory": "16GB", "queue": "normal"}``).
    """
    if scheduler or jobqueue:
        backend = "dask"
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "inprocess":
        with cf.ThreadPoolExecutor(max_workers=1) as executor:
            yield executor
    elif backend == "local":
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1,
            mp_context=context,
            initializer=init_worker,
        ) as executor:
            yield executor
    else:
        with _dask_client(scheduler, jobqueue, jobqueue_options or {}, workers) as client:
            yield client.get_executor(pure=False)


@contextlib.contextmanager
def _dask_client(
    scheduler: str | None, jobqueue: str | None, options: dict, workers: int | None
) -> Iterator:
    try:
        from distributed import Client
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ParameterError(
            "the Dask backend needs the dask extra: pip install 'batchtrack[dask]'"
        ) from error
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise ParameterError(
                f"cannot reach the Dask scheduler at {scheduler} ({error}); check the address "
                "and that 'dask scheduler' runs there"
            ) from error
        with client:
            yield client
        return
    if jobqueue:
        with jobqueue_cluster(jobqueue, options) as cluster, Client(cluster) as client:
            log.info("submitting %d %s jobs; the run starts when they do", workers or 1, jobqueue)
            cluster.scale(jobs=workers or 1)
            yield client
        return
    from distributed import LocalCluster

    with (
        LocalCluster(
            n_workers=workers or os.cpu_count(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def jobqueue_cluster(kind: str, options: dict):
    """A dask-jobqueue cluster (``slurm``, ``pbs``, ``sge``, ``lsf``) from plain options.

    Each job runs ``cores`` single-threaded worker processes (batchtrack's tasks hold the GIL),
    unless ``processes`` is given. Raises ParameterError for an unknown kind, a missing submit
    command (``sbatch``, ``qsub``…: run batchtrack where jobs can be submitted) or options the
    cluster rejects.
    """
    try:
        import dask_jobqueue
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ParameterError("SLURM/PBS needs dask-jobqueue: pip install dask-jobqueue") from error
    cluster_class = getattr(dask_jobqueue, f"{kind.upper()}Cluster", None)
    if cluster_class is None:
        raise ParameterError(f"unknown job queue {kind!r}; use slurm, pbs, sge or lsf")
    submit = cluster_class.job_cls.submit_command
    if shutil.which(submit.split()[0]) is None:
        raise ParameterError(
            f"{kind} jobs are submitted with {submit!r}, which is not on this machine; run "
            "batchtrack on the cluster's login node, or use --shard in a job array"
        )
    missing = [key for key in ("cores", "memory") if key not in options]
    if missing:  # checked here: dask-jobqueue leaves a half-built cluster behind otherwise
        raise ParameterError(
            f"a {kind} job needs {' and '.join(missing)}: add --jobqueue-opt "
            + " ".join(f"{key}=…" for key in missing)
            + " (e.g. cores=8 memory=16GB)"
        )
    options = dict(options)
    options.setdefault("processes", options["cores"])
    options.setdefault("scheduler_options", {"dashboard_address": ":0"})
    try:
        return cluster_class(**options)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"{kind} cluster options {options} rejected: {error}; set them with --jobqueue-opt "
            "KEY=VALUE (e.g. cores=8 memory=16GB walltime=02:00:00)"
        ) from error


# -- shards ------------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``k/N`` (1 ≤ k ≤ N)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise ParameterError(f"shard must be k/N with 1 ≤ k ≤ N (e.g. 2/10), got {text!r}")
    return k, n


def select_shard(entries: Sequence[Entry], shard: tuple[int, int] | None) -> list[Entry]:
    """The k-th of N interleaved slices of the stack (entries k, k+N, k+2N…, 1-based)."""
    if shard is None:
        return list(entries)
    k, n = shard
    return [entry for i, entry in enumerate(entries) if i % n == k - 1]


# -- resume markers ----------------------------------------------------------------------------
def _file_hash(path: Path | None) -> str:
    if path is None:
        return "computed"
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_signature(path: Path) -> dict:
    """Size and modification time of a movie (all frames of a sequence)."""
    if path.is_dir():
        stats = [entry.stat() for entry in os.scandir(path) if entry.is_file()]
        return {
            "files": len(stats),
            "bytes": sum(s.st_size for s in stats),
            "mtime": max((s.st_mtime for s in stats), default=0.0),
        }
    stat = path.stat()
    return {"files": 1, "bytes": stat.st_size, "mtime": stat.st_mtime}


def make_marker(entry_path: Path, params_hash: str, background: Path | None, workflow: str) -> dict:
    """What identifies a finished result: inputs, parameters, background, version."""
    return {
        "workflow": workflow,
        "params": params_hash,
        "background": _file_hash(background),
        "input": input_signature(entry_path),
        "version": __version__,
    }


def marker_matches(marker_file: Path, marker: dict) -> bool:
    """True if ``marker_file`` records a result made from exactly these inputs."""
    try:
        return json.loads(marker_file.read_text()) == marker
    except (OSError, ValueError):
        return False


# -- tasks (run in workers; module-level so that they pickle) ------------------------------------
@dataclass(frozen=True)
class Job:
    """What a worker needs to process one entry: paths and parameters only."""

    path: str
    params: BaseModel
    background: str | None
    output: str
    force: bool = False

    @property
    def tracking_params(self) -> Parameters:
        """``params`` of a tracking job (the other workflows have their own model)."""
        assert isinstance(self.params, Parameters)
        return self.params


@dataclass(frozen=True)
class Prepared:
    """Result of the prepare task."""

    n_frames: int
    background_png: bytes
    marker: dict
    skip: bool = False
    index: tuple | None = None  # a video's frame index, so that chunk workers seek at once


def prepare_task(job: Job) -> Prepared:
    """Open the movie, get its background, and check for a matching finished result."""
    from ..io.frames import open_frames
    from ..movie import check_roi, resolve_background

    init_worker()
    path = Path(job.path)
    marker = make_marker(path, parameters_hash(job.params), _opt(job.background), "track")
    if not job.force and marker_matches(Path(job.output) / MARKER, marker):
        return Prepared(0, b"", marker, skip=True)
    with open_frames(path) as source:
        check_roi(job.tracking_params, source.shape)
        background = resolve_background(source, job.tracking_params, _opt(job.background))
        n_frames = source.n_frames
        index = source.index
    _, png = cv2.imencode(".png", background)
    return Prepared(n_frames, png.tobytes(), marker, index=index)


def detect_task(job: Job, prepared: Prepared, start: int, stop: int | None):
    """Detect the objects of frames ``start``…``stop`` of one movie."""
    from ..io.frames import open_frames
    from ..movie import detect_range

    init_worker()
    background = _decode(prepared.background_png)
    with open_frames(Path(job.path), index=prepared.index) as source:
        return detect_range(source, background, job.tracking_params, start=start, stop=stop)


def finish_task(job: Job, prepared: Prepared, chunks: list):
    """Link the chunks in order and publish the result folder with its resume marker."""
    from ..movie import write_result

    summary, _ = write_result(
        chunks,
        job.tracking_params,
        _decode(prepared.background_png),
        job.output,
        marker=prepared.marker,
        label=job.path,
    )
    return summary


def _decode(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)


def _opt(path: str | None) -> Path | None:
    return None if path is None else Path(path)


# -- the coordinator ---------------------------------------------------------------------------
@dataclass
class RunSummary:
    """Outcome of a run: counts per status, time, throughput."""

    counts: dict[str, int]
    seconds: float
    frames: int
    entries: list[dict] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> int:
        return self.counts.get(str(Status.ERROR), 0)

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        return (
            f"{counts or 'nothing to do'} in {self.seconds:.1f} s, {self.frames} frames "
            f"({self.frames_per_second:.0f} frames/s)"
        )


@dataclass
class _Running:
    """Coordinator-side state of one entry in flight."""

    entry: Entry
    job: Job
    order: int
    prepared: Prepared | None = None
    chunks: dict[int, object] = field(default_factory=dict)
    pending: int = 0


def _job(entry: Entry, force: bool) -> Job:
    background = None if entry.background is None else str(entry.background)
    return Job(str(entry.path), entry.params, background, str(entry.result_dir), force)


def _message(error: BaseException) -> str:
    if isinstance(error, BatchtrackError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class _Coordinator:
    """Submits each entry's tasks as the previous ones finish and keeps the stack updated."""

    def __init__(
        self,
        stack: Stack,
        executor: cf.Executor,
        *,
        force: bool,
        chunk_size: int,
        slots: int,
        cancel: threading.Event | None,
    ) -> None:
        self.stack, self.executor = stack, executor
        self.force, self.chunk_size = force, chunk_size
        # Tasks in flight: a little more than the workers, so that none idles; the rest wait
        # in a backlog where the oldest entry's tasks come first, so that results are
        # published one entry after another rather than all at the end.
        self.slots, self.max_active = slots, slots + 1
        self.cancel = cancel or threading.Event()
        self.futures: dict[cf.Future, tuple[str, _Running, int]] = {}
        self.backlog: list[tuple] = []
        self.running: dict[int, _Running] = {}
        self.frames = 0
        self._order = itertools.count()

    def run(self, entries: list[Entry]) -> None:
        queue = list(reversed(entries))
        while queue or self.futures or self.backlog:
            if self.cancel.is_set():
                self._cancel_all()
                return
            while queue and len(self.running) < self.max_active:
                self._start(queue.pop())
            self._pump()
            done, _ = cf.wait(list(self.futures), timeout=0.2, return_when=cf.FIRST_COMPLETED)
            for future in done:
                self._handle(future)

    def _submit(self, kind: str, state: _Running, fn, *args, start: int = 0) -> None:
        heapq.heappush(self.backlog, (state.order, next(self._order), kind, state, fn, args, start))

    def _pump(self) -> None:
        while self.backlog and len(self.futures) < self.slots:
            _, _, kind, state, fn, args, start = heapq.heappop(self.backlog)
            if state.entry.id in self.running:  # not failed meanwhile
                self.futures[self.executor.submit(fn, *args)] = (kind, state, start)

    def _start(self, entry: Entry) -> None:
        order = next(self._order)
        state = _Running(entry, _job(entry, self.force), order)
        self.running[entry.id] = state
        self.stack.set_status(entry, Status.RUNNING)
        self.stack.set_progress(entry, 0, entry.total)
        if get_workflow(entry.workflow).chunked:
            self._submit("prepare", state, prepare_task, state.job)
        else:
            self._submit("analyse", state, analyse_task, entry.workflow, state.job)

    def _handle(self, future: cf.Future) -> None:
        kind, state, start = self.futures.pop(future)
        if state.entry.id not in self.running:  # entry already failed
            return
        try:
            result = future.result()
        except BaseException as error:
            self._fail(state, error)
            return
        getattr(self, f"_after_{kind}")(state, result, start)

    def _after_prepare(self, state: _Running, prepared: Prepared, _: int) -> None:
        entry = state.entry
        if prepared.skip:
            self._end(state, Status.SKIPPED, "finished result with the same inputs found")
            return
        state.prepared = prepared
        self.stack.set_progress(entry, 0, prepared.n_frames)
        starts = list(range(0, max(prepared.n_frames, 1), self.chunk_size))
        state.pending = len(starts)
        for i, start in enumerate(starts):
            stop = None if i == len(starts) - 1 else start + self.chunk_size
            self._submit(
                "detect", state, detect_task, state.job, prepared, start, stop, start=start
            )

    def _after_detect(self, state: _Running, detections, start: int) -> None:
        state.chunks[start] = detections
        state.pending -= 1
        entry = state.entry
        self.stack.set_progress(
            entry,
            min(entry.done + len(detections.frames) + len(detections.skipped), entry.total),
            entry.total,
        )
        if state.pending == 0:
            chunks = [state.chunks[k] for k in sorted(state.chunks)]
            state.chunks = {}
            self._submit("finish", state, finish_task, state.job, state.prepared, chunks)

    def _after_finish(self, state: _Running, summary, _: int) -> None:
        self.frames += summary.n_frames
        self.stack.set_progress(state.entry, state.entry.total, state.entry.total)
        note = f"{summary.n_ids} ids, {summary.n_rows} rows"
        if summary.skipped:
            note += f", {len(summary.skipped)} unreadable frames skipped"
        if summary.n_rows == 0:
            note += " (no object detected: check thresh and area bounds)"
        self._end(state, Status.DONE, note)

    def _after_analyse(self, state: _Running, result, _: int) -> None:
        if result.get("skipped"):
            self._end(state, Status.SKIPPED, "finished result with the same inputs found")
            return
        self.frames += int(result.get("frames", 0))
        self.stack.set_progress(state.entry, 1, 1)
        self._end(state, Status.DONE, result.get("message", ""))

    def _fail(self, state: _Running, error: BaseException) -> None:
        for future, (_, other, _) in list(self.futures.items()):
            if other is state:
                future.cancel()
                self.futures.pop(future)
        log.error("%s: %s", state.entry.path, _message(error))
        self._end(state, Status.ERROR, _message(error))

    def _end(self, state: _Running, status: Status, message: str) -> None:
        self.running.pop(state.entry.id, None)
        self.stack.set_status(state.entry, status, message)

    def _cancel_all(self) -> None:
        for future in self.futures:
            future.cancel()
        for state in list(self.running.values()):
            self._end(state, Status.WAITING, "cancelled")
        self.futures.clear()
        self.backlog.clear()


def _refuse_shared_result_dirs(stack: Stack, selected: list[Entry]) -> None:
    """Put in Error the tracking entries whose result folder an earlier entry already uses.

    Tracking writes fixed file names, so two entries sharing a folder would archive each
    other's results (and a resumed run would redo one of them forever).
    """
    chosen = {entry.id for entry in selected}
    owners: dict[Path, Entry] = {}
    for entry in stack.entries:
        if entry.status is Status.ERROR or not get_workflow(entry.workflow).chunked:
            continue
        owner = owners.setdefault(entry.result_dir.resolve(), entry)
        if owner is not entry and entry.id in chosen:
            stack.set_status(
                entry,
                Status.ERROR,
                f"{entry.result_dir} is also the result folder of {owner.path}; remove the "
                "duplicate entry or give each entry its own output folder",
            )


def _worker_count(executor: cf.Executor, workers: int | None) -> int:
    """How many tasks the executor runs at once (Dask: the cluster's threads)."""
    if workers:
        return workers
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return getattr(executor, "_max_workers", None) or os.cpu_count() or 1


def run_stack(
    stack: Stack,
    *,
    executor: cf.Executor | None = None,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    shard: tuple[int, int] | str | None = None,
    chunk_size: int = 500,
    cancel: threading.Event | None = None,
) -> RunSummary:
    """Run every Waiting entry of the stack; a failing entry never stops the others.

    Parameters
    ----------
    stack : Stack
        The entries (their status and progress are updated live; observers are notified).
    executor : concurrent.futures.Executor, optional
        Use this executor; otherwise one is opened from ``backend``/``workers``/``scheduler``.
    backend, workers, scheduler
        See :func:`open_executor`.
    force : bool
        Redo entries whose finished result matches (otherwise they are Skipped).
    shard : (k, N) or "k/N", optional
        Run only the k-th of N slices of the stack.
    chunk_size : int
        Frames per detection task; long movies are split so that one movie uses every worker.
    cancel : threading.Event, optional
        Set it to stop: queued tasks are cancelled, running entries go back to Waiting.

    Returns
    -------
    RunSummary
    """
    if isinstance(shard, str):
        shard = parse_shard(shard)
    if chunk_size < 1:
        raise ParameterError(f"chunk_size must be ≥ 1, got {chunk_size}")
    stack.reset()
    _refuse_shared_result_dirs(stack, select_shard(stack.entries, shard))
    entries = [e for e in select_shard(stack.entries, shard) if e.status is Status.WAITING]
    started = time.perf_counter()
    with contextlib.ExitStack() as resources:
        if executor is None:
            executor = resources.enter_context(
                open_executor(backend, workers=workers, scheduler=scheduler)
            )
        coordinator = _Coordinator(
            stack,
            executor,
            force=force,
            chunk_size=chunk_size,
            slots=_worker_count(executor, workers) + 1,
            cancel=cancel,
        )
        coordinator.run(entries)
    selected = select_shard(stack.entries, shard)
    counts = {str(status): 0 for status in Status}
    for entry in selected:
        counts[str(entry.status)] += 1
    rows = [
        {
            "id": e.id,
            "path": str(e.path),
            "status": str(e.status),
            "message": e.message,
            "frames": e.total,
        }
        for e in selected
    ]
    return RunSummary(counts, time.perf_counter() - started, coordinator.frames, rows)
