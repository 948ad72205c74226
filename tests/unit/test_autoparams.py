"""Parameters measured from arrays: noise, polarity, threshold, areas, motion; and "auto" values."""

from __future__ import annotations

import numpy as np
import pytest

from batchtrack.autoparams import (
    AutoParameterError,
    AutoReport,
    Measurement,
    measure_areas,
    measure_detection,
    measure_max_dist,
    measure_noise,
    measure_polarity,
    measure_threshold,
    sample_positions,
)
from batchtrack.background import sample_indices
from batchtrack.errors import ParameterError
from batchtrack.params import AUTO_NAMES, Parameters, load_cfg, save_cfg

SHAPE = (120, 160)


def scene(n: int, *, light: bool = False, contrast: int = 80, noise: float = 2.0, seed: int = 0,
          step: int = 4, size: tuple[int, int] = (6, 20)):  # fmt: skip
    """``n`` frames of three rectangles moving right by ``step`` px per frame, and the clean
    background."""
    rng = np.random.default_rng(seed)
    level = 40 if light else 200
    background = np.full(SHAPE, level, np.float64)
    frames = []
    h, w = size
    for k in range(n):
        frame = background.copy()
        for i, (y, x) in enumerate(((15, 5), (55, 30), (95, 60))):
            x0 = (x + step * k + 7 * i) % (SHAPE[1] - w)
            frame[y : y + h, x0 : x0 + w] += contrast if light else -contrast
        frame += rng.normal(0, noise, SHAPE)
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return np.stack(frames), background.astype(np.uint8)


def test_sample_positions_are_the_background_frames():
    assert sample_positions(2000, 20)[0] == 0 and sample_positions(2000, 20)[-1] == 1999
    assert sample_positions(2000, 20) == sample_indices(2000, 20)  # the background's frames
    assert sample_positions(5, 20) == [0, 1, 2, 3, 4]
    assert sample_positions(1) == [0] and sample_positions(0) == []


def test_noise_level_ignores_the_objects_tail():
    rng = np.random.default_rng(1)
    d = np.clip(np.rint(rng.normal(6, 2, 200_000)), 0, 255)
    d[:2000] = 120  # 1 % object pixels
    noise = measure_noise(d.astype(np.uint8))
    assert noise.median == pytest.approx(6, abs=0.2)
    assert noise.spread == pytest.approx(2, abs=0.2)
    assert 14 < noise.ceiling < 18


@pytest.mark.parametrize("light", [False, True])
def test_polarity_from_the_median_of_the_frames(light):
    frames, _ = scene(9, light=light, step=25)
    found = measure_polarity(frames)
    assert found.value == int(light)
    assert ("light objects" if light else "dark objects") in found.reason


def test_polarity_refuses_objects_that_hardly_move():
    frames, _ = scene(9, light=True, step=2)  # each pixel covered in most frames
    with pytest.raises(AutoParameterError, match=r"darker and .* lighter"):
        measure_polarity(frames)


def test_polarity_against_a_given_background():
    frames, background = scene(1, light=True)
    assert measure_polarity(frames, background).value == 1


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        (np.repeat(scene(1)[0], 8, axis=0), "nothing moves"),  # static scene
        (np.full((8, *SHAPE), 128, np.uint8), "nothing moves"),  # uniform movie
        (scene(1)[0], "too few"),  # one frame, no background
    ],
)
def test_polarity_says_why_it_cannot_be_measured(frames, why):
    with pytest.raises(AutoParameterError, match=why):
        measure_polarity(frames)


def test_threshold_lies_between_noise_and_objects_and_ignores_hot_pixels():
    frames, background = scene(6, contrast=60, noise=3.0)
    differences = np.stack([np.clip(background.astype(int) - f, 0, 255) for f in frames])
    differences = differences.astype(np.uint8)
    found, noise = measure_threshold(differences)
    assert noise.ceiling < found.value < 60
    assert "objects differ by" in found.reason and "noise by ≤" in found.reason
    hot = differences.copy()
    hot[:, ::17, ::13] = 255  # isolated outliers
    assert abs(measure_threshold(hot)[0].value - found.value) <= 2


def test_threshold_of_a_static_movie_is_refused():
    differences = np.random.default_rng(0).integers(0, 6, (5, *SHAPE)).astype(np.uint8)
    with pytest.raises(AutoParameterError, match="no object stands out of the noise"):
        measure_threshold(differences)


def test_areas_with_the_number_of_animals_known():
    one = [100.0, 110.0, 95.0]
    frames = [np.array([*one, 3.0, 2.0]) for _ in range(8)]
    frames.append(np.array([205.0, 100.0, 2.0]))  # two touching
    low, high, typical = measure_areas(frames, animals=3)
    assert typical == pytest.approx(100, abs=5)
    assert low.value == 25 and low.value < 95
    assert high.value > 205  # a touching pair is kept
    assert "3 largest blobs" in low.reason


