"""Measure objects in 2D images: segment, label, one row of measurements per object.

The nuclei-shape analysis of many labs, as a batch workflow named ``measure``: read a 2D
image (TIFF with its pixel size, PNG, JPEG…; one channel of a multichannel image), filter it
(Gaussian, or ImageJ's circular mean or median), threshold it (Otsu or another automatic
method, or a fixed grey level, strict or inclusive), fill holes (all, or those smaller than
a size), label the 4- or 8-connected components, split touching objects (watershed of the
distance transform), drop objects touching the border or outside a size range, and measure
each object: size, position (pixels and calibrated), shape (the ImageJ and CellProfiler
shape descriptors) and intensity (on every channel).

Modules: :mod:`.params` (the parameter model), :mod:`.reading` (files and folders),
:mod:`.segment` (arrays → labels), :mod:`.features` (labels → table; the columns),
:mod:`.pictures` (overlay and contact sheet), :mod:`.files` (one image's results, the
batch's tables).

Examples
--------
>>> import numpy as np
>>> from skimage.draw import disk
>>> image = np.zeros((64, 64), np.uint8)
>>> image[disk((32, 32), 10)] = 200
>>> labels, table = measure_image(image, params=MeasureParameters(), pixel_size=0.5)
>>> len(table), int(labels.max())
(1, 1)
>>> round(float(table["area"][0]), 1)  # 305 pixels of 0.5 × 0.5 µm
76.2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import ParameterError
from .. import Workflow, register
from .features import COLUMNS, GROUPS, measure_labels, select_columns
from .files import (
    BATCH_TABLE,
    SUMMARY,
    SUMMARY_COLUMNS,
    analyse,
    combine_measurements,
    contact_sheet_path,
    labels_path,
    measurements_path,
    output_dir,
    output_stem,
    overlay_path,
    read_measurements,
    summary_path,
    write_batch_table,
    write_labels,
    write_summary_failures,
)
from .params import METHODS, MeasureParameters
from .pictures import CONTACT_SHEET, contact_sheet, outline_overlay
from .reading import IMAGE_SUFFIXES, find_inputs, read_image, read_picture, subfolders
from .segment import check_image, label_image, segment, threshold_level
from .synthetic import synthetic_image

__all__ = [
    "BATCH_TABLE", "COLUMNS", "CONTACT_SHEET", "GROUPS", "IMAGE_SUFFIXES", "MEASURE",
    "MEASURE_COLUMNS", "METHODS", "SUMMARY", "SUMMARY_COLUMNS", "MeasureParameters", "analyse",
    "check_image", "combine_measurements", "contact_sheet", "contact_sheet_path",
    "find_inputs", "label_image", "labels_path", "measure_image", "measure_labels",
    "measurements_path", "outline_overlay", "output_dir", "output_stem", "overlay_path",
    "read_image", "read_measurements", "read_picture", "segment", "select_columns",
    "subfolders", "summary_path", "synthetic_image", "threshold_level", "write_batch_table",
    "write_labels", "write_summary_failures",
]  # fmt: skip

#: Columns of a measurement table and their definition (see :data:`COLUMNS` for units and
#: the Fiji / CellProfiler names).
MEASURE_COLUMNS: dict[str, str] = {name: c.definition for name, c in COLUMNS.items()}


def measure_image(
    image: np.ndarray,
    *,
    params: MeasureParameters | None = None,
    pixel_size: float = 1.0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Segment a grey image and measure its objects (arrays in, arrays out).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey levels (8-bit, 16-bit, float…), finite.
    params : MeasureParameters, optional
        Segmentation settings and columns (defaults: Otsu, holes filled, objects of 10 px
        or more, every column). ``params.pixel_size`` is not used here: pass ``pixel_size``.
    pixel_size : float
        Length of one pixel (µm, or any unit) for the calibrated columns.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 = background, objects 1…N.
    table : DataFrame
        One row per object, in label order; the columns of ``params.columns``.

    Raises
    ------
    InputError
        ``image`` is not 2D, smaller than 2×2, or holds NaN or infinite values.
    ParameterError
        ``pixel_size`` is not a positive number.
    """
    params = params or MeasureParameters()
    image = check_image(image)
    if not (pixel_size > 0 and np.isfinite(pixel_size)):
        raise ParameterError(f"pixel_size must be a positive number, got {pixel_size!r}")
    labels, _ = segment(image, params=params)
    table = measure_labels(labels, image, pixel_size=pixel_size, columns=params.columns,
                           connectivity=params.connectivity)  # fmt: skip
    return labels, table


MEASURE = register(
    Workflow(
        name="measure",
        params_model=MeasureParameters,
        analyse=analyse,
        find_inputs=find_inputs,
        output_dir=output_dir,
        input_label="image files",
        after_batch=write_batch_table,
    )
)

