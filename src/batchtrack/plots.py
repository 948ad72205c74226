"""Trajectory pictures: each id's track drawn in its own colour over the background.

OpenCV drawing only (no plotting library), so that a result folder can be checked at a glance
from the command line, the batch window, or a script. To stay readable with many ids:

- tracks of fewer than :data:`MIN_TRACK_LENGTH` positions are not drawn (short fragments);
- ids are labelled only while at most :data:`MAX_LABELS` tracks are drawn;
- a step longer than ``maxDist`` (when given) is not drawn as a line: the track resumes.
"""

from __future__ import annotations

import colorsys
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import InputError, OutputError
from .io.results import read_tracking

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_LABELS",
    "MIN_TRACK_LENGTH",
    "TrajectoryCanvas",
    "draw_tracks",
    "id_colour",
    "plot_trajectories",
]

log = logging.getLogger(__name__)

_GOLDEN = (math.sqrt(5) - 1) / 2
#: Long side, in pixels, below which :func:`plot_trajectories` enlarges the picture.
_MIN_SIDE = 1000
_SHIFT = 4  # sub-pixel bits for cv2 drawing
#: Tracks with fewer positions than this are not drawn.
MIN_TRACK_LENGTH = 10
#: Past this many tracks drawn, ids are not labelled.
MAX_LABELS = 40


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A saturated colour for an id, far from the colours of the ids just before it.

    Hues step by the golden ratio, so consecutive ids never look alike.

    Parameters
    ----------
    track_id : int
        The id (0, 1, ...).

    Returns
    -------
    tuple of int
        ``(b, g, r)``, each 0-255 (OpenCV's channel order).

    Examples
    --------
    >>> id_colour(0) != id_colour(1)
    True
    """
    hue = (0.02 + track_id * _GOLDEN) % 1.0
    value = 0.95 if track_id % 2 == 0 else 0.75
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, value)
    return round(b * 255), round(g * 255), round(r * 255)


def draw_tracks(
    image: np.ndarray,
    table: pd.DataFrame,
    *,
    scale: float = 1.0,
    thickness: int = 1,
    upto: int | None = None,
    labels: bool = True,
    max_jump: float | None = None,
    min_length: int = 1,
) -> np.ndarray:
    """Draw each id's body positions as a polyline in its colour.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
        BGR picture, drawn on in place.
    table : DataFrame
        Tracking table with columns ``xBody``, ``yBody``, ``imageNumber`` and ``id``.
    scale : float
        Picture pixels per image pixel (for an enlarged picture).
    thickness : int
        Line width in picture pixels.
    upto : int, optional
        Draw only frames up to this ``imageNumber`` (inclusive).
    labels : bool
        Mark each track's last position with a dot and its id (only while at most
        :data:`MAX_LABELS` tracks are drawn).
    max_jump : float, optional
        Steps longer than this (image pixels) are not drawn as lines (e.g. ``maxDist``).
    min_length : int
        Tracks with fewer positions are not drawn (:func:`plot_trajectories` uses
        :data:`MIN_TRACK_LENGTH`).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        ``image``.
    """
    if upto is not None:
        table = table[table["imageNumber"] <= upto]
    table = table.sort_values(["id", "imageNumber"], kind="stable")
    ends = {}
    for track_id, rows in table.groupby("id", sort=True):
        points = rows[["xBody", "yBody"]].to_numpy(np.float64)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points) < max(min_length, 1):
            continue
        _polyline(image, points, int(track_id), scale, thickness, max_jump)
        ends[int(track_id)] = points[-1]
    if labels and len(ends) <= MAX_LABELS:
        for track_id, point in ends.items():
            _end_mark(image, point, track_id, scale, thickness)
    return image


def _polyline(
    image: np.ndarray,
    points: np.ndarray,
    track_id: int,
    scale: float,
    thickness: int,
    max_jump: float | None = None,
) -> None:
    """One track's positions (image pixels, shape (K, 2)) as an anti-aliased polyline, broken
    where a step is longer than ``max_jump``."""
    pieces = [points]
    if max_jump is not None and len(points) > 1:
        steps = np.hypot(*np.diff(points, axis=0).T)
        pieces = np.split(points, np.flatnonzero(steps > max_jump) + 1)
    pixels = [
        np.rint((piece + 0.5) * scale * (1 << _SHIFT)).astype(np.int32)
        for piece in pieces
        if len(piece) > 1
    ]
    if pixels:
        cv2.polylines(image, pixels, False, id_colour(track_id), thickness, cv2.LINE_AA, _SHIFT)


def _end_mark(
    image: np.ndarray, point: np.ndarray, track_id: int, scale: float, thickness: int
) -> None:
    """A dot and the id at a track's last position."""
    colour = id_colour(track_id)
    end = np.rint((np.asarray(point) + 0.5) * scale * (1 << _SHIFT)).astype(np.int64)
    cv2.circle(
        image, (int(end[0]), int(end[1])), 2 * thickness << _SHIFT, colour, -1, cv2.LINE_AA, _SHIFT
    )
    x, y = (int(v) >> _SHIFT for v in end)
    at = (x + 3 * thickness, y - 3 * thickness)
    _label(image, str(track_id), at, colour, max(0.4, 0.45 * thickness))


