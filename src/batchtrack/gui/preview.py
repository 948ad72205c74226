"""What the interactive panel shows, computed with the public API only (no Qt here).

A :class:`Preview` holds one open movie and its backgrounds (one per background setting), and
gives, for a frame and parameters, the layers the panel draws: frame, background, binary
image, contours and features. Everything runs in the panel's worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..autoparams import AutoReport
from ..background import register
from ..detect import binary_image, find_objects, object_features
from ..errors import OutputError
from ..io.frames import open_frames, result_dir_for
from ..movie import compute_background, detect_range, link_detections, resolve_parameters
from ..params import AUTO, AUTO_NAMES, Parameters, save_cfg
from ..schema import tracking_table

__all__ = ["Layers", "Preview"]


@dataclass(frozen=True)
class Layers:
    """One frame as detection sees it.

    Attributes
    ----------
    index : int
        Frame index.
    frame : ndarray of uint8, shape (H, W)
        The frame (registered onto the background when ``reg`` is set).
    background : ndarray of uint8, shape (H, W)
    binary : ndarray of uint8, shape (H, W)
        255 for object pixels (inside the region of interest only).
    contours : list of ndarray of int32, shape (K, 1, 2)
        Kept objects' outlines, full-image pixel coordinates.
    features : ndarray of float64, shape (N, 21)
        Their features (columns of :data:`batchtrack.schema.FEATURE_COLUMNS`).
    params : Parameters
        The parameters used.
    """

    index: int
    frame: np.ndarray
    background: np.ndarray
    binary: np.ndarray
    contours: list
    features: np.ndarray
    params: Parameters


def _background_key(params: Parameters) -> tuple[int, int, int]:
    return params.nBack, params.methBack, params.regBack


class Preview:
    """An open movie for the interactive panel (use from one thread at a time).

    Parameters
    ----------
    path : str or Path
        Image-sequence folder or video file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.source = open_frames(self.path)
        self.n_frames = self.source.n_frames
        self.shape = self.source.shape
        self._backgrounds: dict[tuple[int, int, int], np.ndarray] = {}
        #: Where the last save moved a finished result it would have contradicted.
        self.archived: Path | None = None

    @property
    def result_dir(self) -> Path:
        """The movie's FastTrack result folder (where the batch panel's autoload looks)."""
        return result_dir_for(self.path)

    def background(self, params: Parameters) -> np.ndarray:
        """The background for these parameters (computed once per background setting)."""
        key = _background_key(params)
        if key not in self._backgrounds:
            self._backgrounds[key] = compute_background(self.source, params)
        return self._backgrounds[key]

    def measure(self, params: Parameters) -> tuple[Parameters, AutoReport]:
        """Measure :data:`~batchtrack.params.AUTO_NAMES` on this movie, the other values kept.

        Returns
        -------
        params : Parameters
            ``params`` with the measured values.
        report : AutoReport
            The measurement behind each value.
        """
        wanted = params.with_updates(dict.fromkeys(AUTO_NAMES, AUTO))
        measured, background, report = resolve_parameters(self.source, wanted)
        self._backgrounds.setdefault(_background_key(measured), background)
        return measured, report

    def layers(self, index: int, params: Parameters) -> Layers:
        """Detect the objects of frame ``index`` with ``params``."""
        background = self.background(params)
        frame = self.source.read(index)
        if params.reg:
            frame = register(background, frame, params.reg)
        binary = binary_image(frame, background, params)
        x0 = y0 = 0
        crop = binary
        if params.roi is not None:
            x0, y0, x1, y1 = params.roi
            crop = binary[y0:y1, x0:x1]
            binary = np.zeros_like(binary)
            binary[y0:y1, x0:x1] = crop
        contours, areas = find_objects(crop, min_area=params.minArea, max_area=params.maxArea)
        features = object_features(contours, areas, offset=(x0, y0))
        shifted = [c + np.array([x0, y0], np.int32) for c in contours]
        return Layers(index, frame, background, binary, shifted, features, params)

    def track(self, start: int, stop: int, params: Parameters) -> pd.DataFrame:
        """Track frames ``start`` to ``stop`` (exclusive) in memory; nothing is written.

        Returns
        -------
        DataFrame
            FastTrack's 23 columns, one row per object per frame.
        """
        background = self.background(params)
        chunk = detect_range(self.source, background, params, start=start, stop=stop)
        return tracking_table(list(link_detections([chunk], params)))

    def save(self, params: Parameters) -> Path:
        """Write ``cfg.toml`` and ``background.pgm`` into the movie's result folder.

        A folder that holds a finished result (``tracking.txt``) is archived first
        (``Tracking_Result_Archive-…``, recorded in :attr:`archived`), so that a result's
        ``cfg.toml`` always matches its ``tracking.txt``.

        Returns
        -------
        Path
            The folder, where the batch panel's autoload finds both files.
        """
        folder = self.result_dir
        self.archived = _archive_finished(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create {folder}: {error.strerror or error}; make the movie's folder "
                "writable"
            ) from error
        if not cv2.imwrite(str(folder / "background.pgm"), self.background(params)):
            raise OutputError(f"cannot write {folder / 'background.pgm'}; check the folder")
        save_cfg(params, folder / "cfg.toml")
        return folder

    def close(self) -> None:
        self.source.close()


def _archive_finished(folder: Path) -> Path | None:
    """Move a finished result out of the way (as a new result would); None if there is none."""
    from ..io.publish import archive_name, publish_lock

    if not (folder / "tracking.txt").exists():
        return None
    try:
        with publish_lock(folder):
            target = archive_name(folder)
            folder.rename(target)
    except OSError as error:
        raise OutputError(
            f"cannot archive the finished result {folder} before saving the parameters: "
            f"{error.strerror or error}; make the folder writable"
        ) from error
    return target
