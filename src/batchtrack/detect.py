"""Detection: binarise a frame against its background, find objects, measure their features.

This is the hot path of the tracker. The feature extraction follows FastTrack's definitions
(see ``docs/fasttrack-compatibility.md``) closely enough to reproduce its numbers to about 1e-3:

* body: centroid and orientation from the moments of the filled contour's pixels;
* direction: each pixel is projected on the major axis (``p``); a positive third central
  moment of ``p`` (a long thin end on the positive side) puts the head on the negative side;
* head and tail: the pixels on either side of the centroid along the axis; each half gets
  its own centroid, ellipse axes and direction (its axis, oriented within ±π/2 of the body);
* curvature: from the intersection of the head's and the tail's minor axes, computed as
  FastTrack 6 computes it (see :func:`_curvature`).

All objects of a call (of many frames, in the tracker) are measured at once: their filled
pixels are concatenated and every sum is one ``np.add.reduceat``. Every function here works on
arrays; nothing knows about files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np

from .schema import FEATURE_COLUMNS

if TYPE_CHECKING:
    from .params import Parameters

__all__ = [
    "FEATURE_COLUMNS",
    "Region",
    "Regions",
    "binarize",
    "binary_image",
    "detect",
    "find_in_regions",
    "find_objects",
    "object_features",
    "roi_offset",
    "segment",
]


_TWO_PI = 2.0 * math.pi


def binarize(
    frame: np.ndarray,
    background: np.ndarray,
    *,
    thresh: int,
    light_back: int = 0,
    morph: int = 8,
    morph_size: int = 0,
    morph_type: int = 0,
) -> np.ndarray:
    """Subtract the background and threshold.

    Parameters
    ----------
    frame, background : ndarray of uint8, shape (H, W)
        Grey frame and background.
    thresh : int
        Pixels whose (saturated) difference exceeds ``thresh`` are object pixels.
    light_back : {0, 1}
        0: light background, dark objects (difference = background - frame);
        1: dark background, light objects (difference = frame - background).
    morph, morph_size, morph_type : int
        OpenCV morphology code (8 = none), kernel half-size, kernel shape.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        Binary image, 255 for object pixels.
    """
    diff = cv2.subtract(background, frame) if light_back == 0 else cv2.subtract(frame, background)
    _, binary = cv2.threshold(diff, thresh, 255, cv2.THRESH_BINARY)
    if morph_size != 0 and morph != 8:
        size = 2 * morph_size + 1
        kernel = cv2.getStructuringElement(morph_type, (size, size), (morph_size, morph_size))
        binary = cv2.morphologyEx(binary, morph, kernel)
    return binary


def find_objects(
    binary: np.ndarray, *, min_area: float, max_area: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """External contours whose polygon area lies strictly between ``min_area`` and ``max_area``.

    Parameters
    ----------
    binary : ndarray of uint8, shape (H, W)
        Binary image (non-zero = object).
    min_area, max_area : float
        Exclusive bounds on the contour area (px²).

    Returns
    -------
    contours : list of ndarray of int32, shape (K, 1, 2)
        Kept contours, in OpenCV's detection order.
    areas : ndarray of float64, shape (N,)
        Their contour areas.
    """
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    kept, areas = [], []
    for contour in contours:
        area = cv2.contourArea(contour)
        if min_area < area < max_area:
            kept.append(contour)
            areas.append(area)
    return kept, np.asarray(areas, dtype=np.float64)


def _orientation(mu20: np.ndarray, mu11: np.ndarray, mu02: np.ndarray) -> np.ndarray:
    """Major-axis orientation in [0, 2π) from second central moments (y axis pointing down).

    Equal to FastTrack's ``2π − (½·atan(2μ11/(μ20 − μ02)) + …)`` modulo π, which is all that
    matters: the direction step then picks the side. FastTrack's test for an undefined
    orientation, ``μ20 + μ11 − μ02 == 0``, is kept and gives 0.
    """
    angle = (-0.5 * np.arctan2(2 * mu11, mu20 - mu02)) % _TWO_PI
    return np.where(mu20 + mu11 - mu02 != 0, angle, 0.0)


def _axes(m00: np.ndarray, mu20: np.ndarray, mu11: np.ndarray, mu02: np.ndarray) -> np.ndarray:
    """Major axis, minor axis and eccentricity, shape (3, N). Call under ``np.errstate``."""
    root = np.sqrt((mu20 - mu02) ** 2 + 4 * mu11 * mu11)
    total = mu20 + mu02
    major = np.sqrt(np.maximum(total + root, 0) * 2 / m00)
    minor = np.sqrt(np.maximum(total - root, 0) * 2 / m00)
    return np.stack([major, minor, np.sqrt(1 - minor * minor / (major * major))])


def _moments(sums: np.ndarray) -> tuple[np.ndarray, ...]:
    """Count, centroid and second central moments from raw sums.

    Parameters
    ----------
    sums : ndarray, shape (6, N)
        Per-group sums of 1, x, y, x², xy, y².

    Returns
    -------
    m00, cx, cy, mu20, mu11, mu02 : ndarray, shape (N,)
    """
    m00, sx, sy, sxx, sxy, syy = sums
    cx, cy = sx / m00, sy / m00
    return m00, cx, cy, sxx - sx * cx, sxy - sx * cy, syy - sy * cy


def _third_moment_positive(p: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``np.add.reduceat(p**3, starts) > 0``, the same booleans, five times faster.

    ``p**3`` calls ``pow`` per pixel. ``p*p*p`` differs from it by at most 2 ulp per term, so
    the two sums differ by less than ``bound = 4 (n + 2) eps Σ|p|³`` (n terms, sequential
    summation); where the fast sum is farther than that from 0 its sign is the exact one's,
    and the few objects closer to 0 are summed again with ``p**3``.
    """
    cube = p * p * p
    fast = np.add.reduceat(cube, starts)
    bound = 4.0 * (counts + 2) * np.finfo(np.float64).eps * np.add.reduceat(np.abs(cube), starts)
    positive = fast > 0
    for i in np.flatnonzero(~(np.abs(fast) > bound)):
        # reduceat over the object alone: the very summation the batch call does
        positive[i] = np.add.reduceat(p[starts[i] : starts[i] + counts[i]] ** 3, [0])[0] > 0
    return positive


