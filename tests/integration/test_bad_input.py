"""Bad input: a clear one-line error or a logged warning, never a traceback, never a lost result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from batchtrack.cli import main
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.io.results import read_tracking
from batchtrack.synth import make_movie, write_sequence, write_video

FLAGS = [f"--{name}={value}" for name, value in DEMO_PARAMETERS.items()]


@pytest.fixture
def movie(tmp_path: Path) -> Path:
    """A small synthetic sequence (40 frames, 4 fish) with an earlier result beside it."""
    folder = write_sequence(make_movie(40, 4, shape=(160, 160), seed=3), tmp_path / "movie")
    earlier = folder / "Tracking_Result"
    earlier.mkdir()
    (earlier / "tracking.txt").write_text("earlier result\n")
    return folder


def run(*args: str):
    return CliRunner().invoke(main, ["track", *args])


def assert_clean_failure(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def assert_earlier_result_kept(movie: Path) -> None:
    assert (movie / "Tracking_Result" / "tracking.txt").read_text() == "earlier result\n"
    assert not list(movie.glob("Tracking_Result_Archive-*"))


def test_missing_path(tmp_path: Path) -> None:
    assert_clean_failure(run(str(tmp_path / "nowhere")), "nowhere", "no such file")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_clean_failure(run(str(tmp_path / "empty")), "empty")


def test_folder_of_non_images(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"note_{i}.txt").write_text("hello")
    assert_clean_failure(run(str(folder)), "notes")


def test_corrupt_frame_in_the_middle_is_skipped_and_logged(movie: Path) -> None:
    (movie / "frame_000020.pgm").write_bytes(b"this is not an image")
    result = run(str(movie), *FLAGS)
    assert result.exit_code == 0, result.output
    table = read_tracking(movie / "Tracking_Result")
    frames = set(table.imageNumber)
    assert 20 not in frames and {19, 21, 39} <= frames  # indices stay aligned
    assert "frame 20 skipped" in (movie / "Tracking_Result" / "log").read_text()
    assert "frame_000020.pgm" in result.stderr  # the warning names the file
    # The earlier result was archived, not deleted.
    archives = list(movie.glob("Tracking_Result_Archive-*"))
    assert len(archives) == 1
    assert (archives[0] / "tracking.txt").read_text() == "earlier result\n"


def test_truncated_video_tracks_the_decodable_frames(tmp_path: Path) -> None:
    video = write_video(make_movie(60, 4, shape=(160, 160), seed=4), tmp_path / "fish.avi")
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    result = run(str(video), *FLAGS)
    assert result.exit_code == 0, result.output
    table = read_tracking(tmp_path / "Tracking_Result_fish")
    assert 10 < table.imageNumber.max() < 59


def test_background_of_the_wrong_size(movie: Path, tmp_path: Path) -> None:
    background = tmp_path / "small.pgm"
    cv2.imwrite(str(background), np.full((50, 60), 200, np.uint8))
    result = run(str(movie), "--background", str(background), *FLAGS)
    assert_clean_failure(result, "small.pgm", "60×50", "160×160")
    assert_earlier_result_kept(movie)


def test_malformed_cfg(movie: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[parameters\nthresh = = 3\n")
    assert_clean_failure(run(str(movie), "--cfg", str(cfg)), "cfg.toml")
    assert_earlier_result_kept(movie)


def test_out_of_range_cfg(movie: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('title = "FastTrack cfg"\n\n[parameters]\nthresh = 300\n')
    assert_clean_failure(run(str(movie), "--cfg", str(cfg)), "thresh", "300", "255", "cfg.toml")
    assert_earlier_result_kept(movie)


def test_unwritable_output_location(movie: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run(str(movie), "--output", str(blocker / "Tracking_Result"), *FLAGS)
    assert_clean_failure(result, "cannot write results")
    assert_earlier_result_kept(movie)


def test_zero_objects_in_every_frame_is_a_logged_warning(movie: Path) -> None:
    result = run(str(movie), *FLAGS, "--thresh=255")
    assert result.exit_code == 0, result.output
    assert "no object detected" in result.stderr
    folder = movie / "Tracking_Result"
    assert "no object detected" in (folder / "log").read_text()
    assert len(read_tracking(folder)) == 0


def test_flags_override_cfg_which_overrides_defaults(movie: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('title = "FastTrack cfg"\n\n[parameters]\nthresh = 33\nmaxTime = 7\n')
    result = run(str(movie), "--cfg", str(cfg), "--thresh=44", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet prints nothing on success
    saved = (movie / "Tracking_Result" / "cfg.toml").read_text()
    assert "thresh = 44" in saved and "maxTime = 7" in saved and "maxArea = 5000" in saved
