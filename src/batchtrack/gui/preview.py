"""What the interactive panel shows, computed with the public API only (no Qt here).

A :class:`Preview` holds one open movie and its backgrounds (one per background setting), and
gives, for a frame and parameters, the layers the panel draws: frame, background, binary
image, contours and features. With arenas, detection looks inside each arena only and every
object carries its arena, as tracking does. Everything runs in the panel's worker thread.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..arena_tracking import ArenaResult
from ..arenas import Arena, ArenaSet, arena_of, find_wells, rasterize
from ..autoparams import AutoReport
from ..background import register
from ..detect import binary_image, find_in_region, find_objects, object_features
from ..errors import OutputError
from ..io.frames import open_frames, result_dir_for
from ..movie import (
    arena_detection_regions,
    compute_background,
    detect_range,
    link_detections,
    linked_blocks,
    resolve_parameters,
)
from ..params import AUTO, AUTO_NAMES, Parameters, save_cfg
from ..schema import X_BODY, Y_BODY, tracking_table

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
    arena : ndarray of int32, shape (N,)
        Each object's arena (1-based), all 0 without arenas.
    arenas : ArenaSet or None
        The arenas detection looked in; objects outside every arena are left out.
    """

    index: int
    frame: np.ndarray
    background: np.ndarray
    binary: np.ndarray
    contours: list
    features: np.ndarray
    params: Parameters
    arena: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    arenas: ArenaSet | None = None

    def arena_counts(self) -> list[int]:
        """Objects detected in each arena (arena 1 first); empty without arenas."""
        if self.arenas is None:
            return []
        counts = np.bincount(self.arena, minlength=self.arenas.count + 1)
        return [int(n) for n in counts[1:]]


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
        self._arena_set: tuple[tuple[Arena, ...], ArenaSet] | None = None

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

    def layers(self, index: int, params: Parameters, arenas: ArenaSet | None = None) -> Layers:
        """Detect the objects of frame ``index`` with ``params`` (in ``arenas`` if given)."""
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
        bounds = {"min_area": params.minArea, "max_area": params.maxArea}
        if arenas is None:
            contours, areas = find_objects(crop, **bounds)
        else:  # as tracking: inside each arena's box and mask, arena after arena
            contours, area_list = [], [np.empty(0)]
            for region in arena_detection_regions(arenas, params):
                found, found_areas = find_in_region(crop, region, **bounds)
                contours.extend(found)
                area_list.append(found_areas)
            areas = np.concatenate(area_list)
        features = object_features(contours, areas, offset=(x0, y0))
        shifted = [c + np.array([x0, y0], np.int32) for c in contours]
        arena = np.zeros(len(features), np.int32)
        if arenas is not None:  # an object belongs to the arena holding its body centre
            arena = arena_of(arenas.labels, features[:, X_BODY], features[:, Y_BODY])
            keep = arena > 0
            features, arena = features[keep], arena[keep]
            shifted = [c for c, kept in zip(shifted, keep.tolist(), strict=True) if kept]
        return Layers(index, frame, background, binary, shifted, features, params, arena, arenas)

    def track(
        self, start: int, stop: int, params: Parameters, arenas: ArenaSet | None = None
    ) -> pd.DataFrame:
        """Track frames ``start`` to ``stop`` (exclusive) in memory; nothing is written.

        With ``arenas``, each arena is tracked on its own, as the batch would.

        Returns
        -------
        DataFrame
            FastTrack's 23 columns, one row per object per frame.
        """
        background = self.background(params)
        if arenas is None:
            chunk = detect_range(self.source, background, params, start=start, stop=stop)
            return tracking_table(list(link_detections([chunk], params)))
        regions = arena_detection_regions(arenas, params)
        chunk = detect_range(self.source, background, params, start=start, stop=stop,
                             regions=regions)  # fmt: skip
        result = ArenaResult(arenas.animals(params.animals))
        with tempfile.TemporaryDirectory(prefix="batchtrack-preview-") as scratch:
            blocks = [rows for rows, _ in linked_blocks([chunk], params, Path(scratch),
                                                        arenas, result)]  # fmt: skip
        return tracking_table(blocks)

    def arena_set(self, arenas: Sequence[Arena]) -> ArenaSet:
        """The arenas as tracking sees them: their label image at the movie's size.

        Raises
        ------
        ParameterError
            Arenas that overlap, leave the frame or cover no pixel.
        """
        key = tuple(arenas)
        if self._arena_set is None or self._arena_set[0] != key:
            labels = rasterize(key, self.shape, source="the arenas drawn")
            self._arena_set = (key, ArenaSet(labels, list(key), "the arenas drawn"))
        return self._arena_set[1]

    def wells(self, params: Parameters) -> list[Arena]:
        """The wells or tanks found on the background (:func:`batchtrack.arenas.find_wells`),
        as ``--arenas auto`` finds them; empty if none."""
        return find_wells(self.background(params))

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