def _half_direction(orientation: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Orient a half's axis like the body: flip it by π when it is more than π/2 away."""
    diff = (orientation - body + np.pi) % _TWO_PI - np.pi
    return np.where(np.abs(diff) > 0.5 * np.pi, orientation + np.pi, orientation) % _TWO_PI


def _curvature(
    head: tuple[np.ndarray, np.ndarray, np.ndarray],
    tail: tuple[np.ndarray, np.ndarray, np.ndarray],
    x_local: np.ndarray,
    y_local: np.ndarray,
    counts: np.ndarray,
    starts: np.ndarray,
) -> np.ndarray:
    """Curvature as FastTrack 6 computes it (reproduced for compatibility).

    The centre is where the minor axes of the head and tail ellipses cross. FastTrack then
    (a) computes the centre's y as ``a·(d + b)/(a − c) + b`` rather than ``a·x + b`` and
    (b) measures distances from that frame-coordinate centre to pixel coordinates local to the
    object's bounding box. Its numbers are reproduced exactly; they are not a geometric
    curvature. Parallel axes give 0.
    """
    (xh, yh, th), (xt, yt, tt) = head, tail
    a = np.sin(tt + 0.5 * np.pi) / np.cos(tt + 0.5 * np.pi)
    c = np.sin(th + 0.5 * np.pi) / np.cos(th + 0.5 * np.pi)
    b = yt - a * xt
    d = yh - c * xh
    cx = (d - b) / (a - c)
    cy = a * ((d + b) / (a - c)) + b
    parallel = ~(np.abs(a - c) >= 1e-9)
    cx, cy = np.where(parallel, 0.0, cx), np.where(parallel, 0.0, cy)
    dx = np.repeat(cx, counts) - x_local
    dy = np.repeat(cy, counts) - y_local
    curvature = counts / np.add.reduceat(np.sqrt(dx * dx + dy * dy), starts)
    return np.where(parallel | ~np.isfinite(curvature), 0.0, curvature)


def _pixels(contours: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Pixels of every filled contour, concatenated object after object.

    Returns the pixel coordinates local to each object's bounding box (row after row, as
    ``np.nonzero`` orders them), the pixel count of each object, and the boxes' corners
    (x0, y0) per object.

    The objects are filled on one canvas, each box in its own band of rows, one below the
    other: one ``drawContours`` and one ``findNonZero`` per canvas instead of per object. A
    row of the canvas belongs to one object only, so each fills exactly as if alone, and the
    canvas's row-major order is object after object, each row after row.
    """
    n = len(contours)
    lengths = np.fromiter(map(len, contours), np.intp, n)
    points = np.concatenate(contours).reshape(-1, 2)
    firsts = np.zeros(n, np.intp)
    np.cumsum(lengths[:-1], out=firsts[1:])
    x0, y0 = np.minimum.reduceat(points, firsts).T
    x1, y1 = np.maximum.reduceat(points, firsts).T
    heights, widths = y1 - y0 + 1, x1 - x0 + 1
    corners = np.column_stack((x0, y0)).astype(np.float64)
    xs, ys, counts = [], [], np.empty(n, np.intp)
    for a, b in _canvases(heights, widths):
        tops = np.zeros(b - a, np.intp)
        np.cumsum(heights[a : b - 1], out=tops[1:])
        lo, hi = firsts[a], firsts[b - 1] + lengths[b - 1]
        shift = np.column_stack((x0[a:b], y0[a:b] - tops)).astype(points.dtype)
        moved = points[lo:hi] - np.repeat(shift, lengths[a:b], axis=0)
        shapes = moved.reshape(-1, 1, 2)
        bounds = np.cumsum(lengths[a:b]).tolist()
        pieces = [shapes[e - k : e] for e, k in zip(bounds, lengths[a:b].tolist())]
        canvas = np.zeros((int(heights[a:b].sum()), int(widths[a:b].max())), np.uint8)
        cv2.drawContours(canvas, pieces, -1, 1, cv2.FILLED, 8)
        found = cv2.findNonZero(canvas)
        found = np.empty((0, 2), np.int32) if found is None else found.reshape(-1, 2)
        owner = np.repeat(np.arange(b - a), heights[a:b])[found[:, 1]]
        counts[a:b] = np.bincount(owner, minlength=b - a)
        xs.append(found[:, 0])
        ys.append(found[:, 1] - tops[owner])
    x = np.concatenate(xs).astype(np.float64)
    y = np.concatenate(ys).astype(np.float64)
    return x, y, counts, corners


_CANVAS_PIXELS = 1 << 22  # 4 MiB of canvas at most, unless one object alone is larger


def _canvases(heights: np.ndarray, widths: np.ndarray) -> Iterator[tuple[int, int]]:
    """Runs ``[a, b)`` of consecutive objects whose stacked boxes make a canvas of at most
    :data:`_CANVAS_PIXELS` pixels (height: the sum of theirs; width: the widest), or one
    object alone."""
    a, n = 0, len(heights)
    while a < n:
        sizes = np.cumsum(heights[a:]) * np.maximum.accumulate(widths[a:])
        b = a + max(1, int(np.searchsorted(sizes, _CANVAS_PIXELS, side="right")))
        yield a, b
        a = b


def object_features(
    contours: list[np.ndarray], areas: np.ndarray, *, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Features of each object, one row per contour, computed for all objects at once.

    Parameters
    ----------
    contours : list of ndarray, shape (K, 1, 2)
        External contours (as returned by :func:`find_objects`).
    areas : ndarray, shape (N,)
        Their contour areas.
    offset : (int, int)
        (x, y) added to every position, e.g. the top-left corner of a region of interest.

    Returns
    -------
    ndarray of float64, shape (N, 21)
        Columns as :data:`FEATURE_COLUMNS`.
    """
    out = np.empty((len(contours), len(FEATURE_COLUMNS)), dtype=np.float64)
    if len(contours) == 0:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        _fill_features(out, contours, areas)
    if offset != (0, 0):
        out[:, [0, 3, 6]] += offset[0]
        out[:, [1, 4, 7]] += offset[1]
    return out


def _fill_features(out: np.ndarray, contours: list[np.ndarray], areas: np.ndarray) -> None:
    """Compute every feature column of ``out`` (see :func:`object_features`)."""
    x, y, counts, corners = _pixels(contours)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # Integer-valued terms: their sums are exact, in whatever order they are added.
    powers = (x, y, x * x, x * y, y * y)
    body_sums = np.empty((6, len(starts)))
    body_sums[0] = counts
    for row, power in enumerate(powers, 1):
        body_sums[row] = np.add.reduceat(power, starts)
    m00, cx, cy, mu20, mu11, mu02 = _moments(body_sums)
    theta = _orientation(mu20, mu11, mu02)

    # Direction: the long thin end (positive third moment along the axis) is the tail.
    cos, sin = np.repeat(np.cos(theta), counts), np.repeat(np.sin(theta), counts)
    p = cos * (x - np.repeat(cx, counts)) - sin * (y - np.repeat(cy, counts))
    p -= np.repeat(np.add.reduceat(p, starts) / m00, counts)
    head_negative = _third_moment_positive(p, counts, starts)
    theta = np.where(head_negative, (theta - np.pi) % _TWO_PI, theta)

    # Head and tail halves, split at the centroid along the major axis.
    in_head = (p < 0) == np.repeat(head_negative, counts)
    head_sums = np.empty_like(body_sums)
    head_sums[0] = np.add.reduceat(in_head, starts, dtype=np.float64)
    for row, power in enumerate(powers, 1):
        head_sums[row] = np.add.reduceat(np.where(in_head, power, 0.0), starts)
    halves = []
    for sums in (head_sums, body_sums - head_sums):
        hm00, hx, hy, h20, h11, h02 = _moments(sums)
        direction = _half_direction(_orientation(h20, h11, h02), theta)
        halves.append(
            ((hx + corners[:, 0], hy + corners[:, 1], direction), _axes(hm00, h20, h11, h02))
        )
    (head, head_axes), (tail, tail_axes) = halves

    out[:, 0:3] = np.column_stack(head)
    out[:, 3:6] = np.column_stack(tail)
    out[:, 6] = cx + corners[:, 0]
    out[:, 7] = cy + corners[:, 1]
    out[:, 8] = theta
    out[:, 9] = _curvature(head, tail, x, y, counts, starts)
    out[:, 10] = areas
    out[:, 11] = [cv2.arcLength(contour, True) for contour in contours]
    out[:, 12:15] = head_axes.T
    out[:, 15:18] = tail_axes.T
    out[:, 18:21] = _axes(m00, mu20, mu11, mu02).T


def binary_image(frame: np.ndarray, background: np.ndarray, params: Parameters) -> np.ndarray:
    """The whole frame's binary image for these parameters (:func:`binarize` with FastTrack's
    names: ``thresh``, ``lightBack``, ``morph``, ``morphSize``, ``morphType``)."""
    return binarize(
        frame,
        background,
        thresh=params.thresh,
        light_back=params.lightBack,
        morph=params.morph,
        morph_size=params.morphSize,
        morph_type=params.morphType,
    )


def segment(
    frame: np.ndarray,
    background: np.ndarray,
    params: Parameters,
    *,
    area_bounds: tuple[float, float] | None = None,
    regions: Sequence[Region] | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Binarise a frame and keep the objects within the area bounds.

    Parameters
    ----------
    frame, background : ndarray of uint8, shape (H, W)
        Grey frame (already registered if needed) and background.
    params : batchtrack.params.Parameters
        ``thresh``, ``lightBack``, morphology, ROI and area bounds.
    area_bounds : (float, float), optional
        Exclusive area bounds to use instead of ``minArea`` and ``maxArea``.
    regions : sequence of Region, optional
        Find objects inside each region only (arenas): an object never spans two regions,
        and one touching a region's edge keeps all its pixels inside it, as if the region
        were the whole frame. Objects come region after region, or, for regions that touch
        nowhere (:class:`Regions`), in one search's order (the same order within a region).

    Returns
    -------
    contours : list of ndarray
        External contours, in ROI coordinates (add :func:`roi_offset` for image coordinates).
    areas : ndarray, shape (N,)
        Their contour areas.
    """
    binary = roi_binary(frame, background, params)
    low, high = area_bounds or (params.minArea, params.maxArea)
    if regions is None:
        return find_objects(binary, min_area=low, max_area=high)
    if isinstance(regions, Regions) and regions.labels is not None:  # one search for all
        return find_objects(binary & regions.union, min_area=low, max_area=high)
    contours: list[np.ndarray] = []
    areas = []
    highs = [high] * len(regions)
    for found, found_areas in find_in_regions(binary, regions, min_area=low, max_areas=highs):
        contours.extend(found)
        areas.append(found_areas)
    return contours, np.concatenate(areas) if areas else np.empty(0)


def roi_binary(frame: np.ndarray, background: np.ndarray, params: Parameters) -> np.ndarray:
    """The binary image (:func:`binary_image`) cropped to the region of interest."""
    binary = binary_image(frame, background, params)
    if any((params.xTop, params.yTop, params.xBottom, params.yBottom)):
        binary = binary[params.yTop : params.yBottom, params.xTop : params.xBottom]
    return binary


def find_in_region(
    binary: np.ndarray, region: Region, *, min_area: float, max_area: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`find_objects` inside one region of a (ROI) binary image; contours in ROI
    coordinates."""
    inside = binary[region.y0 : region.y1, region.x0 : region.x1] & region.mask
    found, areas = find_objects(inside, min_area=min_area, max_area=max_area)
    shift = np.array([region.x0, region.y0], np.int32)
    return [contour + shift for contour in found], areas


def find_in_regions(
    binary: np.ndarray,
    regions: Sequence[Region],
    *,
    min_area: float,
    max_areas: Sequence[float],
) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """:func:`find_in_region` for each region, with each region's ``max_area``.

    When the regions are a :class:`Regions` none of which touches another, the objects of
    all of them are found in one search of the binary image masked by the regions: no object
    can then join two regions, and each is found with the same pixels, contour and relative
    order as by a search inside its own region (both scan the pixels row by row).
    """
    if not isinstance(regions, Regions) or regions.labels is None:
        return [
            find_in_region(binary, region, min_area=min_area, max_area=high)
            for region, high in zip(regions, max_areas, strict=True)
        ]
    found, areas = find_objects(
        binary & regions.union, min_area=min_area, max_area=max(max_areas, default=0.0)
    )
    if not found:
        return [([], np.empty(0)) for _ in regions]
    firsts = np.array([contour[0, 0] for contour in found])
    which = regions.index_of[regions.labels[firsts[:, 1], firsts[:, 0]]]
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(regions) + 1))
    out = []
    for k, high in enumerate(max_areas):
        mine = order[bounds[k] : bounds[k + 1]]
        mine = mine[areas[mine] < high]
        out.append(([found[i] for i in mine], areas[mine]))
    return out


