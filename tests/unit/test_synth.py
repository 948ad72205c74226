"""Tests of the synthetic movie generator (batchtrack.synth)."""

from __future__ import annotations

import inspect

import cv2
import numpy as np
import pandas as pd
import pytest

from batchtrack.errors import OutputError, ParameterError
from batchtrack.synth import SyntheticMovie, make_movie, write_sequence, write_video

COLUMNS = (
    "xHead yHead tHead xTail yTail tTail xBody yBody tBody curvature areaBody perimeterBody "
    "headMajorAxisLength headMinorAxisLength headExcentricity tailMajorAxisLength "
    "tailMinorAxisLength tailExcentricity bodyMajorAxisLength bodyMinorAxisLength "
    "bodyExcentricity imageNumber id"
).split()


def difference(movie: SyntheticMovie, frame: np.ndarray) -> np.ndarray:
    """Object contrast: background minus frame for dark objects, the reverse for light ones."""
    if movie.light_objects:
        return cv2.subtract(frame, movie.background)
    return cv2.subtract(movie.background, frame)


def test_frames_is_a_generator_of_grey_frames() -> None:
    movie = make_movie(3, 2, shape=(60, 90), seed=1)
    frames = movie.frames()
    assert inspect.isgenerator(frames)
    first = next(frames)
    assert first.dtype == np.uint8
    assert first.shape == (60, 90)
    assert len(list(frames)) == 2
    assert movie.background.shape == (60, 90)


def test_same_seed_gives_identical_movie() -> None:
    a = make_movie(20, 5, shape=(100, 120), seed=3)
    b = make_movie(20, 5, shape=(100, 120), seed=3)
    for frame_a, frame_b in zip(a.frames(), b.frames(), strict=True):
        np.testing.assert_array_equal(frame_a, frame_b)
    pd.testing.assert_frame_equal(a.ground_truth, b.ground_truth)
    np.testing.assert_array_equal(a.background, b.background)


def test_different_seed_gives_different_movie() -> None:
    a = make_movie(5, 5, shape=(100, 120), seed=3)
    b = make_movie(5, 5, shape=(100, 120), seed=4)
    assert not np.array_equal(next(a.frames()), next(b.frames()))
    assert not np.allclose(a.ground_truth["xBody"], b.ground_truth["xBody"])


def test_ground_truth_from_frames_equals_ground_truth_alone() -> None:
    rendered = make_movie(15, 6, shape=(100, 100), seed=8, enter_leave=True, speed=4)
    for _ in rendered.frames():
        pass
    alone = make_movie(15, 6, shape=(100, 100), seed=8, enter_leave=True, speed=4)
    pd.testing.assert_frame_equal(rendered.ground_truth, alone.ground_truth)


def test_ground_truth_has_fasttrack_columns_and_one_row_per_object_per_frame() -> None:
    gt = make_movie(12, 7, shape=(150, 200), seed=2).ground_truth
    assert list(gt.columns) == COLUMNS
    assert len(gt) == 12 * 7
    assert gt["imageNumber"].dtype == np.int64
    assert gt["id"].dtype == np.int64
    expected = pd.DataFrame(
        {"imageNumber": np.repeat(np.arange(12), 7), "id": np.tile(np.arange(7), 12)}
    )
    pd.testing.assert_frame_equal(gt[["imageNumber", "id"]], expected)
    for name in (
        "xHead",
        "yHead",
        "tHead",
        "xTail",
        "tTail",
        "xBody",
        "yBody",
        "tBody",
        "areaBody",
        "perimeterBody",
        "bodyMajorAxisLength",
        "bodyExcentricity",
    ):
        assert gt[name].notna().all(), name
    assert gt["tBody"].between(0, 2 * np.pi, inclusive="left").all()
    assert (gt["bodyMajorAxisLength"] > 2 * gt["bodyMinorAxisLength"]).all()


@pytest.mark.parametrize("light_objects", [False, True])
@pytest.mark.parametrize("thresh", [30, 60])
def test_isolated_object_blob_is_its_ground_truth_mask(light_objects: bool, thresh: int) -> None:
    movie = make_movie(30, 1, shape=(120, 140), seed=5, light_objects=light_objects)
    gt = movie.ground_truth
    for i, frame in enumerate(movie.frames()):
        binary = (difference(movie, frame) > thresh).astype(np.uint8)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
        assert n == 2, f"frame {i}: expected one blob, found {n - 1}"
        row = gt.iloc[i]
        assert stats[1, cv2.CC_STAT_AREA] == row["areaBody"]
        np.testing.assert_allclose(centroids[1], [row["xBody"], row["yBody"]], atol=1e-6)


