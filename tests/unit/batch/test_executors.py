"""Executors: the local pool that survives its workers, and a local Dask cluster that only
listens on the loopback interface."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from batchtrack.batch.executors import LocalPool, WorkerDied, open_executor


def _sockets(process: psutil.Process) -> set[tuple[str, int]]:
    return {
        (c.laddr.ip, c.laddr.port)
        for c in process.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def test_a_local_dask_cluster_and_its_dashboard_listen_on_loopback_only() -> None:
    me = psutil.Process()
    before = _sockets(me)  # what earlier tests of this process left listening
    # processes earlier tests left running (session clusters…) are not this cluster's
    older = {child.pid for child in me.children(recursive=True)}
    with open_executor("dask", workers=1) as executor:
        client = executor._client  # type: ignore[attr-defined]
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        new = _sockets(me) - before  # the scheduler and its dashboard run in this process
        for child in me.children(recursive=True):  # the nanny and the worker
            if child.pid not in older:
                new |= _sockets(child)
    assert new and {ip for ip, _ in new} == {"127.0.0.1"}


def _pid() -> int:
    return os.getpid()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_local_pool_replaces_a_dead_worker_and_fails_only_its_task() -> None:
    with LocalPool(2) as pool:
        before = {pool.submit(_pid).result(timeout=60) for _ in range(4)}
        with pytest.raises(WorkerDied, match=r"worker process died: signal 9 \(SIGKILL\)"):
            pool.submit(_die).result(timeout=60)
        after = pool.submit(_pid).result(timeout=60)  # a new pool took over
    assert after not in before
