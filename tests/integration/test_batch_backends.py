"""One test suite for every backend of the batch runner: in-process, local processes, Dask.

The Dask cluster is real: a ``dask scheduler`` and two ``dask worker`` processes started on
127.0.0.1 for the session. Process pools and the cluster are shared by all tests.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

import batchtrack
from batchdata import (
    BLOB_PARAMS,
    N_FRAMES,
    RESULT_FILES,
    write_background,
    write_blob_sequence,
    write_blob_video,
)
from batchtrack.batch.run import BACKENDS, RunSummary, open_executor, parse_shard, run_stack
from batchtrack.batch.stack import Stack, Status
from batchtrack.errors import ParameterError
from batchtrack.io.frames import result_dir_for
from batchtrack.io.resume import MARKER
from batchtrack.movie import track_movie
from batchtrack.params import Parameters, load_cfg, save_cfg
from batchtrack.synth import make_movie, write_sequence
from batchtrack.workflows import UserParameters

SRC = Path(batchtrack.__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parents[1]


# -- backends ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Stop a process we started and its children (it leads its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class DaskCluster:
    address: str
    client: object
    workers: list[str]


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A scheduler and two single-threaded workers on 127.0.0.1, random free ports."""
    from distributed import Client

    dask = Path(sys.executable).with_name("dask")
    folder = tmp_path_factory.mktemp("dask")
    paths = [str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    address = f"tcp://127.0.0.1:{_free_port()}"
    processes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> None:
        with open(folder / f"{name}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(dask), *args, "--no-dashboard"],
                    env=env,
                    cwd=folder,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":")[-1])
        for i in range(2):
            start(
                f"worker{i}", "worker", address, "--host", "127.0.0.1", "--nworkers", "1",
                "--nthreads", "1", "--local-directory", str(folder / f"worker{i}"),
            )  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            yield DaskCluster(address, client, sorted(client.scheduler_info()["workers"]))
    finally:
        for process in reversed(processes):
            _stop(process)


@dataclass
class Backend:
    """One backend: executors with 1 or 2 workers, shared across tests."""

    name: str
    executor: Callable[[int], cf.Executor]
    worker_counts: tuple[int, ...]
    open_options: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def local_pools() -> Iterator[Callable[[int], cf.Executor]]:
    pools: dict[int, cf.Executor] = {}
    with contextlib.ExitStack() as resources:

        def get(workers: int) -> cf.Executor:
            if workers not in pools:
                pools[workers] = resources.enter_context(open_executor("local", workers=workers))
            return pools[workers]

        yield get


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, local_pools) -> Iterator[Backend]:
    if request.param == "inprocess":
        with open_executor("inprocess") as executor:
            yield Backend("inprocess", lambda workers: executor, (1,))
    elif request.param == "local":
        yield Backend("local", local_pools, (1, 2))
    else:
        cluster: DaskCluster = request.getfixturevalue("dask_cluster")
        executors = {
            1: cluster.client.get_executor(pure=False, workers=cluster.workers[:1]),
            2: cluster.client.get_executor(pure=False),
        }
        yield Backend("dask", executors.__getitem__, (1, 2), {"scheduler": cluster.address})


def run(stack: Stack, backend: Backend, *, workers: int = 2, **options) -> RunSummary:
    """Run the stack on the backend's shared executor with that many workers."""
    return run_stack(stack, executor=backend.executor(workers), workers=workers, **options)


# -- movies ------------------------------------------------------------------------------------
def two_movies(root: Path) -> tuple[Path, Path]:
    """An image sequence and a video (different blobs), 60 frames each."""
    return write_blob_sequence(root / "seq", seed=3), write_blob_video(root / "v" / "m.avi", seed=4)


def archives(root: Path) -> list[Path]:
    return sorted(root.rglob("Tracking_Result*_Archive-*"))