def test_heading_points_to_the_wide_head() -> None:
    movie = make_movie(40, 1, shape=(120, 140), seed=9)
    gt = movie.ground_truth
    for i, frame in enumerate(movie.frames()):
        row = gt.iloc[i]
        ys, xs = np.nonzero(difference(movie, frame) > 40)
        direction = np.array([np.cos(row["tBody"]), -np.sin(row["tBody"])])  # image x, y
        along = (xs - row["xBody"]) * direction[0] + (ys - row["yBody"]) * direction[1]
        # Mass bunched at the head, long thin tail behind: negative skew along the heading.
        assert np.mean(along**3) < 0, f"frame {i}"
        head = np.array([row["xHead"] - row["xTail"], row["yHead"] - row["yTail"]])
        assert head @ direction > 0, f"frame {i}"


def test_objects_stay_inside_the_frame() -> None:
    shape = (90, 110)
    movie = make_movie(300, 12, shape=shape, seed=4, speed=5)
    for frame in movie.frames():
        contrast = difference(movie, frame)
        edges = np.concatenate([contrast[0], contrast[-1], contrast[:, 0], contrast[:, -1]])
        assert edges.max() < 30
    gt = movie.ground_truth
    assert len(gt) == 300 * 12
    assert gt["xBody"].between(0, shape[1] - 1).all()
    assert gt["yBody"].between(0, shape[0] - 1).all()


def test_objects_cross_at_high_density() -> None:
    gt = make_movie(50, 40, shape=(120, 120), seed=6).ground_truth
    frame = gt[gt["imageNumber"] == 49][["xBody", "yBody"]].to_numpy()
    gaps = np.hypot(*(frame[:, None] - frame[None, :]).transpose(2, 0, 1))
    assert np.min(gaps[np.triu_indices(len(frame), 1)]) < 10


def test_enter_leave_gives_new_ids_that_never_return() -> None:
    n_objects = 12
    movie = make_movie(400, n_objects, shape=(100, 120), seed=7, enter_leave=True, speed=2)
    gt = movie.ground_truth
    assert gt["id"].max() >= 2 * n_objects
    assert gt.groupby("imageNumber").size().max() <= n_objects
    spans = gt.groupby("id")["imageNumber"].agg(["min", "max", "count"])
    assert (spans["max"] - spans["min"] + 1 == spans["count"]).all()  # no gap: never returns
    assert spans["min"].is_monotonic_increasing  # ids given in order of appearance
    assert list(spans.index) == list(range(len(spans)))


def test_zero_objects_gives_background_only() -> None:
    movie = make_movie(2, 0, shape=(40, 40), seed=0, noise=0)
    assert movie.ground_truth.empty
    assert list(movie.ground_truth.columns) == COLUMNS
    for frame in movie.frames():
        np.testing.assert_array_equal(frame, movie.background)


def test_write_sequence_reads_back(tmp_path) -> None:
    movie = make_movie(4, 3, shape=(64, 80), seed=1)
    folder = write_sequence(movie, tmp_path / "seq")
    names = sorted(p.name for p in folder.glob("frame_*.pgm"))
    assert names == [f"frame_{i:06d}.pgm" for i in range(4)]
    for name, frame in zip(names, movie.frames(), strict=True):
        np.testing.assert_array_equal(cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED), frame)
    background = cv2.imread(str(folder / "background.pgm"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(background, movie.background)
    table = pd.read_csv(folder / "ground_truth.txt", sep="\t")
    assert list(table.columns) == COLUMNS
    pd.testing.assert_frame_equal(table, movie.ground_truth, rtol=1e-5, check_dtype=False)


def test_write_sequence_refuses_to_mix_with_old_frames(tmp_path) -> None:
    movie = make_movie(2, 1, shape=(64, 80), seed=1)
    write_sequence(movie, tmp_path, ext="png")
    assert (tmp_path / "frame_000001.png").is_file()
    with pytest.raises(OutputError, match="already holds"):
        write_sequence(movie, tmp_path, ext="png")


def test_write_video_reads_back(tmp_path) -> None:
    movie = make_movie(6, 3, shape=(64, 80), seed=1)
    path = write_video(movie, tmp_path / "movie.avi")
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    assert len(frames) == 6
    assert frames[0].shape[:2] == (64, 80)
    table = pd.read_csv(tmp_path / "movie_ground_truth.txt", sep="\t")
    assert len(table) == 6 * 3


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"n_frames": 0}, "n_frames"),
        ({"n_objects": -1}, "n_objects"),
        ({"shape": (30, 30)}, "too small"),
        ({"length": 8.0, "width": 6.0}, "length"),
        ({"noise": -1.0}, "noise"),
        ({"speed": -1.0}, "speed"),
        ({"contrast": (150.0, 100.0)}, "contrast"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_parameters_are_rejected(options: dict, word: str) -> None:
    arguments = {"n_frames": 2, "n_objects": 1, **options}
    with pytest.raises(ParameterError, match=word):
        make_movie(**arguments)


def test_bad_output_options_are_rejected(tmp_path) -> None:
    movie = make_movie(1, 1, shape=(64, 64))
    with pytest.raises(ParameterError, match="nope"):
        write_sequence(movie, tmp_path, ext="nope")
    with pytest.raises(ParameterError, match="codec"):
        write_video(movie, tmp_path / "a.avi", codec="MJPEG")
