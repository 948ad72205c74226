from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from batchtrack.detect import FEATURE_COLUMNS, binarize, detect, find_objects, object_features
from batchtrack.params import Parameters

COL = {name: i for i, name in enumerate(FEATURE_COLUMNS)}


def fish(shape=(80, 120), *, head=(80, 40), tail=(30, 40), head_radius=6, value=20, back=200):
    """A dark tadpole: a wide head disc and a thin tail line, on a light background."""
    image = np.full(shape, back, np.uint8)
    cv2.circle(image, head, head_radius, value, -1)
    cv2.line(image, head, tail, value, 3)
    return image


def test_binarize_light_and_dark_background() -> None:
    bg = np.full((10, 10), 100, np.uint8)
    frame = bg.copy()
    frame[2, 2] = 20  # darker
    frame[5, 5] = 200  # lighter
    dark_objects = binarize(frame, bg, thresh=50, light_back=0)
    light_objects = binarize(frame, bg, thresh=50, light_back=1)
    assert dark_objects[2, 2] == 255 and dark_objects.sum() == 255
    assert light_objects[5, 5] == 255 and light_objects.sum() == 255


def test_binarize_threshold_is_exclusive() -> None:
    bg = np.full((4, 4), 100, np.uint8)
    frame = bg.copy()
    frame[0, 0] = 40  # difference 60
    assert binarize(frame, bg, thresh=60).sum() == 0
    assert binarize(frame, bg, thresh=59).sum() == 255


def test_binarize_morphology_opening_removes_specks() -> None:
    bg = np.full((30, 30), 200, np.uint8)
    frame = bg.copy()
    frame[5, 5] = 0
    frame[10:20, 10:20] = 0
    opened = binarize(frame, bg, thresh=50, morph=2, morph_size=1, morph_type=0)
    assert opened[5, 5] == 0 and opened[15, 15] == 255
    assert binarize(frame, bg, thresh=50, morph=2, morph_size=0)[5, 5] == 255  # size 0: none


def test_find_objects_area_bounds_are_exclusive() -> None:
    binary = np.zeros((40, 40), np.uint8)
    binary[5:10, 5:10] = 255  # contour area 16 (polygon through pixel centres)
    binary[20:30, 20:30] = 255  # contour area 81
    _, areas = find_objects(binary, min_area=16, max_area=100)
    assert areas.tolist() == [81.0]
    _, areas = find_objects(binary, min_area=15, max_area=81)
    assert areas.tolist() == [16.0]


@pytest.mark.parametrize("angle", [0, 30, 90, 135, 200, 290])
def test_direction_points_from_tail_to_head(angle: float) -> None:
    rad = math.radians(angle)
    center = np.array([60.0, 60.0])
    # y axis points down: direction (cos, -sin)
    head = center + 25 * np.array([math.cos(rad), -math.sin(rad)])
    tail = center - 25 * np.array([math.cos(rad), -math.sin(rad)])
    image = fish((120, 120), head=tuple(map(int, head)), tail=tuple(map(int, tail)))
    bg = np.full_like(image, 200)
    features = detect(image, bg, Parameters(thresh=50, minArea=10, maxArea=5000))
    assert features.shape == (1, 21)
    tbody = features[0, COL["tBody"]]
    assert abs((tbody - rad + math.pi) % (2 * math.pi) - math.pi) < 0.15
    # The head half is nearer the drawn head than the tail half.
    xh, yh, xt, yt = features[0, [COL["xHead"], COL["yHead"], COL["xTail"], COL["yTail"]]]
    assert np.hypot(xh - head[0], yh - head[1]) < np.hypot(xt - head[0], yt - head[1])
    # Head and tail directions lie within ±π/2 of the body's.
    for col in ("tHead", "tTail"):
        diff = (features[0, COL[col]] - tbody + math.pi) % (2 * math.pi) - math.pi
        assert abs(diff) <= math.pi / 2


def test_body_features_of_a_rectangle() -> None:
    binary = np.zeros((50, 60), np.uint8)
    binary[20:24, 10:50] = 255  # 40 × 4 px
    contours, areas = find_objects(binary, min_area=1, max_area=1e6)
    f = object_features(contours, areas)[0]
    assert f[COL["xBody"]] == pytest.approx(29.5)
    assert f[COL["yBody"]] == pytest.approx(21.5)
    assert f[COL["areaBody"]] == pytest.approx(39 * 3)
    assert f[COL["perimeterBody"]] == pytest.approx(2 * (39 + 3))
    # Uniform bar: major axis 2·sqrt(λ/m00) with λ/m00 = (40² − 1)/12.
    assert f[COL["bodyMajorAxisLength"]] == pytest.approx(2 * math.sqrt((40**2 - 1) / 12))
    assert f[COL["bodyMinorAxisLength"]] == pytest.approx(2 * math.sqrt((4**2 - 1) / 12))
    assert f[COL["tBody"]] % math.pi == pytest.approx(0, abs=1e-9)


def test_roi_keeps_full_image_coordinates() -> None:
    image = fish((100, 140), head=(110, 70), tail=(70, 70))
    bg = np.full_like(image, 200)
    whole = detect(image, bg, Parameters(thresh=50, minArea=10, maxArea=5000))
    roi = detect(
        image, bg,
        Parameters(thresh=50, minArea=10, maxArea=5000, xTop=50, yTop=40, xBottom=130, yBottom=95),
    )  # fmt: skip
    np.testing.assert_allclose(roi[:, :9], whole[:, :9])
    outside = detect(
        image, bg, Parameters(thresh=50, minArea=10, maxArea=5000, xTop=0, yTop=0, xBottom=40,
                              yBottom=40),
    )  # fmt: skip
    assert len(outside) == 0


