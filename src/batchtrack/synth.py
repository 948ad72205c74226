"""Synthetic movies of swimming fish-like objects, with ground truth.

A public generator for tests, benchmarks and the demo, in the spirit of trackpy's
``artificial.py``. Each object is a fish seen from above: a wide head and a long thin
tail (so its direction can be found from the skewness of its mass), a midline that bends
when it turns and undulates with a travelling wave while it swims. Motion is persistent:
the speed and the turning rate are Ornstein-Uhlenbeck processes (they have inertia) and the
body follows the heading. Objects do not avoid each other, so at high density they touch
and cross.

Walls: by default an object steers away from a wall it approaches and, if it still reaches
the margin, bounces off it like a billiard ball; its whole outline always stays inside the
frame. With ``enter_leave=True`` objects swim freely out of the frame; one that leaves is
replaced by a new one entering from an edge. An object gets its id when it first appears
(ids count from 0 in order of appearance) and an object that has left never comes back.

Rendering: dark objects on a light, slightly non-uniform and noisy background, 8-bit grey
(FastTrack's ``lightBack = 0``), or light objects on a dark background with
``light_objects=True``. Each fish is its filled outline polygon, with a darker head, and
the picture is blurred very slightly (Gaussian, sigma 0.4 px). The contrast (default
110-150 grey levels) survives the blur even at the one-pixel tail tip, and the blur adds
less than 30 grey levels around a fish, so thresholding the difference from the clean
background anywhere between 30 and 60 recovers an isolated fish's mask pixel for pixel
(with the default noise).

Ground truth: one row per object visible in a frame, FastTrack's 23 columns in order
(``tracking.txt``), rows by frame then id. Filled columns:

- ``xBody, yBody``: centroid of that object's own rendered mask (image moments), so
  touching objects do not disturb it; ``areaBody``: pixel count of that mask (FastTrack's
  own areaBody is the contour's polygon area, about half the perimeter smaller);
  ``perimeterBody``: length of its external contour; ``body{Major,Minor}AxisLength``,
  ``bodyExcentricity``: from its second moments, as FastTrack defines them.
- ``tBody``: the mask's major axis, oriented from tail to head, angle in [0, 2π) with
  ``atan2(-dy, dx)`` (image y axis down), i.e. what a correct detection should find.
- ``xHead, yHead`` / ``xTail, yTail``: mean of the front / back half of the midline
  (anatomical halves, not FastTrack's split at the projected mean, so expect a small
  difference); ``tHead`` / ``tTail``: direction of those halves, tail to head.
- ``imageNumber`` (from 0) and ``id``.

``curvature`` and the head and tail ellipse columns are NaN. An object counts as visible
when at least half of its mask is inside the frame; only then is it drawn (with
``enter_leave=True`` a fish therefore pops in and out at the edge with half its body),
and its columns describe the part inside the frame.

Memory: frames are produced one at a time from the state of the objects only, so a movie
of any length streams in bounded memory. The ground truth is held in memory (184 bytes a
row: 20000 frames of 50 objects take 0.2 GB, twice that while the table is assembled); it
is built in the same pass when the frames are iterated to the end, or by a pass that only
rasterises the objects (no full frame) if it is read first; both passes are identical
because the motion, the background and the pixel noise use separate random streams.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import NamedTuple

import cv2
import numpy as np
import pandas as pd

from batchtrack.errors import OutputError, ParameterError
from batchtrack.schema import TRACKING_COLUMNS, column

__all__ = ["SyntheticMovie", "make_movie", "write_sequence", "write_video"]

logger = logging.getLogger(__name__)

_TWO_PI = 2.0 * np.pi

# Body: midline points from the snout (u = 0) to the tail tip (u = 1).
_N_POINTS = 21
_U = np.linspace(0.0, 1.0, _N_POINTS)
_MID = _N_POINTS // 2
_EYE = 2  # midline point where the darker head spot is drawn
_NOSE, _EYE_U, _TAIL_TIP, _TAPER = 0.5, 0.12, 0.16, 1.7


def _width_profile(u: np.ndarray) -> np.ndarray:
    """Half-width along the body as a fraction of the maximum (rounded head, thin tail)."""
    head = _NOSE + (1.0 - _NOSE) * np.sqrt(np.clip(1.0 - ((_EYE_U - u) / _EYE_U) ** 2, 0.0, 1.0))
    t = np.clip((u - _EYE_U) / (1.0 - _EYE_U), 0.0, 1.0)
    tail = _TAIL_TIP + (1.0 - _TAIL_TIP) * (1.0 - t) ** _TAPER
    return np.where(u <= _EYE_U, head, tail)


_PROFILE = _width_profile(_U)

# Motion, per frame.
_TURN_TAU, _TURN_SD, _MAX_TURN = 12.0, 0.06, 0.5  # rad/frame
_SPEED_TAU, _SPEED_CV = 25.0, 0.35
_MAX_BEND = 1.6  # largest mean bend over the body, radians
_WAVE_AMP, _STRIDE = 5.0, 0.8  # tail-beat curvature amplitude x length; body lengths per beat
_WALL_GAIN = 0.3

# Rendering.
_MIN_VISIBLE = 0.5
_BLUR_SIGMA = 0.4
_HEAD_EXTRA = 30  # grey levels darker (or lighter) at the head spot
_LIGHT_BACK, _DARK_BACK = 200.0, 40.0
_SHIFT = 4  # fixed-point bits for cv2.fillPoly


@dataclass(frozen=True, eq=False)
class SyntheticMovie:
    """A synthetic movie of swimming fish-like objects and its ground truth.

    Build it with :func:`make_movie`; nothing is rendered until :meth:`frames` is iterated.
    Sizes are in pixels and speeds in pixels per frame.

    Attributes
    ----------
    shape : tuple of int
        Frame size ``(height, width)``.
    n_frames : int
        Number of frames.
    n_objects : int
        Number of objects simulated at once (all visible unless ``enter_leave``).
    seed : int
        Seed of every random draw: the same parameters and seed give the same movie.
    length, width : tuple of float
        Range ``(min, max)`` from which each object's body length and head width are drawn.
    speed : float
        Mean speed, px/frame; each object has its own mean within ±30 % of it.
    noise : float
        Standard deviation of the per-pixel noise, grey levels.
    contrast : tuple of float
        Range of the body's difference from the background, grey levels.
    enter_leave : bool
        Objects leave and enter the frame instead of bouncing off its edges.
    light_objects : bool
        Light objects on a dark background instead of dark objects on a light one.
    dimming : float
        Fraction of the light lost, linearly, by the last frame (a dimming lamp): frame
        ``t`` is the clean frame times ``1 - dimming * t / (n_frames - 1)``.
    background : numpy.ndarray of uint8, shape (height, width)
        The clean background (no object, no noise).
    ground_truth : pandas.DataFrame
        One row per visible object per frame, FastTrack's 23 ``tracking.txt`` columns.
    """

    shape: tuple[int, int]
    n_frames: int
    n_objects: int
    seed: int = 0
    length: tuple[float, float] = (20.0, 30.0)
    width: tuple[float, float] = (4.0, 6.0)
    speed: float = 2.0
    noise: float = 2.0
    contrast: tuple[float, float] = (110.0, 150.0)
    enter_leave: bool = False
    light_objects: bool = False
    dimming: float = 0.0
    background: np.ndarray = field(init=False, repr=False)
    _seeds: list[np.random.SeedSequence] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        seq = np.random.SeedSequence(self.seed)
        object.__setattr__(self, "_seeds", seq.spawn(3))
        object.__setattr__(self, "background", self._make_background())

    def frames(self) -> Iterator[np.ndarray]:
        """Render the movie one frame at a time.

        Yields
        ------
        numpy.ndarray of uint8, shape (height, width)
            The next grey frame; a new array each time.

        Notes
        -----
        Iterating to the end also stores :attr:`ground_truth`, so it costs nothing more.
        """
        lut = _noise_lut(self.noise)
        offset = round(float(lut.mean())) if self.noise > 0 else 0
        base = np.clip(self.background.astype(np.int16) - offset, 0, 255).astype(np.uint8)
        noise_rng = np.random.default_rng(self._seeds[1])
        size = self.shape[0] * self.shape[1]
        rows = []
        for t, (frame_rows, sprites) in enumerate(self._simulate()):
            rows.append(frame_rows)
            layer = np.zeros(self.shape, np.uint8)
            for sprite in sprites:
                _paint(layer, sprite)
            layer = cv2.GaussianBlur(layer, (3, 3), _BLUR_SIGMA)
            image = cv2.add(base, layer) if self.light_objects else cv2.subtract(base, layer)
            if self.noise > 0:
                raw = np.frombuffer(noise_rng.bytes(size), np.uint8).reshape(self.shape)
                image = cv2.add(image, cv2.LUT(raw, lut))
            if self.dimming:
                gain = 1.0 - self.dimming * t / max(self.n_frames - 1, 1)
                image = cv2.convertScaleAbs(image, alpha=gain)
            yield image
        if "ground_truth" not in self.__dict__:
            self.__dict__["ground_truth"] = _table(rows)

    @cached_property
    def ground_truth(self) -> pd.DataFrame:
        """Ground truth, FastTrack's 23 columns, rows by ``imageNumber`` then ``id``."""
        return _table([frame_rows for frame_rows, _ in self._simulate()])

    def _simulate(self) -> Iterator[tuple[np.ndarray, list[_Sprite]]]:
        """Run the objects frame by frame; yield each frame's table rows and sprites."""
        school = _School(self, np.random.default_rng(self._seeds[0]))
        for t in range(self.n_frames):
            if t > 0:
                school.step()
            yield school.observe(t)

    def _make_background(self) -> np.ndarray:
        """Smooth, slightly uneven background: vignetting plus a few long waves."""
        rng = np.random.default_rng(self._seeds[2])
        height, width = self.shape
        y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
        x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
        scale = 0.4 if self.light_objects else 1.0
        back = -7.0 * scale * (x**2 + y**2)
        for _ in range(3):
            fx, fy = rng.uniform(0.2, 1.0, 2)
            amp, phase = rng.uniform(1.0, 3.0) * scale, rng.uniform(0.0, _TWO_PI)
            back = back + amp * np.cos(np.pi * (fx * x + fy * y) + phase)
        level = _DARK_BACK if self.light_objects else _LIGHT_BACK
        return np.clip(np.rint(back + level), 0, 255).astype(np.uint8)


