"""Measure objects in 2D images: threshold, label, one row of shape measurements per object.

The nuclei-shape analysis of many labs, as a batch workflow named ``measure``: read a 2D
image (TIFF with its pixel size, PNG, JPEG…), optionally smooth it, threshold it (Otsu or
another automatic method, or a fixed grey level), fill holes, drop objects touching the
border and objects smaller than a minimum size, label the connected components, and measure
each object with :func:`skimage.measure.regionprops_table`.

Per image, :func:`analyse` writes into the output folder:

* ``<stem>_labels.tif``: the label image (0 = background, objects 1…N; ImageJ-compatible,
  calibrated when the pixel size is known);
* ``<stem>_measurements.csv``: one comma-separated row per object, columns :data:`MEASURE_COLUMNS`.

:func:`combine_measurements` joins the tables of a batch into one, with an ``image`` column.

Lengths are in the unit of the pixel size (micrometres when it comes from the file); with no
pixel size anywhere, one pixel is one unit. Positions (centroid, bounding box) stay in pixels,
like the label image they index.

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

import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
import pandas as pd
import tifffile
from pydantic import Field
from scipy import ndimage
from skimage import filters, measure, segmentation

from ..errors import InputError, OutputError, ParameterError
from ..params import ValidatedModel
from . import Workflow, register

__all__ = [
    "IMAGE_SUFFIXES",
    "MEASURE",
    "MEASURE_COLUMNS",
    "MeasureParameters",
    "analyse",
    "combine_measurements",
    "find_inputs",
    "label_image",
    "measure_image",
    "measurements_path",
    "output_dir",
    "read_image",
    "synthetic_image",
]

log = logging.getLogger(__name__)

#: File name endings read as images when a folder is given.
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".webp")

#: Columns of a measurement table and their meaning ("unit" = the pixel size's unit).
MEASURE_COLUMNS: dict[str, str] = {
    "label": "object number in the label image",
    "area": "area [unit²]",
    "area_px": "area [pixels]",
    "perimeter": "perimeter [unit]",
    "centroid_x": "centroid, column [px]",
    "centroid_y": "centroid, row [px]",
    "bbox_x": "bounding box, first column [px]",
    "bbox_y": "bounding box, first row [px]",
    "bbox_width": "bounding box width [px]",
    "bbox_height": "bounding box height [px]",
    "major_axis": "major axis of the ellipse with the same second moments [unit]",
    "minor_axis": "minor axis of that ellipse [unit]",
    "eccentricity": "eccentricity of that ellipse (0 = circle, towards 1 = line)",
    "orientation": "angle of the major axis, counter-clockwise from the x axis [deg, 0–180]",
    "solidity": "area / convex hull area",
    "mean_intensity": "mean grey level of the object in the raw image",
    "max_intensity": "maximum grey level of the object in the raw image",
    "pixel_size": "pixel size used for the calibrated columns [unit / px]",
}

_AUTOMATIC: dict[str, Callable[[np.ndarray], float]] = {
    "otsu": filters.threshold_otsu,
    "li": filters.threshold_li,
    "triangle": filters.threshold_triangle,
    "yen": filters.threshold_yen,
    "mean": filters.threshold_mean,
}
_PROPERTIES = (
    "label", "area", "perimeter", "centroid", "bbox", "axis_major_length", "axis_minor_length",
    "eccentricity", "orientation", "solidity", "intensity_mean", "intensity_max",
)  # fmt: skip

#: Length units of TIFF/ImageJ metadata, in micrometres.
_MICROMETRES = {
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "um": 1.0, "µm": 1.0, "μm": 1.0, "\\u00b5m": 1.0, "micron": 1.0, "microns": 1.0,
    "micrometer": 1.0, "micrometre": 1.0,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4,
    "m": 1e6, "meter": 1e6, "metre": 1e6,
    "inch": 25400.0, "in": 25400.0,
}  # fmt: skip
_RESOLUTION_UNITS = {
    tifffile.RESUNIT.CENTIMETER: 1e4,
    tifffile.RESUNIT.MILLIMETER: 1e3,
    tifffile.RESUNIT.MICROMETER: 1.0,
}


class MeasureParameters(ValidatedModel):
    """Settings of the ``measure`` workflow, validated, immutable.

    Invalid values raise :class:`~batchtrack.errors.ParameterError` naming the field and the
    allowed range.

    Examples
    --------
    >>> MeasureParameters(threshold=120, min_size=30).threshold
    120.0
    >>> MeasureParameters(threshold="li").threshold
    'li'
    """

    _in_source: ClassVar[str] = "invalid measure parameters in {source}: {error}"

    threshold: Literal["otsu", "li", "triangle", "yen", "mean"] | float = Field(
        default="otsu",
        description="Automatic method (otsu, li, triangle, yen, mean) or a fixed grey level "
        "in the image's own units (0–255 for 8-bit, 0–65535 for 16-bit).",
    )
    dark_objects: bool = Field(
        default=False, description="Objects are darker than the background (default: brighter)."
    )
    smooth: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Gaussian smoothing sigma before thresholding [px]; 0 = none.",
    )
    fill_holes: bool = Field(default=True, description="Fill holes inside objects.")
    clear_border: bool = Field(
        default=False, description="Remove objects touching the image border."
    )
    min_size: int = Field(
        default=10, ge=0, description="Remove objects smaller than this area [px]; 0 keeps all."
    )
    pixel_size: float = Field(
        default=0.0,
        ge=0,
        description="Pixel size [µm/px] for calibrated areas and lengths; 0 = read it from "
        "the file (TIFF/ImageJ metadata), 1 px when the file has none.",
    )


# -- reading -----------------------------------------------------------------------------------
def read_image(path: str | Path) -> tuple[np.ndarray, float | None]:
    """Read a 2D image as grey levels, with its pixel size when the file records one.

    TIFF files are read with tifffile; the pixel size comes from ImageJ metadata (resolution
    and ``unit``) or from a TIFF resolution in cm, mm or µm (an inch resolution is taken as a
    display setting, not a calibration). Other formats are read with OpenCV. Colour images
    are converted to grey; 8- and 16-bit grey levels are kept as they are.

    Parameters
    ----------
    path : str or Path
        Image file (TIFF, PNG, JPEG, BMP, PGM, WebP).

    Returns
    -------
    image : ndarray, shape (H, W)
        Grey levels, in the file's data type.
    pixel_size : float or None
        Micrometres per pixel, or None when the file does not say.

    Raises
    ------
    InputError
        The file is missing, unreadable, not an image, or a stack rather than a 2D image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            image, axes, pixel_size = _read_tiff(path)
        else:
            image, axes, pixel_size = _read_other(path), "YX", None
    except InputError:
        raise
    except Exception as error:  # any reader failure is this file's fault
        raise InputError(
            f"{path} cannot be read as an image ({type(error).__name__}: {error}); "
            "check that the file is a complete TIFF, PNG or JPEG image"
        ) from error
    return _grey_plane(image, axes, path), pixel_size


