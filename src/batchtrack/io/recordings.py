"""Recordings: one experiment saved as several files, read as one movie.

A camera that starts a new file every 30 min, or a 24 h experiment saved as 6 h files, is one
recording: its files are tracked in order as one movie (one background, identities that
continue from one file into the next), then the result is written per file.

:class:`RecordingFrames` is the files read one after another as a single
:class:`~batchtrack.io.frames.FrameSource` (frame ``k`` of the recording is frame
``k - offsets[i]`` of file ``i``); :func:`write_recording_tracks` joins the files'
``tracking.parquet`` into ``<recording>-tracks.parquet`` with a recording-wide frame and
time axis.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..calibration import Calibration
from ..errors import InputError
from .frames import FrameSource, open_frames

__all__ = [
    "RecordingFrames",
    "open_recording",
    "recording_table_name",
    "time_shifts",
    "write_recording_tracks",
]


def recording_table_name(name: str) -> str:
    """The file name of a recording's joined table: ``<name>-tracks.parquet``.

    Examples
    --------
    >>> recording_table_name("day1")
    'day1-tracks.parquet'
    """
    return f"{name}-tracks.parquet"


class RecordingFrames(FrameSource):
    """Several movies read one after another as one.

    Parameters
    ----------
    sources : sequence of FrameSource
        The files of the recording, in order (the recording owns and closes them).
    name : str
        The recording's name (for messages).

    Attributes
    ----------
    sources : list of FrameSource
    offsets : ndarray of int64, shape (n_files + 1,)
        Recording frame of each file's first frame, then the total.

    Raises
    ------
    InputError
        If there is no file, or if a file's frames are not the size of the first file's.
    """

    def __init__(self, sources: Sequence[FrameSource], name: str = "") -> None:
        if not sources:
            raise InputError(f"recording {name!r} has no file; add its files to the stack")
        self.sources = list(sources)
        self.name = name
        self.path = self.sources[0].path
        self.shape = self.sources[0].shape
        self.skipped = []
        for source in self.sources[1:]:
            if source.shape != self.shape:
                (h, w), (h0, w0) = source.shape, self.shape
                raise InputError(
                    f"{source.path}: its frames are {w}x{h} but those of {self.path.name}, the "
                    f"first file of recording {name!r}, are {w0}x{h0}; the files of one "
                    "recording share one frame size (give this file another recording name)"
                )
        counts = [source.n_frames for source in self.sources]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def n_frames(self) -> int:
        """Frames of all files."""
        return int(self.offsets[-1])

    @property
    def result_dir(self) -> Path:
        """The first file's result folder (each file has its own)."""
        return self.sources[0].result_dir

    @property
    def index(self) -> tuple:
        """Each file's index, so that another process opens them quickly."""
        return ("recording", tuple(source.index for source in self.sources))

    @property
    def timestamps(self) -> np.ndarray | None:
        """Each file's frame times (s), each file following the previous one; None unless
        every file has timestamps."""
        stamps = [source.timestamps for source in self.sources]
        known = [times for times in stamps if times is not None]
        if len(known) < len(stamps):
            return None
        shifts = time_shifts(self.sources, Calibration())
        return np.concatenate([t + shift for t, shift in zip(known, shifts, strict=True)])

    def file_of(self, k: int) -> tuple[int, int]:
        """``(file, frame in that file)`` of recording frame ``k``."""
        i = int(np.searchsorted(self.offsets, k, side="right")) - 1
        if not 0 <= k < self.n_frames:
            raise InputError(
                f"recording {self.name!r}: frame {k} is out of range; it has frames 0 to "
                f"{self.n_frames - 1}"
            )
        return i, k - int(self.offsets[i])

    def read(self, k: int) -> np.ndarray:
        """Recording frame ``k``; see :meth:`FrameSource.read`."""
        i, local = self.file_of(k)
        return self.sources[i].read(local)

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream recording frames in order, file after file; see
        :meth:`FrameSource.iter_frames`."""
        self._check_start(start, stop)
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i, source in enumerate(self.sources):
            first, end = int(self.offsets[i]), int(self.offsets[i + 1])
            if end <= start or first >= stop:
                continue
            before = len(source.skipped)
            try:
                for k, frame in source.iter_frames(max(start, first) - first, stop - first):
                    yield first + k, frame
            finally:
                for k, reason in source.skipped[before:]:
                    self.skipped.append((first + k, f"{source.path.name}: {reason}"))

    def __enter__(self) -> RecordingFrames:
        return self

    def close(self) -> None:
        """Close every file."""
        for source in self.sources:
            source.close()

    def __repr__(self) -> str:
        return f"RecordingFrames({self.name!r}, {len(self.sources)} files)"


def time_shifts(sources: Sequence[FrameSource], calibration: Calibration) -> list[float]:
    """What to add to each file's own times to put them on the recording's clock.

    A file starts where the previous one ends: its last frame's time plus one frame interval.
    Within a file, times are ``frame / fps`` when ``calibration.fps`` is set, else the video's
    own timestamps, else frame numbers (see :class:`batchtrack.calibration.Calibration`).

    Examples
    --------
    >>> from batchtrack.io.frames import open_frames
    >>> with open_frames("exp/Run1/images") as a, open_frames("exp/Run2/images") as b:
    ...     time_shifts([a, b], Calibration(fps=10.0))
    [0.0, 2.0]
    """
    shifts: list[float] = []
    start = 0.0
    for source in sources:
        clock = Calibration(fps=calibration.fps, timestamps=source.timestamps)
        n = source.n_frames
        local = clock.times(np.arange(n))
        valid = local[np.isfinite(local)]
        origin = float(valid[0]) if len(valid) else 0.0
        shifts.append(start - origin)
        interval = clock.frame_interval(n)
        last = float(valid[-1]) if len(valid) else origin + (n - 1) * interval
        start += last - origin + interval
    return shifts


def open_recording(
    paths: Sequence[str | os.PathLike[str]],
    *,
    name: str = "",
    indexes: Sequence[tuple | None] | None = None,
) -> RecordingFrames:
    """Open the files of a recording as one movie.

    Parameters
    ----------
    paths : sequence of path
        Image-sequence folders or video files, in recording order.
    name : str
        The recording's name (for messages).
    indexes : sequence of tuple, optional
        Each file's :attr:`FrameSource.index` from another process.

    Raises
    ------
    InputError
        If a file cannot be opened (the message names it) or the sizes differ.
    """
    indexes = list(indexes) if indexes is not None else [None] * len(paths)
    sources: list[FrameSource] = []
    try:
        for path, index in zip(paths, indexes, strict=True):
            sources.append(open_frames(path, index=index))
        return RecordingFrames(sources, name)
    except BaseException:
        for source in sources:
            source.close()
        raise


def write_recording_tracks(
    folders: Sequence[Path],
    names: Sequence[str],
    starts: Sequence[int],
    shifts: Sequence[float],
    path: Path,
) -> int:
    """Join the files' ``tracking.parquet`` into one table with a recording-wide axis.

    Columns are those of ``tracking.parquet`` with ``imageNumber`` and ``time`` counted from
    the recording's first frame, plus ``file`` (the file's name), ``fileImageNumber`` and
    ``fileTime`` (as in that file's own result). Rows are streamed one row group at a time.

    Parameters
    ----------
    folders : sequence of Path
        The files' result folders, in recording order.
    names : sequence of str
        The files' names.
    starts : sequence of int
        Recording frame of each file's first frame.
    shifts : sequence of float
        What to add to each file's ``time`` to get the recording's (:func:`time_shifts`).
    path : Path
        The file to write.

    Returns
    -------
    int
        Rows written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .tables import PARQUET_FILE

    files = [pq.ParquetFile(Path(folder) / PARQUET_FILE) for folder in folders]
    schema = files[0].schema_arrow
    time_field = schema.field("time")
    schema = schema.append(pa.field("file", pa.string()))
    schema = schema.append(pa.field("fileImageNumber", pa.int64()))
    schema = schema.append(pa.field("fileTime", time_field.type, metadata=time_field.metadata))
    meta = dict(schema.metadata or {})
    about = json.loads(meta.get(b"batchtrack", b"{}"))
    about["recording"] = {"files": list(names), "starts": [int(k) for k in starts]}
    schema = schema.with_metadata({**meta, b"batchtrack": json.dumps(about).encode()})
    frame_at, time_at = schema.get_field_index("imageNumber"), schema.get_field_index("time")
    rows = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for parquet, name, start, shift in zip(files, names, starts, shifts, strict=True):
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                frame, time = table.column("imageNumber"), table.column("time")
                frames = np.asarray(frame.to_numpy(), np.int64) + int(start)
                times = np.asarray(time.to_numpy(), np.float64) + float(shift)
                table = table.set_column(frame_at, schema.field(frame_at), pa.array(frames))
                table = table.set_column(time_at, schema.field(time_at), pa.array(times))
                table = table.append_column("file", pa.array([name] * len(table), pa.string()))
                table = table.append_column("fileImageNumber", frame)
                table = table.append_column("fileTime", time)
                writer.write_table(table.cast(schema))
                rows += len(table)
    return rows
