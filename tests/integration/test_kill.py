"""A batch run killed mid-way (SIGKILL to its whole process group) resumes cleanly.

The run is a separate process (``python -c``: load a manifest, ``run_stack`` with the local
backend, 2 workers, small chunks) killed as soon as its first result folder is published.
Re-running the same command must skip the finished entries, redo the others, and leave every
entry with one complete ``Tracking_Result`` and no partial folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import batchtrack
from batchdata import RESULT_FILES
from batchtrack.batch.manifest import save_manifest
from batchtrack.batch.stack import Stack
from batchtrack.io.resume import MARKER
from batchtrack.params import Parameters

SRC = Path(batchtrack.__file__).resolve().parents[1]
N_MOVIES = 10
REPEAT = 2  # each movie is the zebrafish sequence twice over: 200 frames

RUN = """
import json, sys
from batchtrack.batch.manifest import load_manifest
from batchtrack.batch.run import run_stack

stack = load_manifest(sys.argv[1])
summary = run_stack(stack, backend="local", workers=2, chunk_size=10)
print(json.dumps({"status": {str(e.path): str(e.status) for e in stack},
                  "counts": summary.counts}))
"""


def make_movies(root: Path, zebrafish_dir: Path) -> list[Path]:
    """Sequences made of symbolic links to the zebrafish frames (no 17 MB copies)."""
    frames = sorted((zebrafish_dir / "images").iterdir())
    movies = []
    for i in range(N_MOVIES):
        folder = root / f"fish{i}"
        folder.mkdir()
        for k in range(REPEAT * len(frames)):
            (folder / f"frame_{k:04d}.pgm").symlink_to(frames[k % len(frames)])
        movies.append(folder)
    return movies


def is_complete(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    lines = (folder / "tracking.txt").read_text().splitlines() if folder.is_dir() else []
    return names == RESULT_FILES | {MARKER} and len(lines) > 1


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_run_resumes_without_partial_or_lost_results(
    tmp_path: Path, zebrafish_dir: Path, zebrafish_params: Parameters
) -> None:
    movies = make_movies(tmp_path, zebrafish_dir)
    stack = Stack(zebrafish_params)
    stack.add(movies)
    manifest = save_manifest(stack, tmp_path / "stack.toml")
    paths = [str(SRC), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    command = [sys.executable, "-c", RUN, str(manifest)]

    run = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    try:
        while not any((m / "Tracking_Result").exists() for m in movies):
            assert run.poll() is None, f"run ended before any result: {run.communicate()}"
            assert time.monotonic() < deadline, "no result after 120 s"
            time.sleep(0.01)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the coordinator and its worker processes
        run.communicate()
    while group_alive(run.pid):  # orphaned workers die too (SIGKILL cannot be caught)
        assert time.monotonic() < deadline, "worker processes survived SIGKILL"
        time.sleep(0.01)

    finished = [m for m in movies if (m / "Tracking_Result").exists()]
    assert 1 <= len(finished) < N_MOVIES, "the kill did not land mid-run"
    # what is visible as a result folder is complete; anything else is hidden and partial
    assert all(is_complete(m / "Tracking_Result") for m in finished)
    before = {m: (m / "Tracking_Result" / "tracking.txt").stat().st_mtime_ns for m in finished}

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout.splitlines()[-1])
    status = {Path(path): value for path, value in report["status"].items()}
    assert [status[m] for m in movies] == ["Skipped" if m in finished else "Done" for m in movies]
    assert report["counts"]["Skipped"] == len(finished)
    assert report["counts"]["Done"] == N_MOVIES - len(finished)

    assert all(is_complete(m / "Tracking_Result") for m in movies)
    after = {m: (m / "Tracking_Result" / "tracking.txt").stat().st_mtime_ns for m in finished}
    assert after == before  # finished results were kept, not redone
    tables = {(m / "Tracking_Result" / "tracking.txt").read_text() for m in movies}
    assert len(tables) == 1  # same frames, same result, whether finished before or after
    assert list(tmp_path.rglob(".Tracking_Result.partial-*")) == []
    assert list(tmp_path.rglob("*_Archive-*")) == []
