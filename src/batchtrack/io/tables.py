"""Analysis-ready tables of a result folder: ``tracking.parquet``, ``animals.csv``,
``quality.json``.

``tracking.parquet`` holds FastTrack's 23 columns calibrated (lengths in the ``unit`` of the
``pixelSize`` parameter, areas in unit², curvature in 1/unit; angles in radians, as in
``tracking.txt``) and three more: ``time`` (s, or frames when the movie has no time),
``speed`` (of the body point, unit per time unit, see :mod:`batchtrack.analysis`) and
``interpolated`` (True for rows filled in by identity stitching rather than detected). The
units are in the schema's field metadata (``unit``) and the file's metadata
(``batchtrack``: pixelSize, unit, time_unit, fps). Rows are streamed to the file as they are
produced (pyarrow's ``ParquetWriter``), two frames behind (a speed needs the next frame), in
row groups of up to :data:`ROW_GROUP_ROWS` rows; a column is dictionary-encoded only while its
dictionary stays small (float features are nearly all distinct: a dictionary of them is wasted
time and bytes).

Writing these files needs pyarrow (``pip install 'batchtrack[analysis]'``); without it they
are left out and the result's ``log`` says so.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..calibration import Calibration, column_units, length_powers
from ..errors import InputError, OutputError
from ..schema import TRACKING_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ANIMALS_FILE",
    "ARENA_COLUMN",
    "PARQUET_FILE",
    "QUALITY_FILE",
    "TRACK_COLUMNS",
    "RowStream",
    "TrackTableWriter",
    "have_pyarrow",
    "read_quality",
    "read_tracks",
    "write_animals",
    "write_csv",
    "write_quality",
]

log = logging.getLogger(__name__)

PARQUET_FILE = "tracking.parquet"
ANIMALS_FILE = "animals.csv"
QUALITY_FILE = "quality.json"
#: A result table up to this many rows is kept in memory once written (≈ 10 MB).
KEPT_ROWS = 50_000
#: Rows held before they are written as one row group of ``tracking.parquet`` (≈ 4 MB): a
#: row group per block of rows costs 4 ms each in pyarrow's fixed costs.
ROW_GROUP_ROWS = 16_384
#: Size of a column's dictionary past which pyarrow writes its values plain.
_DICTIONARY_BYTES = 16 << 10
#: Columns added to FastTrack's 23 in ``tracking.parquet``.
EXTRA_COLUMNS: tuple[str, ...] = ("time", "speed", "interpolated")
#: The last column of ``tracking.parquet`` when the movie has arenas: the row's arena (1, 2…).
ARENA_COLUMN = "arena"


def have_pyarrow() -> bool:
    """Whether pyarrow can be imported (the analysis extra is installed)."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _arrow(values: np.ndarray) -> Any:
    """A 1-D float64, int64 or bool array as an Arrow array, sharing its memory.

    ``pa.array`` would do the same, but its first call imports pandas (half a second of a
    movie's tracking) to check whether the values are a pandas object.
    """
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    kind = {np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64()}.get(values.dtype)
    if kind is None:  # not a type the tables hold: pyarrow's own conversion
        return pa.array(values)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _schema(columns: tuple[str, ...], calibration: Calibration, arenas: bool = False) -> Any:
    import pyarrow as pa

    units = column_units(columns, calibration.unit)
    time_unit = calibration.time_unit
    units |= {"time": time_unit, "speed": f"{calibration.unit}/{time_unit}"}
    fields = []
    for name in (*columns, *EXTRA_COLUMNS):
        kind = pa.int64() if name in ("imageNumber", "id") else pa.float64()
        kind = pa.bool_() if name == "interpolated" else kind
        meta = {"unit": units[name]} if name in units else None
        fields.append(pa.field(name, kind, metadata=meta))
    if arenas:
        fields.append(pa.field(ARENA_COLUMN, pa.int64()))
    about = {
        "pixelSize": calibration.pixel_size,
        "unit": calibration.unit,
        "time_unit": time_unit,
        "fps": calibration.fps or None,
    }
    return pa.schema(fields, metadata={"batchtrack": json.dumps(about)})


