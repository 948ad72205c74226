"""The ``Tracking_Result`` folder: written atomically, archived never deleted, read back.

A result is written into a hidden temporary sibling (``.Tracking_Result.partial-<pid>``) and
renamed into place only when complete, after any existing folder has been renamed to
``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss``. A crash or a kill therefore never leaves a
half-written ``Tracking_Result``; stale partial folders of dead processes are removed the
next time a result is written beside them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..detect import FEATURE_COLUMNS
from ..errors import InputError, OutputError

if TYPE_CHECKING:
    import pandas as pd

    from ..plots import TrajectoryCanvas

__all__ = [
    "COLUMNS",
    "MARKER",
    "ResultWriter",
    "archive_name",
    "read_tracking",
    "remove_stale_partials",
]

log = logging.getLogger(__name__)

#: The 23 columns of ``tracking.txt`` and of the ``tracking`` table of ``tracking.db``.
COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, "imageNumber", "id")
_FORMAT = "\t".join(["%g"] * len(FEATURE_COLUMNS) + ["%d", "%d"])
_PARTIAL = ".partial-"
#: File of a result folder recording what produced it (see ``batchtrack.batch.run``).
MARKER = "batchtrack.json"


def archive_name(folder: Path, when: datetime | None = None) -> Path:
    """Where an existing result folder is moved: ``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss``.

    A numeric suffix is added if that name is taken (two runs within one second).
    """
    stamp = (when or datetime.now()).strftime("%d-%b-%Y-%H-%M-%S")
    target = folder.with_name(f"{folder.name}_Archive-{stamp}")
    n = 1
    while target.exists():
        target = folder.with_name(f"{folder.name}_Archive-{stamp}-{n}")
        n += 1
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(folder: Path) -> None:
    """Delete hidden partial copies of ``folder`` left by processes that no longer run."""
    for partial in folder.parent.glob(f".{folder.name}{_PARTIAL}*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


class ResultWriter:
    """Write one movie's result folder, streaming rows as they come.

    Parameters
    ----------
    folder : path
        Final location, e.g. ``movie/Tracking_Result``.

    Raises
    ------
    OutputError
        If the parent folder is not writable.

    Examples
    --------
    >>> with ResultWriter(folder) as out:          # doctest: +SKIP
    ...     out.write_rows(rows)                    # (k, 23) array
    ...     out.finish(background, params)          # publishes the folder
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.partial = self.folder.with_name(f".{self.folder.name}{_PARTIAL}{os.getpid()}")
        try:
            remove_stale_partials(self.folder)
            if self.partial.exists():
                shutil.rmtree(self.partial)
            self.partial.mkdir(parents=True)
        except OSError as error:
            raise OutputError(
                f"cannot write results in {self.folder.parent}: {error.strerror or error}; "
                "make the folder writable or track a copy of the movie elsewhere"
            ) from error
        self._text = open(self.partial / "tracking.txt", "w", encoding="ascii")
        self._text.write("\t".join(COLUMNS) + "\n")
        self._db = sqlite3.connect(self.partial / "tracking.db")
        columns = ", ".join(f"{c} REAL" for c in FEATURE_COLUMNS)
        self._db.execute(f"CREATE TABLE tracking ({columns}, imageNumber INTEGER, id INTEGER)")
        self._db.execute("CREATE TABLE parameter (parameter TEXT, value REAL)")
        self._insert = f"INSERT INTO tracking VALUES ({', '.join('?' * len(COLUMNS))})"
        self._log = open(self.partial / "log", "w", encoding="utf-8")
        self.n_rows = 0
        self._canvas: TrajectoryCanvas | None = None

    def write_rows(self, rows: np.ndarray) -> None:
        """Append rows, shape (k, 23), columns as :data:`COLUMNS`."""
        if len(rows) == 0:
            return
        np.savetxt(self._text, rows, fmt=_FORMAT)
        if self._canvas is not None:
            self._canvas.add(rows[:, 6], rows[:, 7], rows[:, -1])
        features = rows[:, : len(FEATURE_COLUMNS)].tolist()
        ints = rows[:, len(FEATURE_COLUMNS) :].astype(np.int64).tolist()
        self._db.executemany(self._insert, (f + i for f, i in zip(features, ints, strict=True)))
        self.n_rows += len(rows)

    def draw_trajectories(self, background: np.ndarray) -> None:
        """Also draw the tracks over ``background`` into ``trajectories.png``."""
        from ..plots import TrajectoryCanvas

        self._canvas = TrajectoryCanvas(background)

    def log(self, message: str) -> None:
        """Add one line (date, message) to the result's ``log``."""
        self._log.write(f"{datetime.now().isoformat(timespec='seconds')}\t{message}\n")

    def finish(self, background: np.ndarray, params, *, marker: dict | None = None) -> Path:
        """Write the background and parameters, then publish the folder atomically.

        ``marker``, if given, is saved as ``batchtrack.json`` (what produced this result, used
        by the batch runner to skip finished entries).

        Returns
        -------
        Path
            The published folder.
        """
        from ..params import save_cfg

        self._db.executemany(
            "INSERT INTO parameter VALUES (?, ?)",
            ((name, float(value)) for name, value in params.saved_values().items()),
        )
        self._close()
        if not cv2.imwrite(str(self.partial / "background.pgm"), background):
            raise OutputError(f"cannot write {self.partial / 'background.pgm'}")
        save_cfg(params, self.partial / "cfg.toml")
        if self._canvas is not None:
            cv2.imwrite(str(self.partial / "trajectories.png"), self._canvas.finish())
        if marker is not None:
            (self.partial / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
        if self.folder.exists():
            target = archive_name(self.folder)
            self.folder.rename(target)
            log.info("previous result archived to %s", target)
        self.partial.rename(self.folder)
        return self.folder

    def abort(self) -> None:
        """Discard the partial result; an existing result folder is left untouched."""
        self._close()
        shutil.rmtree(self.partial, ignore_errors=True)

    def _close(self) -> None:
        if not self._text.closed:
            self._text.close()
            self._log.close()
            self._db.commit()
            self._db.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.partial.exists():
            self.abort()


def read_tracking(path: str | Path) -> pd.DataFrame:
    """Read a FastTrack ``tracking.txt`` (or the result folder holding one).

    Parameters
    ----------
    path : str or Path
        The file, or a ``Tracking_Result`` folder.

    Returns
    -------
    pandas.DataFrame
        One row per object per frame, with the file's columns.

    Raises
    ------
    InputError
        If the file is missing or is not a tab-separated table.
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "tracking.txt"
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(
            f"cannot read tracking table {path}: {err}; "
            "give a FastTrack tracking.txt (tab-separated with a header line)"
        ) from err
