"""Trajectory pictures: every track drawn over the background, to check a result at a glance."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["TrajectoryCanvas", "id_colour", "plot_trajectories"]

_GOLDEN = 0.618033988749895


def id_colour(identity: int) -> tuple[int, int, int]:
    """A distinct, saturated BGR colour for an id (golden-ratio hue steps)."""
    hue = int(180 * ((identity * _GOLDEN) % 1.0))
    hsv = np.uint8([[[hue, 220, 230]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


class TrajectoryCanvas:
    """Draw tracks incrementally (memory stays bounded however long the movie).

    Parameters
    ----------
    background : ndarray of uint8, shape (H, W)
        Grey background the tracks are drawn over.
    scale : int
        Drawing resolution multiplier (sub-pixel smooth lines).
    """

    def __init__(self, background: np.ndarray, *, scale: int = 2) -> None:
        grey = cv2.resize(background, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        # Faded background so that the tracks stand out.
        self.image = cv2.cvtColor((grey // 2 + 100).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        self.scale = scale
        self._last: dict[int, np.ndarray] = {}

    def add(self, x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> None:
        """Add detections (rows in frame order) to the tracks."""
        if len(ids) == 0:
            return
        order = np.argsort(ids, kind="stable")
        ids = ids[order].astype(np.int64)
        points = np.column_stack([x[order], y[order]]) * self.scale
        bounds = np.flatnonzero(np.diff(ids)) + 1
        for chunk, pts in zip(np.split(ids, bounds), np.split(points, bounds)):
            identity = int(chunk[0])
            previous = self._last.get(identity)
            line = pts if previous is None else np.vstack([previous, pts])
            if len(line) > 1:
                cv2.polylines(
                    self.image,
                    [np.round(line).astype(np.int32)],
                    False,
                    id_colour(identity),
                    max(1, self.scale // 2),
                    cv2.LINE_AA,
                )
            self._last[identity] = pts[-1]

    def finish(self) -> np.ndarray:
        """The picture, with each id written at its last position."""
        image = self.image.copy()
        for identity, (px, py) in self._last.items():
            cv2.circle(image, (int(px), int(py)), 2 * self.scale, id_colour(identity), -1)
            cv2.putText(
                image,
                str(identity),
                (int(px) + 3 * self.scale, int(py)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.35 * self.scale,
                (20, 20, 20),
                1,
                cv2.LINE_AA,
            )
        return image


def plot_trajectories(result_dir: str | Path, out_png: str | Path | None = None) -> Path:
    """Draw the tracks of a ``Tracking_Result`` folder over its background.

    Parameters
    ----------
    result_dir : path
        A result folder holding ``tracking.txt`` and ``background.pgm``.
    out_png : path, optional
        Where to write the picture (default: ``trajectories.png`` in the folder).
    """
    from .io.results import read_tracking

    result_dir = Path(result_dir)
    background = cv2.imread(str(result_dir / "background.pgm"), cv2.IMREAD_GRAYSCALE)
    table = read_tracking(result_dir)
    canvas = TrajectoryCanvas(background)
    canvas.add(table.xBody.to_numpy(), table.yBody.to_numpy(), table.id.to_numpy())
    out = Path(out_png) if out_png else result_dir / "trajectories.png"
    cv2.imwrite(str(out), canvas.finish())
    return out