def test_no_objects_gives_an_empty_table() -> None:
    bg = np.full((20, 20), 200, np.uint8)
    assert detect(bg, bg, Parameters()).shape == (0, 21)


def test_features_match_fasttrack_on_zebrafish(zebrafish_dir, zebrafish_params) -> None:
    """Every feature column equals FastTrack 6.7's own output within 1e-3."""
    reference = np.loadtxt(zebrafish_dir / "fasttrack_output.txt", skiprows=1)
    bg = cv2.imread(str(zebrafish_dir / "background.pgm"), cv2.IMREAD_GRAYSCALE)
    ours = []
    for k in range(100):
        frame = cv2.imread(str(zebrafish_dir / f"images/frame_{k + 1:06d}.pgm"), 0)
        ours.append(detect(frame, bg, zebrafish_params))
    ours = np.concatenate(ours)
    assert len(ours) == len(reference)
    # Pair each reference row with our object at the same body position in the same frame.
    frames = reference[:, 21].astype(int)
    counts = np.bincount(frames, minlength=100)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    matched = np.empty_like(reference[:, :21])
    for k in range(100):
        ref_k = reference[offsets[k] : offsets[k + 1]]
        our_k = ours[offsets[k] : offsets[k + 1]]
        d = np.hypot(ref_k[:, None, 6] - our_k[None, :, 6], ref_k[:, None, 7] - our_k[None, :, 7])
        matched[offsets[k] : offsets[k + 1]] = our_k[d.argmin(axis=1)]
    diff = np.abs(matched - reference[:, :21])
    angles = [COL[c] for c in ("tHead", "tTail", "tBody")]
    diff[:, angles] = np.minimum(diff[:, angles], 2 * np.pi - diff[:, angles])
    # Reference values are printed with 6 significant digits: allow that rounding on top.
    tolerance = 1e-3 + 5e-6 * np.abs(reference[:, :21])
    within = diff <= tolerance
    for name, fraction in zip(FEATURE_COLUMNS, within.mean(axis=0), strict=True):
        assert fraction >= 0.99, f"{name}: only {fraction:.2%} within 1e-3"
    assert within.all(axis=1).mean() >= 0.99


def test_third_moment_sign_is_the_one_of_the_sum_of_pow_cubes() -> None:
    from batchtrack.detect import _third_moment_positive

    rng = np.random.default_rng(0)
    groups = []
    for n in rng.integers(1, 300, 400):
        values = rng.normal(0, rng.uniform(0.1, 30), n)
        kind = rng.integers(3)
        if kind == 1:  # symmetric: the sum of cubes is 0 up to rounding
            values = np.concatenate([values, -values])
        elif kind == 2:  # centred like a pixel projection, then nearly symmetric
            values = np.round(values - values.mean(), 1)
            values -= values.mean()
        groups.append(values)
    p = np.concatenate(groups)
    counts = np.array([len(g) for g in groups])
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    expected = np.add.reduceat(p**3, starts) > 0
    np.testing.assert_array_equal(_third_moment_positive(p, counts, starts), expected)


def _odd_shapes() -> tuple[list[np.ndarray], np.ndarray]:
    """External contours of discs, rings, lines, single pixels and thin ellipses, touching
    and overlapping at random."""
    rng = np.random.default_rng(1)
    image = np.zeros((600, 800), np.uint8)
    for i in range(150):
        x, y = int(rng.integers(0, 800)), int(rng.integers(0, 600))
        kind = i % 5
        if kind == 0:
            cv2.circle(image, (x, y), int(rng.integers(1, 40)), 255, -1)
        elif kind == 1:
            end = (x + int(rng.integers(-200, 200)), y + int(rng.integers(-200, 200)))
            cv2.line(image, (x, y), end, 255, 1)
        elif kind == 2:
            image[y, x] = 255
        elif kind == 3:
            cv2.circle(image, (x, y), int(rng.integers(5, 50)), 255, 3)
        else:
            axes = (int(rng.integers(1, 120)), int(rng.integers(1, 15)))
            cv2.ellipse(image, (x, y), axes, float(rng.integers(0, 180)), 0, 360, 255, -1)
    contours, _ = cv2.findContours(image, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return list(contours), np.array([cv2.contourArea(c) for c in contours])


def test_pixels_are_each_filled_contour_alone_whatever_the_canvas(monkeypatch) -> None:
    """All objects filled on shared canvases give each object's pixels as a mask of its own
    would, in the same order, with one canvas or with one per object."""
    import batchtrack.detect as detect

    contours, areas = _odd_shapes()
    expected_x, expected_y, expected_counts = [], [], []
    for contour in contours:
        x0, y0, w, h = cv2.boundingRect(contour)
        mask = np.zeros((h, w), np.uint8)
        cv2.drawContours(mask, [contour], 0, 1, cv2.FILLED, 8, offset=(-x0, -y0))
        rows, cols = np.nonzero(mask)
        expected_x.append(cols)
        expected_y.append(rows)
        expected_counts.append(len(rows))
    one = object_features(contours, areas)
    for limit in (1 << 22, 2000, 1):  # one canvas; a few objects each; one object each
        monkeypatch.setattr(detect, "_CANVAS_PIXELS", limit)
        x, y, counts, _ = detect._pixels(contours)
        assert np.array_equal(counts, expected_counts)
        assert np.array_equal(x, np.concatenate(expected_x))
        assert np.array_equal(y, np.concatenate(expected_y))
        assert np.array_equal(object_features(contours, areas), one, equal_nan=True)
