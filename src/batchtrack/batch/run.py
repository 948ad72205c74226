"""Running a stack: the coordinator that submits each entry's tasks and keeps the stack updated.

Where things run is :mod:`batchtrack.batch.executors`; what runs is
:mod:`batchtrack.batch.tasks`; which entries a job array's task takes is
:mod:`batchtrack.batch.shards`; resume markers are :mod:`batchtrack.io.resume`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import enum
import heapq
import itertools
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BatchtrackError
from ..io.publish import remove_empty_staging, remove_stale_partials, shared_staging
from ..workflows import get_workflow
from .executors import BACKENDS, LocalPool, jobqueue_cluster, open_executor, worker_count
from .options import RunOptions
from .recordings import check_recordings, group_units, recording_table
from .shards import parse_shard, select_shard
from .stack import Entry, Stack, Status
from .tasks import (
    Job,
    Prepared,
    RecordingJob,
    analyse_group_task,
    analyse_task,
    detect_task,
    finish_task,
    prepare_or_track_task,
    published_in_run,
)

if TYPE_CHECKING:
    from ..movie import Detections, TrackSummary

__all__ = [
    "BACKENDS",
    "SUMMARY_COLUMNS",
    "RunOptions",
    "RunSummary",
    "SignalStop",
    "after_batch",
    "jobqueue_cluster",
    "open_executor",
    "parse_shard",
    "run_stack",
    "select_shard",
]

log = logging.getLogger(__name__)


#: Progress moves at least this often (fraction of a movie), for movies long enough.
_PROGRESS_STEPS = 20
#: Movies up to this many frames are one chunk: they take well under a second.
_SHORT_MOVIE = 200
#: A task of a whole entry (an image, a short clip) shorter than this (s) lets the coordinator
#: hand out the next ones ahead.
_SHORT_TASK = 0.1
#: On a cluster, short whole-entry tasks go in groups of about this many seconds (s)…
_GROUP_SECONDS = 0.25
#: … of at most this many entries.
_MAX_GROUP = 64
_MIN_CHUNK = 25


def chunk_frames(n_frames: int, chunk_size: int) -> int:
    """Frames per detection task for a movie of ``n_frames``.

    At most ``chunk_size``; a long movie is cut in at least 20 chunks (so that its progress
    moves every 5 %), never shorter than 25 frames; a short movie is one chunk. Results do
    not depend on the chunking.

    Examples
    --------
    >>> chunk_frames(500, 500), chunk_frames(20000, 500), chunk_frames(150, 500)
    (25, 500, 150)
    """
    if n_frames <= _SHORT_MOVIE:
        return max(1, min(chunk_size, n_frames))
    return min(chunk_size, max(_MIN_CHUNK, -(-n_frames // _PROGRESS_STEPS)))


@dataclass
class RunSummary:
    """Outcome of a run: counts per status, time, throughput."""

    counts: dict[str, int]
    seconds: float
    frames: int
    entries: list[dict] = field(default_factory=list)
    #: The signal that stopped the run (``"SIGTERM"``, ``"SIGINT"``), if one did.
    interrupted: str | None = None

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


class _Task(enum.Enum):
    """The kinds of task an entry runs (see :mod:`batchtrack.batch.tasks`)."""

    PREPARE = "prepare"
    DETECT = "detect"
    FINISH = "finish"
    ANALYSE = "analyse"
    GROUP = "group"  # several entries' analyse tasks in one (on a cluster)


#: A task waiting for a free slot: (entry order, submission order, kind, entry, function,
#: arguments, first frame).
_Queued = tuple[int, int, _Task, "_Running", Callable[..., Any], tuple[Any, ...], int]


@dataclass
class _Running:
    """Coordinator-side state of one entry in flight (a recording: its first file's entry,
    with all of its files as ``members``)."""

    entry: Entry
    job: Job
    order: int
    prepared: Prepared | None = None
    chunks: dict[int, Detections] = field(default_factory=dict)
    pending: int = 0
    members: list[Entry] = field(default_factory=list)

    @property
    def entries(self) -> list[Entry]:
        """The entries this state runs: the entry, or the files of its recording."""
        return self.members or [self.entry]

    def member_of(self, frame: int) -> Entry:
        """The entry (file) of recording frame ``frame``."""
        recording = None if self.prepared is None else self.prepared.recording
        if recording is None or not self.members:
            return self.entry
        offsets = recording.offsets
        i = max(j for j in range(len(self.members)) if offsets[j] <= frame)
        return self.members[i]


def _job(unit: list[Entry], force: bool, run: str = "") -> Job:
    entry = unit[0]
    background = None if entry.background is None else str(entry.background)
    recording = None
    if entry.recording and get_workflow(entry.workflow).chunked:
        recording = RecordingJob(
            entry.recording,
            tuple(str(e.path) for e in unit),
            tuple(str(e.result_dir) for e in unit),
            str(recording_table(entry)),
        )
    return Job(
        str(entry.path), entry.params, background, str(entry.result_dir), force, entry.arenas,
        recording, run,
    )  # fmt: skip


def _message(error: BaseException) -> str:
    if isinstance(error, BatchtrackError):
        return str(error)
    if type(error).__name__ == "KilledWorker":  # distributed's: every worker running it died
        retries = getattr(error, "allowed_failures", None)
        return (
            f"worker process died: the Dask worker running it died {_times(retries)} "
            f"(Dask retries a task on another worker {retries} times: distributed.scheduler."
            "allowed-failures)"
        )
    return f"{type(error).__name__}: {error}"


def _times(retries: object) -> str:
    return f"{retries + 1} times" if isinstance(retries, int) and retries > 0 else "once"


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
        kill_on_cancel: bool = False,
    ) -> None:
        self.stack, self.executor = stack, executor
        self.force, self.chunk_size = force, chunk_size
        # Tasks in flight: a little more than the workers, so that none idles; the rest wait
        # in a backlog where the oldest entry's tasks come first, so that results are
        # published one entry after another rather than all at the end.
        self.slots, self.max_active = slots, slots + 1
        # Short tasks of whole entries (an image measured in milliseconds, a clip tracked in
        # a tenth of a second) are handed out ahead on local processes, one more task per
        # worker, so that a worker never waits for the round trip through the coordinator
        # (it took as long as the task); their entries may show Running for the few
        # milliseconds they wait in a worker's queue.
        self.prefetch = 0
        self.knows_start = getattr(executor, "_client", None) is None
        # Short whole-entry tasks run in groups of `group` entries (see _learn_duration).
        self.group = 1
        self.grouped: dict[cf.Future[Any], list[_Running]] = {}
        self.cancel = cancel or threading.Event()
        self.kill_on_cancel = kill_on_cancel
        self.futures: dict[cf.Future[Any], tuple[_Task, _Running, int]] = {}
        self.backlog: list[_Queued] = []
        self._after: dict[_Task, Callable[[_Running, Any, int], None]] = {
            _Task.PREPARE: self._after_prepare,
            _Task.DETECT: self._after_detect,
            _Task.FINISH: self._after_finish,
            _Task.ANALYSE: self._after_analyse,
        }
        self.running: dict[int, _Running] = {}
        self.token = uuid.uuid4().hex  # this run, in the resume markers it writes
        self.frames = 0
        self._order = itertools.count()

    def run(self, entries: list[Entry]) -> None:
        queue = list(reversed(group_units(entries)))
        while queue or self.futures or self.backlog:
            if self.cancel.is_set():
                self._cancel_all()
                return
            while queue and len(self.running) < (self.max_active + self.prefetch) * self.group:
                self._start(queue.pop())
            self._pump()
            done, _ = cf.wait(list(self.futures), timeout=0.2, return_when=cf.FIRST_COMPLETED)
            self._promote_started()
            for future in done:
                self._handle(future)

    def _promote_started(self) -> None:
        """Queued entries one of whose tasks a worker has taken become Running."""
        for future, (_, state, _) in self.futures.items():
            if state.entry.status is Status.QUEUED and (future.running() or future.done()):
                for member in self.grouped.get(future, [state]):
                    for entry in member.entries:
                        entry.started = time.monotonic()
                        self.stack.set_status(entry, Status.RUNNING)

    def _submit(
        self, kind: _Task, state: _Running, fn: Callable[..., Any], *args: Any, start: int = 0
    ) -> None:
        heapq.heappush(self.backlog, (state.order, next(self._order), kind, state, fn, args, start))

    def _pump(self) -> None:
        while self.backlog and len(self.futures) < self.slots + self.prefetch:
            _, _, kind, state, fn, args, start = heapq.heappop(self.backlog)
            if state.entry.id not in self.running:  # failed meanwhile
                continue
            if kind is _Task.ANALYSE and self.group > 1:
                group = [state]
                while self.backlog and len(group) < self.group and (
                    self.backlog[0][2] is _Task.ANALYSE
                ):
                    other = heapq.heappop(self.backlog)[3]
                    if other.entry.id in self.running:
                        group.append(other)
                if len(group) > 1:
                    log.debug("one task for %d entries", len(group))
                    workflow = state.entry.workflow
                    future = self.executor.submit(
                        analyse_group_task, workflow, [member.job for member in group]
                    )
                    self.futures[future] = (_Task.GROUP, state, 0)
                    self.grouped[future] = group
                    continue
            self.futures[self.executor.submit(fn, *args)] = (kind, state, start)

    def _start(self, unit: list[Entry]) -> None:
        order = next(self._order)
        entry = unit[0]
        job = _job(unit, self.force, self.token)
        state = _Running(entry, job, order, members=unit if job.recording else [])
        self.running[entry.id] = state
        for member in state.entries:
            # Dask's futures never say when they start: there, entries are Running at once.
            member.started = None if self.knows_start else time.monotonic()
            self.stack.set_status(member, Status.QUEUED if self.knows_start else Status.RUNNING)
            self.stack.set_progress(member, 0, member.total)
        if get_workflow(entry.workflow).chunked:
            # A movie that is one chunk is tracked whole by the same task.
            short = min(_SHORT_MOVIE, self.chunk_size)
            self._submit(_Task.PREPARE, state, prepare_or_track_task, state.job, short)
        else:
            self._submit_analyse(state)

    def _submit_analyse(self, state: _Running) -> None:
        """Queue the one task of an entry of a non-chunked workflow (grouped by :meth:`_pump`
        when short)."""
        self._submit(_Task.ANALYSE, state, analyse_task, state.entry.workflow, state.job)

    def _handle(self, future: cf.Future[Any]) -> None:
        kind, state, start = self.futures.pop(future)
        if kind is _Task.GROUP:
            self._after_group(future, self.grouped.pop(future))
            return
        if state.entry.id not in self.running:  # entry already failed
            return
        try:
            result = future.result()
        except BaseException as error:
            self._fail(state, error)
            return
        self._after[kind](state, result, start)

    def _after_prepare(
        self,
        state: _Running,
        prepared: Prepared | tuple[Prepared, TrackSummary | list[TrackSummary], float],
        start: int,
    ) -> None:
        if isinstance(prepared, tuple):  # a short movie, already tracked
            state.prepared, summary, seconds = prepared
            self._learn_duration(seconds, groups=False)
            # its one task may have ended before the coordinator saw it start
            began = time.monotonic() - seconds
            for member, done in zip(state.entries, _per_entry(summary), strict=True):
                member.started = began if member.started is None else min(member.started, began)
                self.stack.set_progress(member, done.n_frames, done.n_frames)
            self._after_finish(state, summary, start)
            return
        if prepared.skip:
            self._end(state, Status.SKIPPED, "finished result with the same inputs found")
            return
        state.prepared = prepared
        if prepared.recording is not None:
            offsets = prepared.recording.offsets
            for i, member in enumerate(state.entries):
                self.stack.set_progress(member, 0, offsets[i + 1] - offsets[i])
        else:
            self.stack.set_progress(state.entry, 0, prepared.n_frames)
        step = chunk_frames(prepared.n_frames, self.chunk_size)
        starts = prepared.chunk_starts(step)
        state.pending = len(starts)
        for i, start in enumerate(starts):
            stop = None if i == len(starts) - 1 else starts[i + 1]
            self._submit(
                _Task.DETECT, state, detect_task, state.job, prepared, start, stop, start=start
            )

    def _after_detect(self, state: _Running, detections: Detections, start: int) -> None:
        state.chunks[start] = detections
        state.pending -= 1
        entry = state.member_of(start)
        self.stack.set_progress(
            entry,
            min(entry.done + len(detections.frames) + len(detections.skipped), entry.total),
            entry.total,
        )
        if state.pending == 0:
            chunks = [state.chunks[k] for k in sorted(state.chunks)]
            state.chunks = {}
            self._submit(_Task.FINISH, state, finish_task, state.job, state.prepared, chunks)

    def _after_finish(
        self, state: _Running, summaries: TrackSummary | list[TrackSummary], _: int
    ) -> None:
        notes: list[str] = []
        for entry, summary in zip(state.entries, _per_entry(summaries), strict=True):
            self.frames += summary.n_frames
            self.stack.set_progress(entry, entry.total, entry.total)
            entry.n_ids = summary.n_ids
            note = f"{summary.n_ids} ids, {summary.n_rows} rows"
            if summary.skipped:
                note += f", {len(summary.skipped)} unreadable frames skipped"
            if summary.n_rows == 0:
                note += " (no object detected: check thresh and area bounds)"
            if summary.auto.measurements:
                note += f"; measured {summary.auto.brief()}"
            if state.prepared is not None and state.prepared.edited:
                note += "; the previous result's edits were archived with it, not re-applied"
            if state.members:
                note += f"; file {len(notes) + 1} of recording {entry.recording!r}"
            notes.append(note)
        self._end(state, Status.DONE, notes)

    def _learn_duration(self, seconds: float, *, groups: bool = True) -> None:
        """Run short whole-entry tasks in groups of about :data:`_GROUP_SECONDS` (a task's
        own cost: 1–2 ms of the coordinator's time on local processes, several on Dask), and,
        on local worker processes, hand one group per worker out ahead (Dask keeps a task
        more than its workers in flight already). Tracking's short clips (``groups`` False)
        are not grouped: their tasks' results say which movies were short only afterwards."""
        short = seconds < _SHORT_TASK
        if self.knows_start:
            self.prefetch = self.slots if short else 0
        if short and groups:
            self.group = max(1, min(_MAX_GROUP, int(_GROUP_SECONDS / max(seconds, 1e-3))))
        else:
            self.group = 1

    def _after_group(self, future: cf.Future[Any], group: list[_Running]) -> None:
        """Each entry of a group task ends as its own task would have.

        If the group task failed as a whole (every worker running it died, or its results
        could not come back), the entries this run published meanwhile are Done (their resume
        markers say so); on a worker's death, the first of the others, the one that was
        running, fails with that error, and the rest run again one by one."""
        try:
            results = future.result()
        except BaseException as error:
            self.group = 1
            culprit = type(error).__name__ in ("KilledWorker", "WorkerDied")
            for state in group:
                if state.entry.id not in self.running:
                    continue
                published = published_in_run(state.job)
                if published is not None:
                    self._after_analyse(state, published, 0)
                elif culprit:
                    culprit = False
                    self._fail(state, error)
                else:
                    self._submit_analyse(state)
            return
        for state, result in zip(group, results, strict=True):
            if state.entry.id not in self.running:
                continue
            if isinstance(result, BaseException):
                self._fail(state, result)
            else:
                self._after_analyse(state, result, 0)

    def _after_analyse(self, state: _Running, result: dict[str, Any], _: int) -> None:
        self._learn_duration(float(result.get("seconds", _SHORT_TASK)))
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
        message = _message(error)
        # most messages name their file already: the path is not said twice
        named = str(state.entry.path) in message
        log.error("%s", message if named else f"{state.entry.path}: {message}")
        self._end(state, Status.ERROR, message)

    def _end(self, state: _Running, status: Status, message: str | list[str]) -> None:
        """End the state's entries (a message each, or the same for all)."""
        self.running.pop(state.entry.id, None)
        messages = message if isinstance(message, list) else [message] * len(state.entries)
        for entry, text in zip(state.entries, messages, strict=True):
            if entry.started is not None:
                entry.seconds = time.monotonic() - entry.started
            self.stack.set_status(entry, status, text)

    def _cancel_all(self) -> None:
        """Drop what has not started; let the tasks inside a worker end, and keep the
        results they publish (those entries are Done); the others go back to Waiting.

        With ``kill_on_cancel`` (a signal), the running tasks are killed with their workers
        instead, and their staging folders removed."""
        terminate = getattr(self.executor, "terminate", None)
        if self.kill_on_cancel and terminate is not None:
            for future in self.futures:
                future.cancel()
            terminate()  # the running tasks die with their workers
            self.futures.clear()
            self.grouped.clear()
            self.backlog.clear()
            for state in list(self.running.values()):
                reported = published_in_run(state.job)
                if reported is not None:  # in a group, published before the group was killed
                    self._after_analyse(state, reported, 0)
                    continue
                for entry in state.entries:
                    _remove_partials(entry)
                    self.stack.set_progress(entry, 0, entry.total)
                if state.job.recording is not None:
                    remove_stale_partials(Path(state.job.recording.table))
                self._end(state, Status.WAITING, "cancelled")
            return
        self.backlog.clear()
        started = [future for future in self.futures if not future.cancel()]
        cf.wait(started)
        for future in started:
            kind, state, _ = self.futures[future]
            published = kind in (_Task.FINISH, _Task.ANALYSE, _Task.GROUP) or (
                kind is _Task.PREPARE  # a short movie's task tracks it whole
                and future.exception() is None
                and not isinstance(future.result(), Prepared)
            )
            if published and (kind is _Task.GROUP or state.entry.id in self.running):
                self._handle(future)
        self.futures.clear()
        self.grouped.clear()
        for state in list(self.running.values()):
            for entry in state.entries:
                self.stack.set_progress(entry, 0, entry.total)
            self._end(state, Status.WAITING, "cancelled")


def _per_entry(summary: TrackSummary | list[TrackSummary]) -> list[TrackSummary]:
    """A finish task's summaries, one per entry (a recording gives one per file)."""
    return summary if isinstance(summary, list) else [summary]


def _remove_partials(entry: Entry) -> None:
    """Remove the staging folders that the entry's stopped tasks left behind."""
    if get_workflow(entry.workflow).chunked:
        remove_stale_partials(entry.result_dir)
    else:
        remove_stale_partials(shared_staging(entry.result_dir, entry.path.name))


class _SignalEvent(threading.Event):
    """A cancel event that knows which signal set it."""

    name: str | None = None


class SignalStop:
    """Turn SIGINT and SIGTERM into a stop of the run (used by the command line).

    Inside ``with SignalStop() as stop:``, the first SIGINT or SIGTERM sets ``stop.event``
    (give it to :func:`run_stack` as ``cancel`` with ``kill_on_cancel=True``) and records
    the signal in ``stop.signum``; a second one raises KeyboardInterrupt. The previous
    handlers are restored on exit. Outside the main thread it does nothing.

    Examples
    --------
    >>> with SignalStop() as stop:
    ...     pass
    >>> stop.signum is None, stop.exit_code
    (True, 0)
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = _SignalEvent()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str | None:
        """The signal's name (``SIGTERM``), or None."""
        return None if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number (130 for SIGINT, 143 for SIGTERM), or 0."""
        return 0 if self.signum is None else 128 + self.signum

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self.event.name = signal.Signals(signum).name
        self.event.set()
        log.warning("%s received: stopping the running tasks", signal.Signals(signum).name)

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


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


def _slots(executor: cf.Executor, workers: int | None) -> int:
    """Tasks in flight: one per worker for a process pool, whose futures say they run as soon
    as they are handed to a worker's queue (so Running means running); one more elsewhere, so
    that no worker idles between two tasks."""
    count = worker_count(executor, workers)
    return count if isinstance(executor, (cf.ProcessPoolExecutor, LocalPool)) else count + 1


#: Columns of a summary row (:attr:`RunSummary.entries`), all flat values.
SUMMARY_COLUMNS = (
    "id", "path", "status", "message", "frames", "seconds", "ids", "result", "verdict",
    "reasons",
)  # fmt: skip


def _summary_row(entry: Entry) -> dict[str, Any]:
    """One entry of the summary: its wall time, where its result is and its quality verdict."""
    from ..io.tables import read_quality

    finished = entry.status in (Status.DONE, Status.SKIPPED)
    quality = read_quality(entry.result_dir) if finished else None
    return {
        "id": entry.id,
        "path": str(entry.path),
        "status": str(entry.status),
        "message": entry.message,
        "frames": entry.total,
        "seconds": round(entry.seconds, 3),
        "ids": entry.n_ids,
        "result": str(entry.result_dir),
        "verdict": quality.get("verdict") if quality else None,
        "reasons": "; ".join(quality.get("reasons", [])) if quality else "",
    }


def run_stack(
    stack: Stack,
    options: RunOptions | None = None,
    *,
    executor: cf.Executor | None = None,
    cancel: threading.Event | None = None,
    kill_on_cancel: bool = False,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    shard: tuple[int, int] | str | None = None,
    chunk_size: int = 500,
) -> RunSummary:
    """Run every Waiting entry of the stack; a failing entry never stops the others.

    Parameters
    ----------
    stack : Stack
        The entries (their status and progress are updated live; observers are notified).
    options : RunOptions, optional
        Where and how to run; when omitted it is built from the keywords below.
    executor : concurrent.futures.Executor, optional
        Use this executor; otherwise one is opened from the options.
    cancel : threading.Event, optional
        Set it to stop: queued tasks are cancelled, running entries go back to Waiting.
    kill_on_cancel : bool
        On ``cancel``, also kill the tasks already running (the local workers are killed and
        their partial results removed) instead of letting them finish.
    backend, workers, scheduler, force, shard, chunk_size
        See :class:`~batchtrack.batch.options.RunOptions`.

    Returns
    -------
    RunSummary

    Raises
    ------
    ParameterError
        On an invalid option.
    """
    if options is None:
        options = RunOptions(
            backend=backend, workers=workers, scheduler=scheduler, force=force, shard=shard,
            chunk_size=chunk_size,
        )  # fmt: skip
    stack.reset()
    selected = select_shard(stack.entries, options.shard)
    _refuse_shared_result_dirs(stack, selected)
    check_recordings(stack, selected)
    entries = [e for e in selected if e.status is Status.WAITING]
    started = time.perf_counter()
    with contextlib.ExitStack() as resources:
        if executor is None:
            executor = resources.enter_context(options.open_executor())
        coordinator = _Coordinator(
            stack,
            executor,
            force=options.force,
            chunk_size=options.chunk_size,
            slots=_slots(executor, options.workers),
            cancel=cancel,
            kill_on_cancel=kill_on_cancel,
        )
        try:
            coordinator.run(entries)
        finally:
            for folder in {e.result_dir for e in entries if not get_workflow(e.workflow).chunked}:
                remove_empty_staging(folder)
    counts = {str(status): 0 for status in Status}
    for entry in selected:
        counts[str(entry.status)] += 1
    rows = [_summary_row(e) for e in selected]
    summary = RunSummary(counts, time.perf_counter() - started, coordinator.frames, rows)
    if coordinator.cancel.is_set() and isinstance(cancel, _SignalEvent):
        summary.interrupted = cancel.name
    return summary


def after_batch(stack: Stack, path: str | Path | None = None) -> Path | None:
    """Run what the stack's workflow does once a batch is done (measure: the batch table).

    Parameters
    ----------
    stack : Stack
        A stack that has run; its Done and Skipped entries are the finished ones.
    path : path, optional
        The file to write, when the workflow writes one (its default place otherwise).

    Returns
    -------
    Path or None
        The file written, or None when the workflow has nothing to do after a batch.
    """
    hook = get_workflow(stack.workflow).after_batch
    if hook is None:
        return None
    finished = [
        (entry.path, entry.result_dir)
        for entry in stack
        if entry.status in (Status.DONE, Status.SKIPPED)
    ]
    return hook(finished, None if path is None else Path(path))
