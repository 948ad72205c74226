"""The fault suite: what must hold when inputs change behind a result, workers die, the run is
signalled, inputs are hostile, the disk fills up or two runs meet (issue 17).

Every test runs the real thing: real worker processes killed with real signals, a real tmpfs
(as root), real concurrent processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import batchtrack
from batchdata import (
    BLOB_PARAMS,
    blob_frames,
    write_background,
    write_blob_sequence,
    write_blob_video,
)
from batchtrack.batch.manifest import save_manifest
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack, Status
from batchtrack.io.frames import result_dir_for
from batchtrack.workflows import UserParameters

SRC = Path(batchtrack.__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        p for p in (str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")) if p
    ),
}


def _run_once(movie: Path, **options) -> Status:
    stack = Stack(BLOB_PARAMS)
    stack.add([movie])
    run_stack(stack, backend="inprocess", **options)
    return stack.entries[0].status


# -- 1. resume checks what it skips ------------------------------------------------------------
def _same_stat(path: Path, change: Callable[[], None]) -> None:
    """Apply ``change`` to ``path``, then restore its modification time (as cp -p does)."""
    stat = path.stat()
    change()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _content_changed(movie: Path) -> None:  # cp -p / rsync -t / touch -r: size and mtime kept
    frame = movie / "frame_0005.pgm"
    _same_stat(frame, lambda: frame.write_bytes((movie / "frame_0040.pgm").read_bytes()))


def _swapped(movie: Path) -> None:
    a, b = movie / "frame_0010.pgm", movie / "frame_0030.pgm"
    a.rename(movie / "tmp")
    b.rename(a)
    (movie / "tmp").rename(b)


def _renamed(movie: Path) -> None:
    (movie / "frame_0059.pgm").rename(movie / "frame_0060.pgm")


def _txt_deleted(movie: Path) -> None:
    (result_dir_for(movie) / "tracking.txt").unlink()


def _txt_truncated(movie: Path) -> None:
    path = result_dir_for(movie) / "tracking.txt"
    _same_stat(path, lambda: path.write_bytes(path.read_bytes()[:200]))


def _db_deleted(movie: Path) -> None:
    (result_dir_for(movie) / "tracking.db").unlink()


def _cfg_overwritten(movie: Path) -> None:  # e.g. parameters saved over a finished result
    path = result_dir_for(movie) / "cfg.toml"
    path.write_text(path.read_text().replace("thresh = 60", "thresh = 61"))


@pytest.mark.parametrize(
    "change",
    [_content_changed, _swapped, _renamed, _txt_deleted, _txt_truncated, _db_deleted,
     _cfg_overwritten],
)  # fmt: skip
def test_resume_redoes_an_entry_whose_input_or_result_changed(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    movie = write_blob_sequence(tmp_path / "movie")
    assert _run_once(movie) is Status.DONE
    assert _run_once(movie) is Status.SKIPPED  # unchanged: skipped
    change(movie)
    assert _run_once(movie) is Status.DONE
    result = result_dir_for(movie)
    lines = (result / "tracking.txt").read_text().splitlines()
    assert len(lines) > 100
    with sqlite3.connect(result / "tracking.db") as db:
        assert db.execute("SELECT COUNT(*) FROM tracking").fetchone()[0] == len(lines) - 1
    assert _run_once(movie) is Status.SKIPPED  # the redone result is trusted again


def test_resume_of_a_user_workflow_checks_its_published_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        (data / f"f{i}.bin").write_bytes(b"x" * (10 + i))

    def run() -> list[str]:
        stack = Stack(UserParameters(level=1), workflow="batchdata:count_files")
        stack.add([data])
        run_stack(stack, backend="inprocess")
        return [str(e.status) for e in stack]

    assert run() == ["Done", "Done"]
    assert run() == ["Skipped", "Skipped"]
    next(data.rglob("f0.bin.size.txt")).unlink()
    assert run() == ["Done", "Skipped"]


# -- 2. a dead local worker ----------------------------------------------------------------------
def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _slow_stack(data: Path, n_quick: int = 6, workflow: str = "batchdata:slow_files") -> Stack:
    data.mkdir()
    (data / "victim.slow").write_bytes(b"slow")
    for i in range(n_quick):
        (data / f"f{i}.bin").write_bytes(b"x" * (10 + i))
    stack = Stack(UserParameters(level=1), workflow=workflow)
    stack.add(sorted(data.iterdir()))
    return stack


def _kill_victim_when_running(data: Path, sig: int = signal.SIGKILL) -> int:
    pid_file = data / "victim.pid"
    _wait_for(lambda: pid_file.exists() and pid_file.read_text(), 60, "the slow entry to start")
    pid = int(pid_file.read_text())
    os.kill(pid, sig)
    return pid


def test_a_killed_local_worker_fails_only_its_entry_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])  # the workers import batchdata
    data = tmp_path / "data"
    stack = _slow_stack(data)
    import threading

    killer = threading.Thread(target=_kill_victim_when_running, args=(data,))
    killer.start()
    summary = run_stack(stack, backend="local", workers=2)
    killer.join()
    status = {e.path.name: (str(e.status), e.message) for e in stack}
    assert status["victim.slow"] == ("Error", "worker process died: signal 9 (SIGKILL)")
    assert all(s == "Done" for name, (s, _) in status.items() if name != "victim.slow")
    assert summary.counts["Done"] == 6 and summary.failed == 1

    (data / "victim.slow").rename(data / "victim.bin")  # the rerun redoes only that entry
    stack = Stack(UserParameters(level=1), workflow="batchdata:slow_files")
    stack.add([p for p in sorted(data.iterdir()) if p.suffix == ".bin"])
    again = run_stack(stack, backend="local", workers=2)
    assert again.counts["Done"] == 1 and again.counts["Skipped"] == 6


# -- 3. signals: workers die with the run, the summary is written, exit 130 / 143 ---------------
BATCHTRACK = [sys.executable, "-c", "from batchtrack.cli import main; main()"]


@pytest.mark.parametrize(
    ("allowed_failures", "victim"),
    [
        # Dask's default (distributed.scheduler.allowed-failures = 3): the task of a dead
        # worker runs again on another worker, and the entry ends Done
        (None, ("Done", "4 bytes")),
        # no retry allowed: Dask gives up (KilledWorker), and the entry is an Error
        ("0", ("Error", "worker process died: the Dask worker running it died once (Dask "
                        "retries a task on another worker 0 times: "
                        "distributed.scheduler.allowed-failures)")),
    ],
    ids=["dask-retries", "no-retry-allowed"],
)  # fmt: skip
def test_a_killed_dask_worker_is_retried_or_fails_only_its_entry(
    tmp_path: Path, allowed_failures: str | None, victim: tuple[str, str]
) -> None:
    pytest.importorskip("distributed")
    data = tmp_path / "data"
    manifest = save_manifest(
        _slow_stack(data, workflow="batchdata:slow_once_files"), tmp_path / "stack.toml"
    )
    env = dict(ENV)
    if allowed_failures is not None:
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = allowed_failures
    # a real LocalCluster (worker processes with their nannies, on 127.0.0.1)
    run = subprocess.Popen(
        [*BATCHTRACK, "batch", "run", str(manifest), "--backend", "dask", "--workers", "2",
         "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        pid_file = data / "victim.pid"
        _wait_for(lambda: pid_file.exists() and pid_file.read_text(), 120, "the slow entry")
        worker = psutil.Process(int(pid_file.read_text()))
        assert run.pid in [p.pid for p in worker.parents()]  # a worker of this run's cluster
        assert "dask" in " ".join(worker.cmdline()) or "multiprocessing" in " ".join(
            worker.cmdline()
        )
        worker.kill()  # kill -9, while it runs the slow entry's task
        _, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert "Traceback" not in err
    document = json.loads((tmp_path / "stack-summary.json").read_text())
    statuses = {Path(e["path"]).name: (e["status"], e["message"]) for e in document["entries"]}
    assert statuses.pop("victim.slow") == victim
    assert {s for s, _ in statuses.values()} == {"Done"}
    assert run.returncode == (0 if victim[0] == "Done" else 1), err

    rerun = subprocess.run(
        [*BATCHTRACK, "batch", "run", str(manifest), "--backend", "inprocess", "--quiet"],
        env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads((tmp_path / "stack-summary.json").read_text())["counts"]
    redone = 0 if victim[0] == "Done" else 1  # only what was not Done
    assert (counts["Done"], counts["Skipped"]) == (redone, 7 - redone)
    assert list(data.rglob("*.partial-*")) == []  # the dead worker's staging folder: gone


def _slow_manifest(tmp_path: Path) -> Path:
    return save_manifest(_slow_stack(tmp_path / "data"), tmp_path / "stack.toml")


def _gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_batch_stops_its_workers_writes_its_summary_and_resumes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    manifest = _slow_manifest(tmp_path)
    # stdout is a pipe read to its end, as by `batchtrack batch run ... | cat`: it ends only
    # when no worker holds it open any more
    run = subprocess.Popen(
        [*BATCHTRACK, "batch", "run", str(manifest), "--workers", "2", "--quiet"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for((tmp_path / "data" / "victim.pid").exists, 60, "the slow entry to start")
        children = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
        assert children
        run.send_signal(sig)
        _, err = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert run.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert f"interrupted by {sig.name}" in err and "run the same command again" in err
    _wait_for(lambda: _gone(children), 10, "the workers to end")
    summary = json.loads((tmp_path / "stack-summary.json").read_text())
    assert summary["interrupted"] == sig.name
    statuses = {Path(e["path"]).name: e["status"] for e in summary["entries"]}
    assert statuses["victim.slow"] == "Waiting"
    assert list(tmp_path.rglob("*.partial-*")) == []

    if sig is signal.SIGINT:
        return  # the rerun is the same as after SIGTERM
    (tmp_path / "data" / "victim.pid").unlink()
    # the rerun resumes: finished entries are skipped
    rerun = subprocess.run(
        [*BATCHTRACK, "batch", "run", str(manifest), "--workers", "2", "--quiet"],
        env={**ENV, "BATCHDATA_NO_SLEEP": "1"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads((tmp_path / "stack-summary.json").read_text())["counts"]
    assert counts["Skipped"] == sum(s == "Done" for s in statuses.values())
    assert counts["Done"] + counts["Skipped"] == len(statuses)


def test_workers_die_with_a_killed_coordinator(tmp_path: Path) -> None:
    manifest = _slow_manifest(tmp_path)
    run = subprocess.Popen(
        [*BATCHTRACK, "batch", "run", str(manifest), "--workers", "2", "--quiet"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for((tmp_path / "data" / "victim.pid").exists, 60, "the slow entry to start")
        children = [p.pid for p in psutil.Process(run.pid).children(recursive=True)]
        run.kill()  # SIGKILL: nothing can be cleaned up by the coordinator itself
        run.communicate(timeout=30)  # the pipes close: no worker holds them
        _wait_for(lambda: _gone(children), 10, "the workers to die with their parent")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)


# -- 4/5. bad input: one line naming the file and the fix, the rest of the batch goes on -------
def _cli(*args: str):
    from click.testing import CliRunner

    from batchtrack.cli import main

    return CliRunner().invoke(main, list(args))


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def _summary(tmp_path: Path) -> dict[str, tuple[str, str]]:
    document = json.loads((tmp_path / "s.json").read_text())
    return {Path(e["path"]).name: (e["status"], e["message"]) for e in document["entries"]}


def _blob_flags() -> list[str]:
    return [f"--{k}={v}" for k, v in BLOB_PARAMS.model_dump().items() if k != "animals"]


def test_a_symlink_loop_among_the_frames_is_named_and_the_batch_runs(tmp_path: Path) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    looped = write_blob_sequence(tmp_path / "looped", 20)
    (looped / "a.pgm").symlink_to("b.pgm")
    (looped / "b.pgm").symlink_to("a.pgm")
    result = _cli("batch", str(good), str(looped), *_blob_flags(), "--backend", "inprocess",
                  "--summary", str(tmp_path / "s"))  # fmt: skip
    _no_traceback(result)
    assert result.exit_code == 0
    assert "a.pgm ignored: Too many levels of symbolic links" in result.stderr
    assert {s for s, _ in _summary(tmp_path).values()} == {"Done"}


@pytest.mark.parametrize(
    ("path", "words"),
    [("x" * 300, "File name too long"), ("~nosuchuser/x", "no such user")],
)
def test_an_impossible_path_is_its_entrys_error(tmp_path: Path, path: str, words: str) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    result = _cli("batch", str(good), path, *_blob_flags(), "--backend", "inprocess",
                  "--summary", str(tmp_path / "s"))  # fmt: skip
    _no_traceback(result)
    assert result.exit_code == 1
    statuses = _summary(tmp_path)
    assert statuses["good"][0] == "Done"
    (status, message), = [v for k, v in statuses.items() if k != "good"]
    assert status == "Error" and words in message


@pytest.mark.parametrize("command", ["batch", "track"])
def test_negative_workers_are_refused(tmp_path: Path, command: str) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    result = _cli(command, str(good), "--workers", "-3")
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: workers = -3 is invalid: input should be greater than or equal to 1"
    )
    assert not result_dir_for(good).exists()


@pytest.mark.parametrize(
    ("background", "words"),
    [("missing.pgm", "does not exist"), ("folder", "is a folder")],
)
def test_a_bad_background_is_named(tmp_path: Path, background: str, words: str) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    (tmp_path / "folder").mkdir()
    result = _cli("batch", str(good), "--background", str(tmp_path / background),
                  "--backend", "inprocess", "--summary", str(tmp_path / "s"))  # fmt: skip
    _no_traceback(result)
    status, message = _summary(tmp_path)["good"]
    assert status == "Error"
    assert message.startswith(f"background image {tmp_path / background} {words}")
    assert "Errno" not in message


@pytest.fixture
def unprivileged() -> Iterator[tuple[list[str], Path]]:
    """A command prefix that runs a command as a user whom ``chmod 000`` denies, and a folder
    that user can write in.

    As root (CI), permissions do not deny anything: the command runs as ``nobody`` through
    ``setpriv`` (util-linux) or ``runuser``; otherwise as this user, with no prefix.
    """
    folder = Path(tempfile.mkdtemp(prefix="batchtrack-unprivileged-"))
    folder.chmod(0o777)
    prefix: list[str] = []
    try:
        if os.geteuid() == 0:
            prefix = _as_nobody(folder)
        yield prefix, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(folder: Path) -> list[str]:
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root, and there is no user 'nobody' to be denied as")
    if shutil.which("setpriv"):
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                  "--clear-groups"]  # fmt: skip
    elif shutil.which("runuser"):
        prefix = ["runuser", "-u", "nobody", "--"]
    else:
        pytest.skip("running as root, and neither setpriv nor runuser is here to drop to nobody")
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import batchtrack"], cwd=folder,
        env={**ENV, "HOME": str(folder)}, capture_output=True, text=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"running as root, and nobody cannot run this Python: {probe.stderr[-300:]}")
    return prefix


def _shared_movie(folder: Path) -> Path:
    """A movie in ``folder`` that every user can read and track (write its result in)."""
    movie = write_blob_sequence(folder / "movie", 20)
    for path in (folder, movie, *movie.iterdir()):
        path.chmod(0o777 if path.is_dir() else 0o644)
    return movie


def test_a_frame_that_cannot_be_read_is_called_so_not_damaged(
    unprivileged: tuple[list[str], Path],
) -> None:
    prefix, folder = unprivileged
    movie = _shared_movie(folder)
    (movie / "frame_0005.pgm").chmod(0o000)
    run = subprocess.run([*prefix, *BATCHTRACK, "track", str(movie), *_blob_flags(), "--quiet"],
                         cwd=folder, env={**ENV, "HOME": str(folder)}, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    log = (result_dir_for(movie) / "log").read_text()
    assert (
        "frame 5 skipped: frame_0005.pgm cannot be read (permission denied: make it readable)"
    ) in log
    assert "damaged" not in log


def test_an_unreadable_background_is_its_entrys_error(
    unprivileged: tuple[list[str], Path],
) -> None:
    prefix, folder = unprivileged
    movie, other = _shared_movie(folder / "a"), _shared_movie(folder / "b")
    background = write_background(folder / "background.pgm")
    background.chmod(0o000)
    stack = Stack(BLOB_PARAMS)
    entry, _ = stack.add([movie, other])
    stack.override(entry, background=background)  # a manifest row naming its own background
    manifest = save_manifest(stack, folder / "stack.toml")
    manifest.chmod(0o644)
    run = subprocess.run([*prefix, *BATCHTRACK, "batch", "run", str(manifest), "--backend",
                          "inprocess", "--quiet", "--summary", str(folder / "s")], cwd=folder,
                         env={**ENV, "HOME": str(folder)}, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    statuses = {Path(e["path"]).parent.name: (e["status"], e["message"])
                for e in json.loads((folder / "s.json").read_text())["entries"]}  # fmt: skip
    assert statuses["a"] == (
        "Error", f"background image {background} cannot be read (Permission denied); make it "
        "readable or give another image"
    )  # fmt: skip
    assert statuses["b"][0] == "Done"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("thresh = 1" + "0" * 400 + "\n", "must be an integer from 0 to 255"),
        ("a = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deep"),
        ("thresh = 60\nthresh = 70\n", "'thresh' is given twice (lines 1 and 2)"),
    ],
)
def test_hostile_cfg_toml_is_one_short_line(tmp_path: Path, text: str, words: str) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    (tmp_path / "cfg.toml").write_text(text)
    result = _cli("track", str(good), "--cfg", str(tmp_path / "cfg.toml"))
    _no_traceback(result)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert words in line and "cfg.toml" in line and len(line) < 400


def test_100000_unknown_keys_are_one_warning(tmp_path: Path) -> None:
    good = write_blob_sequence(tmp_path / "good", 20)
    lines = ["thresh = 60", *(f"k{i} = 1" for i in range(100_000))]
    (tmp_path / "cfg.toml").write_text("\n".join(lines))
    result = _cli("track", str(good), "--cfg", str(tmp_path / "cfg.toml"), *_blob_flags()[1:])
    _no_traceback(result)
    warnings = [line for line in result.stderr.splitlines() if "Unknown key" in line]
    assert warnings == [
        f"WARNING: Unknown keys 'k0', 'k1', 'k2', 'k3', 'k4' and 99995 more in "
        f"{tmp_path / 'cfg.toml'} ignored (not FastTrack parameters)"
    ]


def test_one_bad_manifest_row_is_that_entrys_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_blob_sequence(tmp_path / name, 20)
    (tmp_path / "stack.csv").write_text("path,thresh,minArea,maxArea\na,999,20,400\nb,60,20,400\n")
    result = _cli("batch", "run", str(tmp_path / "stack.csv"), "--backend", "inprocess",
                  "--summary", str(tmp_path / "s"))  # fmt: skip
    _no_traceback(result)
    assert result.exit_code == 1
    statuses = _summary(tmp_path)
    assert statuses["b"][0] == "Done"
    status, message = statuses["a"]
    assert status == "Error" and message.startswith(
        f"manifest {tmp_path / 'stack.csv'}, line 2: thresh = 999 is invalid: must be an "
        "integer from 0 to 255 (grey level)"
    )


# -- disk full (a real 1 MB tmpfs) --------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("free", [8 << 10, 64 << 10])  # full in tracking.txt/db, in the picture
def test_a_full_disk_is_said_so_and_leaves_no_partial_folder(
    tmp_path: Path, small_disk: Path, free: int
) -> None:
    movie = write_blob_sequence(tmp_path / "movie", 60)
    (small_disk / "filler").write_bytes(b"\0" * ((1 << 20) - free))
    stack = Stack(BLOB_PARAMS)
    (entry,) = stack.add([movie])
    entry.output = small_disk / "Tracking_Result"
    run_stack(stack, backend="inprocess")
    assert entry.status is Status.ERROR
    assert entry.message == (
        f"disk full: cannot write results in {entry.result_dir.parent}; free some space there, "
        "or write the results elsewhere (--out)"
    )
    left = [p for p in small_disk.rglob("*") if p.is_file() and p.name != "filler"]
    assert left == [] and not list(small_disk.rglob("*.partial-*"))  # no partial folder


# -- 6. concurrent runs ---------------------------------------------------------------------------
PUBLISH = """
import sys
from pathlib import Path
from batchtrack.io.publish import make_staging, publish_files, publish_folder

