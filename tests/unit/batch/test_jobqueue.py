"""SLURM/PBS through dask-jobqueue: the job script batchtrack asks for, and clear errors.

This machine has no SLURM: a stand-in ``sbatch`` on PATH only lets the cluster object be
built so that its job script can be checked; nothing is submitted.
"""

from __future__ import annotations

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
