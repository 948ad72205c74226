"""The interactive panel: tune the parameters on one movie and see detection at once.

All reading and computing runs in one worker thread (:class:`Preview`); the panel only asks
and draws. Requests made while the worker is busy are merged: the newest wins.

Arenas (the tanks or wells of the movie) are drawn over the frame with the *Arenas* tools
(:mod:`batchtrack.gui.arena_editor`), or filled from a grid, the wells found on the
background, or a file; detection then looks inside them as tracking does, and the view
colours each object by its arena and shows each arena's count.
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainterPath, QPolygonF, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..arenas import (
    Arena,
    arena_from_mapping,
    arena_to_mapping,
    check_labels,
    grid_arenas,
    label_polygons,
)
from ..errors import BatchtrackError, ParameterError
from ..io.arenas import read_arena_file, write_arena_file
from ..params import Parameters
from ..plots import id_colour
from .arena_editor import ArenaEditor
from .dialogs import ARENA_FILTER, ARENA_SAVE_FILTER, VIDEO_FILTER, Dialogs
from .image_view import ImageView
from .params_table import ParameterTable
from .preview import Layers, Preview

__all__ = ["InteractivePanel"]

log = logging.getLogger(__name__)

#: Delay between a parameter edit and the new preview, so that typing "150" computes once.
DEBOUNCE_MS = 60
#: Default length of the 'Preview tracking' range, frames.
TRACK_RANGE = 200

CONTOUR = "#39d353"
HEAD = "#ff4d4d"
TAIL = "#4da6ff"
LABEL = "#ffd84d"
ROI = "#ffb000"
SHOW = ("Frame", "Background", "Binary")
AUTO_TIP = (
    "Measure lightBack, methBack, nBack, thresh, minArea, maxArea and maxDist on 20 frames "
    "spread over the movie (animals, if set, helps) and fill the table"
)


def _qcolour(track_id: int) -> QColor:
    b, g, r = id_colour(track_id)
    return QColor(r, g, b)


def _track(preview: Preview, first: int, last: int, params: Parameters, arenas: list[Arena]):
    arena_set = preview.arena_set(arenas) if arenas else None
    return params, arenas, preview.track(first, last + 1, params, arena_set)


def _detect(
    preview: Preview, index: int, params: Parameters, arenas: list[Arena]
) -> tuple[Layers, str]:
    """The frame's layers in ``arenas``; without them (and why) if they cannot be used."""
    if arenas:
        try:
            return preview.layers(index, params, preview.arena_set(arenas)), ""
        except ParameterError as error:
            return preview.layers(index, params), str(error)
    return preview.layers(index, params), ""


def _arena_colour(k: int) -> QColor:
    """The colour of arena ``k`` (1-based) and of its objects."""
    return _qcolour(k - 1)


def _polygon(points: np.ndarray) -> QPolygonF:
    """Pixel indices, shape (K, 2), to a polygon through the pixel centres."""
    return QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points.tolist()])