folder, shared, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    staging = make_staging(folder)
    (staging / "tracking.txt").write_text(f"{i}\\n")
    publish_folder(staging, folder)
    staging = make_staging(shared / "a.bin")
    (staging / "a.bin.txt").write_text(f"{i}\\n")
    publish_files(staging, shared)
    staging.rmdir()
"""


def test_200_concurrent_publishes_from_4_processes_never_fail(tmp_path: Path) -> None:
    folder, shared = tmp_path / "movie" / "Tracking_Result", tmp_path / "shared"
    folder.parent.mkdir()
    shared.mkdir()
    runs = [
        subprocess.Popen([sys.executable, "-c", PUBLISH, str(folder), str(shared), "50"],
                         env=ENV, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, errors
    archives = list(folder.parent.glob("Tracking_Result_Archive-*"))
    assert len(archives) == 199  # every result but the last one archived, none lost
    assert all((a / "tracking.txt").is_file() for a in archives)
    kept = list(shared.glob("archive-*/a.bin.txt"))
    assert len(kept) == 199 and (shared / "a.bin.txt").is_file()


def test_a_second_run_of_a_running_manifest_says_so(tmp_path: Path) -> None:
    manifest = _slow_manifest(tmp_path)
    first = subprocess.Popen(
        [*BATCHTRACK, "batch", "run", str(manifest), "--workers", "1", "--quiet"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for((tmp_path / "data" / "victim.pid").exists, 60, "the first run to start")
        second = subprocess.run(
            [*BATCHTRACK, "batch", "run", str(manifest), "--quiet"],
            env=ENV, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert second.stderr.startswith(
            f"error: manifest {manifest} is already running (process {first.pid} on "
        )
        assert "wait for that run to end, or stop it" in second.stderr
        # another shard of a job array runs beside it
        shard = subprocess.run(
            [*BATCHTRACK, "batch", "run", str(manifest), "--shard", "2/7", "--quiet"],
            env=ENV, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert shard.returncode == 0, shard.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


# -- 7. leftovers ---------------------------------------------------------------------------------
def test_leftover_staging_folders_are_removed_by_host_and_age_even_when_skipped(
    tmp_path: Path,
) -> None:
    from batchtrack.io.publish import STALE_AFTER

    movie = write_blob_sequence(tmp_path / "movie", 20)
    assert _run_once(movie) is Status.DONE
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    host = __import__("socket").gethostname()
    leftovers = {
        "this host, dead process": f".Tracking_Result.partial-{host}-{dead}",
        "other host, old": ".Tracking_Result.partial-node17-123",
        "no host (older version), old": f".Tracking_Result.partial-{dead}",
    }
    recent = movie / ".Tracking_Result.partial-node18-456"  # another host's, still writing
    for name in [*leftovers.values(), recent.name]:
        (movie / name).mkdir()
        (movie / name / "tracking.txt").write_text("partial\n")
    old = time.time() - STALE_AFTER - 60
    for name in list(leftovers.values())[1:]:
        for path in (movie / name / "tracking.txt", movie / name):
            os.utime(path, (old, old))
    assert _run_once(movie) is Status.SKIPPED
    assert sorted(p.name for p in movie.glob(".Tracking_Result.partial-*")) == [recent.name]


# -- 8. saving parameters never contradicts a finished result ------------------------------------
def test_saving_parameters_over_a_finished_result_archives_it_first(tmp_path: Path) -> None:
    import batchtrack.gui  # noqa: F401  (gui/__init__ needs no display for the preview)
    from batchtrack.gui.preview import Preview

    movie = write_blob_sequence(tmp_path / "movie", 20)
    assert _run_once(movie) is Status.DONE
    result = result_dir_for(movie)
    finished = {p.name: p.read_bytes() for p in result.iterdir()}
    preview = Preview(movie)
    try:
        folder = preview.save(BLOB_PARAMS.with_updates(thresh=61))
    finally:
        preview.close()
    assert folder == result and sorted(p.name for p in result.iterdir()) == [
        "background.pgm", "cfg.toml"
    ]
    assert preview.archived is not None and preview.archived.parent == movie
    assert {p.name: p.read_bytes() for p in preview.archived.iterdir()} == finished


# -- 9. a script without the main guard ----------------------------------------------------------
UNGUARDED = """
from batchdata import BLOB_PARAMS
from batchtrack import Stack, run_stack