def make_movie(
    n_frames: int,
    n_objects: int,
    *,
    shape: tuple[int, int] = (512, 512),
    seed: int = 0,
    length: float | tuple[float, float] = (20.0, 30.0),
    width: float | tuple[float, float] = (4.0, 6.0),
    speed: float = 2.0,
    noise: float = 2.0,
    contrast: float | tuple[float, float] = (110.0, 150.0),
    enter_leave: bool = False,
    light_objects: bool = False,
    dimming: float = 0.0,
) -> SyntheticMovie:
    """Describe a synthetic movie of swimming fish-like objects with ground truth.

    Parameters
    ----------
    n_frames : int
        Number of frames, at least 1.
    n_objects : int
        Number of objects swimming at once, at least 0.
    shape : tuple of int
        Frame size ``(height, width)`` in pixels.
    seed : int
        Seed of every random draw (motion, background, noise).
    length : float or tuple of float
        Body length in pixels, or a range ``(min, max)`` drawn per object.
    width : float or tuple of float
        Head width in pixels (the tail is much thinner), or a range drawn per object.
    speed : float
        Mean speed in pixels per frame.
    noise : float
        Standard deviation of the pixel noise, grey levels (0 for none).
    contrast : float or tuple of float
        Difference between body and background in grey levels, or a range per object.
    enter_leave : bool
        Let objects leave the frame; each one that leaves is replaced by a new one
        entering (new id). Otherwise objects turn away from and bounce off the edges.
    light_objects : bool
        Light objects on a dark background instead of dark objects on a light one.
    dimming : float
        Fraction of the light lost linearly by the last frame, 0 to 0.9 (a dimming lamp; the
        ground truth is unchanged).

    Returns
    -------
    SyntheticMovie
        Iterate ``movie.frames()`` for the uint8 frames of shape ``(height, width)``;
        ``movie.ground_truth`` is the table of true positions.

    Raises
    ------
    ParameterError
        If a value is out of range or the frame is too small for the objects.

    Examples
    --------
    >>> movie = make_movie(10, 3, shape=(128, 160), seed=1)
    >>> next(movie.frames()).shape
    (128, 160)
    >>> len(movie.ground_truth)
    30
    """
    return SyntheticMovie(
        shape=_pair(shape, "shape", int),
        n_frames=n_frames,
        n_objects=n_objects,
        seed=seed,
        length=_pair(length, "length", float),
        width=_pair(width, "width", float),
        speed=float(speed),
        noise=float(noise),
        contrast=_pair(contrast, "contrast", float),
        enter_leave=bool(enter_leave),
        light_objects=bool(light_objects),
        dimming=float(dimming),
    )