def partials(root: Path) -> list[Path]:
    return sorted(root.rglob(".*partial-*"))


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """tracking.txt of both movies, tracked in this process in one go (no batch layer)."""
    texts = {}
    for name, movie in zip(("seq", "video"), two_movies(tmp_path_factory.mktemp("reference"))):
        summary, _ = track_movie(movie, BLOB_PARAMS)
        assert summary.n_frames == N_FRAMES and summary.n_rows > 2.5 * N_FRAMES  # 3 blobs
        texts[name] = (summary.folder / "tracking.txt").read_text()
    return texts


def counts(**nonzero: int) -> dict[str, int]:
    return {str(s): nonzero.get(s.name.lower(), 0) for s in Status}


# -- the suite ---------------------------------------------------------------------------------
def test_same_tracking_whatever_backend_workers_and_chunk_size(
    tmp_path: Path, backend: Backend, reference: dict[str, str]
) -> None:
    seq, video = two_movies(tmp_path)
    stack = Stack(BLOB_PARAMS)
    stack.add([seq, video])
    runs = 0
    for workers in backend.worker_counts:
        for chunk_size in (7, 30, 1000):
            summary = run(stack, backend, workers=workers, chunk_size=chunk_size, force=True)
            runs += 1
            label = f"{backend.name}, {workers} workers, chunks of {chunk_size}"
            assert summary.counts == counts(done=2), label
            assert summary.frames == 2 * N_FRAMES, label
            assert (result_dir_for(seq) / "tracking.txt").read_text() == reference["seq"], label
            assert (result_dir_for(video) / "tracking.txt").read_text() == reference["video"], label
    assert len(archives(tmp_path)) == 2 * (runs - 1)  # forced runs archive, never delete


def test_known_animals_same_identities_whatever_backend_and_chunk_size(
    tmp_path: Path, backend: Backend
) -> None:
    """With ``animals = N`` (split blobs, stitching over the whole movie) too."""
    from batchtrack.cli.demo import DEMO_PARAMETERS

    movie = write_sequence(make_movie(80, 12, shape=(192, 192), seed=5), tmp_path / "crowd")
    params = Parameters(**DEMO_PARAMETERS, animals=12)
    alone, _ = track_movie(movie, params, output=tmp_path / "alone")
    expected = (alone.folder / "tracking.txt").read_text()
    assert alone.n_ids == 12
    stack = Stack(params)
    stack.add([movie])
    for chunk_size in (7, 1000):
        summary = run(stack, backend, chunk_size=chunk_size, force=True)
        assert summary.counts == counts(done=1), chunk_size
        assert (result_dir_for(movie) / "tracking.txt").read_text() == expected, chunk_size


def test_a_failing_entry_never_stops_the_others(tmp_path: Path, backend: Backend) -> None:
    good = write_blob_sequence(tmp_path / "good", seed=1)
    videos = tmp_path / "videos"
    write_blob_video(videos / "good.avi", seed=2)
    (videos / "broken.avi").write_bytes(np.random.default_rng(0).bytes(5000))
    text = tmp_path / "text"
    text.mkdir()
    (text / "notes_01.txt").write_text("no frames here")
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    for k in range(5):
        (garbage / f"frame_{k:04d}.pgm").write_bytes(b"not an image")
    wrong_background = write_blob_sequence(tmp_path / "wrongbg", 10, seed=5)
    stack = Stack(BLOB_PARAMS)
    stack.add([good, text, garbage, videos, wrong_background])
    small = write_background(tmp_path / "bg.pgm", shape=(40, 50))
    stack.override(stack.entries[-1], background=small)

    summary = run(stack, backend, chunk_size=7)

    status = {e.path: e for e in stack}
    assert [status[p].status for p in (good, videos / "good.avi")] == [Status.DONE] * 2
    assert "no image sequence" in status[text].message
    assert "none of its 5 image files can be read" in status[garbage].message
    assert "broken.avi" in status[videos / "broken.avi"].message
    assert "50×40 px but the frames are 160×120" in status[wrong_background].message
    failed = [text, garbage, videos / "broken.avi", wrong_background]
    assert all(status[p].status is Status.ERROR for p in failed)
    assert summary.counts == counts(done=2, error=4) and summary.failed == 4
    assert summary.frames == 2 * N_FRAMES and summary.seconds > 0
    assert "2 Done, 4 Error" in str(summary) and "frames/s" in str(summary)
    assert {row["path"]: row["status"] for row in summary.entries} == {
        str(e.path): str(e.status) for e in stack
    }
    assert sorted(p.name for p in tmp_path.rglob("Tracking_Result*")) == [
        "Tracking_Result", "Tracking_Result_good",
    ]  # fmt: skip
    assert partials(tmp_path) == []


