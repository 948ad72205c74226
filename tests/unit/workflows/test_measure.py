"""The measure workflow: segmentation and measurements on images of known objects."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile

from batchtrack.cli.workflow_params import parse_assignments
from batchtrack.errors import InputError, ParameterError
from batchtrack.workflows import get_workflow
from batchtrack.workflows.measure import (
    MEASURE_COLUMNS,
    MeasureParameters,
    analyse,
    combine_measurements,
    find_inputs,
    measure_image,
    output_dir,
    read_image,
    synthetic_image,
)
from batchtrack.workflows.parameters import (
    load_workflow_params,
    save_workflow_params,
    workflow_parameters,
)

#: (x, y, a, b, angle): three discs and three ellipses, none touching another or the border.
OBJECTS = [
    (50, 50, 20, 20, 0),
    (150, 50, 15, 15, 0),
    (250, 50, 25, 25, 0),
    (60, 150, 35, 15, 0),
    (160, 150, 30, 20, 45),
    (260, 150, 30, 12, 120),
]
SHAPE = (220, 320)


def _by_position(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order of OBJECTS (matched by nearest centroid)."""
    order = []
    for x, y, *_ in OBJECTS:
        distance = np.hypot(table["centroid_x"] - x, table["centroid_y"] - y)
        order.append(int(distance.idxmin()))
    return table.loc[order].reset_index(drop=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_known_objects_count_area_shape(dtype):
    image = synthetic_image(SHAPE, OBJECTS, dtype=dtype)
    labels, table = measure_image(image, params=MeasureParameters())
    assert list(table.columns) == list(MEASURE_COLUMNS)
    assert len(table) == len(OBJECTS) == labels.max()
    assert labels.shape == SHAPE
    rows = _by_position(table)
    for (x, y, a, b, angle), row in zip(OBJECTS, rows.itertuples()):
        assert row.area == pytest.approx(math.pi * a * b, rel=0.02)
        assert (row.centroid_x, row.centroid_y) == pytest.approx((x, y), abs=0.5)
        assert row.major_axis == pytest.approx(4 * a / 2, rel=0.03)
        assert row.minor_axis == pytest.approx(4 * b / 2, rel=0.03)
        assert row.eccentricity == pytest.approx(math.sqrt(1 - (b / a) ** 2), abs=0.05)
        if a > b:
            assert row.orientation == pytest.approx(angle % 180, abs=2)
        assert 0.95 < row.solidity <= 1
        scale = 256 if dtype == "uint16" else 1
        assert row.mean_intensity == pytest.approx(200 * scale, rel=0.02)
    # the bounding box encloses the object
    assert (rows.bbox_x <= rows.centroid_x).all()
    assert (rows.bbox_x + rows.bbox_width >= rows.centroid_x).all()


def test_pixel_size_scales_calibrated_columns():
    image = synthetic_image(SHAPE, OBJECTS)
    _, pixels = measure_image(image, pixel_size=1.0)
    _, microns = measure_image(image, pixel_size=0.25)
    assert microns["area"].to_numpy() == pytest.approx(pixels["area"].to_numpy() * 0.0625)
    assert microns["perimeter"].to_numpy() == pytest.approx(pixels["perimeter"] * 0.25)
    assert microns["major_axis"].to_numpy() == pytest.approx(pixels["major_axis"] * 0.25)
    assert (microns["area_px"] == pixels["area_px"]).all()
    assert (microns["centroid_x"] == pixels["centroid_x"]).all()  # positions stay in pixels
    assert (microns["pixel_size"] == 0.25).all()
    assert (microns["centroid_x_cal"] == (pixels["centroid_x"] + 0.5) * 0.25).all()
    assert (microns["bbox_width_cal"] == pixels["bbox_width"] * 0.25).all()
    with pytest.raises(ParameterError, match="pixel_size"):
        measure_image(image, pixel_size=0)


def test_fixed_threshold_and_dark_objects():
    image = synthetic_image(SHAPE, OBJECTS)
    _, fixed = measure_image(image, params=MeasureParameters(threshold=110))
    assert len(fixed) == len(OBJECTS)
    _, none = measure_image(image, params=MeasureParameters(threshold=250))
    assert len(none) == 0
    dark = 255 - image
    _, missed = measure_image(dark, params=MeasureParameters())
    _, found = measure_image(dark, params=MeasureParameters(dark_objects=True))
    assert len(missed) == 1  # the background is one object touching every border
    assert len(found) == len(OBJECTS)
    assert found["area"].sum() == pytest.approx(fixed["area"].sum(), rel=0.01)


def test_fill_holes():
    image = synthetic_image((100, 100), [(50, 50, 30, 30, 0)], noise=0)
    image[(np.hypot(*np.ogrid[-50:50, -50:50]) < 10)] = 20  # a hole of radius 10
    _, filled = measure_image(image, params=MeasureParameters(threshold=100))
    _, ring = measure_image(image, params=MeasureParameters(threshold=100, fill_holes=False))
    assert filled["area"][0] == pytest.approx(math.pi * 900, rel=0.02)
    assert filled["area"][0] - ring["area"][0] == pytest.approx(math.pi * 100, rel=0.05)
    assert ring["solidity"][0] < 0.95 < filled["solidity"][0]


def test_clear_border_and_min_size():
    objects = [(50, 50, 20, 20, 0), (5, 50, 15, 15, 0), (150, 50, 2, 2, 0)]
    image = synthetic_image((100, 200), objects, noise=0)
    _, all_objects = measure_image(image, params=MeasureParameters(min_size=0))
    assert len(all_objects) == 3
    _, inner = measure_image(image, params=MeasureParameters(min_size=0, clear_border=True))
    assert len(inner) == 2 and (inner["bbox_x"] > 0).all()
    _, big = measure_image(image, params=MeasureParameters(min_size=30))
    assert len(big) == 2 and (big["area_px"] >= 30).all()


def test_smoothing_merges_noise_into_objects():
    image = synthetic_image(SHAPE, OBJECTS, noise=40, seed=3)
    _, raw = measure_image(image, params=MeasureParameters(min_size=0))
    _, smooth = measure_image(image, params=MeasureParameters(min_size=0, smooth=2))
    assert len(raw) > 2 * len(OBJECTS)  # speckles of noise
    assert len(smooth) == len(OBJECTS)


def test_empty_image_gives_an_empty_table():
    labels, table = measure_image(np.zeros((50, 60), np.uint16))
    assert len(table) == 0 and list(table.columns) == list(MEASURE_COLUMNS)
    assert labels.max() == 0


def test_measure_image_rejects_stacks():
    with pytest.raises(InputError, match="2D"):
        measure_image(np.zeros((3, 50, 60), np.uint8))


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({"threshold": "median"}, "threshold"),
        ({"threshold": [1, 2]}, "threshold"),
        ({"min_size": -1}, "min_size"),
        ({"smooth": 1000}, "smooth"),
        ({"pixel_size": -0.1}, "pixel_size"),
        ({"minsize": 3}, "minsize"),
        ({"connectivity": 6}, "connectivity"),
        ({"filter": "bilateral"}, "filter"),
        ({"columns": "area,volume"}, "volume"),
        ({"channel": -2}, "channel"),
    ],
)
def test_parameters_are_validated(values, name):
    with pytest.raises(ParameterError, match=name):
        MeasureParameters(**values)