class InteractivePanel(QWidget):
    """Open a movie, pick a frame, tune the parameters, preview detection and tracking.

    Signals
    -------
    opened(Path, int)
        A movie was opened, with its number of frames.
    previewUpdated(Layers)
        The view shows a new detection result.
    tracked(int)
        'Preview tracking' finished, with the number of ids found.
    saved(Path)
        cfg.toml and background.pgm were written in this folder.
    measured(AutoReport)
        'Auto' filled the table with values measured from the movie.
    sendToBatch(Parameters)
        The user wants these parameters in the batch panel.
    arenasToBatch(object)
        The ``--arenas`` value of the arenas for the batch (a file, ``grid:RxC``, ``auto``,
        or None for no arenas); follows ``sendToBatch``.
    arenasChanged()
        The arenas were drawn, edited, filled, loaded or cleared.
    message(str)
        A line for the status bar.
    """

    opened = Signal(object, int)
    previewUpdated = Signal(object)
    tracked = Signal(int)
    saved = Signal(object)
    measured = Signal(object)
    sendToBatch = Signal(object)
    arenasToBatch = Signal(object)
    arenasChanged = Signal()
    message = Signal(str)
    _result = Signal(str, object, object)

    def __init__(self, *, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.dialogs = dialogs or Dialogs()
        self.preview: Preview | None = None
        self.layers: Layers | None = None
        #: Why the arenas were not used for the last preview ("" when they were).
        self.arena_problem = ""
        self.tracks: pd.DataFrame | None = None
        self._tracks_range: tuple[int, int] | None = None
        self._worker = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._busy = False
        self._dirty = False
        self._tracking = False
        self._generation = 0
        self._closed = False
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.request_preview)
        self._result.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        self._build()
        self._set_enabled(False)

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.open_sequence_button = QPushButton("Open sequence…")
        self.open_sequence_button.setToolTip("Open a folder holding an image sequence")
        self.open_video_button = QPushButton("Open video…")
        self.path_label = QLabel("No movie open")
        self.path_label.setStyleSheet("color: #777777;")
        self.show_combo = QComboBox()
        self.show_combo.addItems(SHOW)
        self.show_combo.setToolTip(
            "Frame: the image; Background: the projection of nBack frames; Binary: the "
            "pixels that pass the threshold"
        )
        self.contours_check = QCheckBox("Contours")
        self.head_tail_check = QCheckBox("Head/tail")
        self.ids_check = QCheckBox("IDs")
        self.trails_check = QCheckBox("Trails")
        self.trails_check.setToolTip("Tracks of 'Preview tracking', up to the frame shown")
        for check in (self.contours_check, self.head_tail_check, self.ids_check,
                      self.trails_check):  # fmt: skip
            check.setChecked(True)
            check.toggled.connect(self._render)
        self.show_combo.currentIndexChanged.connect(self._render)

        self.view = ImageView()
        self.view.set_placeholder("Open an image sequence or a video to tune the parameters")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Frame shown (arrow keys step one frame)")
        self.frame_spin = QSpinBox()
        self.frame_spin.setToolTip("Frame shown")
        self.frames_label = QLabel("/ 0")
        self.slider.valueChanged.connect(self.frame_spin.setValue)
        self.frame_spin.valueChanged.connect(self.slider.setValue)
        self.slider.valueChanged.connect(lambda _: self.request_preview())
        self.info_label = QLabel()

        top = QHBoxLayout()
        top.addWidget(self.open_sequence_button)
        top.addWidget(self.open_video_button)
        top.addWidget(self.path_label, 1)
        display = QHBoxLayout()
        display.addWidget(QLabel("Show:"))
        display.addWidget(self.show_combo)
        display.addSpacing(12)
        for check in (self.contours_check, self.head_tail_check, self.ids_check,
                      self.trails_check):  # fmt: skip
            display.addWidget(check)
        display.addStretch(1)
        frames = QHBoxLayout()
        frames.addWidget(QLabel("Frame:"))
        frames.addWidget(self.slider, 1)
        frames.addWidget(self.frame_spin)
        frames.addWidget(self.frames_label)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(display)
        left_layout.addWidget(self.view, 1)
        left_layout.addLayout(frames)
        left_layout.addWidget(self.info_label)

        self.params_table = ParameterTable()
        self.params_table.paramsChanged.connect(self._params_edited)
        self.params_table.invalid.connect(self.message)
        self.params_table.warned.connect(self.message)
        self.track_from = QSpinBox()
        self.track_to = QSpinBox()
        self.track_button = QPushButton("Preview tracking")
        self.track_button.setToolTip(
            "Track these frames in memory (nothing is written) and draw the trails"
        )
        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip(AUTO_TIP)
        self.save_button = QPushButton("Save parameters")
        self.save_button.setToolTip(
            "Write cfg.toml and background.pgm into this movie's Tracking_Result folder, "
            "where the batch panel's Autoload finds them"
        )
        self.send_button = QPushButton("Send to batch")
        self.send_button.setToolTip("Set the batch panel's parameter table to these values")
        tracking = QGroupBox("Preview tracking")
        tracking_layout = QHBoxLayout(tracking)
        tracking_layout.addWidget(QLabel("Frames"))
        tracking_layout.addWidget(self.track_from)
        tracking_layout.addWidget(QLabel("to"))
        tracking_layout.addWidget(self.track_to)
        tracking_layout.addWidget(self.track_button, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.auto_button)
        actions.addWidget(self.save_button)
        actions.addWidget(self.send_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.params_table, 1)
        self.params_notice = self.params_table.make_notice()
        right_layout.addWidget(self.params_notice)
        right_layout.addWidget(self._build_arenas())
        right_layout.addWidget(tracking)
        right_layout.addLayout(actions)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([800, 380])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self.open_sequence_button.clicked.connect(self._ask_sequence)
        self.open_video_button.clicked.connect(self._ask_video)
        self.track_button.clicked.connect(
            lambda: self.preview_tracking(self.track_from.value(), self.track_to.value())
        )
        self.save_button.clicked.connect(self.save_parameters)
        self.auto_button.clicked.connect(self.measure_parameters)
        self.send_button.clicked.connect(self.send_to_batch)

    def _build_arenas(self) -> QGroupBox:
        """The *Arenas* box: drawing tools, grid, wells, file, and what the batch gets."""
        self.arenas = ArenaEditor(self.view)
        self.arenas.changed.connect(self._arenas_edited)
        self.arena_tool_buttons: dict[str | None, QPushButton] = {}
        self._tool_group = QButtonGroup(self)
        tools = QHBoxLayout()
        tips = {
            None: "Select, move (drag) and reshape (drag the handles) the arenas; "
                  "drag the background to pan",
            "circle": "Draw circles: press at the centre, drag to the rim",
            "rectangle": "Draw rectangles: drag from one corner to the other",
            "polygon": "Draw polygons: click each vertex; double-click, Enter, a right-click "
                       "or a click on the first vertex closes it; Escape gives it up",
        }  # fmt: skip
        for tool, text in ((None, "Select"), ("circle", "Circle"), ("rectangle", "Rectangle"),
                           ("polygon", "Polygon")):  # fmt: skip
            button = QPushButton(text)
            button.setCheckable(True)
            button.setToolTip(tips[tool])
            button.clicked.connect(lambda _=False, t=tool: self.arenas.set_tool(t))
            self._tool_group.addButton(button)
            self.arena_tool_buttons[tool] = button
            tools.addWidget(button)
        self.arena_tool_buttons[None].setChecked(True)
        self.arenas.toolChanged.connect(
            lambda tool: self.arena_tool_buttons[tool].setChecked(True)
        )
        self.arena_delete_button = QPushButton("Delete")
        self.arena_delete_button.setToolTip("Remove the selected arenas (Delete key)")
        self.arena_delete_button.clicked.connect(self.arenas.delete_selected)
        tools.addWidget(self.arena_delete_button)
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.view)
        delete_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete_key.activated.connect(self.arenas.delete_selected)

        self.grid_rows = QSpinBox()
        self.grid_cols = QSpinBox()
        for spin, value in ((self.grid_rows, 2), (self.grid_cols, 3)):
            spin.setRange(1, 64)
            spin.setValue(value)
        self.arena_grid_button = QPushButton("Grid")
        self.arena_grid_button.setToolTip(
            "Replace the arenas by a grid of rectangles covering the frame (--arenas "
            "grid:ROWSxCOLS), e.g. for a multi-well plate filmed square on"
        )
        self.arena_grid_button.clicked.connect(
            lambda: self.set_grid(self.grid_rows.value(), self.grid_cols.value())
        )
        self.arena_auto_button = QPushButton("Auto")
        self.arena_auto_button.setToolTip(
            "Find the circular wells (else rectangular tanks) on the background, as "
            "--arenas auto does for every movie of a batch"
        )
        self.arena_auto_button.clicked.connect(self.find_wells)
        fill = QHBoxLayout()
        fill.addWidget(self.grid_rows)
        fill.addWidget(QLabel("×"))
        fill.addWidget(self.grid_cols)
        fill.addWidget(self.arena_grid_button)
        fill.addWidget(self.arena_auto_button)
        fill.addStretch(1)

        self.arena_load_button = QPushButton("Load…")
        self.arena_load_button.setToolTip(
            "Read arenas from a TOML file of shapes or a label image (0 outside, 1, 2… the "
            "arenas)"
        )
        self.arena_load_button.clicked.connect(self._ask_load_arenas)
        self.arena_save_button = QPushButton("Save…")
        self.arena_save_button.setToolTip(
            "Write the arenas as a TOML file of shapes (batchtrack track --arenas FILE)"
        )
        self.arena_save_button.clicked.connect(self._ask_save_arenas)
        self.arena_clear_button = QPushButton("Clear")
        self.arena_clear_button.setToolTip("Remove every arena: detect in the whole frame")
        self.arena_clear_button.clicked.connect(self.arenas.clear)
        files = QHBoxLayout()
        files.addWidget(self.arena_load_button)
        files.addWidget(self.arena_save_button)
        files.addWidget(self.arena_clear_button)
        files.addStretch(1)
        self.arena_label = QLabel()
        self.arena_label.setWordWrap(True)

        box = QGroupBox("Arenas")
        layout = QVBoxLayout(box)
        layout.addLayout(tools)
        layout.addLayout(fill)
        layout.addLayout(files)
        layout.addWidget(self.arena_label)
        self._show_arena_state()
        return box

    def _arena_widgets(self) -> list[QWidget]:
        return [*self.arena_tool_buttons.values(), self.arena_delete_button,
                self.arena_grid_button, self.arena_auto_button, self.arena_load_button,
                self.arena_save_button, self.arena_clear_button]  # fmt: skip

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.slider, self.frame_spin, self.track_from, self.track_to,
                       self.track_button, self.save_button, self.auto_button,
                       *self._arena_widgets()):  # fmt: skip
            widget.setEnabled(on)

    # -- public actions ----------------------------------------------------------------------
    def params(self) -> Parameters:
        """The parameters of the table."""
        return self.params_table.params()

    def set_params(self, params: Parameters) -> None:
        """Show ``params`` in the table and preview with them."""
        self.params_table.set_params(params, emit=True)

    def open_movie(self, path: str | Path) -> cf.Future:
        """Open an image-sequence folder or a video (in the worker); ``opened`` follows."""
        path = Path(path)
        old, self.preview = self.preview, None
        self.layers, self.tracks = None, None
        self._set_enabled(False)
        self.path_label.setText(f"Opening {path}…")
        self.view.set_placeholder(f"Opening {path.name}…")
        if old is not None:
            self._worker.submit(old.close)
        self._generation += 1
        return self._submit("open", Preview, path)

    def is_idle(self) -> bool:
        """True when nothing is being computed or waiting to be."""
        return not (self._busy or self._dirty or self._tracking or self._debounce.isActive())

    def set_frame(self, index: int) -> None:
        """Show frame ``index``."""
        self.slider.setValue(index)

    def request_preview(self) -> None:
        """Detect on the current frame with the current parameters (merged if busy)."""
        if self.preview is None or self._closed:
            return
        if self._busy:
            self._dirty = True
            return
        self._busy, self._dirty = True, False
        self._submit("layers", _detect, self.preview, self.slider.value(), self.params(),
                     self.arenas.arenas())  # fmt: skip

    def preview_tracking(self, first: int, last: int) -> cf.Future | None:
        """Track frames ``first`` to ``last`` (inclusive) in memory and draw the trails."""
        if self.preview is None or self._tracking:
            return None
        first, last = sorted((first, last))
        self._tracking = True
        self.track_button.setEnabled(False)
        self.track_button.setText("Tracking…")
        self._tracks_range = (first, last)
        return self._submit("track", _track, self.preview, first, last, self.params(),
                            self.arenas.arenas())  # fmt: skip

    def save_parameters(self) -> cf.Future | None:
        """Write cfg.toml and background.pgm into the movie's result folder; ``saved`` follows."""
        if self.preview is None:
            return None
        return self._submit("save", self.preview.save, self.params())

    def measure_parameters(self) -> cf.Future | None:
        """Fill the table with values measured from the open movie; ``measured`` follows."""
        if self.preview is None:
            return None
        self.auto_button.setEnabled(False)
        self.auto_button.setText("Measuring…")
        return self._submit("measure", self.preview.measure, self.params())

    def send_to_batch(self) -> None:
        """Hand the table's parameters, and the arenas, to the batch panel.

        Arenas drawn or edited by hand are saved to a file first (asked for); if that is
        cancelled, only the parameters go.
        """
        self.sendToBatch.emit(self.params())
        if not self.arenas.arenas():
            self.arenasToBatch.emit(None)
            return
        if self.arenas.spec is None and self._ask_save_arenas() is None:
            self.message.emit("arenas not sent to the batch: save them to a file first")
            return
        self.arenasToBatch.emit(self.arenas.spec)

    # -- arenas ------------------------------------------------------------------------------
    def set_grid(self, rows: int, cols: int) -> list[Arena]:
        """Replace the arenas by a ``rows`` × ``cols`` grid covering the frame."""
        if self.preview is None:
            return []
        found = grid_arenas(rows, cols, self.preview.shape)
        self.arenas.set_arenas(found, spec=f"grid:{rows}x{cols}")
        return found

    def find_wells(self) -> cf.Future | None:
        """Replace the arenas by the wells found on the background (in the worker)."""
        if self.preview is None:
            return None
        self.arena_auto_button.setEnabled(False)
        return self._submit("wells", self.preview.wells, self.params())

    def load_arenas(self, path: str | Path) -> list[Arena]:
        """Read arenas from a TOML file of shapes or a label image (which becomes polygons,
        the file itself still what the batch gets until they are edited).

        Raises
        ------
        ParameterError
            A file that is not a valid arena file, or a label image of another size.
        """
        path = Path(path)
        content = read_arena_file(path)
        if isinstance(content, np.ndarray):
            shape = self.preview.shape if self.preview is not None else content.shape[:2]
            found = label_polygons(check_labels(content, shape, source=str(path)))
        else:
            found = [arena_from_mapping(item, k, str(path)) for k, item in
                     enumerate(content, start=1)]  # fmt: skip
        self.arenas.set_arenas(found, spec=str(path))
        self.message.emit(f"{len(found)} arena{'s' if len(found) != 1 else ''} read from {path}")
        return found

    def save_arenas(self, path: str | Path) -> Path:
        """Write the arenas as a TOML file of shapes; the batch then gets this file."""
        path = Path(path)
        tables = [arena_to_mapping(arena) for arena in self.arenas.arenas()]
        saved = write_arena_file(path.with_suffix(".toml") if not path.suffix else path, tables)
        self.arenas.spec = str(saved)
        self._show_arena_state()
        self.message.emit(f"{len(self.arenas.arenas())} arenas saved to {saved}")
        return saved

    def _ask_load_arenas(self) -> None:
        path = self.dialogs.open_file(self, "Load arenas", ARENA_FILTER)
        if path:
            try:
                self.load_arenas(path)
            except BatchtrackError as error:
                self._report(error)

    def _ask_save_arenas(self) -> Path | None:
        if not self.arenas.arenas():
            self.message.emit("no arena to save: draw some, or use Grid or Auto")
            return None
        folder = self.preview.path.parent if self.preview is not None else Path.cwd()
        name = str(folder / "arenas.toml")
        path = self.dialogs.save_file(self, "Save the arenas", ARENA_SAVE_FILTER, name)
        if not path:
            return None
        try:
            return self.save_arenas(path)
        except BatchtrackError as error:
            self._report(error)
            return None

    def _arenas_edited(self) -> None:
        self._show_arena_state()
        if self.tracks is not None:
            self.tracks = None  # tracked in other arenas
        self.arenasChanged.emit()
        self._debounce.start()

    def _show_arena_state(self) -> None:
        n = len(self.arenas.items())
        if n == 0:
            text = "No arenas: objects are looked for in the whole frame."
        else:
            where = self.arenas.spec or "drawn by hand, not saved yet"
            text = f"{n} arena{'s' if n != 1 else ''} ({where}); each tracked on its own."
        self.arena_label.setText(text)

    def shutdown(self) -> None:
        """Finish the worker's tasks and close the movie (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        self._debounce.stop()
        if self.preview is not None:
            self._worker.submit(self.preview.close)
        self._worker.shutdown(wait=True, cancel_futures=True)

    # -- worker plumbing ---------------------------------------------------------------------
    def _submit(self, kind: str, fn, *args) -> cf.Future:
        future = self._worker.submit(fn, *args)
        tag = (self._generation, args)
        future.add_done_callback(lambda f: self._result.emit(kind, f, tag))
        return future

    def _on_result(self, kind: str, future: cf.Future, tag: tuple) -> None:
        generation, args = tag
        if generation != self._generation:  # about a movie closed since
            if kind == "layers":
                self._busy = False
                self.request_preview()
            elif kind == "track":
                self._tracking_done()
            elif kind == "measure":
                self._measuring_done()
            elif kind == "wells":
                self.arena_auto_button.setEnabled(self.preview is not None)
            return
        error = future.exception()
        if kind == "open":
            self._opened(future.result() if error is None else None, args[0], error)
            return
        if kind == "layers":
            self._busy = False
            if error is None:
                self.layers, self.arena_problem = future.result()
                self._render()
                self.previewUpdated.emit(self.layers)
            else:
                self._report(error)
            if self._dirty:
                self.request_preview()
        elif kind == "track":
            self._tracking_done()
            if error is not None:
                self._report(error)
                return
            params, arenas, table = future.result()
            if params != self.params() or arenas != self.arenas.arenas():
                return  # the parameters or arenas changed meanwhile: these tracks are stale
            self.tracks = table
            self._render()
            n_ids = int(table["id"].nunique())
            assert self._tracks_range is not None  # set by the tracking request
            first, last = self._tracks_range
            self.message.emit(f"{n_ids} ids over frames {first}–{last}")
            self.tracked.emit(n_ids)
        elif kind == "measure":
            self._measuring_done()
            if error is not None:
                self._report(error)
                return
            params, report = future.result()
            self.set_params(params)
            lines = "<br>".join(html.escape(line) for line in report.lines())
            self.auto_button.setToolTip(f"{AUTO_TIP}<br><br><b>Measured:</b><br>{lines}")
            self.message.emit(f"measured from the movie: {report.brief()}")
            self.measured.emit(report)
        elif kind == "wells":
            self.arena_auto_button.setEnabled(self.preview is not None)
            if error is not None:
                self._report(error)
                return
            wells = future.result()
            if not wells:
                self.message.emit(
                    "no circular well or rectangular tank found on the background; draw the "
                    "arenas, or use Grid"
                )
                return
            self.arenas.set_arenas(wells, spec="auto")
            self.message.emit(f"{len(wells)} wells found on the background")
        elif kind == "save":
            if error is not None:
                self._report(error)
                return
            folder = future.result()
            archived = getattr(self.preview, "archived", None)
            note = f" (the finished result there was archived to {archived})" if archived else ""
            self.message.emit(f"cfg.toml and background.pgm saved in {folder}{note}")
            self.saved.emit(folder)

    def _measuring_done(self) -> None:
        self.auto_button.setEnabled(self.preview is not None)
        self.auto_button.setText("Auto")

    def _tracking_done(self) -> None:
        self._tracking = False
        self.track_button.setEnabled(self.preview is not None)
        self.track_button.setText("Preview tracking")

    def _opened(self, preview: Preview | None, path: Path, error: BaseException | None) -> None:
        if error is not None:
            self.path_label.setText(f"Cannot open {path}")
            self.view.set_placeholder(f"Cannot open {path.name}: see the status bar")
            self._report(error)
            return
        assert preview is not None  # opening failed with ``error`` otherwise
        self.preview = preview
        last = preview.n_frames - 1
        self.path_label.setText(f"{path}   ({preview.n_frames} frames, "
                                f"{preview.shape[1]}×{preview.shape[0]} px)")  # fmt: skip
        self.path_label.setStyleSheet("")
        self.path_label.setToolTip(str(path))
        for spin in (self.frame_spin, self.track_from, self.track_to):
            spin.setRange(0, last)
        self.slider.setRange(0, last)
        self.frames_label.setText(f"/ {last}")
        self.track_from.setValue(0)
        self.track_to.setValue(min(last, TRACK_RANGE - 1))
        self._set_enabled(True)
        self.slider.blockSignals(True)
        self.slider.setValue(0)
        self.frame_spin.setValue(0)
        self.slider.blockSignals(False)
        self.view.set_placeholder("Computing the background…")
        self.opened.emit(path, preview.n_frames)
        self.request_preview()

    def _report(self, error: BaseException) -> None:
        text = str(error) if isinstance(error, BatchtrackError) else repr(error)
        if not isinstance(error, BatchtrackError):
            log.error("preview failed", exc_info=error)
        self.info_label.setText(text)
        self.message.emit(text)

    def _params_edited(self, _params: Parameters) -> None:
        if self.tracks is not None:
            self.tracks = None  # tracked with other parameters
            self.message.emit("parameters changed: press 'Preview tracking' again for trails")
        self._debounce.start()

    # -- drawing -----------------------------------------------------------------------------
    def _render(self) -> None:
        layers = self.layers
        if layers is None:
            return
        show = self.show_combo.currentText()
        base = {"Frame": layers.frame, "Background": layers.background,
                "Binary": layers.binary}[show]  # fmt: skip
        self.view.set_image(base)
        self.view.clear_overlays()
        params = layers.params
        if params.roi is not None:
            x0, y0, x1, y1 = params.roi
            path = QPainterPath()
            path.addRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            self.view.add_path(path, ROI, width=1.5, style=Qt.PenStyle.DashLine)
        if show != "Background":
            self._draw_objects(layers)
        n = len(layers.features)
        text = f"Frame {layers.index}: {n} object{'s' if n != 1 else ''} detected"
        if layers.arenas is not None:
            counts = layers.arena_counts()
            self._draw_arena_counts(layers.arenas.arenas or [], counts)
            listing = ", ".join(f"{k}: {c}" for k, c in enumerate(counts, start=1))
            text += f" in {len(counts)} arenas ({listing})"
        elif self.arena_problem:
            text += f" (arenas not used: {self.arena_problem})"
        if self.tracks is not None and self._tracks_range is not None:
            first, last = self._tracks_range
            text += f"; trails of frames {first}–{last} ({self.tracks['id'].nunique()} ids)"
        self.info_label.setText(text)

    def _frame_tracks(self, index: int) -> pd.DataFrame | None:
        if self.tracks is None or self._tracks_range is None:
            return None
        first, last = self._tracks_range
        if not first <= index <= last:
            return None
        return self.tracks[self.tracks["imageNumber"] == index]

    def _draw_objects(self, layers: Layers) -> None:
        features = layers.features
        if self.contours_check.isChecked() and layers.contours:
            by_arena = layers.arenas is not None
            paths: dict[int, QPainterPath] = {}
            for contour, arena in zip(layers.contours, layers.arena.tolist(), strict=True):
                path = paths.setdefault(arena if by_arena else 0, QPainterPath())
                path.addPolygon(_polygon(contour.reshape(-1, 2)))
                path.closeSubpath()
            for arena, path in sorted(paths.items()):
                self.view.add_path(path, _arena_colour(arena) if by_arena else CONTOUR,
                                   width=1.5)  # fmt: skip
        if self.head_tail_check.isChecked() and len(features):
            self._draw_head_tail(features)
        tracked = self._frame_tracks(layers.index)
        if self.trails_check.isChecked() and self.tracks is not None:
            self._draw_trails(layers.index)
        if self.ids_check.isChecked():
            if tracked is not None:
                for x, y, track_id in tracked[["xBody", "yBody", "id"]].itertuples(index=False):
                    self.view.add_label(str(int(track_id)), x + 3, y + 3, _qcolour(int(track_id)))
            else:
                by_arena = layers.arenas is not None
                for number, ((x, y), arena) in enumerate(
                    zip(features[:, 6:8].tolist(), layers.arena.tolist(), strict=True)
                ):
                    colour = _arena_colour(arena) if by_arena else LABEL
                    self.view.add_label(str(number), x + 3, y + 3, colour)

    def _draw_arena_counts(self, arenas: list[Arena], counts: list[int]) -> None:
        """Each arena's number and count of objects, at its top-left corner."""
        for k, (arena, count) in enumerate(zip(arenas, counts, strict=True), start=1):
            x0, y0, _, _ = arena.bounds()
            label = f"{k}: {count} object{'s' if count != 1 else ''}"
            self.view.add_label(label, max(x0, 0) + 2, max(y0, 0) + 2, _arena_colour(k))

    def _draw_head_tail(self, features: np.ndarray) -> None:
        axis = QPainterPath()
        heads = QPainterPath()
        tails = QPainterPath()
        for row in features.tolist():
            hx, hy, tx, ty, major = row[0], row[1], row[3], row[4], row[18]
            radius = min(max(0.08 * major, 0.8), 3.0) if math.isfinite(major) else 1.5
            axis.moveTo(tx + 0.5, ty + 0.5)
            axis.lineTo(hx + 0.5, hy + 0.5)
            heads.addEllipse(QPointF(hx + 0.5, hy + 0.5), radius, radius)
            tails.addEllipse(QPointF(tx + 0.5, ty + 0.5), 0.8 * radius, 0.8 * radius)
        self.view.add_path(axis, "#ffffff", width=1.0)
        self.view.add_path(tails, TAIL, width=1.0, fill=TAIL)
        self.view.add_path(heads, HEAD, width=1.0, fill=HEAD)

    def _draw_trails(self, index: int) -> None:
        table, span = self.tracks, self._tracks_range
        if table is None or span is None:
            return
        first, _ = span
        if index >= first:
            table = table[table["imageNumber"] <= index]
        for track_id, rows in table.groupby("id", sort=True):
            points = rows.sort_values("imageNumber")[["xBody", "yBody"]].to_numpy()
            if len(points) < 2:
                continue
            path = QPainterPath()
            path.addPolygon(QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points.tolist()]))
            self.view.add_path(path, _qcolour(int(track_id)), width=2.0)

    # -- dialogs -----------------------------------------------------------------------------
    def _ask_sequence(self) -> None:
        path = self.dialogs.folder(self, "Open an image sequence (its folder)")
        if path:
            self.open_movie(path)

    def _ask_video(self) -> None:
        path = self.dialogs.open_file(self, "Open a video", VIDEO_FILTER)
        if path:
            self.open_movie(path)
