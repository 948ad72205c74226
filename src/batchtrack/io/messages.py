"""What one entry's result ``log`` holds besides the results: every warning batchtrack logs
while the entry is tracked, and what the native libraries print about its files.

OpenCV, the image codecs it wraps (libpng, libtiff, libjpeg) and FFmpeg write their own
complaints straight to the process's standard error (file descriptor 2), past Python and past
``--quiet``; tifffile logs through Python's ``logging``. :func:`native_output` catches the
first while a reader calls into OpenCV, and :func:`route_library_logs` the second; both come
out as records of the ``batchtrack.native`` logger, at INFO level, so that the terminal shows
batchtrack's own one-line message instead (``frame 10 skipped: frame_0010.png cannot be
decoded``), and the result's ``log`` keeps the library's words.

:func:`collect_messages` gathers, while a block runs, the warnings logged in this thread (and
the native lines): each entry's tasks collect theirs, and the result writer copies them into
the ``log``. A record logged with ``extra=IN_RESULT`` is already written there by other means
(skipped frames, the "no object detected" warning) and is not collected twice.

Examples
--------
>>> import logging
>>> with collect_messages() as lines:
...     logging.getLogger("batchtrack.movie").warning("methBack=0 keeps the objects")
>>> lines
['methBack=0 keeps the objects']
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

__all__ = [
    "IN_RESULT",
    "LEVEL_VARIABLE",
    "NATIVE",
    "collect_messages",
    "keep_python_stderr_apart",
    "log_to_terminal",
    "native_output",
    "route_library_logs",
]

#: The logger of what native libraries and tifffile say (INFO: not on the terminal, in the log).
NATIVE = logging.getLogger("batchtrack.native")
NATIVE.setLevel(logging.INFO)

#: ``extra=`` of a warning whose message the result's ``log`` gets by other means.
IN_RESULT = {"batchtrack_in_result": True}

#: Python loggers of libraries whose records belong in the result's log, not on the terminal.
_LIBRARY_LOGGERS = ("tifffile",)

#: The environment variable through which a command tells the worker processes it starts
#: which of batchtrack's messages go to the terminal (``WARNING``, or ``ERROR`` with --quiet).
LEVEL_VARIABLE = "BATCHTRACK_LOG_LEVEL"


# -- the terminal ---------------------------------------------------------------------------------
class _Terminal(logging.StreamHandler):
    """batchtrack's messages on standard error, as ``WARNING: ...``."""