# -- files -------------------------------------------------------------------------------------
def test_read_imagej_tiff_pixel_size(tmp_path):
    image = synthetic_image(SHAPE, OBJECTS, dtype="uint16")
    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, image, imagej=True, resolution=(1 / 0.325, 1 / 0.325),
                     metadata={"unit": "micron"})  # fmt: skip
    read, pixel_size = read_image(path)
    assert read.dtype == np.uint16 and (read == image).all()
    assert pixel_size == pytest.approx(0.325)


def test_read_tiff_resolution_in_cm_and_uncalibrated(tmp_path):
    image = synthetic_image((40, 50), [])
    tifffile.imwrite(tmp_path / "cm.tif", image, resolution=(1e4 / 0.5, 1e4 / 0.5),
                     resolutionunit="CENTIMETER")  # fmt: skip
    tifffile.imwrite(tmp_path / "plain.tif", image)
    assert read_image(tmp_path / "cm.tif")[1] == pytest.approx(0.5)
    assert read_image(tmp_path / "plain.tif")[1] is None


def test_read_colour_and_16bit_png(tmp_path):
    grey = synthetic_image((40, 50), [(25, 20, 10, 10, 0)])
    colour = np.dstack([grey, grey, grey])
    tifffile.imwrite(tmp_path / "rgb.tif", colour, photometric="rgb")
    cv2.imwrite(str(tmp_path / "rgb.jpg"), colour)
    wide = synthetic_image((40, 50), [(25, 20, 10, 10, 0)], dtype="uint16")
    cv2.imwrite(str(tmp_path / "wide.png"), wide)
    rgb_tif, _ = read_image(tmp_path / "rgb.tif")
    assert rgb_tif.shape == (40, 50) and np.abs(rgb_tif.astype(int) - grey).max() <= 1
    assert read_image(tmp_path / "rgb.jpg")[0].shape == (40, 50)
    png, pixel_size = read_image(tmp_path / "wide.png")
    assert png.dtype == np.uint16 and (png == wide).all() and pixel_size is None


