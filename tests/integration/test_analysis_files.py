"""The analysis files of a result (tracking.parquet, tracking.nc, animals.csv, quality.json):
calibrated units, time from the fps or the video's timestamps, movement's own checks."""

from __future__ import annotations

import fractions
import shutil
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from movement.io import load_poses, save_poses
from movement.kinematics import compute_speed
from movement.validators.datasets import ValidPosesInputs

from batchtrack.cli import main
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.io.results import read_tracking
from batchtrack.io.tables import TRACK_COLUMNS, read_quality, read_tracks
from batchtrack.synth import make_movie, write_sequence

DEMO_FLAGS = [f"--{name}={value}" for name, value in DEMO_PARAMETERS.items()]


def track(*args: str):
    return CliRunner().invoke(main, ["track", *args])


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, zebrafish_dir: Path, zebrafish_params) -> Path:
    """zebrafish-100 tracked with --pixelSize 0.1 --unit mm --fps 25."""
    flags = [f"--{name}={value}" for name, value in zebrafish_params.saved_values().items()]
    movie = tmp_path_factory.mktemp("calibrated") / "images"
    shutil.copytree(zebrafish_dir / "images", movie)
    background = str(zebrafish_dir / "background.pgm")
    result = track(
        str(movie), *flags, "--background", background,
        "--pixelSize", "0.1", "--unit", "mm", "--fps", "25", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return movie / "Tracking_Result"


def test_parquet_is_tracking_txt_calibrated_with_time(calibrated: Path) -> None:
    text = read_tracking(calibrated)
    table = read_tracks(calibrated)
    assert tuple(table.columns) == TRACK_COLUMNS
    assert len(table) == len(text) > 1000
    for name in ("xHead", "yHead", "xTail", "yTail", "xBody", "yBody", "bodyMajorAxisLength"):
        np.testing.assert_allclose(table[name], text[name] * 0.1, rtol=1e-5)  # %g in the .txt
    np.testing.assert_allclose(table["areaBody"], text["areaBody"] * 0.01, rtol=1e-5)
    np.testing.assert_allclose(table["tBody"], text["tBody"], rtol=1e-5)  # angles unchanged
    assert (table["imageNumber"] == text["imageNumber"]).all() and (table["id"] == text["id"]).all()
    np.testing.assert_array_equal(table["time"], text["imageNumber"] / 25)
    assert not table["interpolated"].any()
    cfg = (calibrated / "cfg.toml").read_text()
    assert 'unit = "mm"' in cfg and "pixelSize = 0.1" in cfg and "fps = 25" in cfg


def test_movement_accepts_the_netcdf_and_agrees_with_animals_csv(calibrated, tmp_path) -> None:
    dataset = xr.load_dataset(calibrated / "tracking.nc")
    ValidPosesInputs.validate(dataset)
    assert dataset.position.dims == ("time", "space", "keypoints", "individuals")
    assert list(dataset.keypoints.values) == ["head", "body", "tail"]
    assert dataset.attrs["fps"] == 25 and dataset.attrs["time_unit"] == "seconds"
    assert dataset.attrs["source_software"] == "batchtrack"
    animals = pd.read_csv(calibrated / "animals.csv")
    assert len(animals) == dataset.sizes["individuals"] == 14
    speed = compute_speed(dataset.position.sel(keypoints="body")).values  # (time, individuals)
    # NumPy's reductions: xarray's own go through numbagg, whose numba compile takes 40 s
    np.testing.assert_allclose(animals["mean_speed"], np.nanmean(speed, axis=0), rtol=0.01)
    np.testing.assert_allclose(animals["median_speed"], np.nanmedian(speed, axis=0), rtol=0.01)
    # movement's own savers take it, and its loader reads the DeepLabCut file back
    save_poses.to_dlc_file(dataset, tmp_path / "poses.h5", split_individuals=False)
    save_poses.to_sleap_analysis_file(dataset, tmp_path / "poses.analysis.h5")
    back = load_poses.from_dlc_file(tmp_path / "poses.h5", fps=25)
    np.testing.assert_allclose(back.position.values, dataset.position.values, equal_nan=True)


def test_animals_csv_is_per_identity_and_comma_separated(calibrated: Path) -> None:
    animals = pd.read_csv(calibrated / "animals.csv")
    text = read_tracking(calibrated)
    assert (animals["frames"].to_numpy() == text.groupby("id").size().to_numpy()).all()
    assert (animals["coverage"] <= 1).all() and (animals["unit"] == "mm").all()
    assert (animals["time_unit"] == "s").all() and (animals["last_time"] <= 99 / 25).all()
    assert (animals["time_moving"] <= animals["last_time"] - animals["first_time"] + 0.04).all()
    assert read_quality(calibrated)["verdict"] in ("ok", "check")


def test_default_run_keeps_fasttrack_cfg(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(20, 2, shape=(120, 120), seed=2), tmp_path / "movie")
    assert track(str(movie), *DEMO_FLAGS, "-q").exit_code == 0
    cfg = (movie / "Tracking_Result" / "cfg.toml").read_text()
    assert "unit" not in cfg and "pixelSize" not in cfg and "fps" not in cfg
    table = read_tracks(movie / "Tracking_Result")
    np.testing.assert_array_equal(table["time"], table["imageNumber"])  # frames
    assert xr.load_dataset(movie / "Tracking_Result" / "tracking.nc").attrs["time_unit"] == "frames"


def write_vfr_video(path: Path, times_ms: np.ndarray) -> Path:
    """A variable-frame-rate video (FFV1 in Matroska) whose frames have the given times."""
    movie = make_movie(len(times_ms), 3, shape=(160, 160), seed=5)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=1000)  # time base 1 ms, so pts stay exact
        stream.width, stream.height, stream.pix_fmt = 160, 160, "gray"
        stream.time_base = fractions.Fraction(1, 1000)
        for t, image in zip(times_ms.tolist(), movie.frames()):
            frame = av.VideoFrame.from_ndarray(image, format="gray")
            frame.pts, frame.time_base = int(t), stream.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_video_time_comes_from_its_frame_timestamps(tmp_path: Path) -> None:
    steps = [40 if k % 3 else 100 for k in range(1, 40)]  # every third interval is long
    times_ms = np.cumsum([0, *steps])
    video = write_vfr_video(tmp_path / "vfr.mkv", times_ms)
    assert track(str(video), *DEMO_FLAGS, "-q").exit_code == 0
    folder = tmp_path / "Tracking_Result_vfr"
    table = read_tracks(folder)
    np.testing.assert_allclose(table["time"], times_ms[table["imageNumber"]] / 1000, atol=1e-9)
    dataset = xr.load_dataset(folder / "tracking.nc")
    np.testing.assert_allclose(dataset.time.values, times_ms / 1000, atol=1e-9)
    assert dataset.attrs["time_unit"] == "seconds" and dataset.attrs["fps"] == pytest.approx(25)
    quality = read_quality(folder)
    assert quality["dropped_frames"] == 13  # each 100 ms interval holds 1.5 missing frames


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--pixelSize", "0", "--unit", "mm"], ["pixelSize", "> 0"]),
        (["--fps", "-5"], ["fps", "-5", ">= 0"]),
        (["--fps", "fast"], ["fps", "fast", "number"]),
        (["--scale", "10,10,10,10,5", "--unit", "mm"], ["--scale", "same"]),
        (["--scale", "1,2,3", "--unit", "mm"], ["--scale", "X1,Y1,X2,Y2,LENGTH"]),
        (["--pixelSize", "0.1"], ["pixelSize", "unit"]),
    ],
)
def test_bad_calibration_is_a_one_line_error(tmp_path: Path, flags, words) -> None:
    movie = write_sequence(make_movie(5, 1, shape=(100, 100), seed=1), tmp_path / "movie")
    result = track(str(movie), *flags)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not (movie / "Tracking_Result").exists()