def log_to_terminal(level: int | None = None) -> None:
    """Show batchtrack's messages of ``level`` and above on standard error (``WARNING: …``).

    Warnings are still logged below that level (e.g. with ``--quiet``), so that each entry's
    result ``log`` gets them (:func:`collect_messages`). Tifffile's records are sent to
    :data:`NATIVE` (:func:`route_library_logs`).

    Parameters
    ----------
    level : int, optional
        The command's level: also handed to the worker processes it starts (through the
        :data:`LEVEL_VARIABLE` environment variable). None: a worker process takes it from
        that variable, and does nothing when it is not set or a handler is already there
        (a forked worker keeps its parent's).
    """
    package = logging.getLogger("batchtrack")
    if level is None:
        name = os.environ.get(LEVEL_VARIABLE, "")
        if not name or any(isinstance(h, _Terminal) for h in package.handlers):
            return
        level = logging.getLevelName(name) if name in ("ERROR", "WARNING") else logging.WARNING
        assert isinstance(level, int)
    else:
        os.environ[LEVEL_VARIABLE] = logging.getLevelName(level)
    handler = _Terminal(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(level)
    package.handlers[:] = [h for h in package.handlers if not isinstance(h, _Terminal)]
    package.addHandler(handler)
    package.setLevel(min(level, logging.WARNING))
    route_library_logs()


# -- native output (file descriptor 2) ------------------------------------------------------------
class _Redirect:
    """Standard error (fd 2) of this process sent to an unlinked temporary file meanwhile."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.pid = -1
        self.sink = -1
        self.saved = -1

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                if self.pid != os.getpid():  # a forked child shares its parent's file: not ours
                    handle, name = tempfile.mkstemp(prefix="batchtrack-stderr-")
                    os.unlink(name)
                    self.sink, self.pid = handle, os.getpid()
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    sys.stderr.flush()  # what Python wrote before is not the library's
                self.saved = os.dup(2)
                os.dup2(self.sink, 2)
            self.depth += 1

    def leave(self) -> bytes:
        with self.lock:
            self.depth -= 1
            if self.depth:
                return b""
            os.dup2(self.saved, 2)
            os.close(self.saved)
            size = os.fstat(self.sink).st_size
            if not size:
                return b""
            data = os.pread(self.sink, size, 0)
            os.ftruncate(self.sink, 0)
            os.lseek(self.sink, 0, os.SEEK_SET)  # fd 2 shares this offset while redirected
            return data


_REDIRECT = _Redirect()


@contextlib.contextmanager
def native_output(label: str) -> Iterator[None]:
    """Catch what native code (OpenCV, its codecs, FFmpeg) writes on standard error meanwhile.

    Each line caught becomes an INFO record of :data:`NATIVE`, ``"<label>: <line>"``. The
    redirection is of the whole process (a file descriptor), so keep the block to the native
    call: Python's own ``sys.stderr`` writes of other threads would be caught too, unless
    :func:`keep_python_stderr_apart` was called (the command line does).

    Parameters
    ----------
    label : str
        What was being read (a file name), put before each line.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> with collect_messages() as lines, native_output("broken.png"):
    ...     image = cv2.imdecode(np.frombuffer(b"\\x89PNG\\r\\n\\x1a\\n", np.uint8), 0)
    >>> image is None
    True
    """
    _REDIRECT.enter()
    data = b""
    try:
        yield
    finally:
        data = _REDIRECT.leave()
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            NATIVE.info("%s: %s", label, line.strip())


def keep_python_stderr_apart() -> None:
    """Give Python's ``sys.stderr`` its own copy of file descriptor 2.

    Progress bars, logging and tracebacks written by any thread then never land in what
    :func:`native_output` catches. Only the real standard error is replaced (not a stream a
    test runner or a notebook put there); calling it again does nothing.
    """
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    stream = sys.stderr
    sys.stderr = open(  # lives as long as the process
        os.dup(2), "w", encoding=stream.encoding, errors=stream.errors, buffering=1
    )


# -- Python libraries' loggers --------------------------------------------------------------------
class _Forward(logging.Handler):
    """Re-log a library's records as :data:`NATIVE` INFO records (``"tifffile: ..."``)."""

    def emit(self, record: logging.LogRecord) -> None:
        NATIVE.info("%s: %s", record.name, record.getMessage())


def route_library_logs() -> None:
    """Send tifffile's log records to :data:`NATIVE` instead of the terminal (idempotent)."""
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not any(isinstance(h, _Forward) for h in library.handlers):
            library.addHandler(_Forward())
        library.propagate = False


# -- one entry's messages -------------------------------------------------------------------------
class _Collectors(logging.Handler):
    """The one handler on the ``batchtrack`` logger that hands each record to the innermost
    :func:`collect_messages` block of the thread that logged it."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.local = threading.local()

    def stack(self) -> list[Callable[[str], None]]:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        return self.local.stack

    def emit(self, record: logging.LogRecord) -> None:
        stack = self.stack()
        if stack and not getattr(record, "batchtrack_in_result", False):
            if record.levelno >= logging.WARNING or record.name == NATIVE.name:
                stack[-1](record.getMessage())
        if not _other_handlers(record.name) and logging.lastResort is not None:
            # Python prints a warning nobody handles (its "last resort"): this handler, there
            # only to collect, must not take that away
            if record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)


def _other_handlers(name: str) -> bool:
    """Whether a record of logger ``name`` reaches a handler other than the collectors."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        if any(handler is not _COLLECTORS for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


_COLLECTORS = _Collectors()
_PACKAGE = logging.getLogger("batchtrack")


@contextlib.contextmanager
def collect_messages(into: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Collect the messages of the block for a result's ``log``: batchtrack's warnings (and
    errors) logged in this thread, and the native libraries' lines (:data:`NATIVE`).

    Blocks nest: a message goes to the innermost block of its thread only.

    Parameters
    ----------
    into : callable, optional
        Called with each message as it comes (e.g. ``ResultWriter.log``); otherwise the
        messages are appended to the list the block gets.

    Yields
    ------
    list of str
        The messages collected (empty when ``into`` is given).
    """
    if _COLLECTORS not in _PACKAGE.handlers:
        _PACKAGE.addHandler(_COLLECTORS)
    if _PACKAGE.getEffectiveLevel() > logging.WARNING:
        _PACKAGE.setLevel(logging.WARNING)  # a warning must exist to be collected
    route_library_logs()
    lines: list[str] = []
    stack = _COLLECTORS.stack()
    stack.append(into or lines.append)
    try:
        yield lines
    finally:
        stack.pop()