class Regions(list["Region"]):
    """Regions (arenas) with what one search for all of them needs, when none touches
    another (see :func:`find_in_regions`).

    Parameters
    ----------
    regions : iterable of Region
        The regions, in order.
    labels : ndarray of int32, shape (H, W)
        Their label image in the coordinates of the binary image (region ``k`` of the list
        is label ``label_of[k]``).
    label_of : sequence of int
        The label of each region.

    Attributes
    ----------
    labels : ndarray or None
        The label image, or None when two regions touch (then each is searched alone).
    union : ndarray of uint8
        255 inside any region.
    index_of : ndarray of intp
        The region index of each label (-1 for none).
    """

    def __init__(
        self, regions: Iterable[Region], labels: np.ndarray, label_of: Sequence[int]
    ) -> None:
        super().__init__(regions)
        self.labels: np.ndarray | None = labels if not _touching(labels) else None
        self.union = np.where(labels > 0, 255, 0).astype(np.uint8)
        self.index_of = np.full(int(labels.max(initial=0)) + 1, -1, np.intp)
        for k, label in enumerate(label_of):
            self.index_of[label] = k


def _touching(labels: np.ndarray) -> bool:
    """True if a pixel of one label is a neighbour (8-connected) of a pixel of another.

    Examples
    --------
    >>> _touching(np.array([[1, 0, 2]])), _touching(np.array([[1, 2, 0]]))
    (False, True)
    """
    pairs = (
        (labels[:, :-1], labels[:, 1:]),
        (labels[:-1, :], labels[1:, :]),
        (labels[:-1, :-1], labels[1:, 1:]),
        (labels[:-1, 1:], labels[1:, :-1]),
    )
    return any(bool(((a > 0) & (b > 0) & (a != b)).any()) for a, b in pairs)