def write_sequence(
    movie: SyntheticMovie,
    folder: str | Path,
    *,
    prefix: str = "frame_",
    ext: str = "pgm",
) -> Path:
    """Write a synthetic movie as an image sequence with its ground truth.

    Writes ``<prefix>000000.<ext>`` ... (zero-padded from 0), ``background.pgm`` (the
    clean background) and ``ground_truth.txt`` (tab-separated, FastTrack's 23 columns,
    ``%g``, NaN as ``nan``) into ``folder``, creating it if needed. Frames are streamed:
    only the ground truth grows with the length.

    Parameters
    ----------
    movie : SyntheticMovie
        The movie to write.
    folder : str or Path
        Destination folder.
    prefix : str
        Start of the frame file names.
    ext : str
        Image format, any extension OpenCV writes (pgm, png, tif, bmp...).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ParameterError
        If OpenCV cannot write the format ``ext``.
    OutputError
        If a file cannot be written, or ``folder`` already holds frames with this prefix
        and extension (they would mix with the new ones).
    """
    folder = Path(folder)
    ext = ext.lstrip(".").lower()
    if not cv2.haveImageWriter(f"x.{ext}"):
        raise ParameterError(
            f"cannot write frames as {ext!r}: OpenCV has no writer for it; use pgm, png, tif or bmp"
        )
    _make_folder(folder)
    if any(folder.glob(f"{prefix}*.{ext}")):
        raise OutputError(
            f"{folder} already holds {prefix}*.{ext} frames; remove them or choose another folder"
        )
    digits = max(6, len(str(movie.n_frames - 1)))
    for i, frame in enumerate(movie.frames()):
        _imwrite(folder / f"{prefix}{i:0{digits}d}.{ext}", frame)
    _imwrite(folder / "background.pgm", movie.background)
    _write_table(movie.ground_truth, folder / "ground_truth.txt")
    logger.info("wrote %d frames and the ground truth to %s", movie.n_frames, folder)
    return folder


