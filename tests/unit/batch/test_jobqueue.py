"""SLURM/PBS through dask-jobqueue: the job script batchtrack asks for, and clear errors.

This machine has no SLURM: a stand-in ``sbatch`` on PATH only lets the cluster object be
built so that its job script can be checked; nothing is submitted.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from batchtrack.batch.run import jobqueue_cluster
from batchtrack.errors import ParameterError

LOCAL = {"scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"}}


@pytest.fixture
def sbatch_on_path(tmp_path: Path, monkeypatch) -> None:
    stand_in = tmp_path / "bin" / "sbatch"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 1\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}:/usr/bin:/bin")


def test_job_script_runs_one_single_threaded_worker_per_core(sbatch_on_path) -> None:
    options = {"cores": 4, "memory": "8GB", "walltime": "02:00:00", **LOCAL}
    with jobqueue_cluster("slurm", options) as cluster:
        script = cluster.job_script()
    assert "--cpus-per-task=4" in script and "-t 02:00:00" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script


def test_missing_cores_or_memory_name_the_fix(sbatch_on_path) -> None:
    with pytest.raises(ParameterError, match="needs cores: add --jobqueue-opt cores="):
        jobqueue_cluster("slurm", {"memory": "8GB", **LOCAL})


def test_missing_submit_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ParameterError, match="'sbatch', which is not on this machine"):
        jobqueue_cluster("slurm", {"cores": 1, "memory": "1GB"})


def test_unknown_queue() -> None:
    with pytest.raises(ParameterError, match="unknown job queue"):
        jobqueue_cluster("condorx", {})


def test_a_jobqueue_cluster_refuses_clients_without_its_credentials(
    sbatch_on_path, tmp_path: Path
) -> None:
    from distributed import Client

    options = {"cores": 1, "memory": "1GB", "shared_temp_directory": str(tmp_path), **LOCAL}
    with jobqueue_cluster("slurm", options) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        script = cluster.job_script()  # the workers get the credentials, readable by us only
        key = Path(script.split("--tls-key ")[1].split()[0])
        assert key.parent == tmp_path and key.stat().st_mode & 0o077 == 0
        with Client(cluster, timeout="10s") as client:  # batchtrack's own client gets in
            assert client.scheduler_info()["address"] == address
        for intruder in (address, address.replace("tls://", "tcp://")):
            with pytest.raises((OSError, TimeoutError, TypeError)):
                Client(intruder, timeout="3s")  # no certificate: refused


def test_security_can_be_turned_off_explicitly(sbatch_on_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="batchtrack")
    options = {"cores": 1, "memory": "1GB", "security": False, **LOCAL}
    with jobqueue_cluster("slurm", options) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
    assert "without TLS" in caplog.text
