"""Executors: where the batch's tasks run.

Every backend is a :class:`concurrent.futures.Executor`: an in-process thread, a pool of local
processes (spawn start method, one OpenCV thread each), or a Dask cluster
(``Client.get_executor()``), reached by address or started through dask-jobqueue (SLURM, PBS).
:func:`init_worker` prepares each worker process once.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import functools
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..errors import BatchtrackError, ParameterError

__all__ = [
    "BACKENDS",
    "LocalPool",
    "WorkerDied",
    "client_security",
    "init_worker",
    "jobqueue_cluster",
    "open_executor",
    "worker_count",
]

log = logging.getLogger(__name__)

BACKENDS = ("inprocess", "local", "dask")

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
    import cv2  # here: the command line imports this module and needs no OpenCV to start

    from ..io.messages import log_to_terminal

    log_to_terminal()  # the level of the command that started this worker, if any

    cv2.setNumThreads(1)
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        libc = ctypes.CDLL("libc.so.6")
        # Setting one threshold disables glibc's dynamic mmap threshold: set both.
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    _WORKER_READY = True


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


class WorkerDied(BatchtrackError):
    """A local worker process died (killed, out of memory, crashed) while running a task."""


def _die_with(parent: int) -> None:
    """End this worker process when its parent dies: a parent-death signal and a watchdog.

    The kernel sends SIGKILL when the thread that started this process ends (Linux
    ``PR_SET_PDEATHSIG``); the watchdog thread covers the other systems and the window before
    the signal was set, by checking once a second that the parent is still ours.
    """
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was set
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="batchtrack-watchdog", daemon=True).start()


def _init_pool_worker(parent: int) -> None:
    """Initializer of a :class:`LocalPool` worker process."""
    # The coordinator handles Ctrl-C and SIGTERM (and kills its workers); a worker ignores
    # them, so that a signal to the whole process group (the terminal's Ctrl-C, scancel,
    # systemd) stops the run cleanly instead of failing the entries the workers were running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with(parent)
    init_worker()


def _tracked_call(status: str, call: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Run ``fn(*args)`` after noting, in this worker's status file, which call it runs."""
    with open(os.path.join(status, str(os.getpid())), "w") as stream:
        stream.write(str(call))
    return fn(*args)


def _death(exitcode: int) -> str:
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {-exitcode} ({signal.Signals(-exitcode).name})"
        return f"signal {-exitcode}"
    return f"exit code {exitcode}"


_MAX_START_FAILURES = 3
_STARTING = (
    "the worker processes die as they start. In a script, put the code that runs the batch "
    'under `if __name__ == "__main__":` (workers are started with spawn and import the '
    "script again); otherwise see the workers' error above"
)


