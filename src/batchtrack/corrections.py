"""A result folder opened for correction: its original table, its edit log, undo/redo, saving.

The window (``batchtrack review``) and the command line (``batchtrack edit``) both go through
:class:`EditSession`, so the same edits give the same files. Saving writes the corrected
``tracking.txt`` and ``tracking.db`` (and ``trajectories.png``) through the same atomic publish
as a tracking run: the previous folder is archived as ``Tracking_Result_Archive-<date>``, never
deleted, and the new one holds

* ``tracking_original.txt``: the table before any edit, byte for byte;
* ``edits.toml``: the edits, oldest first (:mod:`batchtrack.io.edits`);
* ``batchtrack.json``: the resume marker, with the edit log's hash, so that a batch rerun with
  the same inputs skips the movie and keeps its edits.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from .analysis import SpeedStream
from .analysis_files import write_analysis_files
from .calibration import Calibration
from .edits import Edit, apply_edits
from .errors import InputError
from .io.edits import EDITS, ORIGINAL, read_edit_log, write_edit_log
from .io.frames import VIDEO_EXTENSIONS, result_dir_for
from .io.results import ResultWriter, read_tracking
from .io.resume import MARKER, edits_hash
from .params import Parameters, load_cfg
from .plots import TrajectoryCanvas
from .schema import ID, IMAGE_NUMBER, TRACKING_COLUMNS, X_BODY, Y_BODY

__all__ = ["EditSession", "movie_of", "result_of"]

#: Files a save writes itself; every other file of the folder is copied as it is.
#: Written again from the edited rows (see :mod:`batchtrack.analysis_files`).
_ANALYSIS_OUTPUTS = ("tracking.parquet", "tracking.nc", "animals.csv", "quality.json")
_WRITTEN = {
    "tracking.txt", "tracking.db", "log", "background.pgm", "cfg.toml", "trajectories.png",
    MARKER, EDITS, ORIGINAL, *_ANALYSIS_OUTPUTS,
}  # fmt: skip


def _saved_timestamps(folder: Path, params: Parameters) -> np.ndarray | None:
    """A video result's frame times, read back from its ``tracking.parquet`` (None when the
    times come from ``fps`` or there is no such file): the edited files keep the same clock."""
    table = folder / "tracking.parquet"
    if params.fps > 0 or not table.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        data = pq.read_table(table, columns=["imageNumber", "time"]).to_pandas()
    except (ImportError, OSError, KeyError, ValueError):
        return None
    if data.empty or data["time"].isna().all():
        return None
    known = data.drop_duplicates("imageNumber").sort_values("imageNumber")
    frames = np.arange(int(known["imageNumber"].max()) + 1)
    return np.interp(frames, known["imageNumber"], known["time"])


def result_of(path: str | Path) -> Path:
    """The result folder of a movie, or the folder itself if it holds ``tracking.txt``.

    Raises
    ------
    InputError
        If neither the path nor the movie's result folder holds a ``tracking.txt``.
    """
    path = Path(path)
    if (path / "tracking.txt").is_file():
        return path
    folder = result_dir_for(path)
    if not (folder / "tracking.txt").is_file():
        raise InputError(
            f"{path}: no tracking result (no {folder / 'tracking.txt'}); track the movie first, "
            "or give its Tracking_Result folder"
        )
    return folder


def movie_of(result: str | Path) -> Path | None:
    """The movie a result folder belongs to, None if it cannot be found.

    ``F/Tracking_Result`` belongs to the image sequence ``F``; ``D/Tracking_Result_name`` to the
    video ``D/name.<ext>``.
    """
    folder = Path(result)
    name = folder.name
    if name == "Tracking_Result":
        return folder.parent
    if name.startswith("Tracking_Result_"):
        stem = name.removeprefix("Tracking_Result_")
        for candidate in sorted(folder.parent.glob(f"{stem}.*")):
            if candidate.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS:
                return candidate
    return None


class EditSession:
    """Edits of one result folder, with undo and redo; nothing is written until :meth:`save`.

    Parameters
    ----------
    folder : str or Path
        A result folder (``tracking.txt``, ``background.pgm``, ``cfg.toml``), or a movie whose
        result folder it is. Its ``edits.toml``, if any, is loaded and checked.

    Raises
    ------
    InputError
        If there is no tracking table.
    EditError
        If the saved edit log does not apply to the original table.

    Examples
    --------
    >>> from batchtrack import Parameters, track
    >>> _ = track("exp/Run1/images", Parameters(thresh=60, methBack=1, maxArea=400))
    >>> session = EditSession("exp/Run1/images")
    >>> session.add(Edit("swap", (0, 1), first=5))
    >>> folder = session.save()
    >>> names = [p.name for p in sorted(folder.iterdir())]
    >>> [n for n in names if n.startswith(("edits", "tracking.txt", "tracking_original"))]
    ['edits.toml', 'tracking.txt', 'tracking_original.txt']
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = result_of(folder)
        original = self.folder / ORIGINAL
        self._original_file = original if original.is_file() else self.folder / "tracking.txt"
        self.original = read_tracking(self._original_file)
        self.edits: list[Edit] = [Edit.from_record(r) for r in read_edit_log(self.folder)]
        self._redo: list[Edit] = []
        self._saved = list(self.edits)
        self.table = apply_edits(self.original, self.edits)

    @property
    def modified(self) -> bool:
        """True if the edits differ from those saved."""
        return self.edits != self._saved

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def add(self, edit: Edit) -> None:
        """Apply one more edit (redo history is dropped).

        Raises
        ------
        EditError
            If it cannot be applied; the session is then unchanged.
        """
        self.table = apply_edits(self.original, [*self.edits, edit])
        self.edits.append(edit)
        self._redo.clear()

    def undo(self) -> Edit | None:
        """Take back the last edit (None if there is none)."""
        if not self.edits:
            return None
        edit = self.edits.pop()
        self._redo.append(edit)
        self.table = apply_edits(self.original, self.edits)
        return edit

    def redo(self) -> Edit | None:
        """Apply again the last edit taken back (None if there is none)."""
        if not self._redo:
            return None
        edit = self._redo.pop()
        self.table = apply_edits(self.original, [*self.edits, edit])
        self.edits.append(edit)
        return edit

    def save(self) -> Path:
        """Publish the corrected result folder (the previous one is archived).

        Returns
        -------
        Path
            The result folder.

        Raises
        ------
        InputError
            If the folder has no readable ``background.pgm``.
        OutputError
            If the folder cannot be written.
        """
        folder = self.folder
        background = cv2.imread(str(folder / "background.pgm"), cv2.IMREAD_GRAYSCALE)
        if background is None:
            raise InputError(f"{folder / 'background.pgm'} is missing or unreadable")
        cfg = folder / "cfg.toml"
        params = load_cfg(cfg, unknown="ignore") if cfg.is_file() else Parameters()
        original = self._original_file.read_bytes()
        marker = self._marker()
        rows = self.table[list(TRACKING_COLUMNS)].to_numpy(np.float64)
        calibration = Calibration.from_params(params, _saved_timestamps(folder, params))
        with ResultWriter(folder, calibration=calibration, speeds=SpeedStream()) as writer:
            writer.write_rows(rows)
            if (folder / "log").is_file():
                writer.copy_log((folder / "log").read_text(encoding="utf-8"))
            writer.log(f"{len(self.edits)} edit(s) of {EDITS} applied to {ORIGINAL}")
            canvas = TrajectoryCanvas(background)
            canvas.add(rows[:, X_BODY], rows[:, Y_BODY], rows[:, ID])
            writer.write_image("trajectories.png", canvas.finish())
            (writer.partial / ORIGINAL).write_bytes(original)
            if self.edits:
                write_edit_log(writer.partial, [e.to_record() for e in self.edits])
            for item in folder.iterdir():  # arenas.csv, arenas/, anything else: kept as is
                if item.is_dir():
                    shutil.copytree(item, writer.partial / item.name)
                elif item.is_file() and item.name not in _WRITTEN:
                    shutil.copy2(item, writer.partial / item.name)
            if marker is not None:
                marker.pop("outputs", None)  # recorded anew by finish, for the edited files
                marker["edits"] = edits_hash(writer.partial)
                if marker["edits"] is None:
                    del marker["edits"]
            writer.close_tables()  # the analysis files are computed again from the edited rows
            frames = int(rows[:, IMAGE_NUMBER].max()) + 1 if len(rows) else 0
            write_analysis_files(writer.partial, params, calibration, n_frames=frames)
            writer.finish(background, params, marker=marker)
        self._original_file = folder / ORIGINAL
        self._saved = list(self.edits)
        return folder

    def _marker(self) -> dict | None:
        path = self.folder / MARKER
        if not path.is_file():
            return None
        try:
            marker = json.loads(path.read_text())
        except ValueError:
            return None
        return marker if isinstance(marker, dict) else None
