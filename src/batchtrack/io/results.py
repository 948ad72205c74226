"""The ``Tracking_Result`` folder: written atomically, archived never deleted, read back.

A result is written into a hidden staging sibling (``.Tracking_Result.partial-<pid>``) and
renamed into place only when complete, after any existing folder has been renamed to
``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss`` (see :mod:`batchtrack.io.publish`). A crash or a
kill therefore never leaves a half-written ``Tracking_Result``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import InputError, OutputError
from ..schema import FEATURE_COLUMNS, N_FEATURES, TRACKING_COLUMNS
from .publish import make_staging, publish_folder
from .resume import MARKER, record_outputs, write_marker

if TYPE_CHECKING:
    import pandas as pd

    from ..calibration import Calibration
    from ..params import Parameters
    from .tables import RowStream, TrackTableWriter

__all__ = [
    "ResultWriter",
    "TrackingText",
    "disk_full_message",
    "format_prefixes",
    "image_options",
    "is_disk_full",
    "read_tracking",
]

log = logging.getLogger(__name__)

#: Every column but the id: a row's line is its prefix, a tab and its id.
_PREFIX = "\t".join(["%g"] * N_FEATURES + ["%d"])
#: A whole line of ``tracking.txt``.
_LINE = _PREFIX + "\t%d\n"


def format_prefixes(rows: np.ndarray) -> list[str]:
    """Each row of ``tracking.txt`` without its id, as ``np.savetxt`` writes it (``%g``).

    Formatted once, the prefixes serve every file that writes the same rows with other ids
    (the movie's, and each arena's own).

    Examples
    --------
    >>> format_prefixes(np.arange(23.0).reshape(1, 23))[0].split("\\t")[-2:]
    ['20', '21']
    """
    return [_PREFIX % tuple(row) for row in rows[:, : N_FEATURES + 1].tolist()]


def _text_lines(
    rows: np.ndarray, prefixes: list[str] | None = None, values: list[list[float]] | None = None
) -> str:
    """The ``tracking.txt`` lines of rows, shape (k, 23): their ``prefixes``
    (:func:`format_prefixes`) and ids, or else whole lines formatted from ``values``
    (``rows.tolist()``, when the caller has it already)."""
    if prefixes is None:
        values = rows.tolist() if values is None else values
        return "".join([_LINE % tuple(row) for row in values])
    ids = rows[:, N_FEATURES + 1].astype(np.int64).tolist()
    return "".join(f"{p}\t{i}\n" for p, i in zip(prefixes, ids, strict=True))


class TrackingText:
    """A FastTrack ``tracking.txt`` written block by block (header, 23 columns, ``%g``).

    Examples
    --------
    >>> text = TrackingText("tracking.txt")
    >>> text.write(np.zeros((2, 23)))
    >>> text.close()
    >>> len(Path("tracking.txt").read_text().splitlines())
    3
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="ascii")
        self._file.write("\t".join(TRACKING_COLUMNS) + "\n")

    def write(self, rows: np.ndarray, prefixes: list[str] | None = None) -> None:
        """Append rows, shape (k, 23); ``prefixes`` are their lines without the id, if
        already formatted (:func:`format_prefixes`)."""
        if len(rows) == 0:
            return
        self._file.write(_text_lines(rows, prefixes))

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def image_options(name: str | Path) -> list[int]:
    """OpenCV's writing options for a picture batchtrack writes, by its file name: for a
    PNG, zlib level 1 and no row filter, 1.7–2.4× faster than OpenCV's default on these
    pictures (an enlarged background of repeated rows: 24 → 10 ms and half the bytes; a
    contact sheet of 200 overlays: 0.83 → 0.50 s and 7 % fewer bytes); without the filter
    option (OpenCV < 4.11), level 1. Other formats: OpenCV's defaults.

    Examples
    --------
    >>> image_options("a.pgm")
    []
    """
    if Path(name).suffix.lower() != ".png":
        return []
    no_filter = getattr(cv2, "IMWRITE_PNG_FILTER", None)
    if no_filter is None:
        return [cv2.IMWRITE_PNG_COMPRESSION, 1]
    return [cv2.IMWRITE_PNG_COMPRESSION, 1, no_filter, cv2.IMWRITE_PNG_FILTER_NONE]


