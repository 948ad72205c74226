"""Frame sources: image sequences and video files, streamed one grey 8-bit frame at a time.

A movie is either a folder holding an image sequence or a video file. Both are opened with
:func:`open_frames`, which returns a :class:`FrameSource`; :func:`find_movies` says which movies a
path holds (what one batch entry is).

Grey conversion (the same for every source, as FastTrack does it)
    - colour frames (BGR or BGRA) become grey with ``cv2.cvtColor(..., COLOR_BGR2GRAY)``, the
      way FastTrack converts what it reads (``cv2.imread(..., IMREAD_GRAYSCALE)`` differs by 1
      grey level here and there, and more for JPEG, which it decodes to grey directly);
    - 16-bit frames become 8-bit by keeping the high byte, ``value >> 8`` (what OpenCV's
      ``IMREAD_GRAYSCALE`` does). A 12-bit camera saved as 16-bit therefore reads dark
      (0-15): rescale such files before tracking.

Frame numbering
    Frame ``k`` counts from 0 in the movie's own order, whatever the first file's number is, and
    an unreadable frame keeps its index: :meth:`FrameSource.iter_frames` skips it (and records it
    in :attr:`FrameSource.skipped`) so that the following frames keep their real index.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from batchtrack.errors import InputError, ParameterError

from .messages import IN_RESULT, native_output

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameSource",
    "ImageSequence",
    "VideoFile",
    "find_movies",
    "frame_count_hint",
    "natural_key",
    "open_frames",
    "result_dir_for",
    "visible_files",
]

log = logging.getLogger(__name__)

#: Extensions (lower case, no dot) of the image files a sequence is made of (FastTrack's list).
IMAGE_EXTENSIONS = frozenset(
    {"pgm", "pbm", "ppm", "png", "jpg", "jpeg", "jpe", "jp2", "tif", "tiff", "bmp", "dib", "webp"}
    | {"sr", "ras"}
)
#: Extensions (lower case, no dot) that :func:`find_movies` takes for video files.
VIDEO_EXTENSIONS = frozenset(
    {"avi", "mp4", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv", "flv", "ogv", "3gp"}
    | {"ts", "mts", "m2ts", "mxf", "asf", "vob", "dv", "h264", "h265", "hevc"}
)

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
# A video seek is only worth it past this many frames ahead; closer frames are grabbed forward.
_MAX_FORWARD_GRABS = 32
# Undecodable video frames in a row after which the stream is taken as ended.
_MAX_BAD_RUN = 32
# What moving to a video frame gave: the frame, an undecodable frame, the end of the stream.
_GOOD, _BAD, _END = "good", "bad", "end"
# The last videos decoded through in this process, by file identity: frame count, timestamps,
# undecodable frames, whether seeks can be checked.
_VIDEO_INDEX: dict[tuple[str, int, int], tuple[int, np.ndarray, frozenset[int], bool]] = {}
_VIDEO_INDEX_SIZE = 16
# Frame indices read from the container (see _container_index), by file identity; None when
# the container has none or decoding proved it wrong in this process.
_PTS_INDEX: dict[tuple[str, int, int], tuple[str, np.ndarray, np.ndarray] | None] = {}
# Two timestamps (ms) closer than this are the same frame's.
_SAME_TIME = 1e-6
# Frames OpenCV's seek starts decoding before the frame asked for (cap_ffmpeg_impl.hpp).
_OPENCV_SEEK_BACK = 16


class FrameSource(ABC):
    """A movie read frame by frame as grey ``uint8`` arrays of shape ``(h, w)``.

    Attributes
    ----------
    path : Path
        The folder of the image sequence or the video file.
    shape : tuple of int
        ``(h, w)`` of every frame (from the first readable one).
    skipped : list of (int, str)
        Frames that :meth:`iter_frames` skipped because they could not be read:
        ``(index, reason)``, the reason naming the file. Each frame appears once.

    Notes
    -----
    Sources are not thread-safe: give each thread or process its own (open the path again).
    """

    path: Path
    shape: tuple[int, int]
    skipped: list[tuple[int, str]]

    @property
    @abstractmethod
    def n_frames(self) -> int:
        """Number of frames, unreadable ones included (videos: up to the last decodable one)."""

    @property
    @abstractmethod
    def result_dir(self) -> Path:
        """The FastTrack result folder of this movie (it may not exist yet)."""

    @property
    def index(self) -> tuple | None:
        """What another process needs to seek in this movie quickly (None for sequences)."""
        return None

    @property
    def timestamps(self) -> np.ndarray | None:
        """Time of each frame in seconds, from the file (NaN for undecodable frames), or None
        when the movie has no timestamps (image sequences)."""
        return None

    @abstractmethod
    def read(self, k: int) -> np.ndarray:
        """Return frame `k` (random access).

        Parameters
        ----------
        k : int
            Frame index, ``0 <= k < n_frames``.

        Returns
        -------
        numpy.ndarray
            Shape ``(h, w)``, dtype ``uint8``.

        Raises
        ------
        InputError
            If `k` is out of range or frame `k` cannot be read.
        """

    @abstractmethod
    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream frames ``start <= k < stop`` in order, skipping unreadable ones.

        Parameters
        ----------
        start : int
            First frame index (``>= 0``).
        stop : int or None
            One past the last frame index; None or past the end means to the end.

        Yields
        ------
        k : int
            The real frame index (unreadable frames are skipped, never renumbered).
        frame : numpy.ndarray
            Shape ``(h, w)``, dtype ``uint8``; a new array each time.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the resources held (the source reopens them if used again)."""

    def __len__(self) -> int:
        return self.n_frames

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def _skip(self, k: int, reason: str) -> None:
        """Record and log frame `k` as skipped (once per frame)."""
        if all(index != k for index, _ in self.skipped):
            # the result's log gets it from ``skipped``
            log.warning("%s: frame %d skipped: %s", self.path, k, reason, extra=IN_RESULT)
            self.skipped.append((k, reason))

    def _check_start(self, start: int, stop: int | None) -> None:
        if start < 0 or (stop is not None and stop < start):
            raise ParameterError(
                f"{self.path}: iter_frames(start={start}, stop={stop}) is invalid; "
                "use 0 <= start <= stop"
            )

    def _to_grey(self, image: np.ndarray) -> np.ndarray | str:
        """Grey ``uint8`` frame of the movie's shape, or the reason why it cannot be one."""
        if image.ndim == 3:
            if image.shape[2] not in (3, 4):
                return f"unsupported {image.shape[2]}-channel image (use grey, BGR or BGRA)"
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif image.dtype != np.uint8:
            return f"unsupported pixel type {image.dtype} (use 8- or 16-bit integer images)"
        if image.shape != self.shape:
            h, w = image.shape[:2]
            return f"size {w}x{h} differs from the movie's {self.shape[1]}x{self.shape[0]}"
        return image