def write_video(
    movie: SyntheticMovie,
    path: str | Path,
    *,
    fps: float = 25,
    codec: str = "MJPG",
) -> Path:
    """Write a synthetic movie as a grey video with its ground truth beside it.

    The ground truth goes to ``<stem>_ground_truth.txt`` in the same folder
    (tab-separated, FastTrack's 23 columns, ``%g``). Frames are streamed.

    Parameters
    ----------
    movie : SyntheticMovie
        The movie to write.
    path : str or Path
        Video file; its extension picks the container (``.avi`` suits MJPG).
    fps : float
        Frames per second stored in the file.
    codec : str
        Four-character code of the codec (``"MJPG"``, ``"FFV1"``, ``"mp4v"``...).

    Returns
    -------
    Path
        The video file.

    Raises
    ------
    ParameterError
        If ``codec`` is not four characters or ``fps`` is not positive.
    OutputError
        If the video cannot be opened for writing with that codec and container.
    """
    path = Path(path)
    if len(codec) != 4:
        raise ParameterError(f"codec must be a four-character code such as 'MJPG', got {codec!r}")
    if not fps > 0:
        raise ParameterError(f"fps must be positive, got {fps!r}")
    _make_folder(path.parent)
    height, width = movie.shape
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*codec), float(fps), (width, height), isColor=False
    )
    if not writer.isOpened():
        raise OutputError(
            f"cannot write video {path} with codec {codec!r}: try codec 'MJPG' and a .avi file"
        )
    try:
        for frame in movie.frames():
            writer.write(frame)
    finally:
        writer.release()
    _write_table(movie.ground_truth, path.with_name(f"{path.stem}_ground_truth.txt"))
    logger.info("wrote %d frames and the ground truth to %s", movie.n_frames, path)
    return path


class _Sprite(NamedTuple):
    """One visible object to paint: its mask inside the frame and its grey levels."""

    mask: np.ndarray  # uint8 0/1, the object's pixels inside the frame
    x0: int
    y0: int
    contrast: int
    eye: tuple[int, int]  # head spot centre in mask coordinates, fixed point
    eye_radius: int  # fixed point


