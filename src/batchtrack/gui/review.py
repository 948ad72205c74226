"""The review window: replay a result over its movie, jump to the doubtful moments, fix ids.

Everything it shows comes from the public API: :class:`~batchtrack.corrections.EditSession`
(the table, the edits, undo/redo, saving), :func:`~batchtrack.events.find_events` (the
timeline and the event list) and :class:`~batchtrack.overlay.Replay` (objects and trails of a
frame, the same content ``batchtrack export-video`` draws). A result tracked with arenas has
their outlines drawn over every frame (:func:`~batchtrack.io.arenas.read_result_arenas`).

Keys: ←/→ one frame, Shift+←/→ ten, Home/End, Space play/pause, N/P (or Page Down/Up) next or
previous event, Ctrl+Z undo, Ctrl+Y or Ctrl+Shift+Z redo, Ctrl+S save. Click an object to
select its id (id A, its whole track drawn), Shift+click another for id B.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QShortcut,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..corrections import EditSession, movie_of
from ..edits import Edit
from ..errors import BatchtrackError
from ..events import find_events
from ..io.arenas import read_result_arenas
from ..io.frames import FrameSource, open_frames
from ..overlay import Replay, draw_frame, movie_fps, picture_scale
from ..params import Parameters, load_cfg
from ..plots import id_colour
from .arena_editor import ARENA, labels_outline
from .image_view import ImageView

__all__ = ["EventTimeline", "ReviewView", "ReviewWindow"]

log = logging.getLogger(__name__)

SPEEDS = ("0.25×", "0.5×", "1×", "2×", "4×", "8×")
#: Colour of each kind of event on the timeline and in the list.
EVENT_COLOURS = {
    "start": "#2e9e44", "end": "#a61c1c", "gap": "#d98c00", "jump": "#8e44ad",
    "merge": "#1f6fd1", "split": "#17a2b8", "count": "#666666",
}  # fmt: skip
#: Screen pixels within which a click picks an object.
PICK_RADIUS = 12


def _qcolour(track_id: int) -> QColor:
    b, g, r = id_colour(track_id)
    return QColor(r, g, b)


def _polyline(points: np.ndarray) -> QPainterPath:
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points.tolist()]))
    return path


class ReviewView(ImageView):
    """The image view of the review window; a click (not a drag) emits the image point."""

    clicked = Signal(float, float, object)  # x, y (image pixels), Qt.KeyboardModifier

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pressed: QPointF | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pressed = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if self._pressed is not None and (event.position() - self._pressed).manhattanLength() < 5:
            point = self.mapToScene(event.position().toPoint())
            self.clicked.emit(point.x() - 0.5, point.y() - 0.5, event.modifiers())
        self._pressed = None


class EventTimeline(QWidget):
    """A bar under the slider: one tick per event (its kind's colour), the current frame."""

    seek = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(22)
        self.n_frames = 1
        self.current = 0
        self.spans: list[tuple[int, int, str]] = []
        self._ticks: QPixmap | None = None
        self.setToolTip("Events that need a look; click to go there")

    def set_events(self, events: pd.DataFrame, n_frames: int) -> None:
        self.n_frames = max(1, n_frames)
        self.spans = list(events[["frame", "last", "kind"]].itertuples(index=False, name=None))
        self._ticks = None
        self.update()

    def _draw_ticks(self) -> QPixmap:
        """The events, painted once per change of events or size."""
        pixmap = QPixmap(self.size())
        pixmap.fill(QColor("#f0f0f0"))
        painter = QPainter(pixmap)
        for first, last, kind in self.spans:
            x0, x1 = self._x(first), self._x(last)
            painter.fillRect(QRectF(x0 - 1, 3, max(2.0, x1 - x0 + 2), self.height() - 6),
                             QColor(EVENT_COLOURS.get(kind, "#000000")))  # fmt: skip
        painter.end()
        return pixmap

    def set_current(self, k: int) -> None:
        if k != self.current:
            self.current = k
            self.update()

    def _x(self, k: float) -> float:
        return 4 + (self.width() - 8) * k / max(1, self.n_frames - 1)

    def paintEvent(self, event) -> None:
        if self._ticks is None or self._ticks.size() != self.size():
            self._ticks = self._draw_ticks()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._ticks)
        height = self.height()
        painter.setPen(QPen(QColor("#000000"), 2))
        x = self._x(self.current)
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        fraction = (event.position().x() - 4) / max(1, self.width() - 8)
        self.seek.emit(round(min(max(fraction, 0.0), 1.0) * (self.n_frames - 1)))