def _read_tiff(path: Path) -> tuple[np.ndarray, str, float | None]:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        planes = [n for n, axis in zip(series.shape, series.axes) if axis != "S" and n > 1]
        if len(planes) > 2:  # say so before reading a whole stack
            raise InputError(
                f"{path} is a stack (shape {series.shape}, axes {series.axes}); measure takes "
                "2D images: save each plane as its own file (Fiji: Image > Stacks > Stack to "
                "Images)"
            )
        image = series.asarray()
        page = tif.pages[0]
        pixel_size = _tiff_pixel_size(page, tif.imagej_metadata, path)
        return image, series.axes, pixel_size


def _tiff_pixel_size(page, imagej: dict | None, path: Path) -> float | None:
    tags = page.tags
    if "XResolution" not in tags:
        return None
    x_res, y_res = page.get_resolution()
    if not x_res or not y_res:
        return None
    if imagej and "unit" in imagej:
        scale = _MICROMETRES.get(str(imagej["unit"]).strip().lower())
    else:
        scale = _RESOLUTION_UNITS.get(page.resolutionunit)
    if scale is None:
        return None
    x_size, y_size = scale / x_res, scale / y_res
    if not math.isclose(x_size, y_size, rel_tol=1e-3):
        log.warning(
            "%s: pixels are not square (%.4g × %.4g µm); using %.4g µm (same area)",
            path, x_size, y_size, math.sqrt(x_size * y_size),
        )  # fmt: skip
    return math.sqrt(x_size * y_size)


