"""Calibration and time: pixels to a length unit, frame indices to times.

A result's analysis files (``tracking.parquet``, ``tracking.nc``, ``animals.csv``) give
lengths in the unit of the ``pixelSize`` and ``unit`` parameters and times from the ``fps``
parameter or, when it is 0, from the movie itself: a video's frame timestamps (seconds), an
image sequence's frame numbers (time in frames). ``tracking.txt`` always stays in pixels and
frames, as FastTrack writes it.

Everything here works on numbers and arrays; nothing reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .params import Parameters

__all__ = ["Calibration", "column_units", "length_powers", "pixel_size_from_scale"]

#: Unit of the time column when times are frame numbers.
FRAMES = "frames"
#: Unit of the time column when times are seconds.
SECONDS = "s"


def pixel_size_from_scale(text: str) -> float:
    """The pixel size given by two points a known distance apart.

    Parameters
    ----------
    text : str
        ``"X1,Y1,X2,Y2,LENGTH"``: two points in pixels and the length between them in the
        calibration unit.

    Returns
    -------
    float
        ``LENGTH / distance`` in unit per pixel.

    Raises
    ------
    ParameterError
        If the text is not five numbers, the points are equal or the length is not positive.

    Examples
    --------
    >>> pixel_size_from_scale("0,0,300,400,50")
    0.1
    """
    parts = [part.strip() for part in str(text).split(",")]
    try:
        x1, y1, x2, y2, length = (float(part) for part in parts)
    except ValueError:
        raise ParameterError(
            f"--scale {text!r} is invalid: give X1,Y1,X2,Y2,LENGTH, five numbers (two points "
            "in pixels and the length between them in the unit, e.g. 10,20,310,20,30)"
        ) from None
    distance = math.hypot(x2 - x1, y2 - y1)
    if not math.isfinite(distance) or distance == 0:
        raise ParameterError(
            f"--scale {text!r} is invalid: the two points ({x1:g}, {y1:g}) and ({x2:g}, {y2:g}) "
            "are the same; give two points a known distance apart"
        )
    if not (math.isfinite(length) and length > 0):
        raise ParameterError(f"--scale {text!r} is invalid: LENGTH must be > 0, got {length:g}")
    return length / distance


@dataclass(frozen=True)
class Calibration:
    """How to turn pixels and frame indices into lengths and times.

    Attributes
    ----------
    pixel_size : float
        Length of one pixel in ``unit``.
    unit : str
        Length unit (``px`` when uncalibrated).
    fps : float
        Frames per second given by the user; 0 when the movie's own times are used.
    timestamps : ndarray of float64, shape (n_frames,), optional
        A video's frame timestamps in seconds (NaN for undecodable frames).
    """

    pixel_size: float = 1.0
    unit: str = "px"
    fps: float = 0.0
    timestamps: np.ndarray | None = None

    @classmethod
    def from_params(
        cls, params: Parameters, timestamps: np.ndarray | None = None
    ) -> Calibration:
        """The calibration of ``params`` (``pixelSize``, ``unit``, ``fps``) for a movie whose
        frame timestamps, if it has them, are ``timestamps`` (s)."""
        stamps = None if timestamps is None else np.asarray(timestamps, np.float64)
        return cls(params.pixelSize, params.unit, params.fps, stamps)

    @property
    def time_unit(self) -> str:
        """``"s"`` when times are seconds, ``"frames"`` when they are frame numbers."""
        return SECONDS if self.fps > 0 or self.timestamps is not None else FRAMES

    def times(self, frames: np.ndarray) -> np.ndarray:
        """Time of each frame index (in :attr:`time_unit`).

        Parameters
        ----------
        frames : array of int, shape (n,)
            Frame indices (``imageNumber``).

        Returns
        -------
        ndarray of float64, shape (n,)
            ``frames / fps`` when ``fps`` is set, else the video's timestamps (NaN past
            their end), else the frame numbers.

        Examples
        --------
        >>> Calibration(fps=25).times(np.array([0, 25, 50]))
        array([0., 1., 2.])
        """
        frames = np.asarray(frames, np.int64)
        if self.fps > 0:
            return frames / self.fps
        if self.timestamps is not None:
            out = np.full(len(frames), np.nan)
            inside = (frames >= 0) & (frames < len(self.timestamps))
            out[inside] = self.timestamps[frames[inside]]
            return out
        return frames.astype(np.float64)

    def frame_interval(self, n_frames: int) -> float:
        """The typical time between two frames: ``1 / fps``, the median timestamp step, or 1."""
        if self.fps > 0:
            return 1.0 / self.fps
        if self.timestamps is not None:
            steps = np.diff(self.timestamps[: max(n_frames, 2)])
            steps = steps[np.isfinite(steps) & (steps > 0)]
            if len(steps):
                return float(np.median(steps))
        return 1.0

    def frame_rate(self, n_frames: int) -> float | None:
        """Frames per second (nominal for a variable frame rate), or None in frames."""
        if self.time_unit == FRAMES:
            return None
        return 1.0 / self.frame_interval(n_frames)


def length_powers(columns: tuple[str, ...]) -> np.ndarray:
    """The power of length of each of FastTrack's columns (1 positions and lengths, 2 areas,
    -1 curvature, 0 angles, excentricities, ``imageNumber`` and ``id``)."""
    powers = []
    for name in columns:
        if name == "areaBody":
            powers.append(2)
        elif name == "curvature":
            powers.append(-1)
        elif name[:1] in "xy" or name.endswith("AxisLength") or name == "perimeterBody":
            powers.append(1)
        else:
            powers.append(0)
    return np.asarray(powers, np.float64)


def column_units(columns: tuple[str, ...], unit: str) -> dict[str, str]:
    """The unit of each of FastTrack's columns once calibrated in ``unit``."""
    names = {1: unit, 2: f"{unit}^2", -1: f"1/{unit}"}
    units = {}
    for name, power in zip(columns, length_powers(columns).tolist()):
        if power:
            units[name] = names[int(power)]
        elif name in ("tHead", "tTail", "tBody"):
            units[name] = "rad"
    return units
