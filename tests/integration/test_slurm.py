"""A real single-node SLURM cluster (Debian's slurm-wlm and munge, started by ``.ci/slurm-up``):
a job array of ``batch run --shard k/N``, ``batch run --slurm`` through dask-jobqueue, and a
job killed with ``scancel`` mid-run, resumed by resubmitting it. Every result must equal the
one of a local run.

Where SLURM cannot run (not root, the packages missing, the daemons refusing to start), the
tests are skipped with the reason; ``.ci/run`` installs the packages, so CI runs them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import batchtrack
from batchdata import BLOB_PARAMS, write_blob_sequence
from batchtrack.batch.manifest import save_manifest
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack
from batchtrack.io.frames import result_dir_for

ROOT = Path(batchtrack.__file__).resolve().parents[2]
SRC, TESTS = ROOT / "src", ROOT / "tests"
CLI = f"{shlex.quote(sys.executable)} -c 'from batchtrack.cli import main; main()'"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        p for p in (str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")) if p
    ),
}


@pytest.fixture(scope="session")
def slurm() -> None:
    """A running single-node SLURM, started with ``.ci/slurm-up`` if needed."""
    if shutil.which("sbatch") is None and os.geteuid() != 0:
        pytest.skip("SLURM is not installed and installing it needs root (.ci/slurm-up)")
    try:
        up = subprocess.run([str(ROOT / ".ci" / "slurm-up")], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("SLURM did not start within 300 s (.ci/slurm-up)")
    if up.returncode != 0:
        pytest.skip(f"SLURM cannot run here: {up.stderr.strip()[-800:]}")


def _submit(*args: str, cwd: Path) -> int:
    done = subprocess.run(["sbatch", "--parsable", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    return int(done.stdout.strip().split(";")[0])


def _running(job: int) -> bool:
    done = subprocess.run(["squeue", "-h", "-j", str(job)], capture_output=True, text=True,
                          timeout=30)  # fmt: skip
    return bool(done.stdout.strip())


def _wait_gone(job: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _running(job):
        if time.monotonic() > deadline:
            subprocess.run(["scancel", str(job)], check=False, timeout=30)
            pytest.fail(f"SLURM job {job} still running after {seconds:.0f} s (cancelled)")
        time.sleep(0.5)


def _movies(root: Path, n: int, frames: int = 60) -> list[Path]:
    return [write_blob_sequence(root / f"m{i}", frames, seed=i) for i in range(n)]


def _manifest(root: Path, movies: list[Path]) -> Path:
    stack = Stack(BLOB_PARAMS)
    stack.add(movies)
    return save_manifest(stack, root / "stack.toml")


def _reference(tmp_path: Path, n: int, frames: int = 60) -> list[str]:
    """The tracking tables of the same movies tracked locally, in this process."""
    movies = _movies(tmp_path / "local", n, frames)
    stack = Stack(BLOB_PARAMS)
    stack.add(movies)
    run_stack(stack, backend="inprocess")
    return [(result_dir_for(m) / "tracking.txt").read_text() for m in movies]


def _tables(movies: list[Path]) -> list[str]:
    return [(result_dir_for(m) / "tracking.txt").read_text() for m in movies]


def test_a_job_array_of_shards_gives_the_local_results(slurm, tmp_path: Path) -> None:
    movies = _movies(tmp_path / "cluster", 3)
    manifest = _manifest(tmp_path / "cluster", movies)
    command = (
        f"{CLI} batch run {shlex.quote(str(manifest))} --workers 1 --quiet "
        '--shard "$((SLURM_ARRAY_TASK_ID + 1))/$SLURM_ARRAY_TASK_COUNT" '
        '--summary "summary-$SLURM_ARRAY_TASK_ID"'
    )
    job = _submit("--array=0-2", "--cpus-per-task=1", "-o", "array-%a.out", "--wrap", command,
                  cwd=tmp_path)  # fmt: skip
    _wait_gone(job, 300)
    logs = {p.name: p.read_text() for p in tmp_path.glob("array-*.out")}
    for k in range(3):
        summary = json.loads((tmp_path / f"summary-{k}.json").read_text())
        assert summary["counts"]["Done"] == 1, logs
    assert _tables(movies) == _reference(tmp_path, 3)


def test_batch_run_slurm_through_dask_jobqueue_gives_the_local_results(
    slurm, tmp_path: Path
) -> None:
    movies = _movies(tmp_path / "cluster", 2)
    manifest = _manifest(tmp_path / "cluster", movies)
    (tmp_path / "tls").mkdir(mode=0o700)
    run = subprocess.run(
        [sys.executable, "-c", "from batchtrack.cli import main; main()", "batch", "run",
         str(manifest), "--slurm", "--workers", "1", "--quiet",
         "--jobqueue-opt", "cores=1", "--jobqueue-opt", "memory=1GB",
         "--jobqueue-opt", "walltime=00:10:00",
         "--jobqueue-opt", f"shared_temp_directory={tmp_path / 'tls'}",
         "--jobqueue-opt", f"log_directory={tmp_path / 'logs'}"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    assert run.returncode == 0, run.stderr + logs
    counts = json.loads((tmp_path / "cluster" / "stack-summary.json").read_text())["counts"]
    assert counts["Done"] == 2
    assert _tables(movies) == _reference(tmp_path, 2)
    assert "tls://" in logs  # the workers reached the scheduler over TLS


def test_a_job_cancelled_mid_run_resumes_when_resubmitted(slurm, tmp_path: Path) -> None:
    movies = _movies(tmp_path / "cluster", 8, frames=240)
    manifest = _manifest(tmp_path / "cluster", movies)
    command = f"{CLI} batch run {shlex.quote(str(manifest))} --workers 1 --chunk-size 20 --quiet"
    job = _submit("--cpus-per-task=1", "-o", "first.out", "--wrap", command, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not any(result_dir_for(m).exists() for m in movies):
        assert time.monotonic() < deadline, "no result after 240 s"
        assert _running(job) or any(result_dir_for(m).exists() for m in movies), (
            (tmp_path / "first.out").read_text()
        )
        time.sleep(0.2)
    subprocess.run(["scancel", str(job)], check=True, timeout=30)
    _wait_gone(job, 60)
    finished = [m for m in movies if result_dir_for(m).exists()]
    assert 1 <= len(finished) < len(movies), "the cancel did not land mid-run"
    first = json.loads((tmp_path / "cluster" / "stack-summary.json").read_text())
    assert first["interrupted"] == "SIGTERM"  # the run stopped itself and wrote its summary
    assert not list((tmp_path / "cluster").rglob("*.partial-*"))

    again = _submit("--cpus-per-task=1", "-o", "again.out", "--wrap", command, cwd=tmp_path)
    _wait_gone(again, 300)
    counts = json.loads((tmp_path / "cluster" / "stack-summary.json").read_text())["counts"]
    assert counts["Skipped"] == len(finished), (tmp_path / "again.out").read_text()
    assert counts["Done"] == len(movies) - len(finished)
    assert _tables(movies) == _reference(tmp_path, 8, frames=240)