def _read_other(path: Path) -> np.ndarray:
    data = np.fromfile(path, np.uint8)  # works with any path (imread fails on some)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if image is None:
        raise InputError(
            f"{path} cannot be read as an image (unknown format or damaged file); "
            "use TIFF, PNG, JPEG, BMP, PGM or WebP"
        )
    return image


def _grey_plane(image: np.ndarray, axes: str, path: Path) -> np.ndarray:
    if axes.endswith("S") and image.shape[-1] in (3, 4):  # RGB(A) samples
        rgb = np.ascontiguousarray(image[..., :3])
        if rgb.dtype not in (np.uint8, np.uint16, np.float32):
            rgb = rgb.astype(np.float32)
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    image = np.squeeze(image)
    if image.ndim != 2:
        raise InputError(
            f"{path} holds {image.ndim} dimensions (shape {image.shape}); measure takes 2D "
            "images: save each plane as its own file (Fiji: Image > Stacks > Stack to Images)"
        )
    if image.dtype == bool:
        image = image.astype(np.uint8)
    return image


# -- the pure core -----------------------------------------------------------------------------
def label_image(image: np.ndarray, *, params: MeasureParameters) -> np.ndarray:
    """Label the objects of a grey image.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey levels (any real data type).
    params : MeasureParameters
        Smoothing, threshold, hole filling, border clearing, minimum size.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 for the background, objects numbered 1…N in raster order.
    """
    work = image
    if params.smooth > 0:
        work = filters.gaussian(image, sigma=params.smooth, preserve_range=True)
    if isinstance(params.threshold, str):
        level = _AUTOMATIC[params.threshold](work)
    else:
        level = params.threshold
    mask = work < level if params.dark_objects else work > level
    if params.fill_holes:
        mask = ndimage.binary_fill_holes(mask)
    labels = measure.label(mask, connectivity=2).astype(np.int32, copy=False)
    if params.clear_border:
        labels = segmentation.clear_border(labels)
    if params.min_size > 1:
        # remove_small_objects changed its arguments in scikit-image 0.26: filter by area here
        small = np.bincount(labels.ravel()) < params.min_size
        small[0] = False
        labels[small[labels]] = 0
    if params.clear_border or params.min_size > 1:
        labels = segmentation.relabel_sequential(labels)[0]
    return labels


