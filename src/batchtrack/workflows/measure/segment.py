"""Segmentation: filter, threshold, fill holes, label, split touching objects, filter by size.

Arrays in, arrays out; no paths. Thresholds are computed safely on any real image: float
images are scaled to [-1, 1] first (Otsu's variances overflow near 1e300 otherwise), and
integer images whose range exceeds 65,536 levels use a 256-bin histogram of a float copy
(scikit-image would allocate one bin per level: 30 GiB for a 32-bit range).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ...errors import InputError
from .params import MeasureParameters

__all__ = ["check_image", "filter_image", "label_image", "segment", "threshold_level"]

#: Integer images with more grey levels than this are thresholded on a 256-bin histogram.
_MAX_LEVELS = 2**16


def _methods() -> dict[str, Callable[[np.ndarray], float]]:
    from skimage import filters

    return {
        "otsu": filters.threshold_otsu,
        "li": filters.threshold_li,
        "triangle": filters.threshold_triangle,
        "yen": filters.threshold_yen,
        "mean": filters.threshold_mean,
    }


def check_image(image: np.ndarray, name: str = "the image") -> np.ndarray:
    """Reject what cannot be segmented, with a message that names the problem and the fix.

    Parameters
    ----------
    image : ndarray
        Grey levels.
    name : str
        How to call the image in messages (its path).

    Returns
    -------
    ndarray, shape (H, W)
        ``image`` (booleans as uint8).

    Raises
    ------
    InputError
        Not 2D, smaller than 2×2 pixels, not real numbers, or holding NaN or infinite values.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise InputError(f"{name} has shape {image.shape}; measure needs a 2D grey image")
    height, width = image.shape
    if height < 2 or width < 2:
        raise InputError(
            f"{name} is {height}×{width} pixels (height × width): too small to segment; "
            "measure needs at least 2×2 pixels"
        )
    if image.dtype == bool:
        return image.astype(np.uint8)
    if image.dtype.kind not in "uif":
        raise InputError(f"{name} holds {image.dtype} values; measure needs real grey levels")
    if image.dtype.kind == "f":
        finite = np.isfinite(image)
        if not finite.all():
            nan = int(np.isnan(image).sum())
            inf = image.size - int(finite.sum()) - nan
            values = image[finite]
            where = (
                f"the finite values span [{values.min():.6g}, {values.max():.6g}]"
                if values.size
                else "no value is finite"
            )
            raise InputError(
                f"{name} has {nan} NaN and {inf} infinite pixels of {image.size} ({where}); "
                "replace them first (Fiji: Process > Math > Remove NaNs…, or set them to the "
                "background level)"
            )
    return image


def filter_image(image: np.ndarray, *, params: MeasureParameters) -> np.ndarray:
    """The image the threshold is applied to: ``params.filter`` (and ``smooth``) applied.

    Mean and median use ImageJ's circular kernel of radius r (offsets with dx² + dy² ≤
    r² + 1) and repeat the edge pixels. On integer images the filtered image (any filter) is
    rounded to the nearest grey level of the image's type, as ImageJ does, so that a fixed
    threshold means the same thing as in Fiji.
    """
    work = image
    radius = params.filter_radius
    kind = params.filter
    if kind == "gaussian" or (kind == "none" and params.smooth > 0):
        from skimage import filters

        sigma = radius if kind == "gaussian" else params.smooth
        if sigma > 0:
            work = filters.gaussian(image.astype(np.float64), sigma=sigma, preserve_range=True)
    elif kind in ("mean", "median") and radius > 0:
        reach = math.floor(math.sqrt(radius * radius + 1))
        dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        kernel = dx * dx + dy * dy <= radius * radius + 1
        if kind == "mean":
            import cv2

            weights = (kernel / kernel.sum()).astype(np.float64)
            work = cv2.filter2D(image.astype(np.float64), -1, weights,
                                borderType=cv2.BORDER_REPLICATE)  # fmt: skip
        else:
            work = ndimage.median_filter(image, footprint=kernel, mode="nearest")
    if work is not image and image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        work = np.clip(np.rint(work), info.min, info.max).astype(image.dtype)
    return work


def threshold_level(image: np.ndarray, *, params: MeasureParameters) -> float:
    """The grey level separating objects from background (fixed, or computed).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        The (filtered) image, finite.
    params : MeasureParameters
        ``threshold``: a method name or a fixed level.

    Returns
    -------
    float
        The level; object pixels are ``> level`` (``>=`` with ``params.inclusive``), or
        below it for dark objects.

    Examples
    --------
    >>> image = np.zeros((8, 8)); image[2:5, 2:5] = 1e300
    >>> threshold_level(image, params=MeasureParameters()) > 0
    True
    """
    if not isinstance(params.threshold, str):
        return float(params.threshold)
    method = _methods()[params.threshold]
    low, high = image.min(), image.max()
    if low == high:
        return float(low)
    wide = image.dtype.kind in "ui" and float(high) - float(low) >= _MAX_LEVELS
    if image.dtype.kind == "f" or wide:
        scale = max(abs(float(low)), abs(float(high)))
        return float(method(image.astype(np.float64) / scale)) * scale
    if params.threshold == "otsu" and image.dtype in (np.uint8, np.uint16):
        from skimage.filters import threshold_otsu

        return float(threshold_otsu(hist=_occupied_levels(image)))
    return float(method(image))


