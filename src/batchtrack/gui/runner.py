"""Running a stack off the GUI thread, with its events delivered to the GUI thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from ..batch.run import RunOptions, run_stack
from ..batch.stack import Entry, Stack, Status
from ..errors import BatchtrackError

__all__ = ["EntryState", "StackBridge", "StackRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryState:
    """An entry's run state at the moment of an event (the entry itself keeps changing)."""

    status: Status
    done: int
    total: int
    message: str


class StackBridge(QObject):
    """Re-emits a :class:`Stack`'s events as a Qt signal.

    Events raised in the GUI thread are delivered at once; events raised by the run's thread
    are queued to the GUI thread (Qt's automatic connection), each with a snapshot of the
    entry's state, so that the table shows every step in order.

    Signals
    -------
    stackEvent(str, Entry or None, EntryState or None)
    """

    stackEvent = Signal(str, object, object)  # not ``event``: that is QObject.event()

    def __init__(self, stack: Stack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stack = stack
        self._unsubscribe = stack.subscribe(self._observe)

    def close(self) -> None:
        """Stop forwarding the stack's events (e.g. when another stack replaces it)."""
        self._unsubscribe()

    def _observe(self, event: str, entry: Entry | None) -> None:
        state = None
        if entry is not None:
            state = EntryState(entry.status, entry.done, entry.total, entry.message)
        self.stackEvent.emit(event, entry, state)


class StackRunner(QObject):
    """Runs :func:`batchtrack.batch.run.run_stack` in a thread; can be stopped.

    Signals
    -------
    finished(RunSummary, bool)
        The run ended; the flag tells whether it was stopped.
    failed(str)
        The run could not start or crashed (entries' own failures are Error entries).
    """

    finished = Signal(object, bool)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self.running and self._cancel.is_set()

    def start(self, stack: Stack, options: RunOptions) -> None:
        """Start running every Waiting entry of ``stack`` with ``options``."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(stack, options, self._cancel), name="batchtrack-run",
            daemon=True,
        )  # fmt: skip
        self._thread.start()

    def _run(self, stack: Stack, options: RunOptions, cancel: threading.Event) -> None:
        try:
            summary = run_stack(stack, options, cancel=cancel)
        except BatchtrackError as error:
            self.failed.emit(str(error))
        except Exception as error:  # the window must survive anything
            log.exception("the batch run failed")
            self.failed.emit(f"{type(error).__name__}: {error}")
        else:
            self.finished.emit(summary, cancel.is_set())

    def stop(self) -> None:
        """Ask the run to stop: queued work is dropped, running entries go back to Waiting."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run's thread to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
