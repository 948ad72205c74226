"""The interactive panel: open a movie, tune, preview detection and tracking, save, send."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_support import SYNTH_PARAMS
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsPathItem

from batchtrack.gui.interactive import InteractivePanel
from batchtrack.gui.window import MainWindow
from batchtrack.params import load_cfg
from batchtrack.synth import make_movie, write_video

WAIT_MS = 20_000


@pytest.fixture
def panel(qtbot, dialogs) -> InteractivePanel:
    widget = InteractivePanel(dialogs=dialogs)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    widget.set_params(SYNTH_PARAMS)
    yield widget
    widget.shutdown()


@pytest.fixture
def opened(qtbot, panel, dialogs, experiment) -> InteractivePanel:
    """The panel showing frame 0 of Run1 (three fish, always apart)."""
    dialogs.answers = [experiment / "Run1" / "images"]
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        qtbot.mouseClick(panel.open_sequence_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.is_idle, timeout=WAIT_MS)
    return panel


def contour_items(panel: InteractivePanel) -> list[QGraphicsPathItem]:
    return [
        item
        for item in panel.view.overlays()
        if isinstance(item, QGraphicsPathItem) and item.pen().color().name() == "#39d353"
    ]


def test_open_sequence_shows_the_frame_and_the_detected_objects(opened, experiment):
    panel = opened
    assert panel.preview.n_frames == 40
    assert panel.slider.maximum() == 39 and panel.frames_label.text() == "/ 39"
    assert "40 frames, 160×120 px" in panel.path_label.text()
    layers = panel.layers
    assert layers.index == 0 and len(layers.features) == 3
    first = cv2.imread(str(experiment / "Run1" / "images" / "frame_000000.pgm"), 0)
    np.testing.assert_array_equal(panel.view.image, first)
    assert sorted(panel.view.labels()) == ["0", "1", "2"]  # ids
    (contours,) = contour_items(panel)
    assert contours.path().elementCount() > 3 * 10  # three outlines
    assert "3 objects detected" in panel.info_label.text()
    assert panel.save_button.isEnabled() and panel.track_button.isEnabled()


def test_slider_picks_the_frame(qtbot, opened, experiment):
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS) as shown:
        opened.slider.setValue(25)
    assert shown.args[0].index == 25 and opened.frame_spin.value() == 25
    frame = cv2.imread(str(experiment / "Run1" / "images" / "frame_000025.pgm"), 0)
    np.testing.assert_array_equal(opened.view.image, frame)


def test_show_background_and_binary_with_overlay_switches(qtbot, opened):
    opened.show_combo.setCurrentText("Background")
    np.testing.assert_array_equal(opened.view.image, opened.layers.background)
    assert not contour_items(opened) and not opened.view.labels()
    opened.show_combo.setCurrentText("Binary")
    binary = opened.view.image
    assert set(np.unique(binary)) == {0, 255}
    np.testing.assert_array_equal(binary, opened.layers.binary)
    assert len(contour_items(opened)) == 1
    opened.contours_check.setChecked(False)
    opened.ids_check.setChecked(False)
    assert not contour_items(opened) and not opened.view.labels()
    opened.head_tail_check.setChecked(False)
    assert not opened.view.overlays()


def test_parameter_edits_update_the_preview_within_a_fraction_of_a_second(qtbot, opened):
    started = time.perf_counter()
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS) as shown:
        opened.params_table.set_value("thresh", 250)
    assert time.perf_counter() - started < 0.5
    assert shown.args[0].params.thresh == 250 and len(shown.args[0].features) == 0
    assert "0 objects" in opened.info_label.text()
    # A burst of edits (typing) gives one preview with the last value.
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS) as shown:
        for value in (4, 41, 40):
            opened.params_table.set_value("thresh", value)
    assert shown.args[0].params.thresh == 40 and len(shown.args[0].features) == 3


def test_region_of_interest_is_drawn_and_limits_detection(qtbot, opened):
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS) as shown:
        opened.params_table.set_value("xBottom", 80)
        opened.params_table.set_value("yBottom", 120)
    layers = shown.args[0]
    assert layers.params.roi == (0, 0, 80, 120)
    assert not layers.binary[:, 80:].any()
    assert (layers.features[:, 6] < 80).all()
    dashed = [i for i in opened.view.overlays() if isinstance(i, QGraphicsPathItem)
              and i.pen().style() == Qt.PenStyle.DashLine]  # fmt: skip
    assert len(dashed) == 1


def test_preview_tracking_draws_trails_and_track_ids(qtbot, opened):
    opened.track_from.setValue(0)
    opened.track_to.setValue(39)
    with qtbot.waitSignal(opened.tracked, timeout=WAIT_MS) as tracked:
        qtbot.mouseClick(opened.track_button, Qt.MouseButton.LeftButton)
    assert tracked.args[0] == 3
    assert set(opened.tracks["imageNumber"]) == set(range(40))
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS):
        opened.slider.setValue(30)
    trails = [i for i in opened.view.overlays() if isinstance(i, QGraphicsPathItem)
              and i.pen().widthF() == 2.0]  # fmt: skip
    assert len(trails) == 3
    assert sorted(opened.view.labels()) == ["0", "1", "2"]
    assert "trails of frames 0–39 (3 ids)" in opened.info_label.text()
    # Other parameters make the trails stale: they go.
    with qtbot.waitSignal(opened.previewUpdated, timeout=WAIT_MS):
        opened.params_table.set_value("maxDist", 30)
    assert opened.tracks is None
    assert not [i for i in opened.view.overlays() if isinstance(i, QGraphicsPathItem)
                and i.pen().widthF() == 2.0]  # fmt: skip


def test_open_video(qtbot, panel, tmp_path):
    video = write_video(make_movie(30, 2, shape=(96, 128), seed=4), tmp_path / "fish.avi")
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        panel.open_movie(video)
    assert panel.preview.n_frames == 30 and panel.view.image.shape == (96, 128)
    assert panel.preview.result_dir == tmp_path / "Tracking_Result_fish"


def test_a_folder_without_movie_is_reported(qtbot, panel, tmp_path):
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS) as said:
        panel.open_movie(tmp_path / "empty")
    assert "empty" in said.args[0]
    assert panel.preview is None and not panel.save_button.isEnabled()
    assert panel.path_label.text().startswith("Cannot open")


def test_saved_parameters_are_found_by_the_batch_autoload(qtbot, dialogs, experiment):
    window = MainWindow(dialogs=dialogs)
    qtbot.addWidget(window)
    window.show()
    panel = window.interactive
    tuned = SYNTH_PARAMS.with_updates(thresh=45, maxTime=7)
    panel.set_params(tuned)
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        window.open(movie=experiment / "Run1" / "images")
    with qtbot.waitSignal(panel.saved, timeout=WAIT_MS) as saved:
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    folder: Path = saved.args[0]
    assert folder == experiment / "Run1" / "images" / "Tracking_Result"
    assert load_cfg(folder / "cfg.toml") == tuned
    np.testing.assert_array_equal(cv2.imread(str(folder / "background.pgm"), 0),
                                  panel.layers.background)  # fmt: skip

    window.batch.set_autoload(True)
    (entry,) = window.batch.add_folders([experiment / "Run1"], suffix="images")
    assert entry.params == tuned and entry.background == folder / "background.pgm"
    window.close()


def test_send_to_batch_sets_the_batch_table(qtbot, dialogs):
    window = MainWindow(dialogs=dialogs)
    qtbot.addWidget(window)
    window.interactive.params_table.set_value("thresh", 55)
    qtbot.mouseClick(window.interactive.send_button, Qt.MouseButton.LeftButton)
    assert window.batch.params_table.value("thresh") == 55
    assert window.batch.stack.params == window.interactive.params()
    assert window.tabs.currentWidget() is window.batch
    window.close()


def test_auto_button_fills_the_table_from_the_movie(qtbot, opened):
    opened.params_table.set_value("thresh", 250)  # nothing detected
    opened.params_table.set_value("maxTime", 7)  # not measured: kept
    qtbot.waitUntil(opened.is_idle, timeout=WAIT_MS)
    with qtbot.waitSignal(opened.measured, timeout=WAIT_MS) as done:
        qtbot.mouseClick(opened.auto_button, Qt.MouseButton.LeftButton)
    report = done.args[0]
    params = opened.params()
    assert params.auto == frozenset()
    assert {k: getattr(params, k) for k in report.values()} == report.values()
    assert (params.lightBack, params.methBack, params.maxTime) == (0, 1, 7)
    assert 10 < params.thresh < 250 and params.minArea < params.maxArea
    tip = opened.auto_button.toolTip()
    assert "thresh" in tip and "objects differ by" in tip and "noise by" in tip
    assert opened.auto_button.isEnabled() and opened.auto_button.text() == "Auto"
    # The preview follows the measured table: the three fish are found again.
    qtbot.waitUntil(lambda: opened.is_idle() and opened.layers.params == params, timeout=WAIT_MS)
    assert len(opened.layers.features) == 3