class _School:
    """State of the objects, one slot per object (vectorised over slots)."""

    def __init__(self, movie: SyntheticMovie, rng: np.random.Generator) -> None:
        self.movie, self.rng = movie, rng
        self.height, self.width = movie.shape
        n = movie.n_objects
        self.length, self.half_width = np.empty(n), np.empty(n)
        self.contrast, self.mean_speed, self.speed = np.empty(n), np.empty(n), np.empty(n)
        self.turn, self.bend, self.phase = np.zeros(n), np.zeros(n), np.zeros(n)
        self.x, self.y, self.heading = np.empty(n), np.empty(n), np.empty(n)
        self.ids = np.full(n, -1, np.int64)
        self.seen = np.zeros(n, bool)
        self.next_id = 0
        slots = np.arange(n)
        self._draw_bodies(slots)
        lo_x, hi_x, lo_y, hi_y = self._box(slots)
        self.x = rng.uniform(lo_x, hi_x)
        self.y = rng.uniform(lo_y, hi_y)
        self.heading = rng.uniform(0.0, _TWO_PI, n)

    def _draw_bodies(self, slots: np.ndarray) -> None:
        """Draw the size, contrast and swimming style of new objects."""
        m, rng, k = self.movie, self.rng, len(slots)
        self.length[slots] = rng.uniform(*m.length, k)
        self.half_width[slots] = rng.uniform(*m.width, k) / 2.0
        self.contrast[slots] = rng.uniform(*m.contrast, k)
        self.mean_speed[slots] = m.speed * rng.uniform(0.7, 1.3, k)
        self.speed[slots] = self.mean_speed[slots]
        self.turn[slots] = rng.normal(0.0, _TURN_SD, k)
        self.bend[slots] = 0.0
        self.phase[slots] = rng.uniform(0.0, _TWO_PI, k)
        self.ids[slots] = -1
        self.seen[slots] = False

    def _box(self, slots: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, ...]:
        """Range of body centres that keeps each whole outline inside the frame."""
        margin = _margin(self.length[slots], self.half_width[slots])
        return margin, self.width - 1 - margin, margin, self.height - 1 - margin

    def step(self) -> None:
        """Advance every object by one frame."""
        rng, n = self.rng, len(self.x)
        a = np.exp(-1.0 / _TURN_TAU)
        self.turn = a * self.turn + _TURN_SD * np.sqrt(1 - a * a) * rng.standard_normal(n)
        b = np.exp(-1.0 / _SPEED_TAU)
        kick = _SPEED_CV * self.mean_speed * np.sqrt(1 - b * b) * rng.standard_normal(n)
        speed = self.mean_speed + b * (self.speed - self.mean_speed) + kick
        self.speed = np.clip(speed, 0.1 * self.mean_speed, 3.0 * self.mean_speed)
        turn = self.turn if self.movie.enter_leave else self.turn + self._wall_turn()
        turn = np.clip(turn, -_MAX_TURN, _MAX_TURN)
        self.heading = (self.heading + turn) % _TWO_PI
        self.x = self.x + self.speed * np.cos(self.heading)
        self.y = self.y + self.speed * np.sin(self.heading)
        max_bend = _MAX_BEND / self.length
        target = np.clip(turn / np.maximum(self.speed, 0.5), -max_bend, max_bend)
        self.bend += 0.5 * (target - self.bend)
        self.phase = (self.phase + _TWO_PI * self.speed / (_STRIDE * self.length)) % _TWO_PI
        if self.movie.enter_leave:
            self._replace(self._out_of_reach())
        else:
            self._bounce()

    def _wall_turn(self) -> np.ndarray:
        """Turning rate away from the walls, growing as an object nears them."""
        lo_x, hi_x, lo_y, hi_y = self._box()
        reach = self.length

        def push(distance: np.ndarray) -> np.ndarray:
            return np.clip(1.0 - distance / reach, 0.0, 1.0) ** 2

        fx = push(self.x - lo_x) - push(hi_x - self.x)
        fy = push(self.y - lo_y) - push(hi_y - self.y)
        cos, sin = np.cos(self.heading), np.sin(self.heading)
        angle = np.arctan2(cos * fy - sin * fx, cos * fx + sin * fy)
        return _WALL_GAIN * np.minimum(np.hypot(fx, fy), 1.0) * angle

    def _bounce(self) -> None:
        """Mirror objects whose centre went past the margin, and their heading."""
        lo_x, hi_x, lo_y, hi_y = self._box()
        for lo, hi, pos, flip in ((lo_x, hi_x, "x", np.pi), (lo_y, hi_y, "y", 0.0)):
            value = getattr(self, pos)
            out = (value < lo) | (value > hi)
            if out.any():
                value = np.where(
                    value < lo, 2 * lo - value, np.where(value > hi, 2 * hi - value, value)
                )
                setattr(self, pos, np.clip(value, lo, hi))
                self.heading = np.where(out, (flip - self.heading) % _TWO_PI, self.heading)

    def _out_of_reach(self) -> np.ndarray:
        """Slots whose object is wholly outside the frame and beyond its entry band."""
        margin = _margin(self.length, self.half_width) + 2.0
        return (
            (self.x < -margin)
            | (self.x > self.width - 1 + margin)
            | (self.y < -margin)
            | (self.y > self.height - 1 + margin)
        )

    def _replace(self, gone: np.ndarray) -> None:
        """Put new objects in the given slots, just outside an edge, swimming inwards."""
        slots = np.flatnonzero(gone)
        if len(slots) == 0:
            return
        rng, k = self.rng, len(slots)
        self._draw_bodies(slots)
        margin = _margin(self.length[slots], self.half_width[slots]) + 1.0
        w, h = self.width - 1, self.height - 1
        along = rng.uniform(0.0, 2 * (w + h), k)
        on_x = along < 2 * w  # top or bottom edge
        side = np.where(on_x, along >= w, along >= 2 * w + h)
        pos = np.where(on_x, along % w, (along - 2 * w) % h)
        self.x[slots] = np.where(on_x, pos, np.where(side, w + margin, -margin))
        self.y[slots] = np.where(on_x, np.where(side, h + margin, -margin), pos)
        inward = np.where(on_x, np.where(side, -np.pi / 2, np.pi / 2), np.where(side, np.pi, 0.0))
        self.heading[slots] = (inward + rng.uniform(-np.pi / 3, np.pi / 3, k)) % _TWO_PI

    def midlines(self) -> tuple[np.ndarray, np.ndarray]:
        """Midline points and tangent angles, snout to tail: (n, K, 2) and (n, K)."""
        length = self.length[:, None]
        ds = length / (_N_POINTS - 1)
        u_seg = (_U[:-1] + _U[1:]) / 2
        ratio = np.clip(self.speed / np.maximum(self.mean_speed, 1e-9), 0.3, 1.5)
        ratio = np.where(self.mean_speed > 0, ratio, 0.3)[:, None]
        envelope = u_seg * (1.3 - u_seg)  # grows along the body, eases off at the tail tip
        wave = _WAVE_AMP / length * ratio * envelope * np.sin(_TWO_PI * u_seg - self.phase[:, None])
        curvature = self.bend[:, None] + wave  # (n, K-1), positive turns the head clockwise
        turned = np.concatenate([np.zeros((len(ds), 1)), np.cumsum(curvature * ds, axis=1)], 1)
        angle = self.heading[:, None] + turned[:, _MID : _MID + 1] - turned  # tangent towards snout
        seg = (angle[:, :-1] + angle[:, 1:]) / 2
        steps = np.stack([np.cos(seg), np.sin(seg)], axis=-1) * ds[..., None]
        walked = np.concatenate([np.zeros((len(ds), 1, 2)), np.cumsum(steps, axis=1)], 1)
        centre = np.stack([self.x, self.y], axis=-1)[:, None, :]
        return centre + walked[:, _MID : _MID + 1] - walked, angle

    def observe(self, t: int) -> tuple[np.ndarray, list[_Sprite]]:
        """Rasterise every object for frame ``t``: ground-truth rows and sprites."""
        points, angle = self.midlines()
        half = self.half_width[:, None] * _PROFILE[None, :]
        normal = np.stack([-np.sin(angle), np.cos(angle)], axis=-1) * half[..., None]
        outlines = np.concatenate([points + normal, (points - normal)[:, ::-1]], axis=1)
        low = np.floor(outlines.min(axis=1)).astype(int) - 1  # (n, 2) crop corner x, y
        high = np.ceil(outlines.max(axis=1)).astype(int) + 2
        scale = 1 << _SHIFT
        fixed = np.rint((outlines - low[:, None]) * scale).astype(np.int32)
        eyes = np.rint((points[:, _EYE] - low) * scale).astype(int)
        radii = np.rint(0.9 * self.half_width * scale).astype(int)
        rows = np.full((len(points), len(TRACKING_COLUMNS)), np.nan)
        visible = np.zeros(len(points), bool)
        sprites: list[_Sprite] = []
        for i in range(len(points)):
            mask, x0, y0 = _rasterise(fixed[i], low[i], high[i], self.height, self.width)
            if mask is None:
                continue
            visible[i] = True
            rows[i, _MASK_COLUMNS] = _mask_features(mask, x0, y0)
            eye = (
                int(eyes[i, 0] - (x0 - low[i, 0]) * scale),
                int(eyes[i, 1] - (y0 - low[i, 1]) * scale),
            )
            sprites.append(_Sprite(mask, x0, y0, round(self.contrast[i]), eye, int(radii[i])))
        self._name(visible)
        rows = self._midline_columns(rows, points, t)[visible]
        self._replace(self.seen & ~visible)
        return rows[np.argsort(rows[:, column("id")], kind="stable")], sprites

    def _name(self, visible: np.ndarray) -> None:
        """Give ids, in slot order, to objects appearing for the first time."""
        new = np.flatnonzero(visible & ~self.seen)
        self.ids[new] = self.next_id + np.arange(len(new))
        self.next_id += len(new)
        self.seen |= visible

    def _midline_columns(self, rows: np.ndarray, points: np.ndarray, t: int) -> np.ndarray:
        """Fill the head, tail, direction, frame and id columns of every slot's row."""
        head, tail = points[:, : _MID + 1].mean(axis=1), points[:, _MID:].mean(axis=1)
        rows[:, [column("xHead"), column("yHead")]] = head
        rows[:, [column("xTail"), column("yTail")]] = tail
        rows[:, column("tHead")] = _angles(points[:, 0] - points[:, _MID])
        rows[:, column("tTail")] = _angles(points[:, _MID] - points[:, -1])
        # Orient the mask's major axis (an image angle, stored in tBody) from tail to head.
        axis = rows[:, column("tBody")]
        forward = np.cos(axis) * (head[:, 0] - tail[:, 0]) + np.sin(axis) * (
            head[:, 1] - tail[:, 1]
        )
        rows[:, column("tBody")] = (np.where(forward < 0, np.pi, 0.0) - axis) % _TWO_PI
        rows[:, column("imageNumber")], rows[:, column("id")] = t, self.ids
        return rows


