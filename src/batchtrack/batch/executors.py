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
import logging
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from typing import Any

from ..errors import ParameterError

__all__ = ["BACKENDS", "init_worker", "jobqueue_cluster", "open_executor", "worker_count"]

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


def worker_count(executor: cf.Executor, workers: int | None) -> int:
    """How many tasks the executor runs at once (Dask: the cluster's threads)."""
    if workers:
        return workers
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return getattr(executor, "_max_workers", None) or os.cpu_count() or 1
