"""The files of the measure workflow: odd inputs, per-image outputs, the batch's tables."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile

from batchtrack.errors import InputError
from batchtrack.workflows.measure import (
    MeasureParameters,
    analyse,
    contact_sheet_path,
    find_inputs,
    output_stem,
    read_image,
    read_picture,
    subfolders,
    synthetic_image,
    write_batch_table,
)

OBJECTS = [(40, 40, 15, 15, 0), (120, 40, 20, 10, 30), (80, 100, 12, 12, 0)]
SHAPE = (140, 180)


def _run(source, out, params=None) -> dict:
    out.mkdir(exist_ok=True)
    return analyse(source, out, params or MeasureParameters(), None)


def test_overlay_summary_and_labels_of_one_image(tmp_path):
    source = tmp_path / "cells.png"
    cv2.imwrite(str(source), synthetic_image(SHAPE, OBJECTS))
    result = _run(source, tmp_path / "out")
    assert result["message"].startswith("3 objects, threshold ")
    overlay = cv2.imread(str(tmp_path / "out" / "cells_overlay.png"))[:, :, ::-1]
    labels, _ = read_image(tmp_path / "out" / "cells_labels.tif")
    assert overlay.shape == (*SHAPE, 3)
    outline = np.all(overlay == (255, 255, 0), axis=2)
    inner = labels != 0
    inner &= np.roll(labels, 1, 0) == labels
    assert outline.sum() > 100 and (labels[outline] > 0).all()  # on the objects' borders
    assert not outline[10:20, 150:170].any()  # not on the background
    summary = pd.read_csv(tmp_path / "out" / "cells_summary.csv")
    row = summary.iloc[0]
    assert (row.image, row.objects, row.unit, row.status) == ("cells", 3, "px", "ok")
    assert row.area_fraction == pytest.approx(inner.sum() / labels.size, rel=0.2)
    assert 20 < row.threshold < 200


def test_uncalibrated_labels_have_no_resolution_calibrated_have_a_unit(tmp_path):
    source = tmp_path / "plain.png"
    cv2.imwrite(str(source), synthetic_image(SHAPE, OBJECTS))
    _run(source, tmp_path / "out")
    with tifffile.TiffFile(tmp_path / "out" / "plain_labels.tif") as tif:
        tags = tif.pages[0].tags
        assert "XResolution" not in tags and "ResolutionUnit" not in tags
        assert tif.pages[0].asarray().max() == 3
    calibrated = tmp_path / "cal.tif"
    tifffile.imwrite(calibrated, synthetic_image(SHAPE, OBJECTS), imagej=True,
                     resolution=(4.0, 4.0), metadata={"unit": "micron"})  # fmt: skip
    _run(calibrated, tmp_path / "out")
    with tifffile.TiffFile(tmp_path / "out" / "cal_labels.tif") as tif:
        assert tif.imagej_metadata["unit"] == "micron"
    assert read_image(tmp_path / "out" / "cal_labels.tif")[1] == pytest.approx(0.25)


def test_empty_image_has_its_summary_row(tmp_path):
    for name, objects in [("empty.png", []), ("full.png", OBJECTS)]:
        cv2.imwrite(str(tmp_path / name), synthetic_image(SHAPE, objects, noise=0))
    out = tmp_path / "out"
    for name in ("empty.png", "full.png"):
        _run(tmp_path / name, out)
    table = write_batch_table([(tmp_path / n, out) for n in ("empty.png", "full.png")])
    assert table == out / "measurements_all.csv"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["image"]) == ["empty", "full"]
    assert list(summary["objects"]) == [0, 3]
    assert summary["status"][0] == "no objects" and summary["total_area"][0] == 0
    combined = pd.read_csv(table)  # comma-separated
    assert set(combined["image"]) == {"full"} and len(combined) == 3
    assert combined["label_path"][0] == str((out / "full_labels.tif").resolve())
    sheet = contact_sheet_path(table)
    assert sheet == out / "contact_sheet.png"
    assert cv2.imread(str(sheet)).shape[0] > 100


def test_same_stem_twice_in_one_folder(tmp_path):
    image = synthetic_image(SHAPE, OBJECTS)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    tifffile.imwrite(tmp_path / "a.tif", image[:, :100])
    assert [output_stem(tmp_path / n) for n in ("a.png", "a.tif")] == ["a_png", "a_tif"]
    out = tmp_path / "out"
    for name in ("a.png", "a.tif"):
        _run(tmp_path / name, out)
    assert (out / "a_png_measurements.csv").is_file() and (out / "a_tif_labels.tif").is_file()
    write_batch_table([(tmp_path / "a.png", out), (tmp_path / "a.tif", out)])
    assert list(pd.read_csv(out / "summary.csv")["objects"]) == [3, 2]


def test_jpeg_named_tif_is_read_and_said(tmp_path):
    image = synthetic_image(SHAPE, OBJECTS, noise=0)
    _, data = cv2.imencode(".jpg", image)
    (tmp_path / "photo.tif").write_bytes(data.tobytes())
    picture = read_picture(tmp_path / "photo.tif")
    assert picture.format == "JPEG" and picture.note == "a JPEG file named .tif, read as JPEG"
    result = _run(tmp_path / "photo.tif", tmp_path / "out")
    assert result["message"].endswith("; a JPEG file named .tif, read as JPEG")
    assert "3 objects" in result["message"]


def test_odd_images_messages(tmp_path):
    tifffile.imwrite(tmp_path / "dot.tif", np.zeros((1, 1), np.uint8))
    tifffile.imwrite(tmp_path / "line.tif", np.zeros((1, 9), np.uint16))
    nan = np.ones((8, 8), np.float32)
    nan[2:4, 2:4] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", nan)
    expected = {
        "dot.tif": "dot.tif is 1×1 pixels (height × width): too small to segment",
        "line.tif": "line.tif is 1×9 pixels (height × width): too small to segment",
        "nan.tif": "nan.tif has 4 NaN and 0 infinite pixels of 64 (the finite values span "
        "[1, 1])",
    }
    for name, message in expected.items():
        with pytest.raises(InputError) as info:
            _run(tmp_path / name, tmp_path / "out")
        assert message in str(info.value)


def test_multichannel_tiff_channel_to_segment(tmp_path):
    nuclei = synthetic_image(SHAPE, OBJECTS, noise=0)
    other = np.full(SHAPE, 7, np.uint8)
    tifffile.imwrite(tmp_path / "two.tif", np.stack([other, nuclei]), imagej=True,
                     metadata={"axes": "CYX"})  # fmt: skip
    picture = read_picture(tmp_path / "two.tif")
    assert picture.channels.shape == (2, *SHAPE)
    with pytest.raises(InputError, match="2 channels; choose"):
        _run(tmp_path / "two.tif", tmp_path / "out")
    _run(tmp_path / "two.tif", tmp_path / "out", MeasureParameters(channel=1))
    table = pd.read_csv(tmp_path / "out" / "two_measurements.csv")
    assert len(table) == 3 and (table["mean_intensity_c0"] == 7).all()
    assert (table["mean_intensity"] == 200).all()
    with pytest.raises(InputError, match="channel = 2 does not exist"):
        _run(tmp_path / "two.tif", tmp_path / "out", MeasureParameters(channel=2))


def test_columns_and_no_overlay(tmp_path):
    source = tmp_path / "c.png"
    cv2.imwrite(str(source), synthetic_image(SHAPE, OBJECTS))
    _run(source, tmp_path / "out", MeasureParameters(columns="area,centroid", overlay=False))
    table = pd.read_csv(tmp_path / "out" / "c_measurements.csv")
    assert list(table.columns) == ["label", "area", "area_px", "centroid_x", "centroid_y",
                                   "centroid_x_cal", "centroid_y_cal", "pixel_size",
                                   "image_path", "label_path"]  # fmt: skip
    assert not (tmp_path / "out" / "c_overlay.png").exists()
    _run(source, tmp_path / "out", MeasureParameters(columns="feret"))
    summary = pd.read_csv(tmp_path / "out" / "c_summary.csv")  # areas whatever the columns
    assert summary["total_area"][0] == table["area"].sum()


def test_subfolders_and_outputs_are_not_inputs(tmp_path):
    for name in ("a.png", "a_overlay.png", "contact_sheet.png", "s1/b.png", "s1/s2/c.tif",
                 "Measurements/a_labels.tif", "empty/notes.txt"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in find_inputs(tmp_path)] == ["a.png"]
    assert subfolders(tmp_path) == [tmp_path / "s1", tmp_path / "s1" / "s2"]


def test_batch_table_copied_as_text_equals_the_combined_frame(tmp_path):
    """The batch table is streamed row by row; read back it equals
    :func:`combine_measurements` of the same tables. Tables whose columns differ (a
    two-channel image beside grey ones) fall back to the frame's union of columns."""
    from batchtrack.workflows.measure import combine_measurements, measurements_path

    out = tmp_path / "out"
    names = []
    for k in range(3):
        name = tmp_path / f"img, {k}.png"  # a comma in the name: quoted
        cv2.imwrite(str(name), synthetic_image(SHAPE, OBJECTS[: k + 1], seed=k))
        _run(name, out)
        names.append(name)
    table = write_batch_table([(n, out) for n in names])
    expected = combine_measurements([measurements_path(n, out) for n in names])
    pd.testing.assert_frame_equal(pd.read_csv(table), expected)
    assert len(expected) == 6 and expected["image"][0] == "img, 0"
    two = tmp_path / "two.tif"
    tifffile.imwrite(two, np.stack([synthetic_image(SHAPE, OBJECTS)] * 2), imagej=True,
                     metadata={"axes": "CYX"})  # fmt: skip
    _run(two, out, MeasureParameters(channel=0))
    names.append(two)
    table = write_batch_table([(n, out) for n in names])
    combined = pd.read_csv(table)
    assert len(combined) == 9 and "mean_intensity_c1" in combined
    assert combined["mean_intensity_c1"].isna().sum() == 6