stack = Stack(BLOB_PARAMS)
stack.add([{movie!r}])
print(run_stack(stack, workers=1), stack.entries[0].message)
"""


def test_a_script_without_the_main_guard_gets_a_clear_message(tmp_path: Path) -> None:
    movie = write_blob_sequence(tmp_path / "movie", 10)
    script = tmp_path / "script.py"
    script.write_text(UNGUARDED.format(movie=str(movie)))
    run = subprocess.run([sys.executable, str(script)], env=ENV, capture_output=True, text=True,
                         timeout=180)  # fmt: skip
    assert "1 Error" in run.stdout
    assert 'put the code that runs the batch under `if __name__ == "__main__":`' in run.stdout


def test_a_first_frame_of_another_size_is_skipped_not_the_others(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    movie = write_blob_sequence(tmp_path / "movie", 30)
    assert cv2.imwrite(str(movie / "frame_0000.pgm"), np.full((50, 70), 200, np.uint8))
    stack = Stack(BLOB_PARAMS)
    (entry,) = stack.add([movie])
    run_stack(stack, backend="inprocess")
    assert entry.status is Status.DONE and "1 unreadable frames skipped" in entry.message
    log = (result_dir_for(movie) / "log").read_text()
    assert "frame 0 skipped: frame_0000.pgm: size 70x50 differs from the movie's 160x120" in log


# -- 5. the libraries' own lines go to the log; every warning shown is in the log ------------------
def _damaged_sequence(folder: Path, suffix: str, damaged: tuple[int, ...] = (10,)) -> Path:
    """The blob movie as ``.png`` or ``.tif`` frames; the ``damaged`` ones cut in half."""
    import cv2

    folder.mkdir(parents=True)
    for k, frame in enumerate(blob_frames(30)):
        assert cv2.imwrite(str(folder / f"frame_{k:04d}.{suffix}"), frame)
    for k in damaged:
        path = folder / f"frame_{k:04d}.{suffix}"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return folder


def _damaged_video(path: Path) -> Path:
    """The blob movie as MJPG, with bytes flipped a third of the way in (frames that decode
    with errors, which FFmpeg reports on stderr)."""
    write_blob_video(path, 60)
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 3, len(data) // 3 + 4000, 97):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


#: A word each library's complaint holds: libpng's, libtiff's (through OpenCV), FFmpeg's.
DAMAGED = {
    "png": (lambda p: _damaged_sequence(p / "png", "png"), "frame_0010.png: ", "PNG"),
    "tif": (lambda p: _damaged_sequence(p / "tif", "tif"), "frame_0010.tif: ", "TIFF"),
    "avi": (lambda p: _damaged_video(p / "movie.avi"), "movie.avi: ", "mjpeg"),
}


def _ours_only(stderr: str) -> None:
    """Every line on stderr is one of batchtrack's (no library's own line)."""
    strays = [ln for ln in stderr.splitlines() if not ln.startswith(("ERROR: ", "error: "))]
    assert strays == [], stderr


@pytest.mark.parametrize("command", ["track", "batch"])
@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_the_libraries_own_lines_go_to_the_log_not_the_terminal(
    tmp_path: Path, kind: str, command: str
) -> None:
    make, prefix, word = DAMAGED[kind]
    movie = make(tmp_path)
    run = subprocess.run(
        [*BATCHTRACK, command, str(movie), *_blob_flags(), "--quiet",
         *(["--workers", "2"] if command == "batch" else [])],
        env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    _ours_only(run.stderr)
    log = (result_dir_for(movie) / "log").read_text()
    said = [line.split("\t", 1)[1] for line in log.splitlines() if f"\t{prefix}" in line]
    assert any(word in line for line in said), log  # the library's words, naming the file


def _warnings_shown(stderr: str, movie: Path) -> list[str]:
    """The warnings on stderr, without the ``WARNING: `` and the movie's path before them."""
    shown = []
    for line in stderr.splitlines():
        if line.startswith("WARNING: "):
            text = line.removeprefix("WARNING: ")
            shown.append(text.removeprefix(f"{movie}: ").removeprefix(f"{movie.resolve()}: "))
    return shown