#: Every column of ``tracking.parquet``, in order (FastTrack's 23, then the extra ones).
TRACK_COLUMNS: tuple[str, ...] = (*TRACKING_COLUMNS, *EXTRA_COLUMNS)


class RowStream(Protocol):
    """Gives the speed of rows pushed in frame order, some rows later
    (:class:`batchtrack.analysis.SpeedStream`)."""

    def push(
        self,
        frames: np.ndarray,
        ids: np.ndarray,
        t: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        payload: list[np.ndarray],
    ) -> tuple[list[np.ndarray], np.ndarray]: ...

    def flush(self) -> tuple[list[np.ndarray], np.ndarray]: ...


class TrackTableWriter:
    """Stream result rows to ``tracking.parquet``, calibrated, with time and speed.

    Parameters
    ----------
    path : Path
        The file to write.
    columns : tuple of str
        Names of the rows' columns (FastTrack's 23, ``imageNumber`` and ``id`` included).
    calibration : Calibration
        Pixel size, unit and clock.
    speeds : RowStream
        Computes the ``speed`` column (:class:`batchtrack.analysis.SpeedStream`).
    arenas : bool
        Add the ``arena`` column (give each row's arena to :meth:`write`).
    """

    def __init__(
        self,
        path: Path,
        columns: tuple[str, ...],
        calibration: Calibration,
        speeds: RowStream,
        arenas: bool = False,
    ) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.columns = columns
        self.calibration = calibration
        self._scale = calibration.pixel_size ** length_powers(columns)
        self._frame = columns.index("imageNumber")
        self._id = columns.index("id")
        self._x, self._y = columns.index("xBody"), columns.index("yBody")
        self.arenas = arenas
        self.schema = _schema(columns, calibration, arenas)
        # A column's dictionary is given up for plain values past 16 KiB (pyarrow's default:
        # 1 MiB): features that are nearly all distinct are not dictionary-encoded at length,
        # ids, frame numbers and repeated values still are.
        self._writer = pq.ParquetWriter(
            str(self.path), self.schema, dictionary_pagesize_limit=_DICTIONARY_BYTES
        )
        self._held: list[Any] = []  # batches not written yet (fewer than ROW_GROUP_ROWS rows)
        self._held_rows = 0
        self._speeds = speeds
        self.n_rows = 0
        # the batches written, while the table is small: the analysis files then need not
        # read the file back (5 ms of a 50-frame clip's 80); dropped beyond KEPT_ROWS rows
        self._kept: list[Any] | None = []

    def write(
        self,
        rows: np.ndarray,
        interpolated: np.ndarray | None = None,
        arena: np.ndarray | None = None,
    ) -> None:
        """Add rows, shape (k, 23), in frame order; ``interpolated`` flags them (k,);
        ``arena`` gives their arenas (k,) when the table has that column."""
        flags = np.zeros(len(rows), bool) if interpolated is None else np.asarray(interpolated)
        arenas = np.zeros(len(rows), np.int64) if arena is None else np.asarray(arena, np.int64)
        if flags.shape != (len(rows),):
            raise ValueError(f"interpolated has shape {flags.shape}, expected ({len(rows)},)")
        table = rows * self._scale
        frames = rows[:, self._frame].astype(np.int64)
        times = self.calibration.times(frames)
        payload, speed = self._speeds.push(
            frames, rows[:, self._id], times, table[:, self._x], table[:, self._y],
            [table, times, flags.astype(bool), arenas],
        )  # fmt: skip
        self._emit(payload, speed)

    def close(self) -> None:
        """Write the rows still held and close the file."""
        payload, speed = self._speeds.flush()
        if payload:
            self._emit(payload, speed)
        self._write_held()
        self._writer.close()

    def _write_held(self) -> None:
        import pyarrow as pa

        if self._held:
            self._writer.write_table(pa.concat_tables(self._held))
        self._held, self._held_rows = [], 0

    def _emit(self, payload: list[np.ndarray], speed: np.ndarray) -> None:
        import pyarrow as pa

        table, times, flags, arenas = payload
        if len(table) == 0:
            return
        columns = np.asfortranarray(table)  # each column contiguous: no strided copy by pyarrow
        arrays = [
            _arrow(columns[:, i].astype(np.int64) if name in ("imageNumber", "id")
                   else columns[:, i])
            for i, name in enumerate(self.columns)
        ]  # fmt: skip
        arrays += [_arrow(times), _arrow(speed), _arrow(flags)]
        if self.arenas:
            arrays.append(_arrow(arenas))
        batch = pa.Table.from_arrays(arrays, schema=self.schema)
        self._held.append(batch)
        self._held_rows += len(table)
        if self._held_rows >= ROW_GROUP_ROWS:
            self._write_held()
        self.n_rows += len(table)
        if self._kept is not None and self.n_rows <= KEPT_ROWS:
            self._kept.append(batch)
        else:
            self._kept = None

    def kept(self, columns: list[str]) -> pd.DataFrame | None:
        """The table written, with those of ``columns`` it has, as :func:`read_tracks` would
        read it back; None when it was too long to keep (more than :data:`KEPT_ROWS`)."""
        import pyarrow as pa

        if self._kept is None:
            return None
        whole = pa.concat_tables(self._kept) if self._kept else self.schema.empty_table()
        names = [name for name in columns if name in set(whole.column_names)]
        import pandas as pd

        data = {name: whole.column(name).to_numpy() for name in names}
        return pd.DataFrame(data, copy=False)


