"""What is drawn over a movie's frames when a result is replayed: objects, ids, trails.

:class:`Replay` indexes a tracking table once so that the objects of any frame and the trails
of the last frames come out in microseconds; the review window draws them as vector items and
:func:`draw_frame` rasterises the same content (same colours, same trail length) with OpenCV for
``batchtrack export-video``.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"imageNumber": [0, 1, 2], "id": [3, 3, 3], "xBody": [1., 2, 3],
...                       "yBody": 5., "xHead": 0., "yHead": 0., "xTail": 0., "yTail": 0.})
>>> replay = Replay(table, trail=2)
>>> replay.objects(2).ids.tolist(), replay.trails(2)[0][1][:, 0].tolist()
([3], [1.0, 2.0, 3.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import InputError, OutputError
from .plots import id_colour

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HEAD_BGR", "TAIL_BGR", "FrameObjects", "Replay", "draw_frame", "export_video", "movie_fps",
    "picture_scale",
]  # fmt: skip

#: Head and tail marks (BGR), as in the interactive panel.
HEAD_BGR = (77, 77, 255)
TAIL_BGR = (255, 166, 77)

_SHIFT = 4
_BIG = np.int64(1) << 32


@dataclass(frozen=True)
class FrameObjects:
    """The tracked objects of one frame; arrays of length N (coordinates in image pixels)."""

    ids: np.ndarray
    body: np.ndarray  #: shape (N, 2)
    head: np.ndarray  #: shape (N, 2)
    tail: np.ndarray  #: shape (N, 2)


class Replay:
    """A tracking table indexed by frame and by id, for drawing frame after frame.

    Parameters
    ----------
    table : DataFrame
        Columns ``imageNumber``, ``id``, ``xBody``, ``yBody``, ``xHead``, ``yHead``,
        ``xTail``, ``yTail``.
    trail : int
        Frames of history drawn behind each object (the current frame included as the last
        point; a trail spans ``trail + 1`` frames).
    """

    def __init__(self, table: pd.DataFrame, *, trail: int = 50) -> None:
        self.trail = int(trail)
        by_frame = table.sort_values(["imageNumber", "id"], kind="stable")
        self._frames = by_frame["imageNumber"].to_numpy(np.int64)
        self._ids = by_frame["id"].to_numpy(np.int64)
        self._body = by_frame[["xBody", "yBody"]].to_numpy(np.float64)
        self._head = by_frame[["xHead", "yHead"]].to_numpy(np.float64)
        self._tail = by_frame[["xTail", "yTail"]].to_numpy(np.float64)
        by_id = table.sort_values(["id", "imageNumber"], kind="stable")
        ids = by_id["id"].to_numpy(np.int64)
        self._key = ids * _BIG + by_id["imageNumber"].to_numpy(np.int64)
        self._track_xy = by_id[["xBody", "yBody"]].to_numpy(np.float64)
        self.track_ids = np.unique(ids)

    def objects(self, k: int) -> FrameObjects:
        """The objects of frame ``k`` (ordered by id)."""
        lo, hi = np.searchsorted(self._frames, [k, k + 1])
        return FrameObjects(
            self._ids[lo:hi], self._body[lo:hi], self._head[lo:hi], self._tail[lo:hi]
        )

    def trails(self, k: int, ids: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
        """Body positions, shape (M, 2), of frames ``k - trail`` … ``k`` of each id having two
        or more; only of ``ids`` if given (default: every id)."""
        wanted = self.track_ids if ids is None else np.asarray(ids, np.int64)
        lo = np.searchsorted(self._key, wanted * _BIG + (k - self.trail), "left")
        hi = np.searchsorted(self._key, wanted * _BIG + k, "right")
        return [
            (int(i), self._track_xy[a:b])
            for i, a, b in zip(wanted.tolist(), lo.tolist(), hi.tolist())
            if b - a >= 2
        ]

    def track(self, track_id: int) -> np.ndarray:
        """Every body position of one id, shape (M, 2), in frame order."""
        lo, hi = np.searchsorted(self._key, [track_id * _BIG, (track_id + 1) * _BIG])
        return self._track_xy[lo:hi]


def picture_scale(shape: tuple[int, int], *, long_side: int = 800) -> int:
    """Whole enlargement factor so that a frame of ``shape`` gets a long side ≥ ``long_side``
    (small movies are drawn enlarged, so that ids and trails stay legible).

    Examples
    --------
    >>> picture_scale((338, 524)), picture_scale((1024, 1024))
    (2, 1)
    """
    return max(1, math.ceil(long_side / max(shape)))


def _points(xy: np.ndarray, scale: float) -> np.ndarray:
    return np.rint((xy + 0.5) * scale * (1 << _SHIFT)).astype(np.int32)


def draw_frame(
    frame: np.ndarray,
    replay: Replay,
    k: int,
    *,
    scale: int = 1,
    selected: int | None = None,
    labels: bool = True,
    rgb: bool = False,
) -> np.ndarray:
    """A frame with its tracked objects drawn: trails, head/tail, ids (BGR picture).

    Parameters
    ----------
    frame : ndarray of uint8, shape (H, W)
        The grey frame.
    replay : Replay
        The indexed result.
    k : int
        The frame's index (``imageNumber``).
    scale : int
        Picture pixels per frame pixel (small movies are enlarged so that ids stay legible).
    selected : int, optional
        Id whose whole track is drawn, thicker.
    labels : bool
        Write each object's id beside it.
    rgb : bool
        Return an RGB picture (for Qt) instead of BGR (for OpenCV's video writer).

    Returns
    -------
    ndarray of uint8, shape (H·scale, W·scale, 3)
    """
    height, width = frame.shape
    if scale > 1:
        frame = cv2.resize(frame, (width * scale, height * scale), interpolation=cv2.INTER_NEAREST)
    image = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    order = slice(None, None, -1) if rgb else slice(None)

    def colour_of(track_id: int) -> tuple[int, int, int]:
        b, g, r = id_colour(track_id)
        return (r, g, b) if rgb else (b, g, r)

    thick = max(1, round(max(image.shape) / 700))
    if selected is not None and len(replay.track(selected)) > 1:
        cv2.polylines(image, [_points(replay.track(selected), scale)], False,
                      (255, 255, 255), thick + 2, cv2.LINE_AA, _SHIFT)  # fmt: skip
    for track_id, points in replay.trails(k):
        cv2.polylines(image, [_points(points, scale)], False, colour_of(track_id), thick,
                      cv2.LINE_AA, _SHIFT)  # fmt: skip
    found = replay.objects(k)
    radius = max(2, round(1.5 * scale)) << _SHIFT
    head, tail = HEAD_BGR[order], TAIL_BGR[order]
    ends = np.isfinite(found.head).all(axis=1) & np.isfinite(found.tail).all(axis=1)
    heads = _points(np.nan_to_num(found.head), scale).tolist()
    tails = _points(np.nan_to_num(found.tail), scale).tolist()
    for h, t in zip(np.asarray(heads)[ends].tolist(), np.asarray(tails)[ends].tolist()):
        cv2.line(image, t, h, (255, 255, 255), 1, cv2.LINE_AA, _SHIFT)
        cv2.circle(image, t, radius, tail, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(image, h, radius, head, -1, cv2.LINE_AA, _SHIFT)
    if labels:
        shown = np.isfinite(found.body).all(axis=1)
        at = ((found.body[shown] + 0.5) * scale + 3 * thick).astype(int).tolist()
        for track_id, xy in zip(found.ids[shown].tolist(), at):
            _label(image, str(track_id), (xy[0], xy[1]), colour_of(track_id), 0.4 * thick + 0.1)
    return image


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple, size: float) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    weight = max(1, math.ceil(size * 2))
    cv2.putText(image, text, at, font, size, (20, 20, 20), weight + 2, cv2.LINE_AA)
    cv2.putText(image, text, at, font, size, colour, weight, cv2.LINE_AA)


def movie_fps(path: Path | None, default: float = 25.0) -> float:
    """Frames per second of a video file (``default`` for an image sequence or no movie)."""
    if path is None or path.is_dir():
        return default
    capture = cv2.VideoCapture(str(path))
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return fps if math.isfinite(fps) and 0 < fps < 1000 else default


def export_video(
    result: str | Path,
    out: str | Path,
    *,
    first: int = 0,
    last: int | None = None,
    trail_seconds: float = 2.0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the movie of a result with its ids, head/tail and trails drawn (:func:`draw_frame`).

    Parameters
    ----------
    result : str or Path
        A result folder, or the movie it belongs to.
    out : str or Path
        Video file to write: ``.mp4`` (codec mp4v) or ``.avi`` (MJPG).
    first, last : int
        Frames to write, both included; ``last=None``: to the end of the movie.
    trail_seconds : float
        Length of the trails, in seconds of the movie.
    progress : callable, optional
        ``progress(frames_done, frames_total)``.

    Returns
    -------
    int
        Number of frames written.

    Raises
    ------
    InputError
        If the result or its movie cannot be found, or the frame range is outside the movie.
    OutputError
        If the video cannot be written.
    """
    from .corrections import movie_of, result_of
    from .io.frames import open_frames
    from .io.results import read_tracking

    folder = result_of(result)
    movie = movie_of(folder)
    if movie is None or not movie.exists():
        raise InputError(f"{folder}: the movie of this result is not beside it; cannot draw it")
    out = Path(out)
    codec = {".mp4": "mp4v", ".m4v": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}.get(out.suffix.lower())
    if codec is None:
        raise OutputError(f"{out}: write a .mp4 or .avi file")
    fps = movie_fps(movie)
    replay = Replay(read_tracking(folder), trail=max(1, round(trail_seconds * fps)))
    with open_frames(movie) as source:
        stop = source.n_frames - 1 if last is None else last
        if not 0 <= first <= stop < source.n_frames:
            raise InputError(
                f"frames {first}–{stop} are outside the movie (frames 0–{source.n_frames - 1})"
            )
        height, width = source.shape
        scale = picture_scale((height, width))
        writer = cv2.VideoWriter(
            str(out), cv2.VideoWriter_fourcc(*codec), fps, (width * scale, height * scale)
        )
        if not writer.isOpened():
            raise OutputError(f"cannot write the video {out} (codec {codec})")
        written = 0
        try:
            for k in range(first, stop + 1):
                writer.write(draw_frame(source.read(k), replay, k, scale=scale))
                written += 1
                if progress is not None:
                    progress(written, stop - first + 1)
        finally:
            writer.release()
    return written
