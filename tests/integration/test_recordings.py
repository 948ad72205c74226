"""Recordings: one experiment saved as several files, identities continuing across files.

The check on real data: FastTrack's zebrafish sample (100 frames, 14 fish) cut into frames
0–49 and 50–99, two files of one recording, gives every row of tracking the 100 frames in one
go (same background) — ids in the second file included — in-process, on 2 local workers and
on a Dask cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from batchtrack import Parameters, track
from batchtrack.batch.manifest import load_manifest, save_manifest
from batchtrack.batch.run import run_stack
from batchtrack.batch.shards import select_shard
from batchtrack.batch.stack import Stack
from batchtrack.calibration import Calibration
from batchtrack.io.recordings import open_recording, time_shifts
from batchtrack.io.results import read_tracking
from batchtrack.recording import track_recording
from batchtrack.synth import make_movie, write_sequence, write_video


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory, zebrafish_dir: Path) -> Path:
    """The sample as two files (frames 0–49 and 50–99) and whole, in a fresh folder."""
    root = tmp_path_factory.mktemp("recording")
    names = sorted((zebrafish_dir / "images").iterdir())
    for part, files in (("part1", names[:50]), ("part2", names[50:])):
        (root / part).mkdir()
        for file in files:
            shutil.copy(file, root / part / file.name)
    shutil.copytree(zebrafish_dir / "images", root / "whole")
    return root


def _copy(halves: Path, tmp_path: Path) -> Path:
    for part in ("part1", "part2"):
        shutil.copytree(halves / part, tmp_path / part)
    return tmp_path


def _whole(halves: Path, params: Parameters, background: Path) -> pd.DataFrame:
    """The rows of tracking the 100 frames in one go, as written in its tracking.txt."""
    folder = halves / f"whole-{params.animals}"
    if not folder.exists():
        shutil.copytree(halves / "whole", folder)
        track(folder, params, background=background)
    return read_tracking(folder / "Tracking_Result" / "tracking.txt")


def _joined(root: Path) -> pd.DataFrame:
    first = read_tracking(root / "part1" / "Tracking_Result" / "tracking.txt")
    second = read_tracking(root / "part2" / "Tracking_Result" / "tracking.txt")
    second["imageNumber"] += 50
    return pd.concat([first, second], ignore_index=True)


@pytest.mark.parametrize("animals", [0, 14])
def test_two_files_of_a_recording_give_the_rows_of_one_go(
    halves: Path, tmp_path: Path, zebrafish_dir: Path, zebrafish_params: Parameters,
    animals: int,
) -> None:  # fmt: skip
    params = zebrafish_params.with_updates({"animals": animals})
    background = zebrafish_dir / "background.pgm"
    root = _copy(halves, tmp_path)
    done = track_recording(
        [root / "part1", root / "part2"], params, name="zf", background=background
    )
    assert [s.n_frames for s in done] == [50, 50]
    whole = _whole(halves, params, background)
    joined = _joined(root)
    assert len(joined) == len(whole)
    np.testing.assert_array_equal(joined.to_numpy(float), whole.to_numpy(float))
    # the second file's ids are those of one go: the same fish keep their ids across files
    second = whole[whole.imageNumber >= 50]
    assert set(second.id) == set(joined[joined.imageNumber >= 50].id)
    if animals:
        assert sorted(set(joined.id)) == list(range(14))

    table = pq.read_table(root / "zf-tracks.parquet").to_pandas()
    assert len(table) == len(whole)
    assert table.imageNumber.min() == 0 and table.imageNumber.max() == 99
    assert list(table.file.unique()) == ["part1", "part2"]
    second_rows = table[table.file == "part2"]
    assert (second_rows.imageNumber - second_rows.fileImageNumber == 50).all()
    # time in frames (no fps): the recording's clock runs on across the files
    np.testing.assert_array_equal(table.time.to_numpy(), table.imageNumber.to_numpy(float))
    np.testing.assert_array_equal(table.id.to_numpy(), whole.id.to_numpy())


@pytest.mark.parametrize("backend", ["inprocess", "local", "dask"])
def test_a_recording_in_the_batch_gives_the_ids_of_one_go(
    halves: Path, tmp_path: Path, zebrafish_dir: Path, zebrafish_params: Parameters,
    backend: str,
) -> None:  # fmt: skip
    params = zebrafish_params.with_updates({"animals": 14})
    background = zebrafish_dir / "background.pgm"
    root = _copy(halves, tmp_path)
    stack = Stack(params)
    stack.set_unique_background(background)
    stack.recording = "zf"
    stack.add([root / "part2", root / "part1"])  # natural order: part1 first
    assert [e.path.name for e in stack] == ["part1", "part2"]
    # small chunks: the files are detected in several tasks each, in parallel
    summary = run_stack(stack, backend=backend, workers=2, chunk_size=20)
    assert summary.counts["Done"] == 2, [e.message for e in stack]
    assert [e.n_ids for e in stack] == [14, 14]
    assert "file 2 of recording 'zf'" in stack.entries[1].message
    whole = _whole(halves, params, background)
    np.testing.assert_array_equal(_joined(root).to_numpy(float), whole.to_numpy(float))
    assert (root / "zf-tracks.parquet").is_file()


def test_a_recording_is_resumed_whole(
    halves: Path, tmp_path: Path, zebrafish_dir: Path, zebrafish_params: Parameters
) -> None:
    root = _copy(halves, tmp_path)
    stack = Stack(zebrafish_params)
    stack.set_unique_background(zebrafish_dir / "background.pgm")
    stack.recording = "zf"
    stack.add([root / "part1", root / "part2"])
    assert run_stack(stack, backend="inprocess").counts["Done"] == 2
    assert run_stack(stack, backend="inprocess").counts["Skipped"] == 2

    # one frame of the second file changes: both files are tracked again
    frame = sorted((root / "part2").glob("*.pgm"))[10]
    data = bytearray(frame.read_bytes())
    data[-100] ^= 0xFF
    stat = frame.stat()
    frame.write_bytes(bytes(data))
    os.utime(frame, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime
    again = run_stack(stack, backend="inprocess")
    assert again.counts["Done"] == 2
    archived = list((root / "part1").glob("Tracking_Result_Archive-*"))
    assert len(archived) == 1  # the first file's previous result is archived, not lost

    # the joined table is part of the result: a missing one is made again
    (root / "zf-tracks.parquet").unlink()
    assert run_stack(stack, backend="inprocess").counts["Done"] == 2
    assert (root / "zf-tracks.parquet").is_file()
    assert run_stack(stack, backend="inprocess").counts["Skipped"] == 2


def test_files_of_other_sizes_are_refused_with_the_file_named_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    small = make_movie(10, 2, shape=(96, 128), seed=1)
    large = make_movie(10, 2, shape=(120, 160), seed=2)
    write_sequence(small, tmp_path / "day" / "a")
    write_sequence(large, tmp_path / "day" / "b")
    write_sequence(small, tmp_path / "other")
    params = Parameters(thresh=60, methBack=1, maxArea=800)
    stack = Stack(params)
    stack.recording = "day"
    stack.add([tmp_path / "day" / "a", tmp_path / "day" / "b"])
    stack.recording = None
    stack.add([tmp_path / "other"])
    summary = run_stack(stack, backend="local", workers=2)
    status = {e.path.name: (str(e.status), e.message) for e in stack}
    assert status["other"][0] == "Done"
    for name in ("a", "b"):
        state, message = status[name]
        assert state == "Error"
        assert f"{tmp_path / 'day' / 'b'}: its frames are 160x120" in message
        assert "128x96" in message and "another recording name" in message
        assert "Traceback" not in message
    assert summary.failed == 2
    assert not (tmp_path / "day" / "a" / "Tracking_Result").exists()
    assert list(tmp_path.rglob("*.partial-*")) == []


def test_files_of_one_recording_with_other_parameters_are_refused(tmp_path: Path) -> None:
    movie = make_movie(10, 2, shape=(96, 128), seed=1)
    write_sequence(movie, tmp_path / "a")
    write_sequence(movie, tmp_path / "b")
    stack = Stack(Parameters(thresh=60, methBack=1, maxArea=800))
    stack.recording = "day"
    stack.add([tmp_path / "a"])
    stack.set_params(Parameters(thresh=50, methBack=1, maxArea=800))
    stack.add([tmp_path / "b"])
    run_stack(stack, backend="inprocess")
    for entry in stack:
        assert str(entry.status) == "Error"
        assert "has other parameters than" in entry.message and "recording 'day'" in entry.message


def test_video_files_continue_the_recording_clock(tmp_path: Path) -> None:
    for i in range(2):
        write_video(make_movie(30, 2, shape=(96, 128), seed=i), tmp_path / f"cam_{i + 1}.avi")
    paths = [tmp_path / "cam_1.avi", tmp_path / "cam_2.avi"]
    with open_recording(paths) as source:
        assert source.n_frames == 60
        shifts = time_shifts(source.sources, Calibration())
        stamps = source.timestamps
    assert stamps is not None
    steps = np.diff(stamps)
    np.testing.assert_allclose(steps, 1 / 25, atol=1e-6)  # no jump between the files
    assert shifts[0] == 0.0 and shifts[1] == pytest.approx(30 / 25)
    done = track_recording(paths, Parameters(thresh=60, methBack=1, maxArea=800), name="cam")
    assert [s.n_frames for s in done] == [30, 30]
    table = pq.read_table(tmp_path / "cam-tracks.parquet").to_pandas()
    assert table.time.max() == pytest.approx(59 / 25)
    assert table[table.file == "cam_2.avi"].time.min() >= 30 / 25 - 1e-9


def test_manifests_keep_the_recording_and_shards_take_it_whole(tmp_path: Path) -> None:
    movie = make_movie(5, 1, shape=(64, 64), seed=3)
    for name in ("x", "r1", "r2", "r3", "y"):
        write_sequence(movie, tmp_path / name)
    stack = Stack(Parameters(thresh=60, methBack=1))
    stack.add([tmp_path / "x"])
    stack.recording = "rec"
    stack.add([tmp_path / "r1", tmp_path / "r2", tmp_path / "r3"])
    stack.recording = None
    stack.add([tmp_path / "y"])
    for suffix in (".toml", ".csv"):
        loaded = load_manifest(save_manifest(stack, tmp_path / f"stack{suffix}"))
        assert [e.recording for e in loaded] == [None, "rec", "rec", "rec", None]
    shards = [[e.path.name for e in select_shard(stack.entries, (k, 2))] for k in (1, 2)]
    assert shards == [["x", "y"], ["r1", "r2", "r3"]]


def test_cli_adds_the_files_of_a_recording_in_natural_order(tmp_path: Path) -> None:
    movie = make_movie(8, 2, shape=(96, 128), seed=4)
    for name in ("part10", "part2", "part1"):
        write_sequence(movie, tmp_path / name)
    run = subprocess.run(
        [sys.executable, "-c", "from batchtrack.cli import main; main()", "batch", "now",
         *(str(tmp_path / n) for n in ("part10", "part2", "part1")), "--recording", "day1",
         "--thresh", "60", "--methBack", "1", "--maxArea", "800", "--workers", "2",
         "--manifest", str(tmp_path / "s.toml"), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    stack = load_manifest(tmp_path / "s.toml")
    assert [e.path.name for e in stack] == ["part1", "part2", "part10"]
    table = pq.read_table(tmp_path / "day1-tracks.parquet").to_pandas()
    assert list(table.file.unique()) == ["part1", "part2", "part10"]
    assert table.imageNumber.max() == 23
