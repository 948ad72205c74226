"""The interactive panel: tune the parameters on one movie and see detection at once.

All reading and computing runs in one worker thread (:class:`Preview`); the panel only asks
and draws. Requests made while the worker is busy are merged: the newest wins.
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
from PySide6.QtGui import QColor, QPainterPath, QPolygonF
from PySide6.QtWidgets import (
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

from ..errors import BatchtrackError
from ..params import Parameters
from ..plots import id_colour
from .dialogs import VIDEO_FILTER, Dialogs
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


def _track(preview: Preview, first: int, last: int, params: Parameters):
    return params, preview.track(first, last + 1, params)


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
    message(str)
        A line for the status bar.
    """

    opened = Signal(object, int)
    previewUpdated = Signal(object)
    tracked = Signal(int)
    saved = Signal(object)
    measured = Signal(object)
    sendToBatch = Signal(object)
    message = Signal(str)
    _result = Signal(str, object, object)

    def __init__(self, *, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.dialogs = dialogs or Dialogs()
        self.preview: Preview | None = None
        self.layers: Layers | None = None
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

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.slider, self.frame_spin, self.track_from, self.track_to,
                       self.track_button, self.save_button, self.auto_button):  # fmt: skip
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
        self._submit("layers", self.preview.layers, self.slider.value(), self.params())

    def preview_tracking(self, first: int, last: int) -> cf.Future | None:
        """Track frames ``first`` to ``last`` (inclusive) in memory and draw the trails."""
        if self.preview is None or self._tracking:
            return None
        first, last = sorted((first, last))
        self._tracking = True
        self.track_button.setEnabled(False)
        self.track_button.setText("Tracking…")
        self._tracks_range = (first, last)
        return self._submit("track", _track, self.preview, first, last, self.params())

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
        """Hand the table's parameters to the batch panel."""
        self.sendToBatch.emit(self.params())

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
            return
        error = future.exception()
        if kind == "open":
            self._opened(future.result() if error is None else None, args[0], error)
            return
        if kind == "layers":
            self._busy = False
            if error is None:
                self.layers = future.result()
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
            params, table = future.result()
            if params != self.params():
                return  # the parameters changed meanwhile: these tracks are stale
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
            path = QPainterPath()
            for contour in layers.contours:
                path.addPolygon(_polygon(contour.reshape(-1, 2)))
                path.closeSubpath()
            self.view.add_path(path, CONTOUR, width=1.5)
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
                for number, (x, y) in enumerate(features[:, 6:8].tolist()):
                    self.view.add_label(str(number), x + 3, y + 3, LABEL)

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