def measure_labels(
    labels: np.ndarray, image: np.ndarray, *, pixel_size: float = 1.0
) -> pd.DataFrame:
    """Measure every labelled object.

    Parameters
    ----------
    labels : ndarray of int, shape (H, W)
        Label image (0 = background).
    image : ndarray, shape (H, W)
        Grey levels for the intensity columns.
    pixel_size : float
        Length of one pixel in the output unit (> 0).

    Returns
    -------
    DataFrame
        One row per object, columns :data:`MEASURE_COLUMNS`.
    """
    if not (pixel_size > 0 and math.isfinite(pixel_size)):
        raise ParameterError(f"pixel_size must be a positive number, got {pixel_size!r}")
    props = measure.regionprops_table(labels, intensity_image=image, properties=_PROPERTIES)
    table = pd.DataFrame(
        {
            "label": props["label"].astype(np.int64),
            "area": props["area"] * pixel_size**2,
            "area_px": props["area"].astype(np.int64),
            "perimeter": props["perimeter"] * pixel_size,
            "centroid_x": props["centroid-1"],
            "centroid_y": props["centroid-0"],
            "bbox_x": props["bbox-1"].astype(np.int64),
            "bbox_y": props["bbox-0"].astype(np.int64),
            "bbox_width": (props["bbox-3"] - props["bbox-1"]).astype(np.int64),
            "bbox_height": (props["bbox-2"] - props["bbox-0"]).astype(np.int64),
            "major_axis": props["axis_major_length"] * pixel_size,
            "minor_axis": props["axis_minor_length"] * pixel_size,
            "eccentricity": props["eccentricity"],
            # skimage: from the row axis; ImageJ's Angle: from the x axis, y pointing up
            "orientation": (np.degrees(props["orientation"]) + 90.0) % 180.0,
            "solidity": props["solidity"],
            "mean_intensity": props["intensity_mean"],
            "max_intensity": props["intensity_max"],
            "pixel_size": np.full(len(props["label"]), float(pixel_size)),
        }
    )
    return table


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
        Grey levels (8-bit, 16-bit, float…).
    params : MeasureParameters, optional
        Segmentation settings (defaults: Otsu, holes filled, objects of 10 px or more).
        ``params.pixel_size`` is not used here: pass ``pixel_size``.
    pixel_size : float
        Length of one pixel (µm, or any unit) for the calibrated columns.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 = background, objects 1…N.
    table : DataFrame
        One row per object, in label order; columns :data:`MEASURE_COLUMNS`.

    Raises
    ------
    InputError
        ``image`` is not 2D.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise InputError(f"measure_image needs a 2D grey image, got shape {image.shape}")
    params = params or MeasureParameters()
    labels = label_image(image, params=params)
    return labels, measure_labels(labels, image, pixel_size=pixel_size)


# -- files -------------------------------------------------------------------------------------
def find_inputs(path: str | Path) -> list[Path]:
    """The images a path holds: a folder's image files (sorted), or the file itself.

    Hidden files and label images written by this workflow (``*_labels.tif``) are left out.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not p.name.startswith(".")
        and not p.stem.endswith("_labels")
    )


def output_dir(path: str | Path) -> Path:
    """Default output folder of an image: ``Measurements`` beside it."""
    return Path(path).parent / "Measurements"


def measurements_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the table of ``image_path`` goes in ``folder`` (``<stem>_measurements.csv``)."""
    return Path(folder) / f"{Path(image_path).stem}_measurements.csv"


def labels_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the label image of ``image_path`` goes in ``folder`` (``<stem>_labels.tif``)."""
    return Path(folder) / f"{Path(image_path).stem}_labels.tif"


def write_labels(path: Path, labels: np.ndarray, pixel_size: float | None) -> None:
    """Save a label image as TIFF (16-bit ImageJ TIFF, calibrated, when it fits)."""
    options: dict[str, Any] = {"compression": "zlib"}
    if labels.max(initial=0) < 2**16:
        labels = labels.astype(np.uint16)
        options["imagej"] = True
        if pixel_size:
            options["resolution"] = (1.0 / pixel_size, 1.0 / pixel_size)
            options["metadata"] = {"unit": "micron"}
    else:
        labels = labels.astype(np.uint32)
    tifffile.imwrite(path, labels, **options)


def analyse(
    image_path: Path,
    output_dir: Path,
    params: MeasureParameters,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Measure one image; write ``<stem>_labels.tif`` and ``<stem>_measurements.csv``.

    The pixel size is ``params.pixel_size`` when set, else the file's, else 1 (pixels).

    Returns
    -------
    dict
        ``frames`` (1) and ``message`` (objects found, pixel size and where it came from).
    """
    image, file_pixel_size = read_image(image_path)
    calibration = params.pixel_size or file_pixel_size
    if params.pixel_size:
        note = f"pixel {params.pixel_size:.4g} µm (given)"
    elif file_pixel_size:
        note = f"pixel {file_pixel_size:.4g} µm (file)"
    else:
        note = "uncalibrated (pixels)"
    labels, table = measure_image(image, params=params, pixel_size=calibration or 1.0)
    output_dir = Path(output_dir)
    try:
        write_labels(labels_path(image_path, output_dir), labels, calibration)
        table.to_csv(measurements_path(image_path, output_dir), index=False)
    except OSError as error:
        raise OutputError(
            f"cannot write the results of {image_path} in {output_dir}: {error}"
        ) from error
    if progress is not None:
        progress(1, 1)
    return {"frames": 1, "message": f"{len(table)} objects, {note}"}