class ReviewWindow(QMainWindow):
    """Replay a result over its movie, go to its events, correct its ids, save.

    Parameters
    ----------
    result : str or Path
        A result folder (``Tracking_Result``) or the movie it belongs to.

    Signals
    -------
    frameShown(int)
        A frame was drawn.
    edited()
        The edits changed (new edit, undo, redo).
    saved(Path)
        The corrected result was written.
    """

    frameShown = Signal(int)
    edited = Signal()
    saved = Signal(object)

    def __init__(self, result: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = EditSession(result)
        folder = self.session.folder
        cfg = folder / "cfg.toml"
        self.params = load_cfg(cfg, unknown="ignore") if cfg.is_file() else Parameters()
        self.movie = movie_of(folder)
        self.source: FrameSource | None = None
        if self.movie is not None and self.movie.exists():
            self.source = open_frames(self.movie)
        table = self.session.table
        last = int(table["imageNumber"].max()) if len(table) else 0
        self.n_frames = self.source.n_frames if self.source is not None else last + 1
        self.fps = movie_fps(self.movie)
        self._background = self._read_background(folder)
        self.arena_labels = self._read_arenas(folder)
        self._arena_outline = None
        self._arena_corners: list[tuple[int, float, float]] = []  # number, top-left of its box
        if self.arena_labels is not None:
            self._arena_outline = labels_outline(self.arena_labels)
            for k in range(1, int(self.arena_labels.max()) + 1):
                ys, xs = np.nonzero(self.arena_labels == k)
                if len(xs):
                    self._arena_corners.append((k, float(xs.min()) + 2, float(ys.min()) + 2))
        self._last_frame: tuple[int, np.ndarray] | None = None
        # One thread reads every frame (a frame source is used from one thread at a time),
        # reading the next frame while this one is drawn and painted.
        self._reader = cf.ThreadPoolExecutor(1, thread_name_prefix="review-reader")
        self._ahead: dict[int, cf.Future[np.ndarray]] = {}
        self.scale = picture_scale(self._background.shape)
        self.frame = 0
        self.selected: int | None = None
        self.events = pd.DataFrame()
        self._build()
        self._refresh_table()
        self.set_frame(0)
        self.setWindowTitle(f"Review — {folder}")
        self.resize(1400, 860)

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.view = ReviewView()
        self.view.clicked.connect(self._clicked)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.n_frames - 1)
        self.slider.valueChanged.connect(self.set_frame)
        self.frame_spin = QSpinBox()
        self.frame_spin.setRange(0, self.n_frames - 1)
        self.frame_spin.valueChanged.connect(self.set_frame)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.play)
        self.speed_combo = QComboBox()
        self.speed_combo.addItems(SPEEDS)
        self.speed_combo.setCurrentText("1×")
        self.speed_combo.currentTextChanged.connect(lambda _: self._set_interval())
        self.trail_spin = QSpinBox()
        self.trail_spin.setRange(0, 10_000)
        self.trail_spin.setValue(round(2 * self.fps))
        self.trail_spin.setSuffix(" frames")
        self.trail_spin.setToolTip("Trail length (default: the last 2 seconds)")
        self.trail_spin.valueChanged.connect(lambda _: self._refresh_replay())
        self.ids_check = QCheckBox("Ids")
        self.ids_check.setChecked(True)
        self.ids_check.toggled.connect(lambda _: self.redraw())
        self.arenas_check = QCheckBox("Arenas")
        self.arenas_check.setToolTip("The outlines of the arenas this result was tracked in")
        self.arenas_check.setChecked(self.arena_labels is not None)
        self.arenas_check.setVisible(self.arena_labels is not None)
        self.arenas_check.toggled.connect(lambda _: self.redraw())
        self.timeline = EventTimeline()
        self.timeline.seek.connect(self.set_frame)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._set_interval()

        self.event_list = QListWidget()
        self.event_list.itemActivated.connect(self._event_chosen)
        self.event_list.itemClicked.connect(self._event_chosen)
        self.prev_button = QPushButton("◀ Previous event (P)")
        self.next_button = QPushButton("Next event (N) ▶")
        self.prev_button.clicked.connect(self.previous_event)
        self.next_button.clicked.connect(self.next_event)

        self.id_a = QSpinBox()
        self.id_b = QSpinBox()
        for box in (self.id_a, self.id_b):
            box.setRange(0, 1_000_000)
        self.id_a.setToolTip("Click an object to pick its id")
        self.id_b.setToolTip("Shift+click an object to pick its id")
        self.first_spin = QSpinBox()
        self.last_spin = QSpinBox()
        for box in (self.first_spin, self.last_spin):
            box.setRange(0, self.n_frames - 1)
        self.to_end_check = QCheckBox("to the end")
        self.to_end_check.setChecked(True)
        self.to_end_check.toggled.connect(lambda on: self.last_spin.setEnabled(not on))
        self.last_spin.setEnabled(False)
        self.swap_button = QPushButton("Swap A ↔ B")
        self.rename_button = QPushButton("Rename A → B")
        self.merge_button = QPushButton("Merge A into B")
        self.delete_button = QPushButton("Delete A")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.save_button = QPushButton("Save")
        self.swap_button.setToolTip("From frame 'From' (to 'To'), A's objects become B and B's A")
        self.rename_button.setToolTip("A's objects over the frames become B (B must be absent)")
        self.merge_button.setToolTip("A becomes B everywhere; B's object kept where both exist")
        self.delete_button.setToolTip("Remove A's objects over the frames (one frame: one object)")
        self.swap_button.clicked.connect(lambda: self._edit("swap"))
        self.rename_button.clicked.connect(lambda: self._edit("rename"))
        self.merge_button.clicked.connect(lambda: self._edit("merge"))
        self.delete_button.clicked.connect(lambda: self._edit("delete"))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.save_button.clicked.connect(self._save_clicked)
        self.edit_list = QListWidget()
        self.info_label = QLabel()
        self.info_label.setMinimumWidth(200)  # no word wrap: a new text never relays the window
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        editing = QGroupBox("Correct")
        grid = QGridLayout(editing)
        grid.addWidget(QLabel("Id A:"), 0, 0)
        grid.addWidget(self.id_a, 0, 1)
        grid.addWidget(QLabel("Id B:"), 0, 2)
        grid.addWidget(self.id_b, 0, 3)
        grid.addWidget(QLabel("From:"), 1, 0)
        grid.addWidget(self.first_spin, 1, 1)
        grid.addWidget(QLabel("To:"), 1, 2)
        grid.addWidget(self.last_spin, 1, 3)
        grid.addWidget(self.to_end_check, 2, 2, 1, 2)
        grid.addWidget(self.swap_button, 3, 0, 1, 2)
        grid.addWidget(self.rename_button, 3, 2, 1, 2)
        grid.addWidget(self.merge_button, 4, 0, 1, 2)
        grid.addWidget(self.delete_button, 4, 2, 1, 2)
        history = QHBoxLayout()
        for button in (self.undo_button, self.redo_button, self.save_button):
            history.addWidget(button)
        grid.addLayout(history, 5, 0, 1, 4)
        grid.addWidget(QLabel("Edits (oldest first):"), 6, 0, 1, 4)
        grid.addWidget(self.edit_list, 7, 0, 1, 4)

        events_box = QGroupBox("Events that need a look")
        events_layout = QVBoxLayout(events_box)
        jumps = QHBoxLayout()
        jumps.addWidget(self.prev_button)
        jumps.addWidget(self.next_button)
        events_layout.addLayout(jumps)
        events_layout.addWidget(self.event_list)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(events_box, 3)
        side_layout.addWidget(editing, 2)

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(QLabel("Speed:"))
        controls.addWidget(self.speed_combo)
        controls.addWidget(self.slider, 1)
        controls.addWidget(QLabel("Frame:"))
        controls.addWidget(self.frame_spin)
        controls.addWidget(QLabel("Trail:"))
        controls.addWidget(self.trail_spin)
        controls.addWidget(self.ids_check)
        controls.addWidget(self.arenas_check)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.timeline)
        left_layout.addLayout(controls)
        left_layout.addWidget(self.info_label)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 400])
        self.setCentralWidget(splitter)
        self.statusBar()
        self._shortcuts()

    def _shortcuts(self) -> None:
        keys = {
            "Right": lambda: self.step(1), "Left": lambda: self.step(-1),
            "Shift+Right": lambda: self.step(10), "Shift+Left": lambda: self.step(-10),
            "Home": lambda: self.set_frame(0), "End": lambda: self.set_frame(self.n_frames - 1),
            "Space": self.play_button.toggle, "N": self.next_event, "P": self.previous_event,
            "PgDown": self.next_event, "PgUp": self.previous_event,
            "Ctrl+Z": self.undo, "Ctrl+Y": self.redo, "Ctrl+Shift+Z": self.redo,
            "Ctrl+S": self._save_clicked,
        }  # fmt: skip
        for key, action in keys.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)

    # -- frames ------------------------------------------------------------------------------
    def _read_background(self, folder: Path) -> np.ndarray:
        import cv2

        image = cv2.imread(str(folder / "background.pgm"), cv2.IMREAD_GRAYSCALE)
        if image is None:
            image = np.full((480, 640), 128, np.uint8)
        return image

    def _read_arenas(self, folder: Path) -> np.ndarray | None:
        """The result's arena labels, if it was tracked in arenas of the frames' size."""
        try:
            labels = read_result_arenas(folder)
        except BatchtrackError as error:
            log.warning("%s", error)
            return None
        if labels is not None and labels.shape != self._background.shape[:2]:
            log.warning("%s: the arenas are not the size of the frames; not drawn", folder)
            return None
        return labels

    def _draw_arenas(self) -> None:
        """The arenas' outlines and numbers, over the frame."""
        if self._arena_outline is None or self.arena_labels is None:
            return
        if not self.arenas_check.isChecked():
            return
        self.view.add_path(self._arena_outline, ARENA, width=2.0)
        for k, x, y in self._arena_corners:
            self.view.add_label(f"arena {k}", x, y, ARENA)

    def _frame_image(self, k: int) -> np.ndarray:
        """Frame ``k``; the next one is then read ahead, in the reader thread."""
        if self.source is None:
            return self._background
        if self._last_frame is not None and self._last_frame[0] == k:
            return self._last_frame[1]
        ahead = self._ahead.pop(k, None)
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        try:
            image = (ahead or self._reader.submit(self.source.read, k)).result()
        except BatchtrackError as error:
            self.statusBar().showMessage(str(error), 4000)
            return self._background
        self._last_frame = (k, image)
        if k + 1 < self.n_frames:
            self._ahead[k + 1] = self._reader.submit(self.source.read, k + 1)
        return image

    def set_frame(self, k: int) -> None:
        """Show frame ``k`` (clamped to the movie)."""
        k = int(min(max(k, 0), self.n_frames - 1))
        self.frame = k
        for widget in (self.slider, self.frame_spin):
            if widget.value() != k:
                widget.blockSignals(True)
                widget.setValue(k)
                widget.blockSignals(False)
        self.timeline.set_current(k)
        self.redraw()

    def step(self, delta: int) -> None:
        self.set_frame(self.frame + delta)

    def redraw(self) -> None:
        """Draw the current frame with its objects (the picture ``export-video`` writes)."""
        k = self.frame
        picture = draw_frame(
            self._frame_image(k), self.replay, k, scale=self.scale,
            labels=self.ids_check.isChecked(), rgb=True,
        )  # fmt: skip
        self.view.set_image(picture, scale=self.scale)
        self.view.clear_overlays()
        self._draw_arenas()
        if self.selected is not None:
            track = self.replay.track(self.selected)
            if len(track) > 1:
                self.view.add_path(_polyline(track), "#ffffff", width=4.0)
                self.view.add_path(_polyline(track), _qcolour(self.selected), width=1.5,
                                   style=Qt.PenStyle.DashLine)  # fmt: skip
        found = self.replay.objects(k)
        n = len(found.ids)
        text = f"Frame {k} / {self.n_frames - 1}: {n} object{'s' if n != 1 else ''}"
        first, last, details = self._event_arrays
        here = np.flatnonzero((first <= k) & (last >= k))[:4]
        if len(here):
            text += " — " + "; ".join(details[i] for i in here.tolist())
        if self.selected is not None:
            text += f" — selected id {self.selected}"
        self.info_label.setText(text)
        self.frameShown.emit(k)

    # -- playing -----------------------------------------------------------------------------
    def _set_interval(self) -> None:
        speed = float(self.speed_combo.currentText().rstrip("×"))
        self.timer.setInterval(max(1, round(1000 / (self.fps * speed))))

    def play(self, on: bool) -> None:
        """Start or stop the replay (at the chosen speed)."""
        if on and self.frame >= self.n_frames - 1:
            self.set_frame(0)
        self.play_button.setText("Pause" if on else "Play")
        if self.play_button.isChecked() != on:
            self.play_button.setChecked(on)
        self.timer.start() if on else self.timer.stop()

    def _tick(self) -> None:
        if self.frame >= self.n_frames - 1:
            self.play(False)
            return
        self.step(1)

    # -- events ------------------------------------------------------------------------------
    def _refresh_replay(self) -> None:
        self.replay = Replay(self.session.table, trail=self.trail_spin.value())
        if hasattr(self, "view"):
            self.redraw()

    def _refresh_table(self) -> None:
        """After an edit: new replay index, events, lists."""
        self.replay = Replay(self.session.table, trail=self.trail_spin.value())
        self.events = find_events(self.session.table, self.params, frames=(0, self.n_frames - 1))
        self._event_arrays = (
            self.events["frame"].to_numpy(np.int64),
            self.events["last"].to_numpy(np.int64),
            self.events["detail"].tolist(),
        )
        self.timeline.set_events(self.events, self.n_frames)
        self.event_list.clear()
        for row in self.events.itertuples(index=False):
            span = f"{row.frame}" if row.last == row.frame else f"{row.frame}–{row.last}"
            item = QListWidgetItem(f"{span:>9}  {row.kind:5}  {row.detail}")
            item.setForeground(QColor(EVENT_COLOURS.get(row.kind, "#000000")))
            item.setData(Qt.ItemDataRole.UserRole, (int(row.frame), tuple(row.ids)))
            self.event_list.addItem(item)
        self.edit_list.clear()
        for number, edit in enumerate(self.session.edits, 1):
            self.edit_list.addItem(f"{number}. {edit.describe()}")
        self.undo_button.setEnabled(bool(self.session.edits))
        self.redo_button.setEnabled(self.session.can_redo)
        self.save_button.setEnabled(self.session.modified)
        title = f"Review — {self.session.folder}"
        self.setWindowTitle(title + (" *" if self.session.modified else ""))

    def next_event(self) -> int | None:
        """Go to the first event after the current frame; returns its frame (None: none)."""
        later = self.events[self.events["frame"] > self.frame]
        return self._go_to_event(later.iloc[0] if len(later) else None)

    def previous_event(self) -> int | None:
        """Go to the last event before the current frame; returns its frame (None: none)."""
        earlier = self.events[self.events["frame"] < self.frame]
        return self._go_to_event(earlier.iloc[-1] if len(earlier) else None)

    def _go_to_event(self, event: pd.Series | None) -> int | None:
        if event is None:
            self.statusBar().showMessage("no more events in this direction", 3000)
            return None
        frame = int(event["frame"])
        for row in range(self.event_list.count()):
            if self.event_list.item(row).data(Qt.ItemDataRole.UserRole)[0] == frame:
                self.event_list.setCurrentRow(row)
                break
        self.set_frame(frame)
        self.statusBar().showMessage(f"{event['kind']} at frame {frame}: {event['detail']}", 5000)
        return frame

    def _event_chosen(self, item: QListWidgetItem) -> None:
        frame, ids = item.data(Qt.ItemDataRole.UserRole)
        if ids:
            self.select(ids[0])
        self.set_frame(frame)

    # -- selecting ---------------------------------------------------------------------------
    def object_at(self, x: float, y: float) -> int | None:
        """The id of the object of the current frame nearest image point (x, y), if close."""
        found = self.replay.objects(self.frame)
        if not len(found.ids):
            return None
        distance = np.hypot(found.body[:, 0] - x, found.body[:, 1] - y)
        distance = np.where(np.isfinite(distance), distance, np.inf)
        nearest = int(np.argmin(distance))
        zoom = max(self.view.transform().m11(), 1e-6)
        return int(found.ids[nearest]) if distance[nearest] * zoom <= PICK_RADIUS * 2 else None

    def select(self, track_id: int | None, *, second: bool = False) -> None:
        """Select an id (id A; with ``second``, id B) and show its whole track."""
        if track_id is None:
            self.selected = None
        elif second:
            self.id_b.setValue(track_id)
        else:
            self.selected = track_id
            self.id_a.setValue(track_id)
        self.first_spin.setValue(self.frame)
        if self.last_spin.value() < self.frame:
            self.last_spin.setValue(self.frame)
        self.redraw()

    def _clicked(self, x: float, y: float, modifiers: Qt.KeyboardModifier) -> None:
        track_id = self.object_at(x, y)
        second = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if track_id is None and second:
            return
        self.select(track_id, second=second)

    # -- editing -----------------------------------------------------------------------------
    def edit_from_controls(self, what: str) -> Edit:
        """The edit the controls describe (ids A, B; From; To or to the end)."""
        ids = (self.id_a.value(),) if what == "delete" else (self.id_a.value(), self.id_b.value())
        if what == "merge":
            return Edit(what, ids)
        last = None if self.to_end_check.isChecked() else self.last_spin.value()
        return Edit(what, ids, first=self.first_spin.value(), last=last)

    def apply(self, edit: Edit) -> bool:
        """Add an edit; False (and the reason in the status bar) if it cannot be applied."""
        try:
            self.session.add(edit)
        except BatchtrackError as error:
            self.statusBar().showMessage(str(error), 8000)
            return False
        self._after_edit(f"done: {edit.describe()}")
        return True

    def _edit(self, what: str) -> None:
        try:
            edit = self.edit_from_controls(what)
        except BatchtrackError as error:
            self.statusBar().showMessage(str(error), 8000)
            return
        self.apply(edit)

    def undo(self) -> None:
        edit = self.session.undo()
        if edit is not None:
            self._after_edit(f"undone: {edit.describe()}")

    def redo(self) -> None:
        edit = self.session.redo()
        if edit is not None:
            self._after_edit(f"redone: {edit.describe()}")

    def _after_edit(self, message: str) -> None:
        self._refresh_table()
        if self.selected is not None and self.selected not in set(self.replay.track_ids.tolist()):
            self.selected = None
        self.redraw()
        self.statusBar().showMessage(message, 5000)
        self.edited.emit()

    def save(self) -> Path:
        """Write the corrected result (see :meth:`EditSession.save`)."""
        folder = self.session.save()
        self._refresh_table()
        self.statusBar().showMessage(f"saved {folder / 'tracking.txt'}", 5000)
        self.saved.emit(folder)
        return folder

    def _save_clicked(self) -> None:
        self._save_or_report()

    def _save_or_report(self) -> bool:
        try:
            self.save()
        except (BatchtrackError, OSError) as error:
            self.statusBar().showMessage(str(error), 8000)
            QMessageBox(QMessageBox.Icon.Warning, "batchtrack", str(error), parent=self).open()
            return False
        return True

    def ask_unsaved(self) -> str:
        """Ask what to do with unsaved edits on closing: ``"save"``, ``"discard"`` or
        ``"cancel"`` (tests and scripts replace this method)."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "batchtrack",
            f"{len(self.session.edits)} edit(s) of {self.session.folder} are not saved.",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
        )  # fmt: skip
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def closeEvent(self, event) -> None:
        if self.session.modified:
            answer = self.ask_unsaved()
            if answer == "cancel" or (answer == "save" and not self._save_or_report()):
                event.ignore()
                return
        self.timer.stop()
        self._reader.shutdown(wait=True, cancel_futures=True)
        if self.source is not None:
            self.source.close()
        super().closeEvent(event)
