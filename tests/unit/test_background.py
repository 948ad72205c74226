from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from batchtrack.background import load_background, project, register, sample_indices
from batchtrack.errors import InputError


def test_sample_indices_are_evenly_spread_over_the_whole_movie() -> None:
    assert sample_indices(100, 5) == [0, 24, 49, 74, 99]
    assert sample_indices(100, 1) == [0]
    assert sample_indices(3, 10) == [0, 1, 2]  # at most every frame


@pytest.mark.parametrize(("method", "expected"), [(0, 10), (1, 30), (2, 20)])
def test_projections(method: int, expected: int) -> None:
    frames = [np.full((4, 4), v, np.uint8) for v in (10, 30, 20)]
    assert (project(iter(frames), method=method) == expected).all()


def test_average_rounds_to_nearest() -> None:
    frames = [np.full((2, 2), v, np.uint8) for v in (10, 11)]
    assert project(frames, method=2)[0, 0] in (10, 11)
    frames = [np.full((2, 2), v, np.uint8) for v in (10, 13)]
    assert project(frames, method=2)[0, 0] == 12  # 11.5 -> 12


def test_projection_removes_moving_objects() -> None:
    rng = np.random.default_rng(0)
    background = rng.integers(150, 200, (60, 80)).astype(np.uint8)
    frames = []
    for k in range(10):
        frame = background.copy()
        frame[20:26, 5 + 7 * k : 12 + 7 * k] = 20  # a dark object moving right
        frames.append(frame)
    np.testing.assert_array_equal(project(frames, method=1), background)


def test_projection_of_nothing_is_an_input_error() -> None:
    with pytest.raises(InputError):
        project(iter([]))


def textured(shape=(120, 160), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 255, shape).astype(np.uint8), (0, 0), 3)
    return cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX)


@pytest.mark.parametrize("method", [1, 2, 3])
def test_registration_recovers_a_shift(method: int) -> None:
    reference = textured()
    shift = np.float32([[1, 0, 4], [0, 1, -3]])
    moved = cv2.warpAffine(reference, shift, (160, 120), borderMode=cv2.BORDER_REFLECT)
    registered = register(reference, moved, method)
    inner = (slice(10, -10), slice(10, -10))
    before = np.abs(moved[inner].astype(int) - reference[inner]).mean()
    after = np.abs(registered[inner].astype(int) - reference[inner]).mean()
    assert after < before / 4, (before, after)


def test_registration_none_returns_the_frame() -> None:
    frame = textured()
    assert register(textured(seed=1), frame, 0) is frame


def test_failed_registration_keeps_the_frame_and_warns(caplog) -> None:
    flat = np.full((50, 50), 128, np.uint8)
    with caplog.at_level(logging.WARNING, logger="batchtrack"):
        assert (register(flat, flat, 3) == flat).all()  # no ORB features on a flat image
    assert "registration" in caplog.text


def test_load_background(tmp_path: Path) -> None:
    path = tmp_path / "bg.pgm"
    cv2.imwrite(str(path), np.full((10, 20), 77, np.uint8))
    assert load_background(path, (10, 20)).mean() == 77
    with pytest.raises(InputError, match=r"20×10 px but the frames are 30×10"):
        load_background(path, (10, 30))
    with pytest.raises(InputError, match="does not exist"):
        load_background(tmp_path / "missing.pgm", (10, 20))
    (tmp_path / "bad.pgm").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot be decoded \\(damaged or not an image\\)"):
        load_background(tmp_path / "bad.pgm", (10, 20))


def test_a_projection_that_keeps_the_objects_is_warned(tmp_path: Path, caplog) -> None:
    from batchtrack.io.frames import open_frames
    from batchtrack.movie import compute_background
    from batchtrack.params import Parameters

    folder = tmp_path / "movie"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"f_{k}.pgm"), np.full((8, 8), 200, np.uint8))
    with open_frames(folder) as source, caplog.at_level(logging.WARNING, logger="batchtrack"):
        compute_background(source, Parameters(lightBack=0, methBack=1))
        assert "keeps" not in caplog.text
        compute_background(source, Parameters(lightBack=0, methBack=0))
    assert "methBack=0 keeps the dark objects in the background" in caplog.text
