"""Segmentation options and odd images."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from batchtrack.errors import InputError
from batchtrack.workflows.measure import (
    MeasureParameters,
    check_image,
    measure_image,
    segment,
    synthetic_image,
    threshold_level,
)
from batchtrack.workflows.measure.segment import filter_image

EIGHT = [(40 + 80 * c, 40 + 80 * r, 20, 14, 30 * c) for r in range(2) for c in range(4)]


def test_connectivity_on_a_checkerboard():
    board = (np.indices((10, 10)).sum(axis=0) % 2 == 0).astype(np.uint8) * 200
    four = MeasureParameters(connectivity=4, min_size=0, fill_holes=False)
    eight = MeasureParameters(connectivity=8, min_size=0, fill_holes=False)
    assert segment(board, params=four)[0].max() == 50  # every white square alone
    assert segment(board, params=eight)[0].max() == 1  # one object through the corners


def test_watershed_splits_touching_discs():
    image = np.zeros((120, 200), np.uint8)
    for x in (70, 128):  # radius 32, centres 58 apart: they overlap
        image[disk((60, x), 32)] = 200
    _, plain = measure_image(image)
    assert len(plain) == 1
    params = MeasureParameters(watershed=True, watershed_min_distance=10)
    labels, table = measure_image(image, params=params)
    assert len(table) == 2 and labels.max() == 2
    assert sorted(table["centroid_x"]) == pytest.approx([69, 129], abs=2)
    assert table["area_px"].sum() == (image > 0).sum()
    single = np.zeros((80, 80), np.uint8)
    single[disk((40, 40), 25)] = 200
    assert len(measure_image(single, params=params)[1]) == 1  # a disc stays one


def test_fixed_threshold_inclusive_or_strict():
    image = np.zeros((20, 20), np.uint8)
    image[5:10, 5:10] = 25
    strict = MeasureParameters(threshold=25, min_size=0)
    inclusive = MeasureParameters(threshold=25, inclusive=True, min_size=0)
    assert segment(image, params=strict)[0].max() == 0
    assert segment(image, params=inclusive)[0].max() == 1
    dark = 255 - image
    params = MeasureParameters(threshold=230, inclusive=True, dark_objects=True, min_size=0)
    assert segment(dark, params=params)[0].max() == 1  # 230 <= 230


def test_mean_and_median_filters_use_imagej_kernels():
    impulse = np.zeros((15, 15))
    impulse[7, 7] = 37.0
    mean = filter_image(impulse, params=MeasureParameters(filter="mean", filter_radius=3))
    assert mean[7, 7] == pytest.approx(1.0)  # ImageJ's radius-3 kernel has 37 pixels
    assert np.count_nonzero(mean) == 37
    spots = np.full((30, 30), 10, np.uint8)
    spots[::4, ::4] = 250
    median = filter_image(spots, params=MeasureParameters(filter="median", filter_radius=1))
    assert median.dtype == np.uint8 and (median == 10).all()
    noisy = synthetic_image((200, 320), EIGHT, noise=40, seed=3)
    _, raw = measure_image(noisy, params=MeasureParameters(min_size=0))
    _, smooth = measure_image(noisy, params=MeasureParameters(min_size=0, filter="mean",
                                                              filter_radius=3))  # fmt: skip
    assert len(raw) > len(EIGHT) == len(smooth)


def test_max_size_and_small_holes():
    image = synthetic_image((100, 240), [(50, 50, 30, 30, 0), (150, 50, 10, 10, 0)], noise=0)
    image[48:52, 48:52] = 20  # a hole of 16 px
    image[60:70, 40:50] = 20  # one of 100 px
    params = MeasureParameters(threshold=100, max_size=1000)
    assert len(measure_image(image, params=params)[1]) == 1
    _, all_holes = measure_image(image, params=MeasureParameters(threshold=100))
    _, small = measure_image(image, params=MeasureParameters(threshold=100, max_hole_size=50))
    assert all_holes["area_px"][0] - small["area_px"][0] == 100
    assert small["euler_number"][0] == 0  # the large hole stays


def test_float_image_near_1e300():
    image = synthetic_image((200, 320), EIGHT, dtype="float32", noise=2).astype(np.float64)
    huge = image * 1e298  # values up to 2e300: Otsu's variances overflow without scaling
    _, table = measure_image(huge)
    assert len(table) == len(EIGHT)
    assert threshold_level(huge, params=MeasureParameters()) == pytest.approx(
        threshold_level(image, params=MeasureParameters()) * 1e298, rel=1e-6)  # fmt: skip
    assert np.isfinite(table["mean_intensity"]).all()


def test_integer_image_with_a_huge_range():
    image = synthetic_image((200, 320), EIGHT, dtype="float32", noise=2)
    wide = (image.astype(np.int64) * 2**33).astype(np.int64)  # a 41-bit range
    _, table = measure_image(wide)  # one bin per level would be 2**41 bins
    assert len(table) == len(EIGHT)


def test_nan_and_inf_are_refused_with_their_numbers():
    image = np.ones((10, 10))
    image[0, 0], image[0, 1], image[0, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(InputError) as info:
        check_image(image, "ratio.tif")
    assert str(info.value).startswith(
        "ratio.tif has 1 NaN and 2 infinite pixels of 100 (the finite values span [1, 1])")
    with pytest.raises(InputError, match=r"no value is finite"):
        check_image(np.full((4, 4), np.nan))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1)])
def test_tiny_images_are_refused_by_size(shape):
    with pytest.raises(InputError, match=rf"is {shape[0]}×{shape[1]} pixels"):
        measure_image(np.zeros(shape, np.uint8))


def test_constant_and_empty_images():
    assert len(measure_image(np.full((20, 20), 7, np.uint8))[1]) == 0
    labels, level = segment(np.zeros((20, 20), np.uint16), params=MeasureParameters())
    assert labels.max() == 0 and level == 0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_otsu_over_the_levels_present_equals_scikit_image(dtype):
    """The fast path (a histogram of the levels the image holds) gives scikit-image's
    threshold exactly, on images with gaps between their levels and on dense ones."""
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max
    for trial in range(60):
        shape = tuple(rng.integers(2, 80, size=2))
        image = rng.integers(0, top, size=shape, endpoint=True).astype(dtype)
        if trial % 2:  # sparse levels: a few grey values spread over the range
            image = (image // rng.integers(2, 90) * rng.integers(1, 7)).astype(dtype)
        if image.min() == image.max():
            continue
        assert threshold_level(image, params=MeasureParameters()) == float(
            threshold_otsu(image)
        )