class TrajectoryCanvas:
    """Draw tracks incrementally, as rows are produced, so memory stays bounded.

    Parameters
    ----------
    background : ndarray of uint8, shape (H, W)
        Grey background the tracks are drawn over (enlarged if small, and lightened).
    max_jump : float, optional
        Steps longer than this (image pixels) are not drawn as lines (e.g. ``maxDist``).
    min_length : int
        A track is drawn once it has this many positions (shorter ones never are).

    Examples
    --------
    >>> canvas = TrajectoryCanvas(np.full((100, 200), 200, np.uint8))
    >>> for t in range(10):
    ...     canvas.add(np.array([10.0 + 5 * t]), np.array([50.0]), np.array([0]))
    >>> canvas.finish().shape  # enlarged 5x so that lines and labels stay legible
    (500, 1000, 3)
    """

    def __init__(
        self,
        background: np.ndarray,
        *,
        max_jump: float | None = None,
        min_length: int = MIN_TRACK_LENGTH,
    ) -> None:
        self.image, self.scale, self.thickness = _picture(background)
        self.max_jump, self.min_length = max_jump, max(min_length, 1)
        self._last: dict[int, np.ndarray] = {}
        self._pending: dict[int, np.ndarray] = {}  # tracks still too short to draw

    def add(self, x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> None:
        """Add detections (in frame order) to the tracks."""
        if len(ids) == 0:
            return
        order = np.argsort(ids, kind="stable")
        ids = np.asarray(ids)[order].astype(np.int64)
        points = np.column_stack([np.asarray(x)[order], np.asarray(y)[order]])
        bounds = np.flatnonzero(np.diff(ids)) + 1
        for chunk, pts in zip(np.split(ids, bounds), np.split(points, bounds)):
            track_id = int(chunk[0])
            previous = self._last.get(track_id)
            if previous is None:
                pts = np.vstack([self._pending.pop(track_id, pts[:0]), pts])
                if len(pts) < self.min_length:
                    self._pending[track_id] = pts
                    continue
            line = pts if previous is None else np.vstack([previous, pts])
            _polyline(self.image, line, track_id, self.scale, self.thickness, self.max_jump)
            self._last[track_id] = pts[-1]

    def finish(self) -> np.ndarray:
        """The picture, with each track's last position marked with its id (up to
        :data:`MAX_LABELS` tracks)."""
        image = self.image.copy()
        if len(self._last) <= MAX_LABELS:
            for track_id, point in self._last.items():
                _end_mark(image, point, track_id, self.scale, self.thickness)
        return image


def _picture(background: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Enlarged (if small), lightened BGR copy of the background; its scale and line width."""
    factor = max(1, math.ceil(_MIN_SIDE / max(background.shape)))
    height, width = background.shape
    picture = cv2.resize(
        background, (width * factor, height * factor), interpolation=cv2.INTER_NEAREST
    )
    # Lighten the background so that coloured tracks stand out.
    picture = cv2.cvtColor(cv2.addWeighted(picture, 0.55, picture, 0, 115), cv2.COLOR_GRAY2BGR)
    return picture, factor, max(1, round(max(picture.shape) / 600))


def _label(
    image: np.ndarray, text: str, at: tuple[int, int], colour: tuple, font_scale: float
) -> None:
    """Text with a dark outline, readable on any background."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    weight = max(1, round(font_scale * 2))
    cv2.putText(image, text, at, font, font_scale, (20, 20, 20), weight + 2, cv2.LINE_AA)
    cv2.putText(image, text, at, font, font_scale, colour, weight, cv2.LINE_AA)


def plot_trajectories(
    result_dir: str | Path, out_png: str | Path | None = None, *, max_jump: float | None = None
) -> Path:
    """Draw the tracks of a result folder over its background and save a PNG.

    Parameters
    ----------
    result_dir : str or Path
        A ``Tracking_Result`` folder (``tracking.txt``; ``background.pgm`` if present, a white
        canvas otherwise).
    out_png : str or Path, optional
        Where to write the picture; default ``<result_dir>/trajectories.png``.

    Returns
    -------
    Path
        The PNG written. Pictures whose long side is under 1000 px are enlarged by a whole
        factor so that lines and labels stay legible.

    Raises
    ------
    InputError
        If the folder has no readable ``tracking.txt``.
    OutputError
        If the PNG cannot be written.

    Examples
    --------
    >>> from batchtrack import Parameters, track
    >>> _ = track("exp/Run1/images", Parameters(thresh=60, methBack=1, maxArea=400))
    >>> plot_trajectories("exp/Run1/images/Tracking_Result").name
    'trajectories.png'
    """
    folder = Path(result_dir)
    table = read_tracking(folder)
    missing = {"xBody", "yBody", "imageNumber", "id"} - set(table.columns)
    if missing:
        raise InputError(
            f"{folder / 'tracking.txt'} lacks the columns {', '.join(sorted(missing))}; "
            "give a FastTrack tracking.txt"
        )
    picture, factor, thickness = _picture(_background(folder, table))
    draw_tracks(
        picture, table, scale=factor, thickness=thickness, max_jump=max_jump,
        min_length=MIN_TRACK_LENGTH,
    )  # fmt: skip
    out = Path(out_png) if out_png is not None else folder / "trajectories.png"
    try:
        from .io.results import image_options

        ok = cv2.imwrite(str(out), picture, image_options(out))
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(f"cannot write {out}; check that its folder exists and is writable")
    log.info("trajectories of %d ids drawn in %s", table["id"].nunique(), out)
    return out


def _background(folder: Path, table: pd.DataFrame) -> np.ndarray:
    path = folder / "background.pgm"
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
    if image is not None:
        return image
    log.warning("%s: no readable background.pgm; tracks drawn on a white canvas", folder)
    width = int(np.nanmax(table["xBody"], initial=0)) + 20
    height = int(np.nanmax(table["yBody"], initial=0)) + 20
    return np.full((height, width), 255, np.uint8)