def read_measurements(path: str | Path) -> pd.DataFrame:
    """Read one ``<stem>_measurements.csv`` (comma-separated)."""
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read the measurement table {path}: {error}") from error


def combine_measurements(source: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Join per-image tables into one, with the image name (file stem) as first column.

    Parameters
    ----------
    source : folder or iterable of paths
        A folder (its ``*_measurements.csv`` files, sorted) or the tables themselves.

    Returns
    -------
    DataFrame
        Columns ``image`` then :data:`MEASURE_COLUMNS`; one row per object of every image.
    """
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder of measurement tables")
        paths = sorted(folder.glob("*_measurements.csv"))
    else:
        paths = [Path(p) for p in source]
    tables = []
    for path in paths:
        table = read_measurements(path)
        if len(table):
            table.insert(0, "image", path.name.removesuffix("_measurements.csv"))
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["image", *MEASURE_COLUMNS])
    return pd.concat(tables, ignore_index=True)


# -- synthetic data ----------------------------------------------------------------------------
def synthetic_image(
    shape: tuple[int, int],
    ellipses: Iterable[tuple[float, float, float, float, float]],
    *,
    dtype: str = "uint8",
    background: float = 20.0,
    foreground: float = 200.0,
    noise: float = 5.0,
    seed: int = 0,
) -> np.ndarray:
    """An image of bright ellipses of known size on a dark background, with Gaussian noise.

    Parameters
    ----------
    shape : (H, W)
        Image size.
    ellipses : iterable of (x, y, a, b, angle)
        Centre (column, row) [px], semi-axes along and across the major axis [px], angle of
        the major axis counter-clockwise from the x axis [deg] (the ``orientation`` column).
        True area: π·a·b.
    dtype : {"uint8", "uint16", "float32"}
        Data type; 16-bit images use 256 times the 8-bit grey levels.
    background, foreground, noise : float
        Grey levels (8-bit scale) and noise standard deviation.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray, shape (H, W)

    Examples
    --------
    >>> image = synthetic_image((64, 64), [(32, 32, 12, 6, 30)], dtype="uint16")
    >>> image.dtype, image.shape
    (dtype('uint16'), (64, 64))
    """
    from skimage.draw import ellipse

    image = np.full(shape, background, np.float32)
    for x, y, a, b, angle in ellipses:
        rows, cols = ellipse(y, x, b, a, shape=shape, rotation=math.radians(angle))
        image[rows, cols] = foreground
    image += np.random.default_rng(seed).normal(0.0, noise, shape).astype(np.float32)
    scale = 256.0 if dtype == "uint16" else 1.0
    top = {"uint8": 255.0, "uint16": 65535.0}.get(dtype, np.inf)
    return np.clip(image * scale, 0, top).astype(dtype)


BATCH_TABLE = "measurements_all.csv"


def write_batch_table(
    results: Sequence[tuple[Path, Path]], path: Path | None = None
) -> Path | None:
    """Write the batch-wide table of the finished images (comma-separated, ``image`` first).

    Parameters
    ----------
    results : sequence of (image path, output folder)
        The finished entries.
    path : Path, optional
        The file; by default ``measurements_all.csv`` in the folder that holds every
        entry's output folder.

    Returns
    -------
    Path or None
        The file written; None (nothing written) when no entry finished.
    """
    if not results:
        return None
    tables = [measurements_path(image, folder) for image, folder in results]
    combined = combine_measurements([t for t in tables if t.is_file()])
    if path is None:
        path = _common_folder([folder for _, folder in results]) / BATCH_TABLE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        combined.to_csv(path, index=False)
    except OSError as error:
        raise OutputError(f"cannot write the batch table {path}: {error}") from error
    log.info("%d objects of %d images -> %s", len(combined), len(results), path)
    return path


def _common_folder(folders: list[Path]) -> Path:
    try:
        return Path(os.path.commonpath([f.resolve() for f in folders]))
    except ValueError:  # different drives (Windows)
        return Path.cwd()


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