def test_areas_without_the_number_of_animals_leave_specks_and_pairs_out():
    rng = np.random.default_rng(0)
    frames = [np.concatenate([rng.normal(300, 20, 6), rng.uniform(1, 6, 40)]) for _ in range(10)]
    frames[0] = np.append(frames[0], 620.0)
    low, high, typical = measure_areas(frames)
    assert typical == pytest.approx(300, rel=0.1)
    assert 6 < low.value < 150 and 620 < high.value


def test_areas_refused_without_blobs():
    with pytest.raises(AutoParameterError, match="no blob"):
        measure_areas([np.empty(0), np.empty(0)])


def test_max_dist_from_matched_displacements():
    rng = np.random.default_rng(2)
    pairs = []
    for _ in range(10):
        before = rng.uniform(0, 500, (8, 2))
        after = before + rng.normal(0, 3, (8, 2))
        pairs.append((before, after[::-1]))  # order does not matter
    found = measure_max_dist(pairs, body_length=10)
    assert 20 < found.value < 60
    assert measure_max_dist(pairs, body_length=30).value == 90  # three body lengths
    assert measure_max_dist([], body_length=10).value == 30


@pytest.mark.parametrize("light", [False, True])
def test_detection_measures_thresh_areas_and_motion(light):
    frames, background = scene(10, light=light, step=4)
    report = measure_detection(
        frames[:-1], frames[1:], background, light_back=int(light),
        names=["thresh", "minArea", "maxArea", "maxDist"], thresh=0, min_area=0, max_area=1,
        animals=3,
    )  # fmt: skip
    values = report.values()
    assert list(values) == ["thresh", "minArea", "maxArea", "maxDist"]
    assert 15 < values["thresh"] < 80
    area = 5 * 19  # the contour area of a 6×20 rectangle
    assert values["minArea"] < area < values["maxArea"]
    assert values["maxDist"] >= 16  # moves 4 px per frame
    assert not report.warnings


def test_detection_keeps_the_given_values():
    frames, background = scene(4)
    report = measure_detection(
        frames, np.empty((0, *SHAPE), np.uint8), background, light_back=0, names=["maxDist"],
        thresh=40, min_area=10, max_area=500,
    )  # fmt: skip
    assert list(report.values()) == ["maxDist"]
    assert report.warnings  # no frame pairs


def test_report_lines_and_brief():
    report = AutoReport((Measurement("thresh", 28, "objects differ by 35–90, noise by ≤ 12"),))
    report += AutoReport((Measurement("maxDist", 40, "…"),), ("a warning",))
    assert report.lines() == [
        "thresh 28: objects differ by 35–90, noise by ≤ 12",
        "maxDist 40: …",
        "warning: a warning",
    ]
    assert report.brief() == "thresh 28, maxDist 40"


# -- "auto" in the parameter model ---------------------------------------------------------------
def test_auto_values_are_remembered_and_explicit_values_win():
    params = Parameters(thresh="auto", minArea="AUTO", maxArea=3)
    assert params.auto == {"thresh", "minArea"}
    assert params.given() == {"thresh": "auto", "minArea": "auto", "maxArea": 3}
    fixed = params.with_updates(thresh=60)
    assert fixed.auto == {"minArea"} and fixed.thresh == 60
    assert Parameters(thresh="auto") != Parameters()
    every = Parameters().with_updates(dict.fromkeys(AUTO_NAMES, "auto"))
    assert every.auto == set(AUTO_NAMES)


def test_auto_round_trips_through_cfg_toml(tmp_path):
    save_cfg(Parameters(thresh="auto", lightBack="auto", maxDist=50), tmp_path / "cfg.toml")
    text = (tmp_path / "cfg.toml").read_text()
    assert 'thresh = "auto"' in text and "maxDist = 50" in text
    assert load_cfg(tmp_path / "cfg.toml").auto == {"thresh", "lightBack"}
    (tmp_path / "fasttrack.toml").write_text("[parameters]\nthresh = auto\nminArea = 10\n")
    assert load_cfg(tmp_path / "fasttrack.toml").auto == {"thresh"}


def test_only_measurable_parameters_accept_auto():
    with pytest.raises(ParameterError, match=r"spot = 'auto' is invalid: must be one of"):
        Parameters(spot="auto")
    with pytest.raises(ParameterError, match="did you mean 'thresh'"):
        Parameters(tresh="auto")
    with pytest.raises(ParameterError, match="or 'auto'"):
        Parameters(thresh="high")
    with pytest.raises(ParameterError, match=r"minArea .* must be smaller"):
        Parameters(minArea=50, maxArea=10)
    assert Parameters(minArea=6000, maxArea="auto").minArea == 6000  # checked once measured