def _check_not_bootstrapping() -> None:
    """Refuse to start a pool from a worker that is importing the main script (spawn)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise BatchtrackError(
            "a batch was started while a worker process imports the main script: put the code "
            'that runs the batch under `if __name__ == "__main__":` (workers are started with '
            "spawn and import the script again)"
        )


class _Call(cf.Future):
    """The caller's future of a :class:`LocalPool` task (it outlives a broken pool)."""

    def __init__(self, call: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        self.call, self.fn, self.args = call, fn, args
        self.inner: cf.Future[Any] | None = None

    def cancel(self) -> bool:
        inner = self.inner
        if inner is not None and not inner.cancel():
            return False  # already inside a worker: it ends by itself
        return super().cancel()

    def running(self) -> bool:
        """True while a worker runs the task (so that the coordinator shows it Running)."""
        inner = self.inner
        running = inner is not None and inner.running() and not self.done()
        return running or super().running()


class LocalPool(cf.Executor):
    """Local worker processes (spawn) that survive the death of one of them.

    When a worker dies (``kill -9``, the out-of-memory killer, a crashing decoder), the tasks
    it was running fail with :class:`WorkerDied` ("worker process died: signal 9 (SIGKILL)"),
    a new pool of processes is started and every other task in flight is resubmitted to it.
    Workers end with their parent (:func:`_die_with`) and ignore SIGINT and SIGTERM (the
    coordinator handles them: see :class:`batchtrack.batch.run.SignalStop`).

    Parameters
    ----------
    workers : int
        Worker processes.
    """

    def __init__(self, workers: int) -> None:
        _check_not_bootstrapping()
        self._max_workers = workers
        self._status = tempfile.mkdtemp(prefix="batchtrack-workers-")
        self._calls = itertools.count()
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._dead: dict[int, dict[int, str]] = {}  # pool generation -> {call: cause}
        self._workers: dict[int, dict[int, Any]] = {}  # pool generation -> {pid: process}
        self._generation = 0
        self._start_failures = 0  # pools in a row whose workers died before any task
        self._shutdown = False
        self._terminated = False  # terminate() was called: nothing is resubmitted
        # Every worker is started from this one thread, which lives as long as the pool: a
        # worker's parent-death signal fires when the thread that started it ends.
        self._thread = threading.Thread(target=self._submitter, name="batchtrack-pool")
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs:
            raise TypeError("LocalPool.submit takes positional arguments only")
        if self._shutdown:
            raise RuntimeError("cannot submit to a LocalPool that was shut down")
        future = _Call(next(self._calls), fn, args)
        self._requests.put(future)
        return future

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        self._generation += 1
        return cf.ProcessPoolExecutor(
            max_workers=self._max_workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_pool_worker,
            initargs=(os.getpid(),),
        )

    def _submitter(self) -> None:
        while (future := self._requests.get()) is not None:
            if future.cancelled():
                continue
            if self._terminated:  # no new pool for what was still queued
                if future.set_running_or_notify_cancel():
                    future.set_exception(WorkerDied("worker process died: pool shut down"))
                continue
            with self._lock:
                if self._pool is None or getattr(self._pool, "_broken", False):
                    if self._pool is not None:
                        self._pool.shutdown(wait=False)
                    self._pool = self._new_pool()
                pool, generation = self._pool, self._generation
            try:
                inner = pool.submit(
                    _tracked_call, self._status, future.call, future.fn, future.args
                )
            except BrokenProcessPool:
                self._requests.put(future)  # the pool broke meanwhile: into the next one
                continue
            future.inner = inner
            with self._lock:  # the pool forgets its processes once shut down: keep them
                self._workers.setdefault(generation, {}).update(
                    getattr(pool, "_processes", None) or {}
                )
            inner.add_done_callback(functools.partial(self._done, future, pool, generation))
        with self._lock:
            last = self._pool
        if last is not None:
            if self._terminated:  # a pool started while terminate() killed the previous one
                for process in list((getattr(last, "_processes", None) or {}).values()):
                    with contextlib.suppress(OSError, AttributeError):
                        process.kill()
            last.shutdown(wait=True)

    def _done(
        self, future: _Call, pool: cf.ProcessPoolExecutor, generation: int, inner: cf.Future[Any]
    ) -> None:
        if future.cancelled() or inner.cancelled():
            future.cancel()
            return
        error = inner.exception()
        if isinstance(error, BrokenProcessPool):
            cause = self._causes(pool, generation).get(future.call)
            if cause is None and self._start_failures >= _MAX_START_FAILURES:
                cause = _STARTING  # the workers die as they start: resubmitting cannot help
            if cause is None and not (self._shutdown or self._terminated):
                self._requests.put(future)  # lost with the pool, not the culprit: run again
                return
            if cause == _STARTING:
                error = WorkerDied(cause)
            else:
                error = WorkerDied(f"worker process died: {cause or 'pool shut down'}")
        if not future.set_running_or_notify_cancel():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(inner.result())

    def _causes(self, pool: cf.ProcessPoolExecutor, generation: int) -> dict[int, str]:
        """The calls that were running on the dead workers of a broken pool, with the cause.

        Called when the pool reports itself broken, before it terminates its other workers:
        the processes that have already exited are the ones that died.
        """
        with self._lock:
            if generation in self._dead:
                return self._dead[generation]
            causes: dict[int, str] = {}
            processes = {
                **self._workers.pop(generation, {}),
                **(getattr(pool, "_processes", None) or {}),
            }
            # A dead worker's sentinel is readable a moment before it can be reaped: wait for
            # the exit code of those whose sentinel says they ended.
            sentinels = [process.sentinel for process in processes.values()]
            ended = set(multiprocessing.connection.wait(sentinels, 0))
            survivors = []
            for pid, process in processes.items():
                if process.sentinel not in ended:
                    survivors.append(process)
                    continue
                process.join(5)
                cause = "cause unknown" if process.exitcode is None else _death(process.exitcode)
                with contextlib.suppress(OSError, ValueError):
                    call = int(Path(self._status, str(pid)).read_text())
                    causes[call] = cause
                    if not self._terminated:  # not killed by terminate()
                        log.error("worker process %d died: %s", pid, cause)
            # The broken pool stops its other workers with SIGTERM, which they ignore: kill them
            # (their tasks are resubmitted to the new pool).
            for process in survivors:
                with contextlib.suppress(OSError, AttributeError):
                    process.kill()
            started = any(Path(self._status, str(pid)).exists() for pid in processes)
            self._start_failures = 0 if started else self._start_failures + 1
            self._dead[generation] = causes
            return causes

    def terminate(self) -> None:
        """Kill every worker now (the tasks in flight are lost) and shut the pool down."""
        # First: a task whose worker is killed a moment after the pool saw itself broken must
        # fail, not be resubmitted to a new pool (which the shutdown would then wait for)
        self._terminated = True
        with self._lock:
            pool = self._pool
        if pool is not None:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, AttributeError):
                    process.kill()
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, AttributeError, AssertionError):
                    process.join(5)
        self.shutdown(wait=True, cancel_futures=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                pool = self._pool
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if not self._shutdown:
            self._shutdown = True
            self._requests.put(None)
        if wait:
            self._thread.join()
            shutil.rmtree(self._status, ignore_errors=True)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers."""
        with self._lock:
            pool = self._pool
        return list((getattr(pool, "_processes", None) or {}).keys()) if pool else []


@contextlib.contextmanager
def open_executor(
    backend: str = "local",
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    jobqueue: str | None = None,
    jobqueue_options: dict | None = None,
    tls: dict[str, str] | None = None,
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
        (e.g. ``{"cores": 8, "memory": "16GB", "queue": "normal"}``); the cluster is secured
        with TLS and temporary credentials unless the options say otherwise (see
        :func:`jobqueue_cluster`).
    tls : dict, optional
        For a ``tls://`` scheduler: ``ca_file``, ``cert``, ``key`` (PEM files), as Dask's
        ``--tls-ca-file``, ``--tls-cert``, ``--tls-key``; Dask's configuration
        (``distributed.comm.tls``) otherwise.
    """
    if scheduler or jobqueue:
        backend = "dask"
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "inprocess":
        with cf.ThreadPoolExecutor(max_workers=1) as executor:
            yield executor
    elif backend == "local":
        with LocalPool(workers or os.cpu_count() or 1) as executor:
            yield executor
    else:
        with _dask_client(scheduler, jobqueue, jobqueue_options or {}, workers, tls) as client:
            yield client.get_executor(pure=False)


#: Dask settings of the local cluster batchtrack starts (passed on to its worker processes).
#: An idle cluster of 2 workers used 2.2 s of CPU every 10 s with Dask's defaults (a 20 ms
#: event-loop tick in every process, system statistics every 0.5 s, each worker's sampling
#: profiler every 10 ms), 0.5 s with these: on a machine whose cores the workers need, that
#: was 12 % of a batch's throughput. The dashboard's profile and resource plots then update
#: less often; nothing else changes.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
}