def _occupied_levels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The histogram of an 8- or 16-bit image over the grey levels it holds: counts, levels.

    Otsu's threshold on it equals scikit-image's on the image (which uses one bin per level
    from the minimum to the maximum): an empty level adds nothing to the cumulative sums, so
    the between-class variance after it ties with the level before, and the first of a tie
    wins. Its cumulative sums run over the levels present instead of all 65,536.
    """
    counts = np.bincount(image.ravel())
    levels = np.flatnonzero(counts)
    return counts[levels], levels


def segment(image: np.ndarray, *, params: MeasureParameters) -> tuple[np.ndarray, float]:
    """Label the objects of a grey image, and say which threshold was used.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey levels (any real data type, finite).
    params : MeasureParameters
        Filter, threshold, holes, connectivity, watershed, border, sizes.

    Returns
    -------
    labels : ndarray of int32, shape (H, W)
        0 for the background, objects numbered 1…N in raster order.
    level : float
        The threshold applied (in the filtered image's grey levels).

    Examples
    --------
    >>> image = np.zeros((6, 6), np.uint8); image[1, 1] = image[2, 2] = 200
    >>> [int(segment(image, params=MeasureParameters(min_size=0, connectivity=c))[0].max())
    ...  for c in (4, 8)]
    [2, 1]
    """
    work = filter_image(image, params=params)
    level = threshold_level(work, params=params)
    if params.dark_objects:
        mask = work <= level if params.inclusive else work < level
    else:
        mask = work >= level if params.inclusive else work > level
    if params.fill_holes:
        mask = _fill_holes(mask, params.max_hole_size, params.connectivity)
    structure = ndimage.generate_binary_structure(2, 1 if params.connectivity == 4 else 2)
    labels = np.empty(mask.shape, np.int32)
    ndimage.label(mask, structure=structure, output=labels)
    if params.watershed and labels.any():
        labels = _declump(labels, params.watershed_min_distance, params.connectivity)
    keep: np.ndarray | None = None
    if params.clear_border or params.min_size > 1 or params.max_size > 0:
        counts = np.bincount(labels.ravel())
        keep = np.ones(len(counts), bool)
        if params.min_size > 1:
            keep &= counts >= params.min_size
        if params.max_size > 0:
            keep &= counts <= params.max_size
        if params.clear_border:
            edges = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
            keep[np.unique(edges)] = False
        keep[0] = False
        if not keep[1:].all():
            new = (np.cumsum(keep) * keep).astype(np.int32)
            labels = new[labels]
    return labels, level


def label_image(image: np.ndarray, *, params: MeasureParameters) -> np.ndarray:
    """The labels of :func:`segment` alone."""
    return segment(image, params=params)[0]


def _fill_holes(mask: np.ndarray, max_size: int, connectivity: int) -> np.ndarray:
    """Fill the holes (background not connected to the border), or those smaller than a size.

    The background is 4-connected around 8-connected objects and 8-connected around
    4-connected ones, so that a hole is what a user sees as one.
    """
    background = ndimage.generate_binary_structure(2, 1 if connectivity == 8 else 2)
    if max_size <= 0:
        return ndimage.binary_fill_holes(mask, structure=background)
    holes, _ = ndimage.label(~mask, structure=background)
    edges = np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])
    small = np.bincount(holes.ravel()) < max_size
    small[0] = False
    small[np.unique(edges)] = False
    return mask | small[holes]


def _declump(labels: np.ndarray, min_distance: int, connectivity: int) -> np.ndarray:
    """Split touching objects: watershed of the distance transform from its maxima."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    inside = labels > 0
    distance = ndimage.distance_transform_edt(inside)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=labels,
                           exclude_border=False)  # fmt: skip
    markers = np.zeros(labels.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    seeded = np.zeros(labels.max() + 1, bool)
    seeded[labels[tuple(peaks.T)]] = True
    for label in np.flatnonzero(~seeded[1:]) + 1:  # objects without a maximum keep one seed
        where = np.flatnonzero(labels.ravel() == label)[0]
        markers.flat[where] = markers.max() + 1
    split = watershed(-distance, markers, mask=inside,
                      connectivity=1 if connectivity == 4 else 2).astype(np.int32)  # fmt: skip
    # number the pieces in raster order, like the labels of an image without watershed
    values, first = np.unique(split.ravel(), return_index=True)
    order = np.zeros(values.max() + 1, np.int32)
    ranked = values[values > 0][np.argsort(first[values > 0])]
    order[ranked] = np.arange(1, len(ranked) + 1)
    return order[split]
