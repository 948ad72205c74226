"""Calibration and time (batchtrack.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from batchtrack.calibration import Calibration, column_units, length_powers, pixel_size_from_scale
from batchtrack.errors import ParameterError
from batchtrack.params import Parameters
from batchtrack.schema import TRACKING_COLUMNS


def test_scale_gives_length_per_pixel() -> None:
    assert pixel_size_from_scale("10,20,310,20,30") == pytest.approx(0.1)
    assert pixel_size_from_scale(" 0, 0, 3, 4, 10 ") == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("5,5,5,5,10", "same"),
        ("1,2,3,4", "five numbers"),
        ("a,b,c,d,e", "five numbers"),
        ("0,0,10,0,-1", "LENGTH must be > 0"),
    ],
)
def test_bad_scale_is_explained(text: str, words: str) -> None:
    with pytest.raises(ParameterError, match=words):
        pixel_size_from_scale(text)


def test_times_from_fps_timestamps_or_frames() -> None:
    frames = np.array([0, 1, 4])
    assert Calibration(fps=25).times(frames).tolist() == [0.0, 0.04, 0.16]
    stamps = np.array([0.0, 0.05, 0.2, 0.25, 0.3])
    video = Calibration(timestamps=stamps)
    assert video.time_unit == "s" and video.times(np.array([2, 4, 9])).tolist()[:2] == [0.2, 0.3]
    assert np.isnan(video.times(np.array([9]))[0])
    assert video.frame_interval(5) == pytest.approx(0.05)
    assert Calibration().time_unit == "frames" and Calibration().frame_rate(5) is None
    assert Calibration(fps=25, timestamps=stamps).times(np.array([1]))[0] == 0.04  # fps wins


def test_from_params_and_column_units() -> None:
    calibration = Calibration.from_params(Parameters(pixelSize=0.5, unit="mm", fps=10))
    assert (calibration.pixel_size, calibration.unit, calibration.fps) == (0.5, "mm", 10)
    units = column_units(TRACKING_COLUMNS, "mm")
    assert units["xBody"] == "mm" and units["areaBody"] == "mm^2" and units["curvature"] == "1/mm"
    assert units["tBody"] == "rad" and "bodyExcentricity" not in units and "id" not in units
    powers = dict(zip(TRACKING_COLUMNS, length_powers(TRACKING_COLUMNS)))
    assert powers["tailMajorAxisLength"] == 1 and powers["tailExcentricity"] == 0


def test_calibration_parameters_are_extensions() -> None:
    assert "pixelSize" not in Parameters().saved_values()
    saved = Parameters(pixelSize=0.1, unit="mm", fps=25).saved_values()
    assert (saved["pixelSize"], saved["unit"], saved["fps"]) == (0.1, "mm", 25)
    with pytest.raises(ParameterError, match="needs the unit"):
        Parameters(pixelSize=0.1)
    with pytest.raises(ParameterError, match="unit = 'm m'"):
        Parameters(unit="m m")
