"""Parameters measured from the movie: ``thresh``, ``lightBack``, area bounds, ``maxDist``…

Every function here takes arrays (a sample of frames spread over the movie, the frame that
follows each of them, a background) and returns numbers with the measurement behind each, as
a :class:`Measurement`; nothing reads files or prints. :func:`batchtrack.movie.resolve_parameters`
reads the sample, computes the background and calls :func:`measure_polarity`, then
:func:`measure_detection`.

How each value is measured:

* ``lightBack``: the sampled frames are compared with their pixel-wise median (or with the
  given background); pixels far out of the noise are counted on the dark and on the light
  side. Moving objects darker than the background give ``lightBack 0``.
* ``methBack``: consistent with ``lightBack``: the maximum projection for dark objects (it
  keeps the light background where they passed), the minimum for light ones.
* ``nBack``: 20 frames, or every frame of a shorter movie (the frames measured on are those
  of the background, so they are read once).
* ``thresh``: the background differences of the sampled frames are a narrow noise peak near
  0 and the objects' tail. The noise is its median and a robust spread (the upper quartile
  distance, immune to the few bright or dark outliers of the tail); pixels above
  ``median + 5·spread`` in blobs of at least 5 pixels are object pixels, and ``thresh`` lies
  two thirds of the way from the noise median to the objects' typical (median) difference,
  never inside the noise.
* ``minArea`` / ``maxArea``: the contour areas of the blobs found with that ``thresh``. With
  ``animals`` = N known, the N largest blobs of each frame are the animals; otherwise the
  blobs that hold half of all object pixels. The typical animal area A (median of those)
  gives ``minArea = A/4`` (a partial view, an animal at the edge) and ``maxArea = 2.5·A``
  (two animals touching).
* ``maxDist``: the blobs of each sampled frame are matched to those of the next frame
  (minimum total distance); ``maxDist`` is four times the 95th percentile of these
  displacements, and at least two body lengths, so that an animal lost for a few frames
  can still be linked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .errors import ParameterError
from .link import linear_sum_assignment
from .params import AUTO_NAMES

__all__ = [
    "AUTO_NAMES",
    "AutoParameterError",
    "AutoReport",
    "Measurement",
    "NoiseLevel",
    "background_frames",
    "background_method",
    "measure_areas",
    "measure_detection",
    "measure_max_dist",
    "measure_noise",
    "measure_polarity",
    "measure_threshold",
    "sample_positions",
]

#: Frames sampled over the movie (each with the frame after it).
SAMPLE_SIZE = 20
#: Frames of the background when ``nBack`` is auto.
AUTO_NBACK = 20

_NOISE_SIGMAS = 5.0  # pixels beyond median + this many spreads are not noise
_THRESH_FRACTION = 2 / 3  # thresh at this fraction of the way from noise to objects
_POLARITY_SHARE = 2 / 3  # at least this share of the moving pixels on one side
_MIN_BLOB = 5  # px: smaller blobs above the noise ceiling are noise
_MIN_AREA_FRACTION, _MAX_AREA_FACTOR = 0.25, 2.5
_DIST_FACTOR, _DIST_BODIES = 4.0, 3.0


class AutoParameterError(ParameterError):
    """A parameter set to ``auto`` could not be measured from the movie."""


@dataclass(frozen=True)
class Measurement:
    """One measured parameter.

    Attributes
    ----------
    name : str
        FastTrack's name (``thresh``…).
    value : int
        The value chosen.
    reason : str
        The measurement behind it, e.g. ``"objects differ by 35–90, noise by ≤ 12"``.
    """

    name: str
    value: int
    reason: str

    def __str__(self) -> str:
        return f"{self.name} {self.value}: {self.reason}"


@dataclass(frozen=True)
class AutoReport:
    """What was measured from a movie: one :class:`Measurement` per auto value, and warnings.

    Examples
    --------
    >>> report = AutoReport((Measurement("thresh", 28, "objects differ by 35–90"),))
    >>> report.values()
    {'thresh': 28}
    >>> report.lines()
    ['thresh 28: objects differ by 35–90']
    """

    measurements: tuple[Measurement, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def values(self) -> dict[str, int]:
        """Name → chosen value."""
        return {m.name: m.value for m in self.measurements}

    def lines(self) -> list[str]:
        """One line per measured value (``"thresh 28: …"``), then one per warning."""
        return [str(m) for m in self.measurements] + [f"warning: {w}" for w in self.warnings]

    def brief(self) -> str:
        """The chosen values on one line: ``"thresh 28, minArea 40, …"``."""
        return ", ".join(f"{m.name} {m.value}" for m in self.measurements)

    def __add__(self, other: AutoReport) -> AutoReport:
        return AutoReport(
            self.measurements + other.measurements, self.warnings + other.warnings
        )


@dataclass(frozen=True)
class NoiseLevel:
    """The noise peak of background differences: median and robust spread, grey levels."""

    median: float
    spread: float

    @property
    def ceiling(self) -> float:
        """Differences above this are out of the noise."""
        return self.median + _NOISE_SIGMAS * self.spread


def sample_positions(n_frames: int, n_samples: int = SAMPLE_SIZE) -> list[int]:
    """Frames to measure on, spread evenly over the movie: ``k·(N−1)//(n−1)``.

    These are the frames FastTrack's background takes with ``nBack = n_samples``, so that the
    frames read for measuring also make the background. Each is paired with the frame after
    it (the one before it, for the last frame) to measure motion.

    Parameters
    ----------
    n_frames : int
        Frames in the movie.
    n_samples : int
        How many positions at most.

    Returns
    -------
    list of int
        Sorted, distinct frame indices (``[0]`` for a 1-frame movie, ``[]`` for none).

    Examples
    --------
    >>> sample_positions(100, 5)
    [0, 24, 49, 74, 99]
    >>> sample_positions(1)
    [0]
    """
    if n_frames <= 0:
        return []
    count = max(1, min(n_samples, n_frames))
    if count == 1:
        return [0]
    return [k * (n_frames - 1) // (count - 1) for k in range(count)]


# -- noise and polarity ------------------------------------------------------------------------
def _quantile(histogram: np.ndarray, q: float) -> float:
    """Quantile of integer values from their histogram, interpolated within bins."""
    cumulative = np.cumsum(histogram, dtype=np.float64)
    total = cumulative[-1]
    if total == 0:
        return 0.0
    target = q * total
    k = int(np.searchsorted(cumulative, target))
    below = cumulative[k - 1] if k > 0 else 0.0
    inside = histogram[k]
    return float(k - 0.5 + (target - below) / inside) if inside else float(k)


def measure_noise(differences: np.ndarray) -> NoiseLevel:
    """Median and robust spread of background differences (uint8, any shape).

    The spread is the distance from the median to the upper quartile, scaled to a Gaussian's
    standard deviation; the lower side is not used, since differences saturate at 0. At least
    0.5 grey level, so that a noiseless movie still has a ceiling above 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = np.clip(np.rint(rng.normal(20, 3, 100_000)), 0, 255).astype(np.uint8)
    >>> noise = measure_noise(d)
    >>> round(noise.median), round(noise.spread)
    (20, 3)
    """
    histogram = np.bincount(differences.ravel(), minlength=256)
    median = _quantile(histogram, 0.5)
    spread = (_quantile(histogram, 0.75) - median) / 0.6745
    return NoiseLevel(max(median, 0.0), max(spread, 0.5))


def _subsample(frames: np.ndarray) -> np.ndarray:
    """Every second pixel in each direction of (K, H, W) frames: enough for statistics."""
    return frames[:, ::2, ::2]


def measure_polarity(frames: np.ndarray, background: np.ndarray | None = None) -> Measurement:
    """``lightBack``: are the moving objects darker (0) or lighter (1) than the background?

    Parameters
    ----------
    frames : ndarray of uint8, shape (K, H, W)
        Frames spread over the movie.
    background : ndarray of uint8, shape (H, W), optional
        The background; without it, the pixel-wise median of ``frames`` (at least 3 frames,
        in which the objects move).

    Returns
    -------
    Measurement

    Raises
    ------
    AutoParameterError
        When nothing stands out of the noise (a static or uniform movie, a single frame).
    """
    sample = frames[:, ::3, ::3]  # a pixel in 9: enough to tell dark from light
    if background is None:
        if len(frames) < 3:
            raise AutoParameterError(
                f"cannot measure lightBack: {len(frames)} frame(s) are too few to tell moving "
                "objects from the background (3 needed); set lightBack (and the other auto "
                "values) by hand or give a background"
            )
        reference = np.median(sample, axis=0).astype(np.int16)
    else:
        reference = background[::3, ::3].astype(np.int16)
    signed = sample.astype(np.int16) - reference
    noise = measure_noise(np.abs(signed).astype(np.uint8))
    ceiling = noise.ceiling
    dark = int(np.count_nonzero(signed < -ceiling))
    light = int(np.count_nonzero(signed > ceiling))
    if dark + light < _MIN_BLOB * len(frames):
        raise AutoParameterError(
            f"cannot measure lightBack: nothing moves in the {len(frames)} sampled frames "
            f"(they differ from the background by ≤ {ceiling:.0f} grey levels, the noise); "
            "a static or uniform movie has no objects to track, otherwise set the parameters "
            "by hand"
        )
    value = 0 if dark >= light else 1
    share = max(dark, light) / (dark + light)
    if share < _POLARITY_SHARE:
        raise AutoParameterError(
            f"cannot measure lightBack: the moving pixels are {dark / (dark + light):.0%} "
            f"darker and {light / (dark + light):.0%} lighter than the background (objects "
            "that hardly move, or a changing light); set lightBack by hand"
        )
    kind = "dark objects on a light background" if value == 0 else (
        "light objects on a dark background")  # fmt: skip
    return Measurement("lightBack", value, f"{kind} ({share:.0%} of the moving pixels)")


def background_method(light_back: int) -> Measurement:
    """``methBack`` consistent with ``lightBack``: the projection that leaves the objects out.

    Examples
    --------
    >>> background_method(0).value, background_method(1).value
    (1, 0)
    """
    if light_back == 0:
        return Measurement("methBack", 1, "maximum projection: the light background where "
                           "the dark objects passed")  # fmt: skip
    return Measurement("methBack", 0, "minimum projection: the dark background where the "
                       "light objects passed")  # fmt: skip


def background_frames(n_frames: int) -> Measurement:
    """``nBack``: :data:`AUTO_NBACK` frames spread over the movie, or all of a shorter one.

    Examples
    --------
    >>> background_frames(12).value
    12
    """
    value = max(1, min(AUTO_NBACK, n_frames))
    return Measurement("nBack", value, f"{value} of the {n_frames} frames, spread evenly")


# -- detection parameters ----------------------------------------------------------------------
def _differences(frames: np.ndarray, background: np.ndarray, light_back: int) -> np.ndarray:
    if light_back == 0:
        return np.stack([cv2.subtract(background, f) for f in frames])
    return np.stack([cv2.subtract(f, background) for f in frames])


def measure_threshold(differences: np.ndarray) -> tuple[Measurement, NoiseLevel]:
    """``thresh`` from background differences of sampled frames.

    Parameters
    ----------
    differences : ndarray of uint8, shape (K, H, W)
        Saturated background differences (background − frame for dark objects).

    Returns
    -------
    measurement : Measurement
    noise : NoiseLevel

    Raises
    ------
    AutoParameterError
        When no blob of object pixels stands out of the noise.
    """
    noise = measure_noise(_subsample(differences))
    ceiling = math.floor(noise.ceiling)
    values = []
    for d in differences:
        n, labels, stats = _label((d > ceiling).view(np.uint8))
        big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= _MIN_BLOB)
        big = big[big > 0]
        if len(big):
            keep = np.zeros(n, bool)
            keep[big] = True
            values.append(d[keep[labels]])
    if not values:
        raise AutoParameterError(
            f"cannot measure thresh: no object stands out of the noise in the "
            f"{len(differences)} sampled frames (background differences ≤ {ceiling}); "
            "a static or uniform movie has nothing to track, otherwise set thresh by hand"
        )
    pixels = np.concatenate(values)
    low, typical, high = np.percentile(pixels, [10, 50, 90])
    value = noise.median + _THRESH_FRACTION * (typical - noise.median)
    value = int(min(254, max(ceiling, round(value))))
    reason = f"objects differ by {low:.0f}–{high:.0f}, noise by ≤ {ceiling}"
    return Measurement("thresh", value, reason), noise


def _label(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected blobs: count, label image, stats. 16-bit labels when they fit: half the
    memory traffic of 32-bit ones, and several times faster on a large frame."""
    try:
        n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            binary, 8, cv2.CV_16U, cv2.CCL_DEFAULT
        )
    except cv2.error:  # more than 65535 blobs
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return n, labels, stats


