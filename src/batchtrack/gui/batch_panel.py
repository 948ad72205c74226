"""The batch panel: FastTrack's processing stack, run in parallel off the GUI thread.

Every action is a public method taking paths (``add_folders``, ``set_unique_background``,
``override_background``...); the buttons only ask for the paths through :class:`Dialogs`
and call them. The panel holds no batch logic: it shows a :class:`Stack` and forwards
actions to it and to :func:`batchtrack.batch.run.run_stack`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..batch.manifest import load_manifest, save_manifest
from ..batch.run import RunOptions, RunSummary
from ..batch.stack import Entry, Stack, Status
from ..errors import BatchtrackError
from ..io.tables import read_quality
from ..params import Parameters
from ..plots import plot_trajectories
from .dialogs import CFG_FILTER, IMAGE_FILTER, STACK_FILTER, Dialogs, TrajectoryDialog
from .params_table import ParameterTable
from .runner import EntryState, StackBridge, StackRunner

__all__ = ["BatchPanel"]

log = logging.getLogger(__name__)

HEADERS = (
    "Movie", "Recording", "Background", "Parameters", "Progress", "Status", "Time", "Result"
)  # fmt: skip
PATH, RECORDING, BACKGROUND, PARAMS, PROGRESS, STATUS, TIME, RESULT = range(len(HEADERS))

STATUS_COLOURS = {
    Status.WAITING: ("#555555", "#ffffff"),
    Status.QUEUED: ("#555555", "#eeeeee"),
    Status.RUNNING: ("#0b5394", "#dbe8f6"),
    Status.DONE: ("#1e6b1e", "#d9f0d3"),
    Status.ERROR: ("#a61c1c", "#f8d7d7"),
    Status.SKIPPED: ("#7a5b00", "#fbefc4"),
}


def _short(path: Path, parts: int = 2) -> str:
    """The last ``parts`` components of a path, '…/' before them if there are more."""
    tail = Path(*path.parts[-parts:]) if len(path.parts) > parts else path
    return str(tail) if tail == path else f"…/{tail.as_posix()}"


def _changed_values(params: Parameters) -> str:
    """Parameters that differ from the defaults, one per line."""
    defaults = Parameters().model_dump()
    changed = [
        f"{k} = {v if isinstance(v, str) else format(v, 'g')}"  # "auto" is a string
        for k, v in params.model_dump().items()
        if defaults[k] != v
    ]
    return "\n".join(changed) if changed else "all defaults"


def _duration(seconds: float) -> str:
    """``42 s``, ``3:05`` (min:s) or ``1:02:03`` (h:min:s)."""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _progress_text(state: EntryState) -> str:
    """What a progress bar says: the percentage, and what a Running entry is doing."""
    if state.status is Status.ERROR and not state.total:
        return "—"
    if state.status is Status.SKIPPED:
        return "already done"
    if state.status is Status.QUEUED:
        return "queued"
    if state.status is Status.RUNNING:
        if not state.total:
            return "starting…"
        if state.done >= state.total:
            return "100% · linking"
    return "%p%" if state.total else ""


class _ElidedLabel(QLabel):
    """A one-line label that elides its text on the left when too narrow (paths)."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setMinimumWidth(20)

    def setText(self, text: str) -> None:
        self._full = text
        super().setText(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideLeft, self.width())
        if shown != QLabel.text(self):
            QLabel.setText(self, shown)

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        hint.setWidth(20)
        return hint


class _PathCell(QWidget):
    """A short path with a '…' button that chooses another file for this entry."""

    def __init__(self, tooltip: str, on_click: Callable[..., None]) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 2, 0)
        layout.setSpacing(4)
        self.label = _ElidedLabel()
        self.button = QToolButton()
        self.button.setText("…")
        self.button.setToolTip(tooltip)
        self.button.setAutoRaise(False)
        self.button.clicked.connect(on_click)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)

    def show_text(self, text: str, tooltip: str, *, muted: bool = False) -> None:
        self.label.setText(text)
        self.label.setToolTip(tooltip)
        self.label.setStyleSheet("color: #777777;" if muted else "")


