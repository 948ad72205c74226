"""Background model: projection of evenly sampled frames, and image registration."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .io.messages import native_output

__all__ = [
    "REGISTRATION_METHODS",
    "load_background",
    "match_brightness",
    "median_level",
    "project",
    "register",
    "sample_indices",
]

log = logging.getLogger(__name__)

#: Registration codes, as FastTrack's ``regBack`` and ``reg``.
REGISTRATION_METHODS = {0: "none", 1: "phase correlation", 2: "ECC", 3: "ORB features"}


def sample_indices(n_frames: int, n_back: int) -> list[int]:
    """Frames used for the background: ``k·(N−1)//(nBack−1)`` for k in 0…nBack−1.

    Parameters
    ----------
    n_frames : int
        Number of frames of the movie (N).
    n_back : int
        Number of frames wanted; at most N are used.

    Examples
    --------
    >>> sample_indices(100, 5)
    [0, 24, 49, 74, 99]
    """
    n_back = max(1, min(n_back, n_frames))
    if n_back == 1:
        return [0]
    return [k * (n_frames - 1) // (n_back - 1) for k in range(n_back)]


def project(frames: Iterable[np.ndarray], *, method: int = 1) -> np.ndarray:
    """Minimum (0), maximum (1) or average (2) projection of grey frames.

    Parameters
    ----------
    frames : iterable of ndarray of uint8, shape (H, W)
        Frames, all of the same shape, streamed.
    method : {0, 1, 2}
        Projection.

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    if method not in (0, 1, 2):
        raise ValueError(f"method must be 0 (min), 1 (max) or 2 (average), got {method}")
    result, count = None, 0
    for frame in frames:
        count += 1
        if result is None:
            result = frame.astype(np.float64) if method == 2 else frame.copy()
        elif method == 0:
            np.minimum(result, frame, out=result)
        elif method == 1:
            np.maximum(result, frame, out=result)
        else:
            result += frame
    if result is None:
        raise InputError("no readable frame to compute the background from")
    if method == 2:
        return np.clip(np.rint(result / count), 0, 255).astype(np.uint8)
    return result


def median_level(image: np.ndarray, *, step: int = 1) -> float:
    """Median grey level of an 8-bit image (from its histogram), of every ``step``-th pixel
    of every ``step``-th row.

    Examples
    --------
    >>> median_level(np.array([[0, 10, 200]], np.uint8))
    10.0
    """
    sample = np.ascontiguousarray(image[::step, ::step]) if step > 1 else image
    histogram = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
    return float(np.searchsorted(np.cumsum(histogram), 0.5 * histogram.sum()))


def match_brightness(frame: np.ndarray, level: float, *, tolerance: float = 0.02) -> np.ndarray:
    """Scale a frame so that its median grey level is ``level`` (a lamp dims, a gain drifts).

    The median (of every 4th pixel of every 4th row), not the mean, so that the animals do
    not count.

    Parameters
    ----------
    frame : ndarray of uint8, shape (H, W)
        Grey frame.
    level : float
        Median grey level wanted, e.g. the typical frame's (:func:`median_level`).
    tolerance : float
        Frames within this relative difference are returned unchanged.

    Returns
    -------
    ndarray of uint8, shape (H, W)

    Examples
    --------
    >>> frame = np.full((4, 4), 100, np.uint8)
    >>> int(match_brightness(frame, 150.0)[0, 0])
    150
    """
    median = median_level(frame, step=4)
    if median <= 0 or abs(level / median - 1.0) <= tolerance:
        return frame
    return cv2.convertScaleAbs(frame, alpha=level / median)


def _phase_correlation(reference: np.ndarray, frame: np.ndarray) -> np.ndarray:
    window = cv2.createHanningWindow((frame.shape[1], frame.shape[0]), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(np.float32(reference), np.float32(frame), window)
    return np.array([[1, 0, -dx], [0, 1, -dy]], dtype=np.float32)


def _ecc(reference: np.ndarray, frame: np.ndarray) -> np.ndarray:
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-5)
    _, warp = cv2.findTransformECC(
        np.float32(reference), np.float32(frame), warp, cv2.MOTION_EUCLIDEAN, criteria, None, 5
    )
    return cv2.invertAffineTransform(warp)


def _orb(reference: np.ndarray, frame: np.ndarray) -> np.ndarray:
    orb = cv2.ORB_create(500)
    kp_f, des_f = orb.detectAndCompute(frame, None)
    kp_r, des_r = orb.detectAndCompute(reference, None)
    if des_f is None or des_r is None:
        raise cv2.error("no ORB features")
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(des_f, des_r)
    if len(matches) < 4:
        raise cv2.error("fewer than 4 ORB matches")
    src = np.array([kp_f[m.queryIdx].pt for m in matches], dtype=np.float32)
    dst = np.array([kp_r[m.trainIdx].pt for m in matches], dtype=np.float32)
    homography, _ = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    if homography is None:
        raise cv2.error("no homography found")
    return homography


_ESTIMATORS: dict[int, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    1: _phase_correlation,
    2: _ecc,
    3: _orb,
}


def register(reference: np.ndarray, frame: np.ndarray, method: int) -> np.ndarray:
    """Align ``frame`` onto ``reference``.

    Parameters
    ----------
    reference, frame : ndarray of uint8, shape (H, W)
        Grey images.
    method : {0, 1, 2, 3}
        0 none, 1 phase correlation (translation), 2 ECC (Euclidean), 3 ORB features with a
        RANSAC homography.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        The registered frame; borders are filled by replicating the edge so that they do not
        look like objects. If the estimation fails (ECC not converging, too few features) the
        frame is returned unchanged and a warning is logged.
    """
    if method == 0:
        return frame
    if method not in _ESTIMATORS:
        raise ValueError(f"registration method must be 0-3, got {method}")
    try:
        transform = _ESTIMATORS[method](reference, frame)
    except cv2.error as error:
        name = REGISTRATION_METHODS[method]
        log.warning("registration (%s) failed, frame left as is: %s", name, error)
        return frame
    size = (frame.shape[1], frame.shape[0])
    if transform.shape == (3, 3):
        return cv2.warpPerspective(frame, transform, size, borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(frame, transform, size, borderMode=cv2.BORDER_REPLICATE)


def load_background(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a background image as 8-bit grey and check it has the frames' shape.

    Raises
    ------
    InputError
        If the file is missing, unreadable or of another size than the frames.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"background image {path} does not exist; give an existing image file")
    if not os.access(path, os.R_OK):
        raise InputError(
            f"background image {path} cannot be read (Permission denied); make it readable or "
            "give another image"
        )
    with native_output(path.name):  # the codec's own complaint goes to the log
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(
            f"background image {path} cannot be decoded (damaged or not an image); give a PGM, "
            "PNG or TIFF image"
        )
    if image.shape != tuple(shape):
        raise InputError(
            f"background image {path} is {image.shape[1]}×{image.shape[0]} px but the frames are "
            f"{shape[1]}×{shape[0]} px; use a background computed from this movie"
        )
    return image
