"""Measurement columns: exact against scikit-image, analytic on generated shapes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from skimage.draw import disk, ellipse, polygon
from skimage.measure import regionprops_table

from batchtrack.workflows.measure import (
    COLUMNS,
    MeasureParameters,
    measure_labels,
    segment,
    select_columns,
    synthetic_image,
)
from batchtrack.workflows.measure.features import feret_diameters, imagej_perimeter


def _one(mask: np.ndarray, columns: str = "all") -> pd.Series:
    table = measure_labels(mask.astype(np.int32), mask * 100.0, columns=columns)
    assert len(table) == 1
    return table.iloc[0]


def _angle_gap(a: float, b: float) -> float:
    """Difference of two axis angles [deg], modulo 180."""
    gap = abs(a - b) % 180
    return min(gap, 180 - gap)


def test_fast_columns_equal_regionprops():
    objects = [(50, 50, 20, 10, 30), (150, 80, 30, 12, 100), (300, 200, 40, 25, 10),
               (80, 220, 15, 15, 0), (200, 200, 3, 1, 0)]  # fmt: skip
    image = synthetic_image((300, 400), objects, noise=25, seed=2)
    labels, _ = segment(image, params=MeasureParameters(min_size=0))
    labels[labels == 3] = 0  # numbers need not be consecutive
    table = measure_labels(labels, image)
    props = regionprops_table(labels, image, properties=(
        "label", "area", "centroid", "bbox", "axis_major_length", "axis_minor_length",
        "eccentricity", "orientation", "intensity_mean", "intensity_max", "intensity_min",
        "intensity_std", "solidity", "perimeter", "euler_number", "area_convex", "extent"))
    assert len(table) > 10 and (table["label"] == props["label"]).all()
    same = {"area": "area", "centroid_x": "centroid-1", "centroid_y": "centroid-0",
            "bbox_x": "bbox-1", "bbox_y": "bbox-0", "major_axis": "axis_major_length",
            "minor_axis": "axis_minor_length", "eccentricity": "eccentricity",
            "mean_intensity": "intensity_mean", "max_intensity": "intensity_max",
            "min_intensity": "intensity_min", "std_intensity": "intensity_std",
            "solidity": "solidity", "perimeter_cellprofiler": "perimeter",
            "euler_number": "euler_number", "convex_area": "area_convex", "extent": "extent"}
    for ours, theirs in same.items():
        np.testing.assert_allclose(table[ours], props[theirs], rtol=1e-9, atol=1e-9, err_msg=ours)
    median = [np.median(image[labels == k]) for k in table["label"]]
    np.testing.assert_allclose(table["median_intensity"], median)
    np.testing.assert_allclose(table["raw_integrated_density"],
                               [image[labels == k].sum(dtype=float) for k in table["label"]])
    elongated = table["eccentricity"] > 0.3  # the angle of a disc is not defined
    np.testing.assert_allclose(table["orientation"][elongated],
                               ((np.degrees(props["orientation"]) + 90) % 180)[elongated])


def test_columns_asked_for_only():
    labels = np.zeros((20, 20), np.int32)
    labels[2:8, 3:9] = 1
    table = measure_labels(labels, columns="area,centroid")
    assert list(table.columns) == ["label", "area", "area_px", "centroid_x", "centroid_y",
                                   "centroid_x_cal", "centroid_y_cal", "pixel_size"]  # fmt: skip
    assert select_columns("default") == tuple(COLUMNS)
    for name in COLUMNS:  # each column alone
        assert name in measure_labels(labels, labels, columns=name)
    assert set(select_columns("shape")) > {"feret_max", "circularity", "euler_number"}
    with pytest.raises(ValueError, match="unknown column 'volume'"):
        select_columns("area, volume")
    with pytest.raises(ValueError, match="image="):
        measure_labels(labels, columns="intensity")


@pytest.mark.parametrize("radius", [50, 75, 100])
def test_discs(radius):
    mask = np.zeros((2 * radius + 10,) * 2, bool)
    mask[disk((radius + 5, radius + 5), radius)] = True
    row = _one(mask)
    # the digital disc spans 2r − 1 pixel centres: 2r pixel edges (±1 px at this size)
    assert row.feret_max == pytest.approx(2 * radius, rel=0.02)
    assert row.feret_min == pytest.approx(2 * radius, rel=0.02)
    assert row.equivalent_diameter == pytest.approx(2 * radius, rel=0.02)
    assert row.aspect_ratio == pytest.approx(1, abs=0.02)
    assert row.roundness == pytest.approx(1, abs=0.02)
    # the documented bias: ImageJ's traced perimeter is 4–5% longer than 2πr on digital
    # discs, so circularity is 0.90–0.92 instead of 1 (scikit-image/CellProfiler: 0.91–0.93)
    assert row.perimeter == pytest.approx(2 * math.pi * radius * 1.045, rel=0.01)
    assert 0.89 < row.circularity < 0.93
    assert row.perimeter_cellprofiler == pytest.approx(row.perimeter, rel=0.01)
    assert row.euler_number == 1 and row.solidity > 0.98


@pytest.mark.parametrize(("a", "b", "angle"), [(100, 50, 0), (90, 40, 30), (75, 50, 120)])
def test_ellipses(a, b, angle):
    mask = np.zeros((260, 260), bool)
    mask[ellipse(130, 130, b, a, rotation=math.radians(angle))] = True
    row = _one(mask)
    assert row.feret_max == pytest.approx(2 * a, rel=0.02)
    assert row.feret_min == pytest.approx(2 * b, rel=0.02)
    assert row.aspect_ratio == pytest.approx(a / b, rel=0.02)
    assert row.major_axis == pytest.approx(2 * a, rel=0.02)
    assert row.equivalent_diameter == pytest.approx(2 * math.sqrt(a * b), rel=0.02)
    assert _angle_gap(row.orientation, angle) < 1
    assert _angle_gap(row.feret_angle, angle) < 5  # the tips of an ellipse are flat
    assert row.roundness == pytest.approx(b / a, rel=0.02)


@pytest.mark.parametrize("side", [100, 150, 200])
def test_squares_and_rotated_square(side):
    mask = np.zeros((side + 4, side + 4), bool)
    mask[2 : side + 2, 2 : side + 2] = True
    row = _one(mask)
    assert row.feret_max == pytest.approx(side * math.sqrt(2))
    assert row.feret_min == pytest.approx(side)
    assert row.feret_angle in (45.0, 135.0)
    assert row.perimeter == pytest.approx(4 * side - 4 * (2 - math.sqrt(2)))
    assert row.extent == 1 and row.aspect_ratio == pytest.approx(1)
    half = side / 2
    centre = np.array([half, half]) * math.sqrt(2) + 4
    corners = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]]) * half * math.sqrt(2) + centre
    diamond = np.zeros((int(centre[0] * 2) + 2,) * 2, bool)
    diamond[polygon(corners[:, 0], corners[:, 1], diamond.shape)] = True
    turned = _one(diamond)
    assert turned.feret_min == pytest.approx(side, rel=0.02)
    assert turned.feret_max == pytest.approx(side * math.sqrt(2), rel=0.02)
    assert turned.perimeter == pytest.approx(4 * side, rel=0.02)  # diagonals measured as such


def test_imagej_perimeter_small_cases():
    # ImageJ's documentation: 1×1 pixel → 4 − 2(2 − √2); 2×2 → 8 − 4(2 − √2)
    assert imagej_perimeter(np.pad([[True]], 1)) == pytest.approx(4 - 2 * (2 - math.sqrt(2)))
    assert imagej_perimeter(np.pad(np.ones((2, 2), bool), 1)) == pytest.approx(
        8 - 4 * (2 - math.sqrt(2)))  # fmt: skip
    diagonal = np.pad(np.eye(3, dtype=bool), 1)
    assert imagej_perimeter(diagonal, connectivity=8) > 0
    assert feret_diameters(np.pad(np.eye(3, dtype=bool), 1))[0] == pytest.approx(
        math.sqrt(8) + math.sqrt(2))  # fmt: skip


def test_holes_and_euler_number():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    mask[10:15, 10:15] = mask[20:25, 20:25] = False
    row = _one(mask)
    assert row.euler_number == -1  # one object, two holes
    assert row.perimeter == pytest.approx(4 * 30 - 4 * (2 - math.sqrt(2)))  # outer outline only


def test_other_channels_intensities():
    labels = np.zeros((10, 10), np.int32)
    labels[2:5, 2:5] = 1
    table = measure_labels(labels, labels * 10.0, columns="intensity",
                           channels={"c1": labels * 3.0})  # fmt: skip
    assert table["mean_intensity"][0] == 10 and table["mean_intensity_c1"][0] == 3
    assert table["integrated_density_c1"][0] == 27