class BatchPanel(QWidget):
    """FastTrack's batch panel, plus parallel runs, stop, manifests and trajectory plots.

    Parameters
    ----------
    stack : Stack, optional
        The stack to show (an empty one by default).
    dialogs : Dialogs, optional
        What asks the user for paths (replaced in tests).

    Signals
    -------
    message(str)
        A line for the status bar.
    runFinished(RunSummary)
        A run ended (finished or stopped).
    """

    message = Signal(str)
    runFinished = Signal(object)

    def __init__(self, stack: Stack | None = None, *, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.dialogs = dialogs or Dialogs()
        #: Executor backend of the runs (``local`` processes; ``inprocess`` for debugging).
        self.backend = "local"
        #: Frames per detection task: smaller gives finer progress, larger less overhead.
        self.chunk_size = RunOptions().chunk_size
        self.summary: RunSummary | None = None
        self._rows: dict[int, int] = {}  # entry id -> table row
        self._windows: list[QWidget] = []
        self._bridge: StackBridge | None = None
        self._clock = QTimer(self)  # redraws the elapsed times of running entries
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self.runner = StackRunner(self)
        self.runner.finished.connect(self._run_finished)
        self.runner.failed.connect(self._run_failed)
        self._build()
        self.set_stack(stack or Stack())
        self._set_running(False)

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        # Adding movies: folders, suffix, autoload, unique background
        self.open_button = QPushButton("Open folder(s)…")
        self.open_button.setToolTip(
            "Add movies: each folder holding an image sequence, and each video in a folder, "
            "becomes one entry"
        )
        self.suffix_edit = QLineEdit()
        self.suffix_edit.setPlaceholderText("e.g. images")
        self.suffix_edit.setToolTip(
            "Appended to every folder added: Run1 + suffix 'images' adds Run1/images"
        )
        self.suffix_edit.setMaximumWidth(180)
        self.recording_edit = QLineEdit()
        self.recording_edit.setPlaceholderText("none")
        self.recording_edit.setToolTip(
            "The movies added next are the files of this recording (e.g. day1): tracked in "
            "natural order as one movie, identities continuing from one file into the next; "
            "leave empty for independent movies"
        )
        self.recording_edit.setMaximumWidth(140)
        self.autoload_check = QCheckBox("Autoload")
        self.autoload_check.setToolTip(
            "Use the cfg.toml and background.pgm found in a movie's Tracking_Result folder "
            "(saved there by the interactive panel); loaded parameters become the table"
        )
        self.unique_button = QPushButton("Unique background…")
        self.unique_button.setToolTip(
            "Use one background image for every entry, present and future"
        )
        self.unique_label = QLabel()
        self.clear_background_button = QPushButton("Clear background")
        self.clear_background_button.setToolTip(
            "Stop using the unique background for entries added from now on"
        )
        adding = QGroupBox("Add movies")
        row1 = QHBoxLayout()
        row1.addWidget(self.open_button)
        row1.addSpacing(12)
        row1.addWidget(QLabel("Suffix:"))
        row1.addWidget(self.suffix_edit)
        row1.addSpacing(12)
        row1.addWidget(QLabel("Recording:"))
        row1.addWidget(self.recording_edit)
        row1.addSpacing(12)
        row1.addWidget(self.autoload_check)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(self.unique_button)
        row2.addWidget(self.unique_label, 1)
        row2.addWidget(self.clear_background_button)
        box = QVBoxLayout(adding)
        box.addLayout(row1)
        box.addLayout(row2)

        # The processing stack: one row per entry
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(PATH, QHeaderView.ResizeMode.Stretch)
        widths = ((RECORDING, 90), (BACKGROUND, 190), (PARAMS, 170), (PROGRESS, 150),
                  (STATUS, 90), (TIME, 70), (RESULT, 90))  # fmt: skip
        for column, width in widths:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.empty_hint = QLabel(
            "No movie yet: <b>Open folder(s)…</b> adds image-sequence folders and videos; "
            "or <b>Load stack…</b> reopens a saved batch."
        )
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setStyleSheet("color: #777777; padding: 8px;")

        # The parameter table applied to the entries added next
        self.params_table = ParameterTable()
        self.params_table.paramsChanged.connect(self._table_edited)
        self.params_table.invalid.connect(self.message)
        self.params_table.warned.connect(self.message)
        params_box = QGroupBox("Parameters for movies added next")
        params_layout = QVBoxLayout(params_box)
        params_layout.setContentsMargins(4, 4, 4, 4)
        params_layout.addWidget(self.params_table)
        self.params_notice = self.params_table.make_notice()
        params_layout.addWidget(self.params_notice)

        stack_box = QWidget()
        stack_layout = QVBoxLayout(stack_box)
        stack_layout.setContentsMargins(0, 0, 0, 0)
        stack_layout.addWidget(self.table, 1)
        stack_layout.addWidget(self.empty_hint)
        splitter = QSplitter()
        splitter.addWidget(stack_box)
        splitter.addWidget(params_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([780, 380])

        # Saving/loading the stack, and the run controls
        self.review_button = QPushButton("Review…")
        self.review_button.setToolTip(
            "Replay the selected Done entry over its movie, go to its doubtful moments and "
            "correct its ids"
        )
        self.remove_button = QPushButton("Remove selected")
        self.clear_button = QPushButton("Clear stack")
        self.save_button = QPushButton("Save stack…")
        self.save_button.setToolTip("Save the stack as a manifest (.toml or .csv)")
        self.load_button = QPushButton("Load stack…")
        self.load_button.setToolTip("Replace the stack by a saved manifest")
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, max(64, os.cpu_count() or 1))
        self.workers_spin.setValue(os.cpu_count() or 1)
        self.workers_spin.setToolTip(
            "Worker processes: movies and chunks of frames run in parallel"
        )
        self.scheduler_edit = QLineEdit()
        self.scheduler_edit.setPlaceholderText("this computer")
        self.scheduler_edit.setMaximumWidth(190)
        self.scheduler_edit.setToolTip(
            "Address of a Dask scheduler (tcp://host:8786) to run on a cluster; empty: worker "
            "processes on this computer"
        )
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Process every Waiting entry")
        bold = QFont()
        bold.setBold(True)
        self.start_button.setFont(bold)
        self.force_check = QCheckBox("Redo finished")
        self.force_check.setToolTip(
            "Track again the entries whose finished result matches (Start skips them "
            "otherwise); their earlier results are archived, never deleted"
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Cancel the run: running entries go back to Waiting")
        self.overall = QProgressBar()
        self.overall.setMaximumWidth(220)
        self.overall.setFormat("%v / %m movies")
        self.summary_label = QLabel()
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        for button in (self.review_button, self.remove_button, self.clear_button):
            controls.addWidget(button)
        controls.addSpacing(16)
        controls.addWidget(self.save_button)
        controls.addWidget(self.load_button)
        controls.addStretch(1)
        controls.addWidget(QLabel("Cluster:"))
        controls.addWidget(self.scheduler_edit)
        controls.addWidget(QLabel("Workers:"))
        controls.addWidget(self.workers_spin)
        controls.addWidget(self.force_check)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        footer = QHBoxLayout()
        footer.addWidget(self.summary_label, 1)
        footer.addWidget(self.overall)

        layout = QVBoxLayout(self)
        layout.addWidget(adding)
        layout.addWidget(splitter, 1)
        layout.addLayout(controls)
        layout.addLayout(footer)

        self.open_button.clicked.connect(self._ask_folders)
        self.unique_button.clicked.connect(self._ask_unique_background)
        self.clear_background_button.clicked.connect(lambda: self.set_unique_background(None))
        self.autoload_check.toggled.connect(self.set_autoload)
        self.review_button.clicked.connect(self._review_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear_stack)
        self.save_button.clicked.connect(self._ask_save)
        self.load_button.clicked.connect(self._ask_load)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)

    # -- the stack ---------------------------------------------------------------------------
    def set_stack(self, stack: Stack) -> None:
        """Show ``stack`` (e.g. one loaded from a manifest) instead of the current one."""
        if self._bridge is not None:
            self._bridge.close()
            self._bridge.stackEvent.disconnect(self._on_event)
        self.stack = stack
        self._bridge = StackBridge(stack, self)
        self._bridge.stackEvent.connect(self._on_event)
        self.autoload_check.blockSignals(True)
        self.autoload_check.setChecked(stack.autoload)
        self.autoload_check.blockSignals(False)
        if isinstance(stack.params, Parameters):
            self.params_table.set_params(stack.params)
        self._show_unique_background()
        self._rebuild()

    def entries(self) -> list[Entry]:
        """The entries, in table order."""
        return list(self.stack.entries)

    def row_of(self, entry: Entry | int) -> int:
        """Table row of an entry (or of the entry with that id)."""
        return self._rows[entry if isinstance(entry, int) else entry.id]

    # -- actions (all callable without a dialog) ---------------------------------------------
    def add_folders(
        self,
        paths: Iterable[str | Path],
        *,
        suffix: str | None = None,
        recording: str | None = None,
    ) -> list[Entry]:
        """Add folders or video files with the suffix field's suffix (or ``suffix``), as the
        files of the recording field's recording (or ``recording``) if one is named."""
        suffix = self.suffix_edit.text().strip() if suffix is None else suffix
        if recording is None:
            recording = self.recording_edit.text().strip()
        self.stack.recording = recording or None
        entries = self.stack.add(list(paths), suffix=suffix)
        errors = [e for e in entries if e.status is Status.ERROR]
        text = f"{len(entries) - len(errors)} movie(s) added"
        if errors:
            many = len(errors) > 1
            text += (
                f"; {len(errors)} path{'s' if many else ''} without a movie "
                f"(Error entr{'ies' if many else 'y'}: hover the status to see why)"
            )
        self.message.emit(text)
        return entries

    def set_autoload(self, on: bool) -> None:
        """Turn autoload on or off for the entries added from now on."""
        self.stack.autoload = bool(on)
        if self.autoload_check.isChecked() != bool(on):
            self.autoload_check.setChecked(bool(on))

    def set_unique_background(self, path: str | Path | None) -> None:
        """Use one background for every entry (None: entries added next compute their own)."""
        self.stack.set_unique_background(path)
        self._show_unique_background()

    def override_background(self, entry: Entry | int, path: str | Path) -> None:
        """Give one entry its own background image."""
        self.stack.override(entry, background=path)

    def override_params(self, entry: Entry | int, cfg: str | Path) -> None:
        """Give one entry the parameters of a cfg.toml (raises ParameterError if invalid)."""
        self.stack.override(entry, cfg=cfg)

    def set_table_params(self, params: Parameters) -> None:
        """Set the parameter table (used for entries added next)."""
        self.params_table.set_params(params)
        self.stack.set_params(params)

    def remove_selected(self) -> None:
        """Remove the selected entries."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        ids = [entry_id for entry_id, row in self._rows.items() if row in rows]
        for entry_id in ids:
            self.stack.remove(entry_id)
        if ids:
            self.message.emit(f"{len(ids)} entr{'y' if len(ids) == 1 else 'ies'} removed")

    def clear_stack(self) -> None:
        """Remove every entry."""
        self.stack.clear()
        self.summary_label.clear()

    def save_stack(self, path: str | Path) -> Path:
        """Save the stack as a manifest (``.toml`` or ``.csv``)."""
        saved = save_manifest(self.stack, path)
        self.message.emit(f"stack saved to {saved}")
        return saved

    def load_stack(self, path: str | Path) -> Stack:
        """Replace the stack by the one saved in a manifest."""
        stack = load_manifest(path)
        self.set_stack(stack)
        self.message.emit(f"{len(stack)} entries loaded from {path}")
        return stack

    def start(self) -> None:
        """Run every Waiting entry in parallel (``workers`` processes), off the GUI thread."""
        if self.runner.running:
            return
        self.stack.reset()  # its status events redraw the rows (same thread: at once)
        waiting = sum(e.status is Status.WAITING for e in self.stack.entries)
        self.overall.setRange(0, max(waiting, 1))
        self.overall.setValue(0)
        self.summary = None
        self.summary_label.setStyleSheet("")
        scheduler = self.scheduler_edit.text().strip() or None
        where = f"on {scheduler}" if scheduler else f"with {self.workers_spin.value()} worker(s)"
        self.summary_label.setText(
            f"Running {waiting} entr{'y' if waiting == 1 else 'ies'} {where}…"
        )
        self._set_running(True)
        options = RunOptions(
            backend=self.backend,
            workers=None if scheduler else self.workers_spin.value(),
            chunk_size=self.chunk_size,
            scheduler=scheduler,
            force=self.force_check.isChecked(),
        )
        self.runner.start(self.stack, options)
        self._clock.start()

    def stop(self) -> None:
        """Cancel the run (work already in a worker finishes first)."""
        if self.runner.running:
            self.runner.stop()
            self.stop_button.setEnabled(False)
            self.summary_label.setText("Stopping: waiting for the tasks in progress…")

    def show_trajectories(self, entry: Entry | int) -> TrajectoryDialog:
        """Draw a Done entry's tracks over its background and show them in a window."""
        entry = self.stack.get(entry)
        png = plot_trajectories(entry.result_dir)
        dialog = TrajectoryDialog(png, _short(entry.path, 3), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self._windows.remove(dialog))
        self._windows.append(dialog)
        dialog.show()
        return dialog

    def review(self, entry: Entry | int) -> QWidget:
        """Open the review window on a Done (or Skipped) entry's result."""
        from .review import ReviewWindow

        entry = self.stack.get(entry)
        window = ReviewWindow(entry.result_dir, self)
        window.setWindowFlag(Qt.WindowType.Window)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(lambda *_: self._windows.remove(window))
        self._windows.append(window)
        window.show()
        return window

    def _review_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        finished = [self.stack.entries[r] for r in rows]
        finished = [e for e in finished if e.status in (Status.DONE, Status.SKIPPED)]
        if not finished:
            self.message.emit("select a Done entry to review it")
            return
        self._guard(lambda: self.review(finished[0]))

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop a run and wait for it (when the window closes)."""
        if self.runner.running:
            self.runner.stop()
            self.runner.wait(timeout)

    # -- button slots: ask, then act ---------------------------------------------------------
    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except (BatchtrackError, OSError) as error:
            self.message.emit(str(error))
            box = QMessageBox(QMessageBox.Icon.Warning, "batchtrack", str(error), parent=self)
            box.open()

    def _ask_folders(self) -> None:
        paths = self.dialogs.folders(self, "Add movies: choose one or more folders")
        if paths:
            self._guard(lambda: self.add_folders(paths))

    def _ask_unique_background(self) -> None:
        path = self.dialogs.open_file(self, "Background image for every movie", IMAGE_FILTER)
        if path:
            self._guard(lambda: self.set_unique_background(path))

    def _ask_entry_background(self, entry_id: int) -> None:
        path = self.dialogs.open_file(self, "Background image for this movie", IMAGE_FILTER)
        if path:
            self._guard(lambda: self.override_background(entry_id, path))

    def _ask_entry_params(self, entry_id: int) -> None:
        path = self.dialogs.open_file(self, "Parameter file for this movie", CFG_FILTER)
        if path:
            self._guard(lambda: self.override_params(entry_id, path))

    def _ask_save(self) -> None:
        path = self.dialogs.save_file(self, "Save the stack", STACK_FILTER, "stack.toml")
        if path:
            self._guard(lambda: self.save_stack(path))

    def _ask_load(self) -> None:
        path = self.dialogs.open_file(self, "Load a stack", STACK_FILTER)
        if path:
            self._guard(lambda: self.load_stack(path))

    def _double_clicked(self, row: int, _column: int) -> None:
        entry = self.stack.entries[row]
        if entry.status not in (Status.DONE, Status.SKIPPED):
            self.message.emit(f"{entry.path.name}: trajectories are shown once it is Done")
            return
        self._guard(lambda: self.show_trajectories(entry))

    def _table_edited(self, params: Parameters) -> None:
        self.stack.set_params(params)

    # -- stack events ------------------------------------------------------------------------
    def _on_event(self, event: str, entry: Entry | None, state: EntryState | None) -> None:
        if event in ("removed", "cleared"):
            self._rebuild()
        elif event == "params":
            params = self.stack.params
            if isinstance(params, Parameters) and params != self.params_table.params():
                self.params_table.set_params(params)
                self.message.emit("parameter table loaded from a movie's cfg.toml (autoload)")
        elif entry is None or state is None:
            return  # the other events are about one entry, with its state
        elif event == "added":
            self._append_row(entry)
        elif event == "changed" and entry.id in self._rows:
            self._show_settings(entry)
        elif event in ("progress", "status") and entry.id in self._rows:
            self._show_state(entry, state)
            if event == "status" and state.status in (Status.DONE, Status.ERROR, Status.SKIPPED):
                self.overall.setValue(min(self.overall.value() + 1, self.overall.maximum()))

    def _rebuild(self) -> None:
        self.table.setRowCount(0)
        self._rows.clear()
        for entry in self.stack.entries:
            self._append_row(entry)
        self._update_empty()

    def _append_row(self, entry: Entry) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._rows[entry.id] = row
        path_item = QTableWidgetItem(str(entry.path))
        path_item.setToolTip(str(entry.path))
        self.table.setItem(row, PATH, path_item)
        recording_item = QTableWidgetItem(entry.recording or "")
        if entry.recording:
            recording_item.setToolTip(
                f"A file of recording {entry.recording!r}: tracked with the recording's other "
                "files as one movie"
            )
        self.table.setItem(row, RECORDING, recording_item)
        self.table.setCellWidget(
            row,
            BACKGROUND,
            _PathCell("Use another background image for this movie",
                      lambda _=False, i=entry.id: self._ask_entry_background(i)),
        )  # fmt: skip
        self.table.setCellWidget(
            row,
            PARAMS,
            _PathCell("Use a parameter file (cfg.toml) for this movie",
                      lambda _=False, i=entry.id: self._ask_entry_params(i)),
        )  # fmt: skip
        bar = QProgressBar()
        bar.setTextVisible(True)
        self.table.setCellWidget(row, PROGRESS, bar)
        status = QTableWidgetItem()
        status.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table.setItem(row, STATUS, status)
        for column in (TIME, RESULT):
            item = QTableWidgetItem()
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)
        self._show_settings(entry)
        self._show_state(entry, EntryState(entry.status, entry.done, entry.total, entry.message))
        self._cell(row, BACKGROUND).button.setEnabled(not self.runner.running)
        self._cell(row, PARAMS).button.setEnabled(not self.runner.running)
        self._update_empty()

    def _cell(self, row: int, column: int) -> _PathCell:
        return cast(_PathCell, self.table.cellWidget(row, column))

    def progress_bar(self, entry: Entry | int) -> QProgressBar:
        """The progress bar of an entry."""
        return cast(QProgressBar, self.table.cellWidget(self.row_of(entry), PROGRESS))

    def status_item(self, entry: Entry | int) -> QTableWidgetItem:
        """The status cell of an entry."""
        return cast(QTableWidgetItem, self.table.item(self.row_of(entry), STATUS))

    def _show_settings(self, entry: Entry) -> None:
        row = self._rows[entry.id]
        background = self._cell(row, BACKGROUND)
        if entry.background is None:
            background.show_text("computed", "Computed from the movie (nBack, methBack)",
                                 muted=True)  # fmt: skip
        else:
            background.show_text(_short(entry.background), str(entry.background))
        params = self._cell(row, PARAMS)
        values = _changed_values(entry.params) if isinstance(entry.params, Parameters) else ""
        source = entry.params_source
        if source == "table":
            params.show_text("table snapshot", f"The table as it was when added:\n{values}")
        elif source == "override":
            params.show_text("set for this entry", values)
        else:
            params.show_text(_short(Path(source)), f"{source}\n{values}")

    def _show_state(self, entry: Entry, state: EntryState) -> None:
        row = self._rows[entry.id]
        bar = cast(QProgressBar, self.table.cellWidget(row, PROGRESS))
        if state.status in (Status.DONE, Status.SKIPPED):
            total = max(state.total, 1)
            bar.setRange(0, total)
            bar.setValue(total)
        else:
            bar.setRange(0, max(state.total, 1))
            bar.setValue(min(state.done, max(state.total, 1)) if state.total else 0)
        bar.setFormat(_progress_text(state))
        bar.setToolTip(f"{state.done} / {state.total} frames" if state.total else "")
        item = cast(QTableWidgetItem, self.table.item(row, STATUS))
        item.setText(str(state.status))
        foreground, background = STATUS_COLOURS[state.status]
        item.setForeground(QColor(foreground))
        item.setBackground(QColor(background))
        tip = state.message or str(state.status)
        if state.status is Status.DONE:
            tip += "\nDouble-click to see the trajectories; Review… to replay and correct it"
        item.setToolTip(tip)
        self._show_time(entry)
        self._show_result(entry, state)

    def _show_result(self, entry: Entry, state: EntryState) -> None:
        """A finished entry's ids and quality verdict (``quality.json``, if it has one)."""
        result = cast(QTableWidgetItem, self.table.item(self._rows[entry.id], RESULT))
        finished = state.status in (Status.DONE, Status.SKIPPED)
        quality = read_quality(entry.result_dir) if finished else None
        parts = [f"{entry.n_ids} ids"] if finished and entry.n_ids is not None else []
        verdict = quality.get("verdict") if quality else None
        if verdict:
            parts.append(str(verdict))
        result.setText(" · ".join(parts))
        reasons = "; ".join(quality.get("reasons", [])) if quality else ""
        tip = state.message if finished else ""
        result.setToolTip(tip + (f"\nquality: {verdict}" + (f" ({reasons})" if reasons else "")
                                 if verdict else ""))  # fmt: skip
        result.setForeground(QColor("#a15c00" if verdict == "check" else "#000000"))

    def _show_time(self, entry: Entry) -> None:
        """Elapsed wall time: live while the entry runs, its run's time once it ended."""
        item = self.table.item(self._rows[entry.id], TIME)
        if item is not None:
            seconds = entry.elapsed
            item.setText(_duration(seconds) if entry.started is not None else "")

    def _tick(self) -> None:
        for entry in self.stack.entries:
            if entry.status is Status.RUNNING and entry.id in self._rows:
                self._show_time(entry)

    def _show_unique_background(self) -> None:
        path = self.stack.unique_background
        if path is None:
            self.unique_label.setText("none: each movie uses its own background")
            self.unique_label.setStyleSheet("color: #777777;")
            self.unique_label.setToolTip("")
        else:
            self.unique_label.setText(str(path))
            self.unique_label.setStyleSheet("")
            self.unique_label.setToolTip(str(path))
        self.clear_background_button.setEnabled(path is not None and not self.runner.running)

    def _update_empty(self) -> None:
        self.empty_hint.setVisible(self.table.rowCount() == 0)

    # -- run state ---------------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        for widget in (self.open_button, self.unique_button, self.autoload_check,
                       self.remove_button, self.clear_button, self.load_button,
                       self.start_button, self.workers_spin, self.suffix_edit,
                       self.scheduler_edit, self.force_check):  # fmt: skip
            widget.setEnabled(not running)
        self.clear_background_button.setEnabled(
            not running and self.stack.unique_background is not None
        )
        self.stop_button.setEnabled(running)
        self.overall.setVisible(running)
        for row in range(self.table.rowCount()):
            self._cell(row, BACKGROUND).button.setEnabled(not running)
            self._cell(row, PARAMS).button.setEnabled(not running)

    def _run_finished(self, summary: RunSummary, stopped: bool) -> None:
        self.runner.wait()
        self._clock.stop()
        self.summary = summary
        self._set_running(False)
        prefix = "Stopped" if stopped else "Finished"
        self.summary_label.setText(f"{prefix}: {summary}")
        self.summary_label.setStyleSheet("color: #a61c1c;" if summary.failed else "")
        self.message.emit(f"Batch run {prefix.lower()}: {summary}")
        self.runFinished.emit(summary)

    def _run_failed(self, text: str) -> None:
        self.runner.wait()
        self._clock.stop()
        self._set_running(False)
        self.summary_label.setText(f"The run failed: {text}")
        self.summary_label.setStyleSheet("color: #a61c1c;")
        self.message.emit(f"The run failed: {text}")