def test_read_image_errors_name_the_file(tmp_path):
    (tmp_path / "broken.tif").write_bytes(b"not a tiff at all")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    tifffile.imwrite(
        tmp_path / "stack.tif", np.zeros((3, 20, 20), np.uint8), photometric="minisblack"
    )
    cases = {
        "broken.tif": "cannot be read",
        "broken.png": "cannot be read",
        "stack.tif": "is a stack",
        "missing.png": "does not exist",
    }
    for name, reason in cases.items():
        with pytest.raises(InputError, match=reason) as info:
            read_image(tmp_path / name)
        assert name in str(info.value)


def test_find_inputs_and_default_output(tmp_path):
    for name in ["b.tif", "a.png", "c.JPG", "notes.txt", ".hidden.png", "a_labels.tif"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in find_inputs(tmp_path)] == ["a.png", "b.tif", "c.JPG"]
    assert find_inputs(tmp_path / "notes.txt") == [tmp_path / "notes.txt"]
    assert find_inputs(tmp_path / "nothing") == []
    assert output_dir(tmp_path / "a.png") == tmp_path / "Measurements"


def test_analyse_writes_labels_and_table(tmp_path):
    image = synthetic_image(SHAPE, OBJECTS, dtype="uint16")
    source = tmp_path / "cells.tif"
    tifffile.imwrite(source, image, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "um"})
    out = tmp_path / "out"
    out.mkdir()
    result = analyse(source, out, MeasureParameters(), None)
    assert result["frames"] == 1 and "6 objects" in result["message"]
    table = pd.read_csv(out / "cells_measurements.csv")
    labels, pixel_size = read_image(out / "cells_labels.tif")
    assert list(table.columns) == [*MEASURE_COLUMNS, "image_path", "label_path"]
    assert (table["image_path"] == str(source.resolve())).all()
    assert (table["label_path"] == "cells_labels.tif").all()
    assert labels.max() == len(table) == len(OBJECTS)
    assert pixel_size == pytest.approx(0.5)
    expected = sorted(math.pi * a * b * 0.25 for _, _, a, b, _ in OBJECTS)
    assert sorted(table["area"]) == pytest.approx(expected, rel=0.02)
    # a given pixel size wins over the file's
    analyse(source, out, MeasureParameters(pixel_size=1.0), None)
    table = pd.read_csv(out / "cells_measurements.csv")
    assert sorted(table["area"]) == pytest.approx([e * 4 for e in expected], rel=0.02)


def test_combine_measurements(tmp_path):
    for stem, objects in [("one", OBJECTS[:2]), ("two", OBJECTS[2:]), ("empty", [])]:
        _, table = measure_image(synthetic_image(SHAPE, objects, noise=0))
        table.to_csv(tmp_path / f"{stem}_measurements.csv", index=False)
    combined = combine_measurements(tmp_path)
    assert list(combined.columns) == ["image", *MEASURE_COLUMNS]
    assert combined["image"].value_counts().to_dict() == {"one": 2, "two": 4}
    listed = combine_measurements([tmp_path / "two_measurements.csv"])
    assert len(listed) == 4
    assert list(combine_measurements([]).columns) == [
        "image", *MEASURE_COLUMNS, "image_path", "label_path"]  # fmt: skip


def test_registered_as_a_workflow():
    workflow = get_workflow("measure")
    assert workflow.params_model is MeasureParameters and not workflow.chunked


def test_workflow_parameters_from_file_and_flags(tmp_path):
    values = parse_assignments(["min_size=30", "threshold=otsu", "smooth=1.5", "clear_border=true"])
    assert values == {"min_size": 30, "threshold": "otsu", "smooth": 1.5, "clear_border": True}
    cfg = save_workflow_params(tmp_path / "m.toml", MeasureParameters(min_size=50),
                               workflow="measure")  # fmt: skip
    assert load_workflow_params(cfg)["min_size"] == 50
    params = workflow_parameters("measure", {"smooth": 2.0, "threshold": None}, cfg=cfg)
    assert (params.min_size, params.smooth, params.threshold) == (50, 2.0, "otsu")
    with pytest.raises(ParameterError, match="min_size"):
        workflow_parameters("measure", {"min_size": -3})
    with pytest.raises(ParameterError, match="name=value"):
        parse_assignments(["min_size"])
    assert workflow_parameters("track", {"thresh": 60}).thresh == 60
