"""Touching animals split, fragments of one animal merged: used when the number of animals is known.

The rule (``animals = N > 0``), applied to each frame's contours on their own, so that a frame
gives the same objects whichever process detects it:

1. **Fragments merged.** A piece much smaller than the typical animal (area below
   ``FRAGMENT`` × typical) is joined to the nearest other small piece when their contours come
   within ``sqrt(typical) × GAP`` px of each other and the union is not larger than
   ``MERGED`` × typical. The union is drawn with a line joining the two nearest points and
   its external contour becomes the object.
2. **Blobs split.** A blob at least ``CLEAR`` times the typical area is given
   ``k = round(area / typical)`` animals, any other blob one. Then, while the frame holds
   fewer than ``N`` animals, the blob with the largest area per animal gets one more, as long
   as that leaves at least ``MIN_SHARE`` × typical per animal. (Animals vary in size: a blob
   of 1.5 typical areas is one large animal when the frame already holds N.) A blob with
   ``k > 1`` is split by k-means on the coordinates of its pixels (deterministic start: the
   pixels cut into k equal groups along the blob's major axis), and each cluster's largest
   external contour is an object.

Every object's features are then computed from its contour as for any object
(:func:`batchtrack.detect.object_features`). The typical area is measured once per movie
(:func:`typical_area`), before detection, and passed to every worker.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["CLEAR", "FRAGMENT", "GAP", "MERGED", "MIN_SHARE", "merge_fragments", "split_blobs",
           "split_objects", "typical_area"]  # fmt: skip

#: A piece smaller than this fraction of the typical area is a fragment.
FRAGMENT = 0.5
#: Fragments closer than this times sqrt(typical area) (px) belong to one animal.
GAP = 0.35
#: Merged fragments may not exceed this times the typical area.
MERGED = 1.3
#: A blob this many times the typical area holds several animals whatever the frame's count.
CLEAR = 2.5
#: An extra split (fewer objects than animals) leaves at least this times the typical area each.
MIN_SHARE = 0.75
_KMEANS_ITERATIONS = 20


def typical_area(areas: np.ndarray) -> float:
    """The typical area of one animal: the median of the objects' areas (0 when none).

    Parameters
    ----------
    areas : ndarray, shape (N,)
        Contour areas of objects found in sampled frames.

    Examples
    --------
    >>> typical_area(np.array([100.0, 110.0, 250.0]))
    110.0
    """
    return float(np.median(areas)) if len(areas) else 0.0


def _mask(contour: np.ndarray) -> tuple[np.ndarray, int, int]:
    x0, y0, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h + 2, w + 2), np.uint8)
    cv2.drawContours(mask, [contour], 0, 1, cv2.FILLED, 8, offset=(1 - x0, 1 - y0))
    return mask, x0 - 1, y0 - 1


def _largest_contour(mask: np.ndarray, x0: int, y0: int) -> tuple[np.ndarray, float] | None:
    """The mask's largest external contour (the first of the largest), shifted by (x0, y0),
    and its area; None if the mask is empty."""
    return _largest_per_band(mask, 1, mask.shape[0], x0, y0)[0]


def _largest_per_band(
    bands: np.ndarray, k: int, height: int, x0: int, y0: int
) -> list[tuple[np.ndarray, float] | None]:
    """:func:`_largest_contour` of each of ``k`` masks stacked in ``bands`` (mask ``c`` in
    rows ``c·height`` to ``(c + 1)·height``, each with a border of zeros), in one search:
    the contours of a band are those of its mask alone, found in the same order."""
    found, _ = cv2.findContours(bands, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    best: list[tuple[np.ndarray, float] | None] = [None] * k
    for contour in found:
        band = int(contour[0, 0, 1]) // height
        area = cv2.contourArea(contour)
        held = best[band]
        if held is None or area > held[1]:  # the first of the largest
            best[band] = (contour, area)
    out: list[tuple[np.ndarray, float] | None] = []
    for band, held in enumerate(best):
        if held is None:
            out.append(None)
        else:
            shift = np.array([x0, y0 - band * height], np.int32)
            out.append((held[0] + shift, float(held[1])))
    return out


def _kmeans(xs: np.ndarray, ys: np.ndarray, k: int) -> np.ndarray:
    """Cluster labels of the points ``(xs, ys)`` into ``k`` groups, deterministic start: the
    points cut into k equal groups along the major axis (OpenCV's k-means from there).

    The major axis is the direction of the larger eigenvalue of the points' covariance,
    in closed form (the angle ``½·atan2(2·cxy, cxx − cyy)``), pointing towards +x.
    """
    x = xs - xs.sum() / len(xs)  # what xs.mean() computes, without its overhead
    y = ys - ys.sum() / len(ys)
    angle = 0.5 * np.arctan2(2.0 * float(x @ y), float(x @ x) - float(y @ y))
    along = x * np.cos(angle) + y * np.sin(angle)
    rank = np.empty(len(xs), np.int64)
    rank[np.argsort(along, kind="stable")] = np.arange(len(xs))
    labels = (rank * k // len(xs)).astype(np.int32).reshape(-1, 1)
    points = np.empty((len(xs), 2), np.float32)
    points[:, 0], points[:, 1] = xs, ys
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, _KMEANS_ITERATIONS, 0.1)
    _, labels, _ = cv2.kmeans(points, k, labels, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    return labels.ravel()


def _split_one(contour: np.ndarray, k: int) -> list[tuple[np.ndarray, float]]:
    """Split one blob into ``k`` pieces by k-means on its pixels."""
    mask, x0, y0 = _mask(contour)
    ys, xs = np.nonzero(mask)
    if len(xs) < 2 * k:
        return []
    labels = _kmeans(xs.astype(np.float64), ys.astype(np.float64), k)
    # cluster c's pixels in band c of a stack of k masks (one contour search for all)
    height = mask.shape[0]
    bands = np.zeros((k * height, mask.shape[1]), np.uint8)
    bands[ys + labels * height, xs] = 1
    return [
        found
        for found in _largest_per_band(bands, k, height, x0, y0)
        if found is not None and found[1] > 0
    ]


def _animals_per_blob(areas: np.ndarray, typical: float, expected: int) -> np.ndarray:
    """How many animals each blob holds (see the module's rule 2)."""
    ratio = areas / typical
    k = np.where(ratio >= CLEAR, np.rint(ratio), 1).astype(np.int64)
    while expected and k.sum() < expected and len(k):
        share = areas / (k + 1)
        best = int(np.argmax(share))
        if share[best] < MIN_SHARE * typical:
            break
        k[best] += 1
    return k


def split_blobs(
    contours: list[np.ndarray],
    areas: np.ndarray,
    *,
    typical: float,
    expected: int = 0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Split blobs holding several animals (rule 2 of the module).

    Parameters
    ----------
    contours : list of ndarray of int32, shape (K, 1, 2)
        External contours of one frame.
    areas : ndarray, shape (M,)
        Their contour areas.
    typical : float
        Typical area of one animal (px²); 0 or less: nothing is split.
    expected : int
        Number of animals in the frame (0 = unknown).

    Returns
    -------
    contours : list of ndarray
        The objects: each blob holding one animal, or the pieces of a split one, in order.
    areas : ndarray, shape (M',)
        Their contour areas.
    pieces : ndarray of bool, shape (M',)
        True for the pieces of split blobs.
    """
    if typical <= 0 or not contours:
        return list(contours), np.asarray(areas, np.float64), np.zeros(len(contours), bool)
    k = _animals_per_blob(np.asarray(areas, np.float64), typical, expected)
    out, out_areas, split = [], [], []
    for contour, area, n in zip(contours, areas, k.tolist(), strict=True):
        pieces = _split_one(contour, n) if n > 1 else []
        if len(pieces) < 2:
            pieces = [(contour, float(area))]
        for piece, piece_area in pieces:
            out.append(piece)
            out_areas.append(piece_area)
            split.append(len(pieces) > 1)
    return out, np.asarray(out_areas, np.float64), np.asarray(split, bool)


def _nearest_points(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    pa, pb = a.reshape(-1, 2).astype(np.float64), b.reshape(-1, 2).astype(np.float64)
    d = ((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    return float(np.sqrt(d[i, j])), pa[i], pb[j]


def _join(
    a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray
) -> tuple[np.ndarray, float] | None:
    both = np.concatenate([a, b])
    x0, y0, w, h = cv2.boundingRect(both)
    mask = np.zeros((h + 2, w + 2), np.uint8)
    shift = (1 - x0, 1 - y0)
    cv2.drawContours(mask, [a, b], -1, 1, cv2.FILLED, 8, offset=shift)
    p = tuple(int(v) for v in pa + shift)
    q = tuple(int(v) for v in pb + shift)
    cv2.line(mask, p, q, 1, 2)
    return _largest_contour(mask, x0 - 1, y0 - 1)


def merge_fragments(
    contours: list[np.ndarray], areas: np.ndarray, *, typical: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """Join fragments of one animal (rule 1 of the module).

    Parameters
    ----------
    contours : list of ndarray of int32, shape (K, 1, 2)
        External contours of one frame.
    areas : ndarray, shape (M,)
        Their contour areas.
    typical : float
        Typical area of one animal (px²); 0 or less: nothing is merged.

    Returns
    -------
    contours, areas
        Pieces not merged (in order), then the merged objects.
    """
    contours, sizes = list(contours), [float(a) for a in areas]
    if typical <= 0:
        return contours, np.asarray(sizes, np.float64)
    gap = GAP * np.sqrt(typical)
    merged = True
    while merged:
        merged = False
        small = [i for i, a in enumerate(sizes) if a < FRAGMENT * typical]
        best: tuple[float, int, int, np.ndarray, np.ndarray] | None = None
        for n, i in enumerate(small):
            for j in small[n + 1 :]:
                if sizes[i] + sizes[j] > MERGED * typical:
                    continue
                d, pa, pb = _nearest_points(contours[i], contours[j])
                if d <= gap and (best is None or d < best[0]):
                    best = (d, i, j, pa, pb)
        if best is not None:
            _, i, j, pa, pb = best
            joined = _join(contours[i], contours[j], pa, pb)
            if joined is not None:
                for index in (j, i):
                    del contours[index], sizes[index]
                contours.append(joined[0])
                sizes.append(joined[1])
                merged = True
    return contours, np.asarray(sizes, np.float64)


def split_objects(
    contours: list[np.ndarray],
    areas: np.ndarray,
    *,
    typical: float,
    expected: int = 0,
    min_area: float = 0.0,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """One frame's objects with fragments merged, small leftovers dropped, blobs split.

    Parameters
    ----------
    contours : list of ndarray of int32, shape (K, 1, 2)
        External contours of one frame, fragments and large blobs included.
    areas : ndarray, shape (M,)
        Their contour areas.
    typical : float
        Typical area of one animal (px²).
    expected : int
        Number of animals (0 = unknown).
    min_area : float
        Objects not larger than this after merging are dropped.

    Returns
    -------
    contours : list of ndarray
    areas : ndarray, shape (M',)
    pieces : ndarray of bool, shape (M',)
        True for the pieces of split blobs.

    Examples
    --------
    >>> import cv2
    >>> image = np.zeros((40, 80), np.uint8)
    >>> _ = cv2.rectangle(image, (5, 10), (34, 19), 255, -1)
    >>> _ = cv2.rectangle(image, (35, 10), (64, 19), 255, -1)   # two touching animals
    >>> found, _ = cv2.findContours(image, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    >>> found, areas, pieces = split_objects(
    ...     list(found), np.array([cv2.contourArea(found[0])]), typical=261.0, expected=2)
    >>> len(found), pieces.tolist()
    (2, [True, True])
    """
    contours, areas = merge_fragments(contours, areas, typical=typical)
    keep = [i for i, a in enumerate(areas.tolist()) if a > min_area]
    contours, areas = [contours[i] for i in keep], areas[keep]
    return split_blobs(contours, areas, typical=typical, expected=expected)