def _margin(length: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Distance from a body centre to the farthest outline point, plus a pixel."""
    return length / 2 + half_width + 1.0


def _rasterise(
    fixed: np.ndarray, low: np.ndarray, high: np.ndarray, height: int, width: int
) -> tuple[np.ndarray | None, int, int]:
    """Filled outline as a 0/1 mask cropped to the frame, or None if mostly outside.

    ``fixed`` is the outline relative to the crop corner ``low`` in fixed point, (M, 2).
    """
    x0, y0 = int(low[0]), int(low[1])
    x1, y1 = int(high[0]), int(high[1])
    crop = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(crop, [fixed], 1, cv2.LINE_8, _SHIFT)
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return crop, x0, y0
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx0 >= cx1 or cy0 >= cy1:
        return None, 0, 0
    inside = crop[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    if cv2.countNonZero(inside) < _MIN_VISIBLE * cv2.countNonZero(crop):
        return None, 0, 0
    return inside, cx0, cy0


_MASK_COLUMNS = [
    column(name)
    for name in (
        "xBody",
        "yBody",
        "tBody",
        "areaBody",
        "perimeterBody",
        "bodyMajorAxisLength",
        "bodyMinorAxisLength",
        "bodyExcentricity",
    )
]


def _mask_features(mask: np.ndarray, x0: int, y0: int) -> tuple[float, ...]:
    """Body columns of one object's 0/1 mask at offset (x0, y0), in ``_MASK_COLUMNS`` order.

    The angle is the major axis as an image angle (y down), not yet oriented.
    """
    m = cv2.moments(mask, binaryImage=True)
    area = m["m00"]
    mu20, mu02, mu11 = m["mu20"], m["mu02"], m["mu11"]
    spread = math.hypot((mu20 - mu02) / 2, mu11)
    major = 2 * math.sqrt(max((mu20 + mu02) / 2 + spread, 0.0) / area)
    minor = 2 * math.sqrt(max((mu20 + mu02) / 2 - spread, 0.0) / area)
    eccentricity = math.sqrt(1 - (minor / major) ** 2) if major > 0 else 0.0
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = max(cv2.arcLength(c, closed=True) for c in contours)
    return (
        m["m10"] / area + x0,
        m["m01"] / area + y0,
        0.5 * math.atan2(2 * mu11, mu20 - mu02),
        area,
        perimeter,
        major,
        minor,
        eccentricity,
    )


def _angles(vectors: np.ndarray) -> np.ndarray:
    """FastTrack's angle of image vectors (dx, dy), (n, 2): atan2(-dy, dx) in [0, 2π)."""
    return np.arctan2(-vectors[:, 1], vectors[:, 0]) % _TWO_PI


def _paint(layer: np.ndarray, sprite: _Sprite) -> None:
    """Add one object's grey levels to the contrast layer (the darker one wins)."""
    patch = sprite.mask * np.uint8(sprite.contrast)
    head = min(sprite.contrast + _HEAD_EXTRA, 255)
    cv2.circle(patch, sprite.eye, sprite.eye_radius, head, -1, cv2.LINE_8, _SHIFT)
    patch *= sprite.mask
    h, w = patch.shape
    region = layer[sprite.y0 : sprite.y0 + h, sprite.x0 : sprite.x0 + w]
    np.maximum(region, patch, out=region)


def _noise_lut(sigma: float) -> np.ndarray:
    """Table turning uniform bytes into Gaussian-like noise centred on its middle, uint8."""
    quantiles = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)])
    noise = np.rint(sigma * (quantiles - quantiles[0]))
    return np.clip(noise, 0, 255).astype(np.uint8)