def _blobs(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """External contours' areas and centroids of a binary image (as detection sees them)."""
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    areas = np.empty(len(contours))
    centres = np.empty((len(contours), 2))
    for i, contour in enumerate(contours):
        m = cv2.moments(contour)
        areas[i] = m["m00"]
        centres[i] = (m["m10"] / m["m00"], m["m01"] / m["m00"]) if m["m00"] else contour[0, 0]
    return areas, centres


def measure_areas(
    areas: Sequence[np.ndarray], *, animals: int = 0
) -> tuple[Measurement, Measurement, float]:
    """``minArea`` and ``maxArea`` from the blob areas of sampled frames.

    Parameters
    ----------
    areas : sequence of ndarray of float
        Contour areas of the blobs of each sampled frame (px²).
    animals : int
        Number of animals, 0 if unknown.

    Returns
    -------
    min_area, max_area : Measurement
    typical : float
        The typical area of one animal, px².

    Raises
    ------
    AutoParameterError
        When there is no blob at all.
    """
    everything = np.concatenate([np.asarray(a, float) for a in areas]) if areas else np.empty(0)
    everything = everything[everything > 0]
    if everything.size == 0:
        raise AutoParameterError(
            "cannot measure minArea/maxArea: no blob found with that thresh in the sampled "
            "frames; set them by hand"
        )
    if animals > 0:
        chosen = np.concatenate([np.sort(a)[::-1][:animals] for a in areas if len(a)])
        how = f"the {animals} largest blobs of each frame"
    else:
        ordered = np.sort(everything)
        share = np.cumsum(ordered) / ordered.sum()
        chosen = ordered[share >= 0.5]  # the blobs holding half of all object pixels
        how = "the blobs holding most object pixels"
    guess = float(np.median(chosen))
    # Blobs of one animal: from a quarter to twice the first guess (pairs and specks left out),
    # counted alike, so that the many single animals outweigh the few large merged pairs.
    single = everything[(everything > guess / 4) & (everything < guess * 2)]
    if animals > 0:
        single = chosen[(chosen > guess / 2) & (chosen < guess * 2)]
    typical = float(np.median(single)) if single.size else guess
    low = max(1, math.floor(_MIN_AREA_FRACTION * typical))
    high = max(low + 1, math.ceil(_MAX_AREA_FACTOR * typical))
    spread = np.percentile(single if single.size else chosen, [10, 90])
    basis = f"one animal ≈ {typical:.0f} px² ({spread[0]:.0f}–{spread[1]:.0f}, {how})"
    return (
        Measurement("minArea", low, f"{basis}; a quarter of it, for partial views"),
        Measurement("maxArea", high, f"{_MAX_AREA_FACTOR:g}× it, for animals touching"),
        typical,
    )


def measure_max_dist(
    positions: Sequence[tuple[np.ndarray, np.ndarray]], *, body_length: float
) -> Measurement:
    """``maxDist`` from the displacement of the objects between consecutive frames.

    Parameters
    ----------
    positions : sequence of (ndarray, ndarray), each of shape (N, 2)
        Object centres of a sampled frame and of the frame after it.
    body_length : float
        Typical length of an animal, px (the lower bound is two of them).

    Returns
    -------
    Measurement
    """
    steps = []
    for before, after in positions:
        if len(before) == 0 or len(after) == 0:
            continue
        cost = np.hypot(*(before[:, None, :] - after[None, :, :]).transpose(2, 0, 1))
        rows, cols = linear_sum_assignment(cost)
        steps.append(cost[rows, cols])
    floor = math.ceil(_DIST_BODIES * body_length)
    if not steps:
        return Measurement(
            "maxDist", floor, f"no frame pair to measure motion on; {_DIST_BODIES:g} body lengths"
        )
    moves = np.concatenate(steps)
    typical, fast = np.percentile(moves, [50, 95])
    value = max(floor, math.ceil(_DIST_FACTOR * fast))
    reason = (
        f"objects move {typical:.1f} px/frame (95 % ≤ {fast:.1f}); {_DIST_FACTOR:g}× that, "
        f"at least {_DIST_BODIES:g} body lengths ({floor} px)"
    )
    return Measurement("maxDist", value, reason)


def measure_detection(
    frames: np.ndarray,
    following: np.ndarray | None,
    background: np.ndarray,
    *,
    light_back: int,
    names: Sequence[str],
    thresh: int,
    min_area: int,
    max_area: int,
    animals: int = 0,
) -> AutoReport:
    """Measure ``thresh``, ``minArea``, ``maxArea`` and ``maxDist`` (those in ``names``).

    Values not in ``names`` are taken as given (``thresh``, ``min_area``, ``max_area``) and
    used to measure the others.

    Parameters
    ----------
    frames : ndarray of uint8, shape (K, H, W)
        Frames spread over the movie (cropped to the region of interest).
    following : ndarray of uint8, shape (K, H, W), optional
        The frame after each of them, for ``maxDist``.
    background : ndarray of uint8, shape (H, W)
    light_back : {0, 1}
    names : sequence of str
        The parameters to measure.
    thresh, min_area, max_area : int
        The values to use for those not measured.
    animals : int
        Number of animals (0 unknown).

    Returns
    -------
    AutoReport
        The measurements, in the order ``thresh``, ``minArea``, ``maxArea``, ``maxDist``.

    Examples
    --------
    >>> bg = np.full((60, 80), 200, np.uint8)
    >>> frames = np.stack([bg.copy() for _ in range(3)])
    >>> for k, f in enumerate(frames):
    ...     f[10:16, 10 + 5 * k : 30 + 5 * k] = 80
    ...     f[40:46, 50 - 5 * k : 70 - 5 * k] = 80
    >>> report = measure_detection(frames, None, bg, light_back=0, names=["thresh"],
    ...                            thresh=0, min_area=0, max_area=1)
    >>> report.values()["thresh"]
    80
    """
    measured: list[Measurement] = []
    warnings: list[str] = []
    differences = _differences(frames, background, light_back)
    if "thresh" in names:
        found, _ = measure_threshold(differences)
        measured.append(found)
        thresh = found.value
    areas = [_blobs(cv2.threshold(d, thresh, 255, cv2.THRESH_BINARY)[1])[0] for d in differences]
    typical = float(np.median(np.concatenate(areas))) if any(len(a) for a in areas) else 0.0
    if "minArea" in names or "maxArea" in names:
        low, high, typical = measure_areas(areas, animals=animals)
        if "minArea" in names:
            measured.append(low)
            min_area = low.value
        if "maxArea" in names:
            measured.append(high)
            max_area = high.value
    if "maxDist" in names:
        body = 2.0 * math.sqrt(max(typical, 1.0))  # an animal ~4 times longer than wide
        if following is None or len(following) == 0:
            warnings.append("maxDist: no pair of consecutive frames to measure motion on")
        pairs = []
        for d, nxt in zip(differences, following if following is not None else [], strict=False):
            pairs.append(
                (_kept_centres(d, thresh, min_area, max_area),
                 _kept_centres(_differences(nxt[None], background, light_back)[0], thresh,
                               min_area, max_area))
            )  # fmt: skip
        measured.append(measure_max_dist(pairs, body_length=body))
    return AutoReport(tuple(measured), tuple(warnings))


def _kept_centres(difference: np.ndarray, thresh: int, min_area: int, max_area: int) -> np.ndarray:
    areas, centres = _blobs(cv2.threshold(difference, thresh, 255, cv2.THRESH_BINARY)[1])
    return centres[(areas > min_area) & (areas < max_area)]
