"""The processing stack: entries and FastTrack's rules for adding them.

An entry is one movie (an image-sequence folder or a video file) with a snapshot of the
parameters taken when it was added, an optional background image, a status and a progress.
The rules (FastTrack's batch panel):

* **add** several paths at once; a suffix is appended to each as a path component; a folder
  holding videos gives one entry per video; a path with nothing trackable gives an entry in
  ``ERROR`` with the reason;
* **snapshot**: an entry keeps the parameter table as it was when the entry was added;
* **autoload**: when on, an entry whose result folder holds ``cfg.toml`` and/or
  ``background.pgm`` uses them, and loaded parameters become the current table;
* **unique background**: once set, it replaces the background of every entry, present and
  future (autoloaded ones included); clearing it only affects later additions;
* **override** one entry's background or parameter file; **remove** one; **clear** all.

The stack only holds state; :mod:`batchtrack.batch.run` runs it. Observers (a GUI, a CLI
progress display) subscribe to changes with :meth:`Stack.subscribe`.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..errors import BatchtrackError
from ..io.frames import natural_key
from ..params import Parameters, load_cfg
from ..workflows import Workflow, get_workflow

__all__ = ["Entry", "Stack", "Status"]

log = logging.getLogger(__name__)


class Status(str, enum.Enum):
    """State of an entry."""

    WAITING = "Waiting"
    QUEUED = "Queued"
    RUNNING = "Running"
    DONE = "Done"
    ERROR = "Error"
    SKIPPED = "Skipped"

    def __str__(self) -> str:
        return self.value


_ids = itertools.count()


@dataclass
class Entry:
    """One movie of the stack.

    Attributes
    ----------
    path : Path
        Image-sequence folder or video file (or one input of another workflow).
    params : Parameters or the workflow's parameter model
        Parameter snapshot used for this entry.
    background : Path or None
        Background image; None to compute it from the movie.
    params_source : str
        Where the parameters came from (``table``, a cfg.toml path).
    workflow : str
        Name of the workflow that processes the entry.
    output : Path or None
        Output folder; None for the workflow's default (FastTrack's result folder).
    status, message, done, total
        Run state: status, error or info text, frames (or steps) done and to do.
    started : float or None
        ``time.monotonic()`` when its last run started (Running), None if it never ran.
    seconds : float
        Wall time of its last run, once it ended.
    n_ids : int or None
        Identities of its finished tracking result.
    arenas : str or None
        Track each arena on its own: a TOML file of shapes, a label image, ``grid:RxC`` or
        ``auto`` (tracking only).
    recording : str or None
        The recording this movie is one file of: the entries of one recording are tracked in
        stack order as one movie, identities continuing across files (tracking only; see
        :mod:`batchtrack.recording`).
    """

    path: Path
    params: BaseModel
    background: Path | None = None
    params_source: str = "table"
    workflow: str = "track"
    output: Path | None = None
    status: Status = Status.WAITING
    add_error: str = ""  # an error found when adding (kept through reset)
    message: str = ""
    done: int = 0
    total: int = 0
    started: float | None = None
    seconds: float = 0.0
    n_ids: int | None = None
    arenas: str | None = None
    recording: str | None = None
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def elapsed(self) -> float:
        """Seconds of the run in progress, else of the last run (0 if it never ran)."""
        if self.status in (Status.QUEUED, Status.RUNNING) and self.started is not None:
            return time.monotonic() - self.started
        return self.seconds

    @property
    def result_dir(self) -> Path:
        """Where this entry's results go (FastTrack's result folder for tracking)."""
        workflow = get_workflow(self.workflow)
        if self.output is None:
            return workflow.output_dir(self.path)
        return workflow.output_under(self.output, self.path)


Observer = Callable[[str, "Entry | None"], None]



class Stack:
    """Entries to process, with the current parameter table and FastTrack's adding rules.

    Parameters
    ----------
    params : Parameters, optional
        The current parameter table (the workflow's defaults if omitted).
    autoload : bool
        Use ``cfg.toml`` / ``background.pgm`` found in an entry's result folder (tracking).
    workflow : str
        ``track`` (default), ``measure`` or a user's ``package.module:function``.
    output : Path, optional
        Put every entry's results there instead of the workflow's default place.

    Examples
    --------
    >>> stack = Stack(Parameters(thresh=60))
    >>> [entry.path.as_posix() for entry in stack.add(["exp/Run1", "exp/Run2"], suffix="images")]
    ['exp/Run1/images', 'exp/Run2/images']
    """

    def __init__(
        self,
        params: BaseModel | None = None,
        *,
        autoload: bool = False,
        workflow: str = "track",
        output: str | Path | None = None,
    ) -> None:
        self.workflow = workflow
        self.params = params if params is not None else self._workflow.params_model()
        self.autoload = autoload
        self.output = None if output is None else Path(output)
        self.unique_background: Path | None = None
        #: ``--arenas`` of the entries added next (a file, ``grid:RxC`` or ``auto``).
        self.arenas: str | None = None
        #: ``--recording`` of the entries added next: they are files of that recording.
        self.recording: str | None = None
        self.entries: list[Entry] = []
        self._observers: list[Observer] = []
        self._lock = threading.RLock()

    # -- observers -------------------------------------------------------------------------
    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event, entry)`` on every change.

        Events: ``added``, ``removed``, ``cleared``, ``changed`` (an entry's settings),
        ``progress``, ``status``, ``params`` (the table changed; entry is None).
        Returns a function that unsubscribes the observer.
        """
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def notify(self, event: str, entry: Entry | None = None) -> None:
        for observer in list(self._observers):
            observer(event, entry)

    @property
    def _workflow(self) -> Workflow:
        return get_workflow(self.workflow)

    # -- the parameter table ---------------------------------------------------------------
    def set_params(self, params: BaseModel) -> None:
        """Replace the current table (entries already added keep their snapshot)."""
        self.params = params
        self.notify("params")

    # -- adding ----------------------------------------------------------------------------
    def add(self, paths: Iterable[str | Path], *, suffix: str = "") -> list[Entry]:
        """Add folders or video files; returns the new entries (errors included).

        With :attr:`recording` set, the movies found are files of that recording, added in
        the natural order of their paths (``part2`` before ``part10``): its tracking order.
        """
        added: list[Entry] = []
        files: list[Path] = []
        for raw in paths:
            path = Path(raw) / suffix if suffix else Path(raw)
            try:
                path = path.expanduser()
                movies = self._workflow.find_inputs(path) if path.exists() else []
                reason = ""
            except RuntimeError:  # ~user of no such user
                movies, reason = [], f"{path}: no such user's home folder; write the path in full"
            except OSError as error:  # name too long, symbolic-link loop, permission denied
                movies = []
                reason = f"{path}: {error.strerror or error}; check the path"
            if not movies:
                if reason:
                    pass
                elif path.exists():
                    what = self._workflow.input_label
                    reason = f"nothing to process in {path}: it holds no {what}"
                    reason += self._one_level_down(path)
                else:
                    reason = f"{path} does not exist; check the path and the suffix"
                entry = Entry(
                    path,
                    self.params,
                    status=Status.ERROR,
                    message=reason,
                    workflow=self.workflow,
                    output=self.output,
                    add_error=reason,
                )
                added.append(self._append(entry))
                continue
            if self.recording is None:
                for movie in movies:
                    added.append(self._append(self._new_entry(movie)))
            else:
                files.extend(movies)
        for movie in sorted(files, key=lambda p: natural_key(str(p))):
            added.append(self._append(self._new_entry(movie)))
        return added

    def _one_level_down(self, path: Path) -> str:
        """A hint naming the sub-folders that hold inputs (the suffix the user forgot)."""
        if not path.is_dir():
            return ""
        found = []
        with contextlib.suppress(OSError):
            for sub in sorted(p for p in path.iterdir() if p.is_dir()):
                with contextlib.suppress(OSError, BatchtrackError):
                    if inputs := self._workflow.find_inputs(sub):
                        found.append(f"{sub.name} ({len(inputs)} to process)")
                if len(found) == 5:
                    break
        if not found:
            return ""
        first = found[0].rsplit(" (", 1)[0]
        return (
            f"; one level down: {', '.join(found)}; add them with the suffix {first!r} "
            f"(--suffix {first})"
        )

    def _new_entry(self, movie: Path) -> Entry:
        entry = Entry(movie, self.params, workflow=self.workflow, output=self.output)
        if self.autoload and self._workflow.autoload:
            self._autoload(entry)
        if self.unique_background is not None:
            entry.background = self.unique_background
        entry.arenas = self.arenas
        entry.recording = self.recording
        return entry

    def _autoload(self, entry: Entry) -> None:
        folder = entry.result_dir
        cfg, background = folder / "cfg.toml", folder / "background.pgm"
        if cfg.is_file():
            try:
                entry.params = load_cfg(cfg)
            except BatchtrackError as error:
                entry.status = Status.ERROR
                entry.message = entry.add_error = str(error)
                return
            entry.params_source = str(cfg)
            self.set_params(entry.params)
        if background.is_file():
            entry.background = background

    def _append(self, entry: Entry) -> Entry:
        with self._lock:
            self.entries.append(entry)
        self.notify("added", entry)
        return entry

    # -- changing --------------------------------------------------------------------------
    def set_unique_background(self, path: str | Path | None) -> None:
        """Use one background for every entry (None: later entries get the default again)."""
        self.unique_background = None if path is None else Path(path)
        if path is None:
            return
        for entry in self.entries:
            entry.background = self.unique_background
            self.notify("changed", entry)

    def override(
        self,
        entry: Entry | int,
        *,
        background: str | Path | None = None,
        cfg: str | Path | None = None,
        params: Parameters | None = None,
    ) -> Entry:
        """Give one entry its own background image and/or parameters (file or object)."""
        entry = self.get(entry)
        loaded = None if cfg is None else load_cfg(cfg)  # a bad file changes nothing
        if background is not None:
            entry.background = Path(background)
        if loaded is not None:
            entry.params = loaded
            entry.params_source = str(cfg)
        if params is not None:
            entry.params = params
            entry.params_source = "override"
        self.notify("changed", entry)
        return entry

    def get(self, entry: Entry | int) -> Entry:
        """The entry itself, or the entry with that id."""
        if isinstance(entry, Entry):
            return entry
        for candidate in self.entries:
            if candidate.id == entry:
                return candidate
        raise KeyError(f"no entry with id {entry}")

    def remove(self, entry: Entry | int) -> None:
        """Remove one entry."""
        entry = self.get(entry)
        with self._lock:
            self.entries.remove(entry)
        self.notify("removed", entry)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self.entries.clear()
        self.notify("cleared")

    # -- run state (used by the runner) ----------------------------------------------------
    def set_status(self, entry: Entry, status: Status, message: str = "") -> None:
        entry.status, entry.message = status, message
        self.notify("status", entry)

    def set_progress(self, entry: Entry, done: int, total: int) -> None:
        entry.done, entry.total = done, total
        self.notify("progress", entry)

    def reset(self) -> None:
        """Put every entry back to Waiting before a new run, except those whose error was
        found when they were added (a missing path, nothing to process, a bad autoloaded
        cfg.toml): running them would ignore the problem."""
        for entry in self.entries:
            before = (entry.status, entry.message, entry.done)
            if entry.add_error:
                entry.status, entry.message = Status.ERROR, entry.add_error
            else:
                entry.status, entry.message, entry.done = Status.WAITING, "", 0
            entry.started, entry.seconds, entry.n_ids = None, 0.0, None
            if (entry.status, entry.message, entry.done) != before:
                self.notify("status", entry)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self.entries))