def _table(rows: list[np.ndarray]) -> pd.DataFrame:
    """Ground-truth DataFrame from per-frame row blocks (each sorted by id), in order."""
    rows = rows or [np.empty((0, len(TRACKING_COLUMNS)))]
    columns = {}
    for j, name in enumerate(TRACKING_COLUMNS):  # one column at a time: no second full copy
        column = np.concatenate([block[:, j] for block in rows])
        columns[name] = column.astype(np.int64) if name in ("imageNumber", "id") else column
    return pd.DataFrame(columns, copy=False)


def _write_table(table: pd.DataFrame, path: Path) -> None:
    """Write a ground-truth table like FastTrack's tracking.txt."""
    try:
        table.to_csv(path, sep="\t", float_format="%g", index=False, na_rep="nan")
    except OSError as exc:
        raise OutputError(f"cannot write the ground truth to {path}: {exc}") from exc


def _imwrite(path: Path, image: np.ndarray) -> None:
    """Write one image, raising OutputError on failure."""
    try:
        ok = cv2.imwrite(str(path), image)
    except cv2.error as exc:
        raise OutputError(f"cannot write image {path}: {exc}") from exc
    if not ok:
        raise OutputError(f"cannot write image {path}: check the folder exists and is writable")


def _make_folder(folder: Path) -> None:
    """Create a destination folder, raising OutputError if impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {folder}: {exc}") from exc


def _pair(value: object, name: str, kind: type) -> tuple:
    """A number or a two-item sequence, as a (low, high) tuple of ``kind``."""
    items = value if isinstance(value, (tuple, list, np.ndarray)) else (value, value)
    if len(items) != 2:
        raise ParameterError(f"{name} must be a number or a pair (low, high), got {value!r}")
    try:
        return (kind(items[0]), kind(items[1]))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must hold numbers, got {value!r}") from exc


def _check_range(pair: tuple[float, float], name: str, lowest: float, highest: float) -> None:
    low, high = pair
    if not lowest <= low <= high <= highest:
        raise ParameterError(
            f"{name} must be a range (low, high) with {lowest} <= low <= high <= {highest},"
            f" got {pair!r}"
        )


def _validate(movie: SyntheticMovie) -> None:
    """Reject impossible parameters with a message naming the value and the fix."""
    height, width = movie.shape
    if not (isinstance(movie.n_frames, (int, np.integer)) and movie.n_frames >= 1):
        raise ParameterError(f"n_frames must be an integer >= 1, got {movie.n_frames!r}")
    if not (isinstance(movie.n_objects, (int, np.integer)) and movie.n_objects >= 0):
        raise ParameterError(f"n_objects must be an integer >= 0, got {movie.n_objects!r}")
    if not (isinstance(movie.seed, (int, np.integer)) and movie.seed >= 0):
        raise ParameterError(f"seed must be an integer >= 0, got {movie.seed!r}")
    if min(height, width) < 16:
        raise ParameterError(f"shape (height, width) must be at least 16 px, got {movie.shape!r}")
    _check_range(movie.width, "width", 1.0, 40.0)
    _check_range(movie.length, "length", 2.0 * movie.width[1], 1000.0)
    _check_range(movie.contrast, "contrast", 1.0, 200.0)
    if not 0.0 <= movie.speed <= movie.length[0]:
        raise ParameterError(
            f"speed must be between 0 and the smallest length {movie.length[0]} px/frame,"
            f" got {movie.speed!r}"
        )
    if not 0.0 <= movie.dimming <= 0.9:
        raise ParameterError(f"dimming must be between 0 and 0.9, got {movie.dimming!r}")
    if not 0.0 <= movie.noise <= 30.0:
        raise ParameterError(f"noise must be between 0 and 30 grey levels, got {movie.noise!r}")
    need = 2 * float(_margin(np.float64(movie.length[1]), np.float64(movie.width[1] / 2))) + 2
    if min(height, width) < need:
        raise ParameterError(
            f"shape {movie.shape!r} is too small for objects up to {movie.length[1]} px long:"
            f" make both sides at least {need:.0f} px or the objects shorter"
        )