def test_scale_sets_the_pixel_size(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(12, 1, shape=(100, 100), seed=1), tmp_path / "movie")
    result = track(str(movie), *DEMO_FLAGS, "--scale", "0,0,30,40,10", "--unit", "cm", "-q")
    assert result.exit_code == 0, result.output
    assert "pixelSize = 0.2" in (movie / "Tracking_Result" / "cfg.toml").read_text()


def test_zero_objects_give_empty_files_and_a_note(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(10, 2, shape=(120, 120), seed=1), tmp_path / "movie")
    result = track(str(movie), *DEMO_FLAGS, "--thresh=255", "-q")
    assert result.exit_code == 0, result.output
    folder = movie / "Tracking_Result"
    assert len(read_tracks(folder)) == 0 and tuple(read_tracks(folder).columns) == TRACK_COLUMNS
    animals = pd.read_csv(folder / "animals.csv")
    assert len(animals) == 0 and "mean_speed" in animals.columns
    assert not (folder / "tracking.nc").exists()
    assert "tracking.nc not written: no object was tracked" in (folder / "log").read_text()
    quality = read_quality(folder)
    assert quality["verdict"] == "check" and quality["reasons"] == [
        "no object detected in any frame"
    ]


_WITHOUT_PYARROW = (
    "import sys\n"
    "sys.modules['pyarrow'] = None  # an import of pyarrow fails, as when it is not installed\n"
    "from batchtrack.cli import main\n"
    "main(['track', *sys.argv[1:]])\n"
)


@pytest.mark.parametrize("pixel_size", ["1", "0.5"])
def test_without_pyarrow_a_movie_is_tracked_and_its_log_says_what_is_missing(
    tmp_path: Path, pixel_size: str
) -> None:
    import subprocess
    import sys

    movie = write_sequence(make_movie(40, 3, shape=(120, 120), seed=2), tmp_path / "movie")
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYARROW, str(movie), *DEMO_FLAGS, "-q",
         f"--pixelSize={pixel_size}", "--unit=mm"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = movie / "Tracking_Result"
    assert len(read_tracking(result / "tracking.txt")) > 0
    assert not (result / "tracking.parquet").exists()
    assert not (result / "animals.csv").exists()
    assert read_quality(result)["verdict"] in ("ok", "check")
    assert "pyarrow is missing" in (result / "log").read_text()
