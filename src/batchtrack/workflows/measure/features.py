"""Per-object measurements of a label image: the columns, their groups, and how each is made.

Most columns come from one pass over the object pixels (areas, centroids, second moments,
intensity statistics: :func:`numpy.bincount` and one sort), exact equivalents of
:func:`skimage.measure.regionprops` (see the tests) without its per-object Python overhead;
the convex area, Euler number and CellProfiler perimeter come from ``regionprops`` itself,
and the ImageJ perimeter and Feret diameters from the pixel-edge outline of each object.
Only the columns asked for are computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

__all__ = [
    "COLUMNS",
    "GROUPS",
    "Column",
    "feret_diameters",
    "imagej_perimeter",
    "measure_columns",
    "measure_labels",
    "select_columns",
]


@dataclass(frozen=True)
class Column:
    """One column of a measurement table.

    Attributes
    ----------
    group : str
        ``id`` (always present), ``size``, ``position``, ``shape`` or ``intensity``.
    unit : str
        ``unit`` (the pixel size's unit, µm when calibrated), ``unit²``, ``px``, ``px²``,
        ``deg``, ``grey``, ``grey·unit²`` or empty.
    definition : str
        What it is.
    fiji : str
        The ImageJ/Fiji *Analyze Particles* column that matches, if any.
    cellprofiler : str
        The CellProfiler ``MeasureObjectSizeShape`` / ``MeasureObjectIntensity`` feature.
    """

    group: str
    unit: str
    definition: str
    fiji: str = ""
    cellprofiler: str = ""


_C = Column
#: Every column, in table order.
COLUMNS: dict[str, Column] = {
    "label": _C("id", "", "object number in the label image"),
    "area": _C("size", "unit²", "pixel count × pixel area", "Area", "AreaShape_Area"),
    "area_px": _C("size", "px²", "pixel count", "", "AreaShape_Area (uncalibrated)"),
    "centroid_x": _C("position", "px", "mean column, pixel centres at 0, 1, …",
                     "", "AreaShape_Center_X"),
    "centroid_y": _C("position", "px", "mean row, pixel centres at 0, 1, …",
                     "", "AreaShape_Center_Y"),
    "centroid_x_cal": _C("position", "unit", "(centroid_x + 0.5) × pixel size", "X"),
    "centroid_y_cal": _C("position", "unit", "(centroid_y + 0.5) × pixel size", "Y"),
    "bbox_x": _C("position", "px", "first column of the bounding box",
                 "", "AreaShape_BoundingBoxMinimum_X"),
    "bbox_y": _C("position", "px", "first row of the bounding box",
                 "", "AreaShape_BoundingBoxMinimum_Y"),
    "bbox_width": _C("position", "px", "bounding box width"),
    "bbox_height": _C("position", "px", "bounding box height"),
    "bbox_x_cal": _C("position", "unit", "bbox_x × pixel size (left edge)", "BX"),
    "bbox_y_cal": _C("position", "unit", "bbox_y × pixel size (top edge)", "BY"),
    "bbox_width_cal": _C("position", "unit", "bbox_width × pixel size", "Width"),
    "bbox_height_cal": _C("position", "unit", "bbox_height × pixel size", "Height"),
    "perimeter": _C("shape", "unit", "ImageJ's traced perimeter: length of the pixel-edge "
                    "outline minus (2 − √2) per counted corner", "Perim."),
    "perimeter_cellprofiler": _C("shape", "unit", "scikit-image's perimeter (4-neighbourhood "
                                 "weighted boundary pixels)", "", "AreaShape_Perimeter"),
    "circularity": _C("shape", "", "4π·area / perimeter² (ImageJ perimeter; 1 = disc, "
                      "capped at 1 as ImageJ does)", "Circ.", "AreaShape_FormFactor (with its "
                      "own perimeter)"),
    "major_axis": _C("shape", "unit", "major axis of the ellipse with the same second "
                     "moments", "Major", "AreaShape_MajorAxisLength"),
    "minor_axis": _C("shape", "unit", "minor axis of that ellipse", "Minor",
                     "AreaShape_MinorAxisLength"),
    "aspect_ratio": _C("shape", "", "major_axis / minor_axis", "AR"),
    "roundness": _C("shape", "", "4·area / (π·major_axis²)", "Round"),
    "eccentricity": _C("shape", "", "eccentricity of that ellipse (0 = circle)", "",
                       "AreaShape_Eccentricity"),
    "orientation": _C("shape", "deg", "angle of the major axis, counter-clockwise from the "
                      "x axis, 0–180", "Angle", "AreaShape_Orientation (other convention)"),
    "feret_max": _C("shape", "unit", "largest distance between two outline points (pixel "
                    "corners)", "Feret", "AreaShape_MaxFeretDiameter"),
    "feret_min": _C("shape", "unit", "smallest caliper width (rotating calipers on the "
                    "convex hull of the pixel corners)", "MinFeret",
                    "AreaShape_MinFeretDiameter"),
    "feret_angle": _C("shape", "deg", "angle of the feret_max segment, counter-clockwise "
                      "from the x axis, 0–180", "FeretAngle"),
    "equivalent_diameter": _C("shape", "unit", "diameter of the disc of the same area",
                              "", "AreaShape_EquivalentDiameter"),
    "extent": _C("shape", "", "area / bounding box area", "", "AreaShape_Extent"),
    "convex_area": _C("shape", "unit²", "area of the convex hull image", "",
                      "AreaShape_ConvexArea"),
    "solidity": _C("shape", "", "area / convex_area", "Solidity", "AreaShape_Solidity"),
    "euler_number": _C("shape", "", "objects minus holes (1 = no hole)", "",
                       "AreaShape_EulerNumber"),
    "mean_intensity": _C("intensity", "grey", "mean grey level", "Mean",
                         "Intensity_MeanIntensity"),
    "std_intensity": _C("intensity", "grey", "standard deviation of the grey levels "
                        "(population, ÷N; ImageJ's StdDev divides by N − 1)", "StdDev",
                        "Intensity_StdIntensity"),
    "min_intensity": _C("intensity", "grey", "smallest grey level", "Min",
                        "Intensity_MinIntensity"),
    "max_intensity": _C("intensity", "grey", "largest grey level", "Max",
                        "Intensity_MaxIntensity"),
    "median_intensity": _C("intensity", "grey", "median grey level (mean of the two middle "
                           "values for an even count)", "Median",
                           "Intensity_MedianIntensity"),
    "integrated_density": _C("intensity", "grey·unit²", "area × mean_intensity", "IntDen"),
    "raw_integrated_density": _C("intensity", "grey", "sum of the grey levels", "RawIntDen",
                                 "Intensity_IntegratedIntensity"),
    "pixel_size": _C("id", "unit/px", "pixel size used for the calibrated columns"),
}  # fmt: skip

#: Names that select several columns (``--columns centroid,shape``).
GROUPS: dict[str, tuple[str, ...]] = {
    **{
        group: tuple(name for name, c in COLUMNS.items() if c.group == group)
        for group in ("size", "position", "shape", "intensity")
    },
    "area": ("area", "area_px"),
    "centroid": ("centroid_x", "centroid_y", "centroid_x_cal", "centroid_y_cal"),
    "bbox": tuple(name for name in COLUMNS if name.startswith("bbox_")),
    "ellipse": ("major_axis", "minor_axis", "aspect_ratio", "roundness", "eccentricity",
                "orientation"),
    "feret": ("feret_max", "feret_min", "feret_angle"),
    "all": tuple(COLUMNS),
    "default": tuple(COLUMNS),
}  # fmt: skip

#: Column name -> values, filled by the helpers below.
Columns = dict[str, np.ndarray]
#: One (rows, columns) slice pair per object, from :func:`scipy.ndimage.find_objects`.
Slices = list[tuple[slice, slice]]
_INTENSITY = GROUPS["intensity"]
_MOMENTS = {"major_axis", "minor_axis", "aspect_ratio", "roundness", "eccentricity",
            "orientation"}  # fmt: skip
_REGIONPROPS = {"perimeter_cellprofiler": "perimeter", "convex_area": "area_convex",
                "solidity": "area_convex", "euler_number": "euler_number"}  # fmt: skip


def select_columns(spec: str | Sequence[str]) -> tuple[str, ...]:
    """The columns a ``--columns`` value names, in table order.

    Parameters
    ----------
    spec : str or sequence of str
        Comma-separated column names and group names (:data:`GROUPS`: ``size``,
        ``position``, ``shape``, ``intensity``, ``centroid``, ``bbox``, ``ellipse``,
        ``feret``, ``all``, ``default``). ``label`` and ``pixel_size`` are always included.

    Raises
    ------
    ValueError
        A name that is neither a column nor a group (the message lists them).

    Examples
    --------
    >>> select_columns("area,centroid")
    ('label', 'area', 'area_px', 'centroid_x', 'centroid_y', 'centroid_x_cal', \
'centroid_y_cal', 'pixel_size')
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = {"label", "pixel_size"}
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in COLUMNS:
            wanted.add(name)
        else:
            raise ValueError(
                f"unknown column {name!r}; use column names ({', '.join(COLUMNS)}) or "
                f"groups ({', '.join(GROUPS)})"
            )
    return tuple(name for name in COLUMNS if name in wanted)


def measure_labels(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    *,
    pixel_size: float = 1.0,
    columns: str | Sequence[str] = "default",
    channels: dict[str, np.ndarray] | None = None,
    connectivity: int = 8,
) -> pd.DataFrame:
    """Measure every labelled object.

    Parameters
    ----------
    labels : ndarray of int, shape (H, W)
        Label image (0 = background; numbers need not be consecutive).
    image : ndarray, shape (H, W), optional
        Grey levels for the intensity columns (required when they are asked for).
    pixel_size : float
        Length of one pixel in the output unit (> 0).
    columns : str or sequence of str
        What to compute (:func:`select_columns`).
    channels : dict of str to ndarray (H, W), optional
        More images whose intensities are measured too, as ``<column>_<name>`` columns.
    connectivity : {4, 8}
        How the outline is traced for the ImageJ perimeter (as the objects were labelled).

    Returns
    -------
    DataFrame
        One row per object, in label order; the columns asked for, in :data:`COLUMNS` order.

    Examples
    --------
    >>> labels = np.zeros((5, 6), np.int32); labels[1:4, 1:5] = 1  # a 3 × 4 rectangle
    >>> measure_labels(labels, columns="area,feret,perimeter")[["area", "feret_max",
    ...                                                        "perimeter"]].round(3)
       area  feret_max  perimeter
    0  12.0        5.0     11.657
    """
    return pd.DataFrame(measure_columns(labels, image, pixel_size=pixel_size, columns=columns,
                                        channels=channels, connectivity=connectivity))


def measure_columns(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    *,
    pixel_size: float = 1.0,
    columns: str | Sequence[str] = "default",
    channels: dict[str, np.ndarray] | None = None,
    connectivity: int = 8,
) -> dict[str, np.ndarray]:
    """:func:`measure_labels` as a dict of column name to array (no DataFrame built)."""
    if not (pixel_size > 0 and math.isfinite(pixel_size)):
        raise ValueError(f"pixel_size must be a positive number, got {pixel_size!r}")
    names = select_columns(columns)
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2D, got shape {labels.shape}")
    wanted_intensity = [n for n in names if n in _INTENSITY]
    if wanted_intensity and image is None:
        raise ValueError("the intensity columns need the image: pass image=")
    flat = labels.ravel()
    where = np.flatnonzero(flat)
    lab = flat[where].astype(np.intp)
    counts = np.bincount(lab, minlength=int(labels.max(initial=0)) + 1)
    present = np.flatnonzero(counts)
    present = present[present > 0]
    n = counts[present].astype(np.float64)
    cols: dict[str, np.ndarray] = {"label": present.astype(np.int64)}
    cols["area"] = n * pixel_size**2
    cols["area_px"] = counts[present].astype(np.int64)
    _positions(labels, where, lab, present, n, cols, pixel_size, names)
    slices = None
    if any(name in names for name in ("bbox_x", "extent", "bbox_x_cal", *GROUPS["bbox"])):
        slices = _bbox(labels, present, cols, pixel_size)
    if "extent" in names:
        cols["extent"] = n / (cols["bbox_width"] * cols["bbox_height"])
    if _MOMENTS & set(names):
        _moments(labels.shape[1], where, lab, present, n, cols, pixel_size)
    if "equivalent_diameter" in names:
        cols["equivalent_diameter"] = np.sqrt(4 * n / np.pi) * pixel_size
    wanted_props = {_REGIONPROPS[k] for k in names if k in _REGIONPROPS}
    if wanted_props:
        _regionprops(labels, present, sorted(wanted_props), n, cols, pixel_size)
    if {"perimeter", "circularity", "feret_max", "feret_min", "feret_angle"} & set(names):
        _outlines(labels, present, slices, n, cols, pixel_size, names, connectivity)
    if wanted_intensity:
        assert image is not None
        _intensities(image, where, lab, present, n, cols, "", pixel_size)
        for suffix, other in (channels or {}).items():
            _intensities(other, where, lab, present, n, cols, f"_{suffix}", pixel_size)
    cols["pixel_size"] = np.full(len(present), float(pixel_size))
    order = list(names)
    for suffix in channels or {}:
        order += [f"{k}_{suffix}" for k in wanted_intensity]
    return {k: cols[k] for k in order}


def _positions(labels: np.ndarray, where: np.ndarray, lab: np.ndarray, present: np.ndarray,
               n: np.ndarray, cols: Columns, pixel_size: float, names: Sequence[str]) -> None:
    if not set(GROUPS["centroid"]) & set(names):
        return
    size = present[-1] + 1 if len(present) else 1
    rows, columns = np.divmod(where, labels.shape[1])
    cy = np.bincount(lab, rows, minlength=size)[present] / n
    cx = np.bincount(lab, columns, minlength=size)[present] / n
    cols["centroid_x"], cols["centroid_y"] = cx, cy
    cols["centroid_x_cal"] = (cx + 0.5) * pixel_size
    cols["centroid_y_cal"] = (cy + 0.5) * pixel_size


def _bbox(labels: np.ndarray, present: np.ndarray, cols: Columns, pixel_size: float) -> Slices:
    found = ndimage.find_objects(labels)
    slices = [found[i - 1] for i in present]
    y0 = np.array([s[0].start for s in slices], np.int64)
    y1 = np.array([s[0].stop for s in slices], np.int64)
    x0 = np.array([s[1].start for s in slices], np.int64)
    x1 = np.array([s[1].stop for s in slices], np.int64)
    cols.update(bbox_x=x0, bbox_y=y0, bbox_width=x1 - x0, bbox_height=y1 - y0)
    cols.update(bbox_x_cal=x0 * pixel_size, bbox_y_cal=y0 * pixel_size,
                bbox_width_cal=(x1 - x0) * pixel_size, bbox_height_cal=(y1 - y0) * pixel_size)
    return slices


def _moments(width: int, where: np.ndarray, lab: np.ndarray, present: np.ndarray,
             n: np.ndarray, cols: Columns, pixel_size: float) -> None:
    """Ellipse columns from the central second moments, as scikit-image computes them."""
    size = present[-1] + 1 if len(present) else 1
    rows, columns = np.divmod(where, width)
    count = np.maximum(np.bincount(lab, minlength=size), 1)
    mean_r = np.bincount(lab, rows, minlength=size) / count
    mean_c = np.bincount(lab, columns, minlength=size) / count
    dr, dc = rows - mean_r[lab], columns - mean_c[lab]
    var_r = np.bincount(lab, dr * dr, minlength=size)[present] / n
    var_c = np.bincount(lab, dc * dc, minlength=size)[present] / n
    cov = np.bincount(lab, dr * dc, minlength=size)[present] / n
    # skimage's inertia tensor [[a, b], [b, c]]: a = var(col), b = -cov, c = var(row)
    a, b, c = var_c, -cov, var_r
    half_trace, root = (a + c) / 2, np.sqrt(((a - c) / 2) ** 2 + b**2)
    big, small = half_trace + root, np.clip(half_trace - root, 0, None)
    major, minor = 4 * np.sqrt(big), 4 * np.sqrt(small)
    with np.errstate(divide="ignore", invalid="ignore"):
        eccentricity = np.where(big > 0, np.sqrt(np.clip(1 - small / big, 0, 1)), 0.0)
        aspect = np.where(minor > 0, major / minor, np.inf)
        roundness = np.where(major > 0, 4 * n / (np.pi * major**2), np.nan)
    skimage_angle = np.where(a - c == 0, np.where(b < 0, -np.pi / 4, np.pi / 4),
                             0.5 * np.arctan2(-2 * b, c - a))  # fmt: skip
    cols.update(
        major_axis=major * pixel_size,
        minor_axis=minor * pixel_size,
        aspect_ratio=aspect,
        roundness=roundness,
        eccentricity=eccentricity,
        # skimage: from the row axis; ImageJ's Angle: from the x axis, y pointing up
        orientation=(np.degrees(skimage_angle) + 90.0) % 180.0,
    )


def _regionprops(labels: np.ndarray, present: np.ndarray, properties: list[str],
                 n: np.ndarray, cols: Columns, pixel_size: float) -> None:
    from skimage.measure import regionprops_table

    props = regionprops_table(labels, properties=("label", *properties))
    index = np.searchsorted(props["label"], present)
    if "perimeter" in props:
        cols["perimeter_cellprofiler"] = props["perimeter"][index] * pixel_size
    if "area_convex" in props:
        convex = props["area_convex"][index]
        cols["convex_area"] = convex * pixel_size**2
        cols["solidity"] = n / convex
    if "euler_number" in props:
        cols["euler_number"] = props["euler_number"][index].astype(np.int64)


def _outlines(labels: np.ndarray, present: np.ndarray, slices: Slices | None, n: np.ndarray,
              cols: Columns, pixel_size: float, names: Sequence[str],
              connectivity: int) -> None:
    if slices is None:
        found = ndimage.find_objects(labels)
        slices = [found[i - 1] for i in present]
    perimeter = np.empty(len(present))
    feret = np.empty((len(present), 3))
    for k, (label, (rows, columns)) in enumerate(zip(present, slices)):
        crop = np.pad(labels[rows, columns] == label, 1)
        if "perimeter" in names or "circularity" in names:
            perimeter[k] = imagej_perimeter(crop, connectivity=connectivity)
        if "feret_max" in names or "feret_min" in names or "feret_angle" in names:
            feret[k] = feret_diameters(crop)
    if "perimeter" in names:
        cols["perimeter"] = perimeter * pixel_size
    if "circularity" in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["circularity"] = np.minimum(4 * np.pi * n / perimeter**2, 1.0)
    cols["feret_max"] = feret[:, 0] * pixel_size
    cols["feret_min"] = feret[:, 1] * pixel_size
    cols["feret_angle"] = feret[:, 2]


# -- outlines ----------------------------------------------------------------------------------
def _outline_vertices(mask: np.ndarray, *, connectivity: int = 8) -> list[tuple[int, int]]:
    """Corners (x, y) of the pixel-edge outline of the first object of ``mask``, in order.

    The outline starts at the top-left corner of the first pixel in raster order and goes
    with the object on its right (clockwise on screen); only the points where it turns are
    returned, like ImageJ's wand. With ``connectivity`` 8 it passes between pixels that touch
    by a corner (the outline of an 8-connected object), with 4 it goes round them. ``mask``
    must have a background margin of one pixel.
    """
    _height, width = mask.shape
    cells = mask.astype(bool).ravel().tolist()
    start = cells.index(True)
    y, x = divmod(start, width)
    eight = connectivity == 8
    dx, dy = 1, 0  # east along the top edge
    x0, y0 = x, y
    vertices = [(x, y)]
    while True:
        # the pixels ahead of vertex (x, y): on the right (x + dx - dy, y + dy + dx) and left
        rx, ry = x + (dx - dy - 1) // 2, y + (dy + dx - 1) // 2
        lx, ly = x + (dx + dy - 1) // 2, y + (dy - dx - 1) // 2
        right = cells[ry * width + rx]
        left = cells[ly * width + lx]
        if left and (right or eight):
            dx, dy = dy, -dx
            vertices.append((x, y))
        elif not right:
            dx, dy = -dy, dx
            vertices.append((x, y))
        x, y = x + dx, y + dy
        if x == x0 and y == y0:
            break
    return vertices


def imagej_perimeter(mask: np.ndarray, *, connectivity: int = 8) -> float:
    """ImageJ's perimeter of a traced outline (``PolygonRoi.getTracedPerimeter``).

    The length of the pixel-edge outline of the object, minus 2 − √2 for each corner
    counted: every corner after a side longer than one pixel, and every other corner along
    a staircase of one-pixel sides, so that a 45° staircase measures its diagonal.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
        One object, with a background margin of at least one pixel.
    connectivity : {4, 8}
        How the outline goes past pixels touching by a corner.

    Returns
    -------
    float
        Perimeter [px]. Holes are not counted (the outer outline only, as ImageJ).

    Examples
    --------
    >>> square = np.pad(np.ones((4, 4), bool), 1)
    >>> round(imagej_perimeter(square), 4)  # 16 - 4 × (2 - √2)
    13.6569
    """
    vertices = _outline_vertices(mask, connectivity=connectivity)
    points = np.asarray(vertices, np.int64)
    sides = np.abs(np.diff(points, axis=0, append=points[:1])).sum(axis=1)
    incoming = np.roll(sides, 1)
    corners = 0
    corner = False
    for side in incoming.tolist():
        if side > 1 or not corner:
            corner = True
            corners += 1
        else:
            corner = False
    return float(sides.sum() - corners * (2.0 - math.sqrt(2.0)))


def feret_diameters(mask: np.ndarray) -> tuple[float, float, float]:
    """Largest and smallest caliper diameters of an object, and the largest one's angle.

    Computed on the convex hull of the corners of the object's pixels, as ImageJ does on its
    traced outline: the maximum over pairs of hull vertices, the minimum over the hull's
    edges of the widest vertex distance from the edge (rotating calipers).

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
        One object.

    Returns
    -------
    feret_max, feret_min : float
        [px].
    angle : float
        Of the ``feret_max`` segment, counter-clockwise from the x axis (y up), 0–180 [deg].

    Examples
    --------
    >>> [round(v, 3) for v in feret_diameters(np.ones((3, 4), bool))]
    [5.0, 3.0, 143.13]
    """
    rows, columns = np.nonzero(mask)
    corners = np.concatenate([np.stack([columns + dx, rows + dy], axis=1)
                              for dx in (0, 1) for dy in (0, 1)])  # fmt: skip
    hull = cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return 0.0, 0.0, 0.0
    gaps = hull[:, None, :] - hull[None, :, :]
    squared = (gaps**2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmax(squared)), squared.shape)
    dx, dy = hull[j] - hull[i]
    angle = math.degrees(math.atan2(-dy, dx)) % 180.0  # y points down in the image
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    keep = lengths > 0
    normals = np.stack([-edges[keep, 1], edges[keep, 0]], axis=1) / lengths[keep, None]
    offsets = hull[None, :, :] - hull[keep][:, None, :]  # (edge, vertex, xy)
    width = float(np.abs(np.einsum("evd,ed->ev", offsets, normals)).max(axis=1).min())
    return math.sqrt(float(squared[i, j])), width, angle