def read_tracks(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read ``tracking.parquet`` (or the result folder holding one) as a DataFrame: every
    column, or those of ``columns`` the file has.

    Raises
    ------
    InputError
        If the file is missing or not a Parquet file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / PARQUET_FILE
    try:
        names = pq.read_schema(path).names
        if columns is not None:  # those of the file (``arena`` is there with arenas only)
            names = [name for name in columns if name in set(names)]
        # column after column: a long movie's table is never in memory twice (Arrow's and
        # pandas' copies of every column at once)
        pool = pa.default_memory_pool()
        data = {}
        with pq.ParquetFile(path) as parquet:
            for name in names:
                data[name] = parquet.read(columns=[name]).column(0).to_numpy()
                pool.release_unused()  # the column's decoding buffers, not kept by the pool
        import pandas as pd

        return pd.DataFrame(data, copy=False)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read {path}: {error}; track the movie again") from error


def write_csv(table: pd.DataFrame | Mapping[str, np.ndarray], path: str | Path) -> None:
    """Write a small table as comma-separated text, as ``table.to_csv(path, index=False)``.

    ``table`` is a DataFrame or a dict of equally long columns (written in its order).

    The same text as pandas (numbers formatted by NumPy's ``str``, missing values empty,
    fields quoted by the :mod:`csv` module when needed, ``\\n`` line ends), without pandas'
    formatter machinery: a one-row table costs 50 µs instead of 1.5 ms, which counts for a
    batch of many small images.

    Examples
    --------
    >>> import pandas as pd
    >>> write_csv(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")], "c": ["x,y", None]}),
    ...           "t.csv")
    >>> print(Path("t.csv").read_text(), end="")
    a,b,c
    1,0.5,"x,y"
    2,,
    """
    names, cells = [], []
    for name, column in table.items():
        names.append(str(name))
        values = np.asarray(column)
        if values.dtype.kind in "iub":
            cells.append(values.astype(str).tolist())
        elif values.dtype.kind == "f":
            text = values.astype(str)
            text[np.isnan(values)] = ""
            cells.append(text.tolist())
        else:
            cells.append(["" if _missing(v) else str(v) for v in values.tolist()])
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(zip(*cells, strict=True))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value) in (
        "<NA>", "NaT")


def write_animals(table: pd.DataFrame, path: Path) -> None:
    """Write the per-animal table as comma-separated ``animals.csv``."""
    try:
        write_csv(table, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error}") from error


def write_quality(report: dict[str, Any], path: Path) -> None:
    """Write a quality report as ``quality.json``."""
    try:
        Path(path).write_text(json.dumps(report, indent=1, allow_nan=False), encoding="utf-8")
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error}") from error


def read_quality(folder: str | Path) -> dict[str, Any] | None:
    """The ``quality.json`` of a result folder, or None when it has none (or it is bad)."""
    try:
        document = json.loads((Path(folder) / QUALITY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