def test_a_failure_when_publishing_fails_that_entry_only(tmp_path: Path, backend: Backend) -> None:
    seq, video = two_movies(tmp_path)
    stack = Stack(BLOB_PARAMS)
    first, second = stack.add([seq, video])
    (tmp_path / "a_file").write_text("not a folder")
    first.output = tmp_path / "a_file" / "Tracking_Result"  # detection works, publishing cannot
    summary = run(stack, backend, chunk_size=7)
    assert (first.status, second.status) == (Status.ERROR, Status.DONE)
    assert "cannot write results in" in first.message and "a_file" in first.message
    assert summary.counts == counts(done=1, error=1) and summary.frames == N_FRAMES
    assert partials(tmp_path) == []


def test_entries_sharing_a_result_folder_do_not_overwrite_each_other(
    tmp_path: Path, backend: Backend
) -> None:
    seq, video = two_movies(tmp_path)
    # A sequence folder named like the video, in a folder named like the video's: under one
    # output root both map to <root>/v_m.
    other = write_blob_sequence(tmp_path / "x" / video.parent.name / video.stem, 12, seed=5)
    stack = Stack(BLOB_PARAMS)
    _, twice, shared, third = stack.add([seq, seq, video, other])
    shared.output = third.output = tmp_path / "results"
    assert shared.result_dir == third.result_dir == tmp_path / "results" / "v_m"
    summary = run(stack, backend)
    assert [e.status for e in stack] == [Status.DONE, Status.ERROR, Status.DONE, Status.ERROR]
    assert f"also the result folder of {seq}" in twice.message
    assert f"also the result folder of {video}" in third.message
    assert summary.counts == counts(done=2, error=2)
    assert archives(tmp_path) == []
    assert run(stack, backend).counts == counts(skipped=2, error=2)  # resumes for good


def test_cancel_stops_the_run_and_the_next_run_resumes(tmp_path: Path, backend: Backend) -> None:
    movies = [write_blob_sequence(tmp_path / f"m{i}", 12, seed=i) for i in range(8)]
    stack = Stack(BLOB_PARAMS)
    stack.add(movies)
    cancel = threading.Event()
    stack.subscribe(lambda event, e: cancel.set() if e and e.status is Status.DONE else None)
    summary = run(stack, backend, workers=1, cancel=cancel)  # 3 entries in flight at most
    done = [e for e in stack if e.status is Status.DONE]
    assert len(done) >= 1 and summary.counts["Done"] == len(done)
    assert all(e.status is Status.WAITING for e in stack.entries[3:])  # never started
    assert summary.counts["Waiting"] == len(stack) - len(done)
    again = run(stack, backend, workers=1)
    assert [e.status for e in stack if e in done] == [Status.SKIPPED] * len(done)
    assert again.counts["Done"] + again.counts["Skipped"] == len(stack)
    assert all((result_dir_for(m) / MARKER).is_file() for m in movies)