class ImageSequence(FrameSource):
    """The image sequence held by a folder.

    The sequence is made of the folder's image files (:data:`IMAGE_EXTENSIONS`, any case) that
    have a number in their name, ordered by their last number (``img2`` before ``img10``,
    zero-padded or not). Hidden files, sub-folders (``Tracking_Result``...) and images without a
    number (``background.pgm``) are ignored. Should the folder hold several series
    (``cam1_t0001.png`` and ``cam2_t0001.png``, or ``.png`` and ``.tif`` frames), the largest is
    taken and the others are reported in a warning; two series of the same length raise
    :class:`InputError`.

    Frames are read with ``cv2.imread(IMREAD_UNCHANGED)`` (``IMREAD_COLOR`` for Sun rasters,
    which OpenCV decodes wrongly otherwise) and made grey as described in the
    module docstring. A file that cannot be decoded, has an unsupported pixel type or a size
    other than the first readable frame's is an unreadable frame.

    Parameters
    ----------
    path : str or Path
        The folder.

    Attributes
    ----------
    files : list of str
        The frame files, frame ``k`` being ``files[k]``.

    Raises
    ------
    InputError
        If the folder is missing, holds no image sequence, or none of its files can be read.

    Examples
    --------
    >>> with ImageSequence("exp/Run1/images") as movie:
    ...     print(movie.n_frames, movie.shape, [k for k, _ in movie.iter_frames(0, 3)])
    20 (96, 128) [0, 1, 2]
    """

    def __init__(self, path: str | os.PathLike[str], *, files: list[str] | None = None) -> None:
        self.path = Path(path)
        self.skipped = []
        self.files = _sequence_files(self.path) if files is None else list(files)
        #: When a dict, every frame file read whole is recorded in it from then on, as
        #: ``name: (CRC-32 of its bytes, size)``: what a resume marker's content check
        #: needs, without reading the file a second time (see batchtrack.io.resume).
        self.read_crcs: dict[str, tuple[int, int]] | None = None
        # OpenCV decodes grey Sun rasters as black unless asked for colour
        colour_only = _extension(self.files[0]) in {"sr", "ras"}
        self._flag = cv2.IMREAD_COLOR if colour_only else cv2.IMREAD_UNCHANGED
        for file in self.files:
            image = _imread(file, self._flag)
            if image is not None and image.ndim in (2, 3):
                self.shape = image.shape[:2]
                break
        else:
            raise InputError(
                f"{self.path}: none of its {len(self.files)} image files can be read "
                f"(first: {Path(self.files[0]).name}); check that they are not damaged"
            )
        self.shape = self._majority_shape(file)

    def _majority_shape(self, first: str) -> tuple[int, int]:
        """The frame size: the first readable frame's, unless the middle and last frames agree
        on another one (a stray first frame then becomes an unreadable frame, with a warning,
        instead of every other frame)."""
        others: list[tuple[int, int]] = []
        for file in {self.files[len(self.files) // 2], self.files[-1]} - {first}:
            image = _imread(file, self._flag)
            if image is not None and image.ndim in (2, 3):
                others.append((image.shape[0], image.shape[1]))
        if len(others) == 2 and others[0] == others[1] != self.shape:
            h, w = self.shape
            log.warning(
                "%s: %s is %dx%d but the other frames are %dx%d: it is skipped",
                self.path, Path(first).name, w, h, others[0][1], others[0][0],
            )  # fmt: skip
            return others[0]
        return self.shape

    @property
    def n_frames(self) -> int:
        """Number of image files (unreadable ones included, so that indices stay aligned)."""
        return len(self.files)

    @property
    def result_dir(self) -> Path:
        """``<folder>/Tracking_Result``."""
        return self.path / "Tracking_Result"

    @property
    def index(self) -> tuple:
        """The frames' file names, so that another process opens the sequence without listing
        and sorting its folder again (0.24 s for 20000 files)."""
        return ("files", tuple(os.path.basename(f) for f in self.files))

    def read(self, k: int) -> np.ndarray:
        """Return frame `k`; see :meth:`FrameSource.read`."""
        k = operator.index(k)
        if not 0 <= k < len(self.files):
            raise InputError(
                f"{self.path}: frame {k} is out of range; the sequence has frames "
                f"0 to {len(self.files) - 1}"
            )
        frame = self._load(k)
        if isinstance(frame, str):
            raise InputError(f"{self.path}: frame {k} cannot be read: {frame}")
        return frame

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream frames in order; see :meth:`FrameSource.iter_frames`."""
        self._check_start(start, stop)
        stop = len(self.files) if stop is None else min(stop, len(self.files))
        for k in range(start, stop):
            frame = self._load(k)
            if isinstance(frame, str):
                self._skip(k, frame)
            else:
                yield k, frame

    def _load(self, k: int) -> np.ndarray | str:
        file = self.files[k]
        image = _imread(file, self._flag, self.read_crcs)
        if image is None:
            if not os.path.exists(file):
                problem = "is missing"
            elif not os.access(file, os.R_OK):
                problem = "cannot be read (permission denied: make it readable)"
            else:
                problem = "cannot be decoded (damaged or not an image)"
            return f"{Path(file).name} {problem}"
        frame = self._to_grey(image)
        return frame if isinstance(frame, np.ndarray) else f"{Path(file).name}: {frame}"


class VideoFile(FrameSource):
    """A video file, decoded by OpenCV's FFmpeg backend.

    Frame ``k`` is the ``k``-th frame that sequential decoding gives. A frame whose data cannot be
    decoded (damaged file) keeps its index and is an unreadable frame; decoding goes on after it.
    The frame count is ``1 +`` the index of the last decodable frame, counted by decoding through
    the file once (on first use of :attr:`n_frames`, then remembered for this process), not the
    count written in the header, which a truncated file gets wrong.

    Random access is exact: :meth:`read` and :meth:`iter_frames` return what sequential decoding
    gives at that index. When PyAV is installed, every frame's presentation timestamp and the
    key frames are first read from the container by demultiplexing it (no decoding: a few ms
    for thousands of frames; sorted timestamps are the presentation order, B-frames
    included). Frame ``k`` is then reached by seeking with OpenCV (which decodes forward from
    the key frame before it) and decoding forward, and the timestamp of *every* frame decoded
    is checked against the index, as is the end of the stream when it is reached; the count is
    the container's until then. A frame whose timestamp differs from the index's, an
    undecodable frame or a stream longer or shorter than the index drops the index, and the
    source goes on as without PyAV (a mismatch costs time, never a wrong frame).

    Without a container index the frame count is counted by decoding the file once, seeks are
    kept only when the frame reached carries the timestamp that sequential decoding recorded
    for that index (otherwise the video is decoded forward from its start), and until the
    file has been decoded that far once (e.g. by :attr:`n_frames`), a jump far ahead decodes
    forward, so ``iter_frames(start=...)`` on a fresh source costs ``start`` decodes.

    Parameters
    ----------
    path : str or Path
        The video file.

    Raises
    ------
    InputError
        If the file is missing, cannot be opened as a video or has no decodable frame.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.skipped = []
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such video file; check the path")
        self._cap: _Capture | None = None
        self._pos = 0  # index of the frame the next grab() returns; pos - 1 was grabbed
        self._times: list[float] = []  # timestamps (ms) of frames 0, 1, ...; NaN when undecodable
        self._bad: set[int] = set()  # undecodable frames
        self._n: int | None = None
        self._seek_ok = True  # False once timestamps prove unable to check a seek
        # The container's index: timestamps (ms, presentation order) and key-frame positions.
        self._pts: tuple[np.ndarray, np.ndarray] | None = None
        self._end_checked = False  # the stream was seen to end right after the index's last
        identity = self._identity()
        cached = _VIDEO_INDEX.get(identity)
        if cached is not None:
            self._n, times, bad, self._seek_ok = cached
            self._times, self._bad = times.tolist(), set(bad)
        else:
            if identity not in _PTS_INDEX:
                _PTS_INDEX[identity] = _container_index(self.path)
                while len(_PTS_INDEX) > _VIDEO_INDEX_SIZE:
                    del _PTS_INDEX[next(iter(_PTS_INDEX))]
            found = _PTS_INDEX[identity]
            if found is not None:
                self._pts = found[1], found[2]
        k = 0
        while (status := self._grab_to(k)) == _BAD:
            k += 1
        image = self._cap.retrieve()[1] if status == _GOOD and self._cap is not None else None
        if image is None:
            raise InputError(
                f"{self.path}: opens as a video but no frame can be decoded; the file may be "
                "damaged or use a codec this OpenCV build lacks (re-encode it, e.g. to MJPG .avi)"
            )
        self.shape = image.shape[:2]

    @property
    def n_frames(self) -> int:
        """Number of frames, up to the last decodable one: the container's index's count (checked
        when the end is reached), or counted once by decoding the file."""
        if self._pts is not None:
            return len(self._pts[0])
        if self._n is None:
            if self._cap is None:
                self._open()
            while self._step():
                pass
        assert self._n is not None
        return self._n

    @property
    def result_dir(self) -> Path:
        """``<dir>/Tracking_Result_<name>`` for the video ``<dir>/<name>.<ext>``."""
        return result_dir_for(self.path)

    @property
    def index(self) -> tuple | None:
        """The container's index, or the frame count and timestamps once counted: pass it to
        :func:`open_frames` in another process so that its seeks are verified without
        decoding the video from the start."""
        if self._pts is not None:
            return ("pts", *self._pts)
        return _VIDEO_INDEX.get(self._identity()) if self._n is not None else None

    @property
    def timestamps(self) -> np.ndarray | None:
        """Presentation time of each frame in seconds, as decoded (counts the frames first)."""
        n = self.n_frames
        if self._pts is not None:
            return self._pts[0][:n] / 1000.0
        return np.asarray(self._times[:n], np.float64) / 1000.0

    @property
    def key_frames(self) -> np.ndarray | None:
        """Positions of the key frames (presentation order) when the container's index is
        used, else None: chunks of frames that start at one decode least."""
        return None if self._pts is None else self._pts[1]

    def read(self, k: int) -> np.ndarray:
        """Return frame `k`; see :meth:`FrameSource.read`."""
        k = operator.index(k)
        status = self._grab_to(k) if k >= 0 else _END
        if status == _END:
            n = self.n_frames
            raise InputError(
                f"{self.path}: frame {k} is out of range; the video has {n} frames (0 to {n - 1})"
            )
        frame = self._retrieve() if status == _GOOD else self._bad_reason()
        if isinstance(frame, str):
            raise InputError(f"{self.path}: frame {k} cannot be read: {frame}")
        return frame

    def iter_frames(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream frames in order; see :meth:`FrameSource.iter_frames`."""
        self._check_start(start, stop)
        k = start
        while (stop is None or k < stop) and (status := self._grab_to(k)) != _END:
            frame = self._retrieve() if status == _GOOD else self._bad_reason()
            if isinstance(frame, str):
                self._skip(k, frame)
            else:
                yield k, frame
            k += 1

    def close(self) -> None:
        """Release the video capture (it is reopened if the source is used again)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _bad_reason(self) -> str:
        return f"its data in {self.path.name} cannot be decoded (damaged file)"

    def _identity(self) -> tuple[str, int, int]:
        stat = self.path.stat()
        return (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)

    def _open(self) -> None:
        self.close()
        backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
        cap = _Capture(self.path, backend)
        if not cap.isOpened():
            raise InputError(
                f"{self.path}: cannot be opened as a video (unknown format or damaged file); "
                "check the file, or re-encode it (e.g. to MJPG .avi)"
            )
        self._cap = cap
        self._pos = 0

    def _grab_to(self, k: int) -> str:
        """Move to frame `k`: ``_GOOD`` (it is the last grabbed frame), ``_BAD`` or ``_END``."""
        if self._pts is not None:
            status = self._grab_indexed(k)
            if status is not None:
                return status
        if k in self._bad:
            return _BAD
        if self._n is not None and k >= self._n:
            return _END
        if self._cap is None:
            self._open()
        if k == self._pos - 1:
            return _GOOD
        if k < self._pos or k > self._pos + _MAX_FORWARD_GRABS:
            if self._seek_ok and k < len(self._times) and self._seek(k):
                return _GOOD
            if k < self._pos:
                self._open()
        while self._pos <= k:
            if not self._step():
                return _END
        return _BAD if k in self._bad else _GOOD

    def _step(self) -> bool:
        """Grab the next decodable frame, recording undecodable ones met; False at the end."""
        assert self._cap is not None
        for failures in range(_MAX_BAD_RUN + 1):
            if self._cap.grab():
                for _ in range(failures):
                    self._bad.add(self._pos)
                    self._record(math.nan)
                self._record(self._cap.get(cv2.CAP_PROP_POS_MSEC))
                return True
        if self._n is None:
            self._n = self._pos
            times = np.array(self._times[: self._n])
            _VIDEO_INDEX[self._identity()] = (self._n, times, frozenset(self._bad), self._seek_ok)
            while len(_VIDEO_INDEX) > _VIDEO_INDEX_SIZE:
                del _VIDEO_INDEX[next(iter(_VIDEO_INDEX))]
        self.close()  # the capture is spent; it is reopened if needed
        return False

    def _record(self, t: float) -> None:
        """Account for the frame just met at ``self._pos``, whose timestamp is `t` (ms)."""
        if self._pos == len(self._times):
            last = next((s for s in reversed(self._times) if not math.isnan(s)), -math.inf)
            if not (math.isnan(t) or t > last):
                self._seek_ok = False  # timestamps cannot tell frames apart: never seek
            self._times.append(t)
        self._pos += 1

    def _seek(self, k: int) -> bool:
        """Seek to frame `k` (``k < len(self._times)``); True if the landing is verified exact."""
        assert self._cap is not None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, k)
        if self._cap.grab() and math.isclose(
            self._cap.get(cv2.CAP_PROP_POS_MSEC), self._times[k], rel_tol=0.0, abs_tol=1e-6
        ):
            self._pos = k + 1
            return True
        log.debug("%s: seeking to frame %d is inexact; decoding forward instead", self.path, k)
        self._seek_ok = False
        self._open()
        return False

    def _grab_indexed(self, k: int) -> str | None:
        """:meth:`_grab_to` with the container's index; None once the index is dropped."""
        assert self._pts is not None
        times, keys = self._pts
        n = len(times)
        if k >= n:
            return self._check_end()
        if self._cap is None:
            self._open()
        if k == self._pos - 1:
            return _GOOD
        # OpenCV's seek decodes from the key frame before k - 16: worth it when that is ahead.
        key = max(int(np.searchsorted(keys, k - _OPENCV_SEEK_BACK, "right")) - 1, 0)
        ahead = int(keys[key]) > self._pos + _MAX_FORWARD_GRABS
        if (k < self._pos or ahead) and not self._seek_indexed(k):
            return None
        while self._pos <= k:
            if not self._step_indexed():
                return None
        return _GOOD

    def _step_indexed(self) -> bool:
        """Grab the next frame and check its timestamp; False (index dropped) on a mismatch."""
        assert self._cap is not None and self._pts is not None
        if not self._cap.grab():
            self._drop_index(f"frame {self._pos} cannot be grabbed")
            return False
        found = self._locate(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if found != self._pos:
            self._drop_index(f"frame {self._pos} decodes with the timestamp of frame {found}")
            return False
        self._pos += 1
        return True

    def _seek_indexed(self, k: int) -> bool:
        """Seek to a frame at or before `k`, found by its timestamp; False if the index is
        dropped. Decoding forward from there reaches `k`."""
        assert self._cap is not None
        target = k
        for _ in range(3):
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, target)
            grabbed = self._cap.grab()
            landed = self._locate(self._cap.get(cv2.CAP_PROP_POS_MSEC)) if grabbed else None
            if landed is None:
                self._drop_index(f"seeking to frame {target} lands on no frame of the index")
                return False
            if landed <= k:
                self._pos = landed + 1
                return True
            target -= 2 * (landed - k) + _OPENCV_SEEK_BACK
            if target <= 0:
                break
        self._open()  # the seeks overshoot: decode forward from the start
        return True

    def _check_end(self) -> str | None:
        """``_END`` once the stream is seen to end right after the index's last frame."""
        assert self._pts is not None
        if not self._end_checked:
            last = len(self._pts[0]) - 1
            if self._pos != last + 1 and self._grab_indexed(last) is None:
                return None
            assert self._cap is not None
            if self._cap.grab():
                self._drop_index(f"the stream goes on after frame {last}")
                return None
            self._end_checked = True
            self.close()
        return _END

    def _locate(self, t: float) -> int | None:
        """Position in the index of the frame with timestamp `t` (ms), or None."""
        assert self._pts is not None
        times = self._pts[0]
        i = int(np.searchsorted(times, t - _SAME_TIME))
        return i if i < len(times) and abs(times[i] - t) <= _SAME_TIME else None

    def _drop_index(self, why: str) -> None:
        """Forget the container's index (in this process) and start again without it."""
        log.info("%s: container index dropped (%s); frames are counted by decoding", self.path, why)
        self._pts = None
        _PTS_INDEX[self._identity()] = None
        self._open()

    def _retrieve(self) -> np.ndarray | str:
        assert self._cap is not None
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            return f"a frame of {self.path.name} cannot be decoded"
        return self._to_grey(image)


def open_frames(path: str | os.PathLike[str], *, index: tuple | None = None) -> FrameSource:
    """Open a movie: a folder holding an image sequence, or a video file.

    Parameters
    ----------
    path : str or Path
        The folder or the video file.
    index : tuple, optional
        :attr:`FrameSource.index` from another process: a video's frame count and timestamps
        (random access then seeks at once instead of decoding from the start), or a
        sequence's file names (no listing of the folder).

    Returns
    -------
    FrameSource
        An :class:`ImageSequence` or a :class:`VideoFile`; use it as a context manager.

    Raises
    ------
    InputError
        If the path is missing, is a folder with no image sequence, is a single image, or is a
        file that does not open as a video or has no decodable frame.

    Examples
    --------
    >>> with open_frames("exp/Run1/images") as movie:
    ...     first = movie.read(0)
    ...     brightest = max(frame.max() for _, frame in movie.iter_frames(0, 10))
    >>> first.dtype, int(brightest) <= 255
    (dtype('uint8'), True)
    """
    path = Path(path)
    if path.is_dir():
        if index is not None and index[0] == "files":
            prefix = os.path.join(str(path), "")  # the folder and a separator
            return ImageSequence(path, files=[prefix + name for name in index[1]])
        return ImageSequence(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; check the path (typo, unmounted drive?)")
    if _extension(path.name) in IMAGE_EXTENSIONS:
        raise InputError(
            f"{path}: is a single image; pass the folder holding the image sequence ({path.parent})"
        )
    if index is not None:
        identity = (str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns)
        if index[0] == "pts":
            _PTS_INDEX.setdefault(identity, index)
        else:
            _VIDEO_INDEX[identity] = index
    return VideoFile(path)


def frame_count_hint(path: str | os.PathLike[str]) -> int:
    """About how many frames a movie has, found cheaply: what choosing a number of worker
    processes needs (see :func:`batchtrack.batch.chunked.auto_workers`).

    A folder's visible image files are counted without the checks and the sorting that
    opening it as an :class:`ImageSequence` does (that is done once, when it is tracked); a
    video is opened (its index is then kept for the next opening in this process). A path
    that does not open gives 0: the error is reported when it is tracked.

    Examples
    --------
    Its 20 frames and ``background.pgm``:

    >>> frame_count_hint("exp/Run1/images"), frame_count_hint("no/such/folder")
    (21, 0)
    """
    path = Path(path)
    try:
        if path.is_dir():
            with os.scandir(path) as entries:
                return sum(
                    1
                    for entry in entries
                    if not entry.name.startswith(".") and _extension(entry.name) in IMAGE_EXTENSIONS
                )
        with open_frames(path) as source:
            return source.n_frames
    except (OSError, InputError):
        return 0


def _container_index(path: Path) -> tuple[str, np.ndarray, np.ndarray] | None:
    """Every frame's timestamp and the key frames, read from the container without decoding.

    Returns ``("pts", times, keys)``: ``times`` (float64, ms, increasing) is what OpenCV's
    ``CAP_PROP_POS_MSEC`` reports for each frame in presentation order, ``(pts - start_time)
    * time_base * 1000`` computed as OpenCV computes it; ``keys`` (int64) the positions of
    the key frames in that order. None when PyAV is missing, the file does not demultiplex,
    or a packet has no timestamp or shares one (the index could not tell frames apart).
    """
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            pts, key_pts = [], []
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                if packet.is_keyframe:
                    key_pts.append(packet.pts)
            start, base = stream.start_time, stream.time_base
    except (av.FFmpegError, OSError, ValueError):
        return None
    if not pts or not key_pts or start is None or base is None:
        return None
    order = np.sort(np.asarray(pts, np.int64))
    if np.any(np.diff(order) <= 0):
        return None
    times = (order - start).astype(np.float64) * (base.numerator / base.denominator) * 1000.0
    keys = np.searchsorted(order, np.sort(np.asarray(key_pts, np.int64))).astype(np.int64)
    return "pts", times, keys


def result_dir_for(path: str | os.PathLike[str]) -> Path:
    """FastTrack's result folder of a movie, without opening it.

    ``F/Tracking_Result`` for an image-sequence folder ``F``; ``D/Tracking_Result_name`` for a
    video ``D/name.ext``.
    """
    path = Path(path)
    try:
        folder = path.is_dir()
    except OSError:  # a name the system cannot even look up (too long…): not a folder
        folder = False
    if folder or not path.suffix:
        return path / "Tracking_Result"
    return path.parent / f"Tracking_Result_{path.stem}"


def find_movies(path: str | os.PathLike[str]) -> list[Path]:
    """List the movies a path holds, each a batch entry.

    Parameters
    ----------
    path : str or Path
        A folder or a file.

    Returns
    -------
    list of Path
        A folder holding numbered image files gives itself (its image sequence); the video files
        (:data:`VIDEO_EXTENSIONS`) of a folder come next, one entry each, in natural order;
        a video file gives itself; anything else gives ``[]``. Sub-folders are not searched.

    Raises
    ------
    InputError
        If `path` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; check the path")
    if path.is_file():
        return [path] if _extension(path.name) in VIDEO_EXTENSIONS else []
    names = _visible_files(path)
    movies = [path] if any(_series(n) is not None for n in names) else []
    videos = sorted((n for n in names if _extension(n) in VIDEO_EXTENSIONS), key=natural_key)
    return movies + [path / n for n in videos]


def _extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def visible_files(folder: Path, *, warn: bool = True) -> list[os.DirEntry[str]]:
    """The visible regular files of ``folder``, sorted by name (symbolic links followed;
    hidden files, such as batchtrack's lock files, are not part of a movie).

    An entry that cannot be looked at (a symbolic-link loop, a name too long) is left out,
    with a warning unless ``warn`` is false.
    """
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_file():
                    files.append(entry)
            except OSError as error:
                if warn:
                    log.warning(
                        "%s ignored: %s; remove or fix it",
                        folder / entry.name, error.strerror or error,
                    )  # fmt: skip
    return sorted(files, key=lambda entry: entry.name)


def _visible_files(folder: Path) -> list[str]:
    return [entry.name for entry in visible_files(folder)]


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key of a name in natural order (``part2`` before ``part10``, case ignored).

    Examples
    --------
    >>> sorted(["part10.avi", "Part2.avi", "part1.avi"], key=natural_key)
    ['part1.avi', 'Part2.avi', 'part10.avi']
    """
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def _series(name: str) -> tuple[str, int] | None:
    """``("frame_#.pgm", 12)`` for ``frame_0012.pgm``: its series and frame number; None if none."""
    stem, _, ext = name.rpartition(".")
    match = _LAST_NUMBER.search(stem)
    if match is None or ext.lower() not in IMAGE_EXTENSIONS:
        return None
    return f"{stem[: match.start()]}#{stem[match.end() :]}.{ext.lower()}", int(match.group(1))


def _sequence_files(folder: Path) -> list[str]:
    """The files of the image sequence in `folder`, in frame order (see :class:`ImageSequence`)."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "no such folder"
        raise InputError(f"{folder}: {what}; pass the folder holding the image sequence")
    names = _visible_files(folder)
    if not names:
        raise InputError(
            f"{folder}: the folder is empty; pass a folder holding an image sequence "
            "(frame_0001.pgm, ...) or a video file"
        )
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        if (series := _series(name)) is not None:
            groups.setdefault(series[0], []).append((series[1], name))
    if not groups:
        raise InputError(f"{folder}: no image sequence in this folder; {_no_sequence_hint(names)}")
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), natural_key(item[0])))
    if len(ranked) > 1 and len(ranked[1][1]) == len(ranked[0][1]):
        raise InputError(
            f"{folder}: holds several image series of the same length ({ranked[0][0]}, "
            f"{ranked[1][0]}; # stands for the frame number); put each in its own folder"
        )
    ignored = [n for n in names if _extension(n) in IMAGE_EXTENSIONS]
    if len(ignored) > len(ranked[0][1]):
        # Another numbered series is worth a warning; a stray background.pgm is not.
        (log.warning if len(ranked) > 1 else log.info)(
            "%s: the image sequence is %s (%d files); %d other image files are ignored",
            folder,
            ranked[0][0],
            len(ranked[0][1]),
            len(ignored) - len(ranked[0][1]),
        )
    files = sorted(ranked[0][1], key=lambda item: item[0])  # by frame number
    if len({number for number, _ in files}) < len(files):  # frame_1 and frame_01: then by name
        files.sort(key=lambda item: (item[0], natural_key(item[1])))
    prefix = os.path.join(str(folder), "")  # the folder and a separator
    return [prefix + name for _, name in files]


def _no_sequence_hint(names: list[str]) -> str:
    """Why the files `names` of a folder make no image sequence, and what to do."""
    images = sorted(n for n in names if _extension(n) in IMAGE_EXTENSIONS)
    videos = sorted(n for n in names if _extension(n) in VIDEO_EXTENSIONS)
    if images:
        return (
            f"its image files ({', '.join(images[:3])}) have no frame number in their name; "
            "name the frames like frame_0001.png"
        )
    if videos:
        return f"it holds videos ({', '.join(videos[:3])}); open each video file instead"
    found = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
    return f"found {found}; frames must be {', '.join(sorted(IMAGE_EXTENSIONS))} files"


#: A binary PGM header: width, height and maximum value, each after whitespace or comments.
_PGM_HEADER = re.compile(rb"P5(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)\s")


def _read_pgm(file: str, crcs: dict[str, tuple[int, int]] | None = None) -> np.ndarray | None:
    """A binary (P5) PGM read straight into an array, or None to let OpenCV read the file.

    Six times faster than ``cv2.imread`` for FastTrack's usual frames (0.025 against 0.15 ms
    for 338×524 px); the pixels are the same (tested). 16-bit files come back as uint16. The
    file is read whole, in one call; with ``crcs``, its CRC-32 and size are recorded there
    under its name.
    """
    try:
        with open(file, "rb") as stream:
            data = bytearray(os.fstat(stream.fileno()).st_size)
            size = stream.readinto(data)
    except (OSError, ValueError):
        return None
    if size != len(data):  # changed while read: OpenCV decides
        return None
    if crcs is not None:
        crcs[os.path.basename(file)] = (zlib.crc32(data), size)
    match = _PGM_HEADER.match(data, 0, 1024)
    if match is None:
        return None
    width, height, maxval = (int(v) for v in match.groups())
    if not 0 < maxval < 65536 or width == 0 or height == 0:
        return None
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
    if size - match.end() < width * height * dtype.itemsize:
        return None  # truncated: OpenCV decides (and rejects it)
    image = np.frombuffer(data, dtype, width * height, match.end()).reshape(height, width)
    return image if dtype == np.uint8 else image.astype(np.uint16)


def _imread(
    file: str, flag: int, crcs: dict[str, tuple[int, int]] | None = None
) -> np.ndarray | None:
    """``cv2.imread(file, flag)``, also for paths it cannot open (non-ASCII on Windows); a
    PGM file read whole is recorded in ``crcs`` (see :func:`_read_pgm`)."""
    if flag == cv2.IMREAD_UNCHANGED and file[-4:].lower() == ".pgm":
        image = _read_pgm(file, crcs)
        if image is not None:
            return image
    try:
        with native_output(os.path.basename(file)):  # libpng's, libtiff's complaints: to the log
            image = cv2.imread(file, flag)
            if image is None:
                data = np.fromfile(file, dtype=np.uint8)
                image = cv2.imdecode(data, flag) if data.size else None
    except (cv2.error, OSError):
        return None
    return image


class _Capture:
    """``cv2.VideoCapture`` whose calls send FFmpeg's and OpenCV's own messages to the log
    (:func:`batchtrack.io.messages.native_output`) instead of the terminal."""

    def __init__(self, path: Path, backend: int) -> None:
        self._label = path.name
        # A process held to one OpenCV thread (a worker: parallelism comes from processes)
        # decodes on one thread too: FFmpeg's frame threads cost 15-20 % more CPU there, for
        # the same pixels (its decoders are bit-exact whatever the thread count).
        options = [cv2.CAP_PROP_N_THREADS, 1] if cv2.getNumThreads() == 1 else []
        with native_output(self._label):
            self._cap = cv2.VideoCapture(str(path), backend, options)

    def isOpened(self) -> bool:  # OpenCV's name
        return bool(self._cap.isOpened())

    def grab(self) -> bool:
        with native_output(self._label):
            return bool(self._cap.grab())

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        with native_output(self._label):
            return self._cap.retrieve()

    def get(self, prop: int) -> float:
        return float(self._cap.get(prop))

    def set(self, prop: int, value: float) -> bool:
        with native_output(self._label):
            return bool(self._cap.set(prop, value))

    def release(self) -> None:
        with native_output(self._label):
            self._cap.release()