class Region(NamedTuple):
    """A part of the (ROI) image where objects are looked for: a box and, inside it, a mask.

    Attributes
    ----------
    x0, y0, x1, y1 : int
        The box, in ROI coordinates (``x1``, ``y1`` exclusive).
    mask : ndarray of uint8, shape (y1 - y0, x1 - x0)
        255 where the region is, 0 elsewhere.
    animals : int
        Animals expected in it (0 = unknown).
    """

    x0: int
    y0: int
    x1: int
    y1: int
    mask: np.ndarray
    animals: int = 0


def roi_offset(params: Parameters) -> tuple[int, int]:
    """(x, y) of the ROI's top-left corner: what turns ROI coordinates into image coordinates."""
    return (params.xTop, params.yTop)


def detect(frame: np.ndarray, background: np.ndarray, params: Parameters) -> np.ndarray:
    """Detect the objects of one frame and measure their features.

    Parameters
    ----------
    frame, background : ndarray of uint8, shape (H, W)
        Grey frame (already registered if needed) and background.
    params : batchtrack.params.Parameters
        Tracking parameters (``thresh``, ``lightBack``, morphology, ROI, area bounds).

    Returns
    -------
    ndarray of float64, shape (N, 21)
        One row per object, columns as :data:`FEATURE_COLUMNS`, positions in full-image pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from batchtrack.params import Parameters
    >>> bg = np.full((64, 64), 200, np.uint8)
    >>> frame = bg.copy(); frame[30:34, 10:40] = 20
    >>> detect(frame, bg, Parameters(minArea=10, maxArea=500)).shape
    (1, 21)
    """
    contours, areas = segment(frame, background, params)
    return object_features(contours, areas, offset=roi_offset(params))