def _blank_frames(movie: Path, frames: tuple[int, ...]) -> Path:
    import cv2
    import numpy as np

    for k in frames:  # no blob: fewer animals than expected there
        assert cv2.imwrite(str(movie / f"frame_{k:04d}.pgm"), np.full((120, 160), 200, np.uint8))
    return movie


#: Movies that make batchtrack warn, the flags, and what it must warn about.
WARNING_CASES = {
    "methBack contradiction, nothing found": (
        lambda p: write_blob_sequence(p / "movie", 30), ["--methBack", "0"],
        ["methBack=0 keeps the dark objects in the background", "no object detected"],
    ),
    "damaged frames, one of the background's": (
        lambda p: _damaged_sequence(p / "movie", "png", (0, 13)), [],
        ["background: frame 0 left out", "frame 0 skipped", "frame 13 skipped"],
    ),
    "fewer animals than said": (
        # blobs absent longer than a gap that is filled (2 maxTime)
        lambda p: _blank_frames(write_blob_sequence(p / "movie", 30), tuple(range(8, 20))),
        ["--animals", "3"], ["animals = 3, but fewer were found in 12 frame(s): 8-19"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [["batch", "--workers", "2"], ["track", "--workers", "1"], ["track", "--workers", "2"]],
    ids=["batch-local-workers", "track-one-process", "track-chunk-workers"],
)
@pytest.mark.parametrize("case", sorted(WARNING_CASES))
def test_every_warning_shown_is_in_the_results_log(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    make, flags, expected = WARNING_CASES[case]
    movie = make(tmp_path)
    run = subprocess.run(
        [*BATCHTRACK, command[0], str(movie), *_blob_flags(), *flags, *command[1:]],
        env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    shown = _warnings_shown(run.stderr, movie)
    assert all(any(e in s for s in shown) for e in expected), run.stderr
    log = (result_dir_for(movie) / "log").read_text()
    assert [s for s in shown if s not in log] == [], log
    # and said once: a warning copied into the log is not also written there another way
    lines = [line.split("\t", 1)[1] for line in log.splitlines()]
    assert all(lines.count(e) <= 1 for e in lines if any(x in e for x in expected)), log