def test_progress_passes_through_intermediate_values(tmp_path: Path, backend: Backend) -> None:
    stack = Stack(BLOB_PARAMS)
    stack.add(two_movies(tmp_path))
    events: list[tuple[str, int, int, int, Status]] = []
    stack.subscribe(
        lambda event, e: events.append((event, e.id, e.done, e.total, e.status)) if e else None
    )
    run(stack, backend, chunk_size=7)
    for entry in stack:
        mine = [event for event in events if event[1] == entry.id]
        statuses = [s for kind, _, _, _, s in mine if kind == "status"]
        # Dask's futures never say when they start: entries are Running at once there
        queued = [] if backend.name == "dask" else [Status.QUEUED]
        assert statuses == [*queued, Status.RUNNING, Status.DONE]
        done = [d for kind, _, d, total, _ in mine if kind == "progress" and total == N_FRAMES]
        assert done == sorted(done) and done[-1] == N_FRAMES
        assert len({d for d in done if 0 < d < N_FRAMES}) >= 4, done  # 9 chunks of 7 frames
        assert (entry.done, entry.total) == (N_FRAMES, N_FRAMES)


def test_resume_skips_finished_entries_and_force_redoes_them(
    tmp_path: Path, backend: Backend
) -> None:
    seq, video = two_movies(tmp_path)
    other = write_blob_sequence(tmp_path / "other", 20, seed=9)
    stack = Stack(BLOB_PARAMS)
    stack.add([seq, video, other])
    assert run(stack, backend, chunk_size=30).counts == counts(done=3)
    for movie in (seq, video, other):
        assert {p.name for p in result_dir_for(movie).iterdir()} == RESULT_FILES | {MARKER}
    marker = json.loads((result_dir_for(seq) / MARKER).read_text())
    assert marker["background"] == "computed" and marker["input"]["files"] == N_FRAMES
    stamps = {
        m: (result_dir_for(m) / "tracking.txt").stat().st_mtime_ns for m in (seq, video, other)
    }

    again = run(stack, backend, chunk_size=30)
    assert again.counts == counts(skipped=3) and again.frames == 0
    assert [e.status for e in stack] == [Status.SKIPPED] * 3
    assert all(
        (result_dir_for(m) / "tracking.txt").stat().st_mtime_ns == t for m, t in stamps.items()
    )
    assert archives(tmp_path) == []

    # new parameters for one entry, a changed frame in another: only those two are redone
    stack.override(stack.entries[0], params=BLOB_PARAMS.with_updates(thresh=70))
    frame = cv2.imread(str(other / "frame_0003.pgm"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(other / "frame_0003.pgm"), 255 - frame)
    partly = run(stack, backend, chunk_size=30)
    assert [e.status for e in stack] == [Status.DONE, Status.SKIPPED, Status.DONE]
    assert partly.counts == counts(done=2, skipped=1) and partly.frames == N_FRAMES + 20
    assert load_cfg(result_dir_for(seq) / "cfg.toml").thresh == 70

    forced = run(stack, backend, chunk_size=30, force=True)
    assert forced.counts == counts(done=3)
    assert len(archives(tmp_path)) == 2 + 3


def test_shards_partition_the_stack(tmp_path: Path, backend: Backend) -> None:
    movies = [write_blob_sequence(tmp_path / f"m{i}", 12, seed=i) for i in range(5)]
    done = []
    for shard in ("1/2", (2, 2)):
        stack = Stack(BLOB_PARAMS)  # as another machine would load the same manifest
        stack.add(movies)
        summary = run(stack, backend, shard=shard)
        done.append([e.path for e in stack if e.status is Status.DONE])
        assert all(e.status is Status.WAITING for e in stack if e.path not in done[-1])
        assert summary.counts == counts(done=len(done[-1]))
    assert done == [movies[0::2], movies[1::2]]
    assert all((result_dir_for(m) / MARKER).is_file() for m in movies)


def test_overrides_and_autoload_reach_the_workers(tmp_path: Path, backend: Backend) -> None:
    seq, video = two_movies(tmp_path)
    other = write_blob_sequence(tmp_path / "other", 20, seed=7)
    clean = write_background(tmp_path / "clean.pgm", 200)
    cfg = tmp_path / "cfg.toml"
    save_cfg(BLOB_PARAMS.with_updates(maxTime=7, thresh=50), cfg)
    stack = Stack(BLOB_PARAMS)
    stack.add([seq, video, other])
    stack.override(stack.entries[0], background=clean)
    stack.override(stack.entries[1], cfg=cfg)
    assert run(stack, backend, chunk_size=7).counts == counts(done=3)
    background = cv2.imread(str(result_dir_for(seq) / "background.pgm"), cv2.IMREAD_UNCHANGED)
    assert (background == 200).all()
    marker = json.loads((result_dir_for(seq) / MARKER).read_text())
    assert marker["background"] == hashlib.sha256(clean.read_bytes()).hexdigest()
    assert load_cfg(result_dir_for(video) / "cfg.toml") == load_cfg(cfg)
    assert load_cfg(result_dir_for(other) / "cfg.toml") == BLOB_PARAMS
    before = {m: (result_dir_for(m) / "tracking.txt").read_text() for m in (seq, video, other)}

    # a new stack autoloads each result folder: same parameters, same backgrounds, same tracks
    again = Stack(BLOB_PARAMS.with_updates(thresh=90), autoload=True)
    again.add([seq, video, other])
    assert [e.params for e in again] == [BLOB_PARAMS, load_cfg(cfg), BLOB_PARAMS]
    summary = run(again, backend, chunk_size=7)
    assert summary.counts == counts(done=2, skipped=1)  # seq: same background file, skipped
    assert {m: (result_dir_for(m) / "tracking.txt").read_text() for m in before} == before
    assert run(again, backend, chunk_size=7).counts == counts(skipped=3)


def test_user_workflow_runs_once_per_input_and_resumes(tmp_path: Path, backend: Backend) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for name, size in (("a.bin", 10), ("b.bin", 0), ("c.bin", 30)):
        (folder / name).write_bytes(b"x" * size)
    stack = Stack(UserParameters(scale=2), workflow="batchdata:count_files")
    stack.add([folder])
    assert run(stack, backend).counts == counts(done=2, error=1)
    assert [e.message for e in stack] == ["10 bytes", "ValueError: b.bin is empty", "30 bytes"]
    assert (folder / "a_results" / "a.bin.size.txt").read_text() == "10\n{'scale': 2}\n"
    assert not (folder / "b_results").exists() or list((folder / "b_results").iterdir()) == []
    assert run(stack, backend).counts == counts(skipped=2, error=1)
    assert run(stack, backend, force=True).counts == counts(done=2, error=1)
    assert partials(tmp_path) == []


def test_run_stack_opens_its_own_executor(tmp_path: Path, backend: Backend) -> None:
    stack = Stack(BLOB_PARAMS)
    stack.add([write_blob_sequence(tmp_path / "a", 20, seed=1)])
    summary = run_stack(stack, backend=backend.name, workers=2, **backend.open_options)
    assert summary.counts == counts(done=1) and summary.frames == 20


# -- shards and options (no backend) -----------------------------------------------------------
@pytest.mark.parametrize("text", ["0/2", "3/2", "1-2", "a/b", "1/0", ""])
def test_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ParameterError, match="k/N"):
        parse_shard(text)


def test_bad_options_are_refused(tmp_path: Path) -> None:
    stack = Stack(BLOB_PARAMS)
    with pytest.raises(ParameterError, match="chunk_size"):
        run_stack(stack, backend="inprocess", chunk_size=0)
    with pytest.raises(ParameterError, match="backend must be one of"):
        run_stack(stack, backend="threads")


def test_progress_moves_every_five_percent_of_a_500_frame_movie(tmp_path: Path) -> None:
    movie = write_blob_sequence(tmp_path / "long", 500, seed=5)
    stack = Stack(BLOB_PARAMS)
    stack.add([movie])
    seen: set[int] = set()
    stack.subscribe(lambda event, entry: entry is not None and seen.add(entry.done))
    run_stack(stack, backend="inprocess")
    assert stack.entries[0].status is Status.DONE
    steps = sorted(seen)
    assert steps[0] == 0 and steps[-1] == 500
    assert max(b - a for a, b in itertools.pairwise(steps)) <= 25