def _intensities(image: np.ndarray, where: np.ndarray, lab: np.ndarray, present: np.ndarray,
                 n: np.ndarray, cols: Columns, suffix: str, pixel_size: float) -> None:
    values = np.asarray(image).ravel()[where].astype(np.float64)
    # statistics of values near 1e300 are computed in units of the largest (no overflow)
    scale = float(np.abs(values).max(initial=0.0))
    scale = scale if scale > 1e150 else 1.0
    values = values / scale
    size = present[-1] + 1 if len(present) else 1
    total = np.bincount(lab, values, minlength=size)
    mean_all = total / np.maximum(np.bincount(lab, minlength=size), 1)
    deviation = values - mean_all[lab]
    variance = np.bincount(lab, deviation * deviation, minlength=size)[present] / n
    order = np.lexsort((values, lab))
    ordered = values[order]
    starts = np.concatenate([[0], np.cumsum(n.astype(np.int64))[:-1]]).astype(np.int64)
    counts = n.astype(np.int64)
    low = ordered[starts + (counts - 1) // 2] if len(counts) else ordered[:0]
    high = ordered[starts + counts // 2] if len(counts) else ordered[:0]
    mean = mean_all[present]
    first = ordered[starts] if len(counts) else ordered[:0]
    last = ordered[starts + counts - 1] if len(counts) else ordered[:0]
    with np.errstate(over="ignore"):  # a sum beyond 1.8e308 is inf, as it should be
        cols[f"mean_intensity{suffix}"] = mean * scale
        cols[f"std_intensity{suffix}"] = np.sqrt(variance) * scale
        cols[f"min_intensity{suffix}"] = first * scale
        cols[f"max_intensity{suffix}"] = last * scale
        cols[f"median_intensity{suffix}"] = (low + high) / 2 * scale
        cols[f"integrated_density{suffix}"] = mean * n * pixel_size**2 * scale
        cols[f"raw_integrated_density{suffix}"] = total[present] * scale
