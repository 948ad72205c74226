"""``batchtrack track``: one process or frame chunks on several, the same result."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from batchtrack.cli import main
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.io.resume import input_signature
from batchtrack.synth import make_movie, write_sequence

FLAGS = [f"--{name}={value}" for name, value in DEMO_PARAMETERS.items()]


def test_workers_give_the_same_result_as_one_process(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(120, 6, shape=(200, 200), seed=7), tmp_path / "movie")
    shutil.move(movie / "background.pgm", tmp_path / "background.pgm")
    one = CliRunner().invoke(main, ["track", str(movie), *FLAGS, "-q"])
    assert one.exit_code == 0, one.output
    expected = (movie / "Tracking_Result" / "tracking.txt").read_text()
    many = CliRunner().invoke(
        main, ["track", str(movie), *FLAGS, "--workers", "2", "--chunk-size", "30"]
    )
    assert many.exit_code == 0, many.output
    assert "2 workers" in many.output
    assert (movie / "Tracking_Result" / "tracking.txt").read_text() == expected
    assert len(list(tmp_path.glob("movie/Tracking_Result_Archive-*"))) == 1  # first run kept


def test_workers_write_to_output_too(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(60, 3, shape=(120, 120), seed=1), tmp_path / "movie")
    one = CliRunner().invoke(main, ["track", str(movie), *FLAGS, "-q", "--workers", "1"])
    assert one.exit_code == 0, one.output
    out = tmp_path / "out"
    many = CliRunner().invoke(
        main,
        ["track", str(movie), *FLAGS, "-q", "--workers", "2", "--chunk-size", "25",
         "--output", str(out)],
    )  # fmt: skip
    assert many.exit_code == 0, many.output
    expected = (movie / "Tracking_Result" / "tracking.txt").read_text()
    assert (out / "tracking.txt").read_text() == expected
    assert (out / "batchtrack.json").is_file()


def test_default_workers_one_process_for_a_short_movie(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(30, 3, shape=(120, 120), seed=3), tmp_path / "movie")
    result = CliRunner().invoke(main, ["track", str(movie), *FLAGS])
    assert result.exit_code == 0, result.output
    assert "1 worker)" in result.output


def test_workers_must_be_positive(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(5, 2, shape=(100, 100), seed=1), tmp_path / "movie")
    result = CliRunner().invoke(main, ["track", str(movie), "--workers", "0"])
    # refused as batch refuses it (RunOptions): one line naming the value, exit 1
    assert result.exit_code == 1 and "workers = 0 is invalid" in result.stderr


def test_a_tracked_movie_has_its_marker_and_a_batch_skips_it(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(30, 3, shape=(120, 120), seed=2), tmp_path / "movie")
    result = CliRunner().invoke(main, ["track", str(movie), *FLAGS, "-q"])
    assert result.exit_code == 0, result.output
    assert (movie / "Tracking_Result" / "batchtrack.json").is_file()
    again = CliRunner().invoke(
        main, ["batch", str(movie), *FLAGS, "--backend", "inprocess", "--summary", "-"]
    )
    assert again.exit_code == 0, again.output
    assert '"status": "Skipped"' in again.output


def test_help_prints_open_ranges_as_bounds_and_one_bar_per_line() -> None:
    result = CliRunner().invoke(main, ["track", "--help"])
    assert "≥ 1, default 20" in result.output  # nBack
    assert "None" not in result.output


@pytest.mark.parametrize("ext", ["pgm", "png"])
def test_a_movie_tracked_on_workers_has_the_marker_a_batch_skips(
    ext: str, tmp_path: Path
) -> None:
    # the workers compute the frames' checksums (a PGM's from the bytes read for detection,
    # a PNG's by reading it again): the marker must be the one-process one
    movie = write_sequence(
        make_movie(80, 3, shape=(120, 120), seed=4), tmp_path / "movie", ext=ext
    )
    (movie / "notes.txt").write_text("not a frame, but part of the input's signature\n")
    result = CliRunner().invoke(
        main, ["track", str(movie), *FLAGS, "-q", "--workers", "2", "--chunk-size", "15"]
    )
    assert result.exit_code == 0, result.output
    chunked = json.loads((movie / "Tracking_Result" / "batchtrack.json").read_text())
    assert chunked["input"] == input_signature(movie)
    again = CliRunner().invoke(
        main, ["batch", str(movie), *FLAGS, "--backend", "inprocess", "--summary", "-"]
    )
    assert again.exit_code == 0, again.output
    assert '"status": "Skipped"' in again.output


_CONSOLE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules, file=sys.stderr))\n"
    "from batchtrack.cli import run\n"
    "sys.argv = ['batchtrack', *sys.argv[1:]]\n"
    "run()\n"
)


def test_the_console_script_exits_with_the_status_and_the_whole_output(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(60, 3, shape=(120, 120), seed=5), tmp_path / "movie")
    command = [sys.executable, "-c", _CONSOLE, "track", str(movie), *FLAGS]
    done = subprocess.run(
        [*command, "--workers", "2", "--chunk-size", "20"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "60 frames, 3 ids" in done.stdout and "2 workers" in done.stdout
    # exit handlers ran; the process that links and writes never imported pandas (a worker
    # process wrote the analysis files)
    assert "pandas imported: False" in done.stderr
    assert (movie / "Tracking_Result" / "animals.csv").is_file()
    assert (movie / "Tracking_Result" / "quality.json").is_file()
    missing = subprocess.run(
        [sys.executable, "-c", _CONSOLE, "track", str(tmp_path / "nowhere")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[0].startswith("error: ")
    usage = subprocess.run(
        [sys.executable, "-c", _CONSOLE, "track", "--no-such-option"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert usage.returncode == 2 and "No such option" in usage.stderr