@contextlib.contextmanager
def _dask_client(
    scheduler: str | None,
    jobqueue: str | None,
    options: dict,
    workers: int | None,
    tls: dict[str, str] | None = None,
) -> Iterator:
    try:
        from distributed import Client
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ParameterError(
            "the Dask backend needs the dask extra: pip install 'batchtrack[dask]'"
        ) from error
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s", security=client_security(scheduler, tls))
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
    import dask
    from distributed import LocalCluster

    # Scheduler, workers and dashboard on the loopback interface only: nobody else on the
    # network reaches a local cluster (Dask's default dashboard listens everywhere).
    with (
        dask.config.set(LOCAL_CLUSTER_CONFIG),
        LocalCluster(
            n_workers=workers or os.cpu_count(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        log.info("Dask dashboard: %s", client.dashboard_link)
        yield client


def jobqueue_cluster(kind: str, options: dict[str, Any]) -> Any:
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
    options = _secured(kind, dict(options))
    options.setdefault("processes", options["cores"])
    options.setdefault("scheduler_options", {"dashboard_address": "127.0.0.1:0"})
    try:
        cluster = cluster_class(**options)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"{kind} cluster options {options} rejected: {error}; set them with --jobqueue-opt "
            "KEY=VALUE (e.g. cores=8 memory=16GB walltime=02:00:00)"
        ) from error
    # dask-jobqueue keeps the workers' credential files open (deleted when closed): close
    # them with the cluster, so that they do not outlive it.
    credentials = [
        getattr(cluster, name)
        for name in ("_job_ca_file", "_job_cert", "_job_key")
        if hasattr(cluster, name)
    ]
    weakref.finalize(cluster, _close_all, credentials)
    return cluster


def _close_all(files: list[Any]) -> None:
    for stream in files:
        with contextlib.suppress(OSError):
            stream.close()


def _secured(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Job-queue cluster options with TLS and temporary credentials unless told otherwise.

    A plain ``tcp://`` scheduler on a shared login node lets anyone who finds its port run
    code as you. By default the scheduler, the workers and this client authenticate each
    other with a certificate made for this run (``Security.temporary()``), which
    dask-jobqueue writes, readable by you only, to ``shared_temp_directory`` (default
    ``~/.batchtrack/dask-tls``: it must be on a file system the compute nodes share).
    ``security=false`` (``--jobqueue-opt security=false``) turns this off.
    """
    if options.get("security") is False:
        log.warning("%s cluster without TLS: anyone who reaches its port can use it", kind)
        options.pop("security")
        return options
    if "security" not in options:
        from distributed.security import Security

        try:
            options["security"] = Security.temporary()
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ParameterError(
                "secured job-queue clusters need cryptography: pip install 'batchtrack[dask]'"
            ) from error
    if "shared_temp_directory" not in options:
        folder = Path.home() / ".batchtrack" / "dask-tls"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        options["shared_temp_directory"] = str(folder)
    options.setdefault("protocol", "tls://")
    return options


def client_security(scheduler: str, tls: dict[str, str] | None) -> Any:
    """The Dask ``Security`` of a client of ``scheduler`` (None: Dask's configuration).

    Raises
    ------
    ParameterError
        If certificate options are given for a scheduler that is not ``tls://``, or a file
        is missing.
    """
    tls = {key: value for key, value in (tls or {}).items() if value}
    if not tls:
        return None
    if not scheduler.startswith("tls://"):
        raise ParameterError(
            f"TLS certificates given for {scheduler}: use a tls:// scheduler address"
        )
    missing = [f"{key} {path}" for key, path in tls.items() if not Path(path).is_file()]
    if missing:
        raise ParameterError(f"TLS file not found: {', '.join(missing)}")
    from distributed.security import Security

    return Security(
        tls_ca_file=tls.get("ca_file"),
        tls_client_cert=tls.get("cert"),
        tls_client_key=tls.get("key"),
        require_encryption=True,
    )


def worker_count(executor: cf.Executor, workers: int | None) -> int:
    """How many tasks the executor runs at once (Dask: the cluster's threads)."""
    if workers:
        return workers
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return getattr(executor, "_max_workers", None) or os.cpu_count() or 1