class ResultWriter:
    """Write one movie's result folder, streaming rows as they come.

    Parameters
    ----------
    folder : path
        Final location, e.g. ``movie/Tracking_Result``.
    calibration : Calibration, optional
        Also stream the rows, calibrated, to ``tracking.parquet`` (when pyarrow is
        installed; see :mod:`batchtrack.io.tables`), with speeds from ``speeds``.
    speeds : RowStream, optional
        What computes the ``speed`` column (:class:`batchtrack.analysis.SpeedStream`);
        needed with ``calibration``.

    Raises
    ------
    OutputError
        If the parent folder is not writable.

    Examples
    --------
    >>> from batchtrack.params import Parameters
    >>> with ResultWriter("Tracking_Result") as out:
    ...     out.write_rows(np.zeros((3, 23)))           # (k, 23) array
    ...     folder = out.finish(np.zeros((8, 8), np.uint8), Parameters())  # publishes it
    >>> sorted(p.name for p in folder.iterdir())
    ['background.pgm', 'cfg.toml', 'log', 'tracking.db', 'tracking.txt']
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        calibration: Calibration | None = None,
        speeds: RowStream | None = None,
        arenas: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.arenas = arenas
        try:
            self.partial = make_staging(self.folder)
        except OSError as error:
            raise OutputError(
                f"cannot write results in {self.folder.parent}: {error.strerror or error}; "
                "make the folder writable or track a copy of the movie elsewhere"
            ) from error
        try:
            self._open()
        except (OSError, sqlite3.Error) as error:
            self.abort()
            if is_disk_full(error):
                raise OutputError(disk_full_message(self.folder.parent)) from error
            raise
        self.n_rows = 0
        self._tables: TrackTableWriter | None = None
        if calibration is not None and speeds is not None:
            self._open_tables(calibration, speeds)

    def _open(self) -> None:
        self._text = open(self.partial / "tracking.txt", "w", encoding="ascii")
        self._log = open(self.partial / "log", "w", encoding="utf-8")
        self._db = sqlite3.connect(self.partial / "tracking.db")
        # The database is written in the staging folder and published whole by a rename, so
        # it needs neither a rollback journal nor a flush to disk at each statement (3 ms a
        # movie): a crash leaves only a staging folder, which is removed.
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._text.write("\t".join(TRACKING_COLUMNS) + "\n")
        columns = ", ".join(f"{c} REAL" for c in FEATURE_COLUMNS)
        self._db.execute(f"CREATE TABLE tracking ({columns}, imageNumber INTEGER, id INTEGER)")
        self._db.execute("CREATE TABLE parameter (parameter TEXT, value REAL)")
        self._insert = f"INSERT INTO tracking VALUES ({', '.join('?' * len(TRACKING_COLUMNS))})"

    def _open_tables(self, calibration: Calibration, speeds: RowStream) -> None:
        """Stream the rows to ``tracking.parquet`` too (when pyarrow is installed)."""
        from .tables import PARQUET_FILE, TrackTableWriter, have_pyarrow

        if have_pyarrow():
            self._tables = TrackTableWriter(
                self.partial / PARQUET_FILE, TRACKING_COLUMNS, calibration, speeds, self.arenas
            )
        else:
            log.info("pyarrow is not installed: no tracking.parquet")

    def write_rows(
        self,
        rows: np.ndarray,
        *,
        interpolated: np.ndarray | None = None,
        arena: np.ndarray | None = None,
        prefixes: list[str] | None = None,
    ) -> None:
        """Append rows, shape (k, 23), columns as :data:`batchtrack.schema.TRACKING_COLUMNS`,
        in frame order (``prefixes``: their ``tracking.txt`` lines without the id, if
        already formatted by :func:`format_prefixes`).

        ``interpolated`` (bool, shape (k,)) flags rows that were filled in rather than
        detected; it goes to ``tracking.parquet``'s ``interpolated`` column (False if None);
        ``arena`` (int, shape (k,)) to its ``arena`` column (a writer made with ``arenas``);
        the text and database tables keep FastTrack's 23 columns and ignore both.
        """
        if len(rows) == 0:
            return
        if self._tables is not None:
            self._tables.write(rows, interpolated, arena)
        values = rows.tolist()  # once for both files: 40 % of the time was this conversion
        self._text.write(_text_lines(rows, prefixes, values))
        # imageNumber and id go in as floats: their columns' INTEGER affinity stores a float
        # that is a whole number as that integer (the same bytes as inserting int(value))
        self._db.executemany(self._insert, values)
        self.n_rows += len(rows)

    def write_image(self, name: str, image: np.ndarray) -> None:
        """Add a picture (e.g. ``trajectories.png``) to the result folder."""
        # Encoded in memory, then written by Python: a full disk raises ENOSPC (OpenCV's
        # writers only return False, and print libpng's complaint on stderr).
        ok, data = cv2.imencode(Path(name).suffix, image, image_options(name))
        if not ok:
            raise OutputError(f"cannot encode {name} for {self.folder}")
        (self.partial / name).write_bytes(data.tobytes())

    def close_tables(self, keep: list[str] | None = None) -> pd.DataFrame | None:
        """Complete ``tracking.parquet`` (before the analysis files are computed from it).

        With ``keep``, returns those columns of the table just written when it was short
        enough to keep in memory (:data:`batchtrack.io.tables.KEPT_ROWS`), else None."""
        kept = None
        if self._tables is not None:
            self._tables.close()
            if keep is not None:
                kept = self._tables.kept(keep)
            self._tables = None
        return kept

    def log(self, message: str) -> None:
        """Add one line (date, message) to the result's ``log``."""
        self._log.write(f"{datetime.now().isoformat(timespec='seconds')}\t{message}\n")

    def copy_log(self, text: str) -> None:
        """Add lines written earlier (a previous ``log``) as they are, before new ones."""
        self._log.write(text if not text or text.endswith("\n") else text + "\n")

    def finish(
        self, background: np.ndarray, params: Parameters, *, marker: dict | None = None
    ) -> Path:
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
            (
                (name, value if isinstance(value, str) else float(value))
                for name, value in params.saved_values().items()
            ),
        )
        self._close()
        self.write_image("background.pgm", background)
        save_cfg(params, self.partial / "cfg.toml")
        if marker is not None:
            names = [item.name for item in self.partial.iterdir() if item.name != MARKER]
            write_marker(self.partial / MARKER, record_outputs(marker, self.partial, names))
        return publish_folder(self.partial, self.folder)

    def abort(self) -> None:
        """Discard the partial result; an existing result folder is left untouched.

        Never raises: on a full disk, closing the files fails too, and the partial folder is
        removed all the same.
        """
        for name in ("_text", "_log", "_db"):
            stream = getattr(self, name, None)
            if stream is not None:
                with contextlib.suppress(OSError, sqlite3.Error):
                    stream.close()
        shutil.rmtree(self.partial, ignore_errors=True)

    def _close(self) -> None:
        self.close_tables()
        if not self._text.closed:
            self._text.close()
            self._log.close()
            self._db.commit()
            self._db.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: object
    ) -> None:
        if self.partial.exists():
            self.abort()
        if error is not None and is_disk_full(error):
            raise OutputError(disk_full_message(self.folder.parent)) from error


def is_disk_full(error: BaseException) -> bool:
    """True for a write that failed because the disk (or the user's quota) is full."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(error, sqlite3.Error) and "full" in str(error)


def disk_full_message(folder: Path) -> str:
    """The one-line error of a full disk under ``folder``."""
    return (
        f"disk full: cannot write results in {folder}; free some space there, or write the "
        "results elsewhere (--out)"
    )


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
