"""Arenas in the GUI: drawn with the mouse, filled, saved, loaded, sent to the batch, used by
the preview, and drawn over the frames of the review window."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_support import SYNTH_PARAMS, write_tanks
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from batchtrack.arenas import Arena, arena_from_mapping, rasterize
from batchtrack.gui.interactive import InteractivePanel
from batchtrack.gui.review import ReviewWindow
from batchtrack.gui.window import MainWindow
from batchtrack.io.arenas import read_arena_file
from batchtrack.movie import track_movie

WAIT_MS = 20_000
LEFT = Arena("rectangle", ((0.0, 0.0), (160.0, 120.0)))  # the tanks of write_tanks
RIGHT = Arena("rectangle", ((170.0, 0.0), (330.0, 120.0)))


@pytest.fixture
def tanks(tmp_path: Path) -> Path:
    """Two tanks side by side: one fish on the left, two on the right."""
    return write_tanks(tmp_path / "tanks" / "images")


def open_panel(qtbot, panel: InteractivePanel, movie: Path) -> InteractivePanel:
    panel.resize(1300, 800)
    panel.show()
    panel.set_params(SYNTH_PARAMS)
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        panel.open_movie(movie)
    qtbot.waitUntil(panel.is_idle, timeout=WAIT_MS)
    return panel


@pytest.fixture
def panel(qtbot, dialogs, tanks) -> InteractivePanel:
    widget = InteractivePanel(dialogs=dialogs)
    qtbot.addWidget(widget)
    yield open_panel(qtbot, widget, tanks)
    widget.shutdown()


def at(panel: InteractivePanel, x: float, y: float) -> QPoint:
    """The view's pixel showing image point (x, y)."""
    return panel.view.mapFromScene(QPointF(x, y))


def mouse(panel: InteractivePanel, kind: QEvent.Type, point: QPoint, *, button=None) -> None:
    """One mouse event on the view, with the left button held from press to release."""
    left = Qt.MouseButton.LeftButton
    pressed = left if kind != QEvent.Type.MouseButtonRelease else Qt.MouseButton.NoButton
    event = QMouseEvent(
        kind, QPointF(point), QPointF(panel.view.viewport().mapToGlobal(point)),
        button if button is not None else (Qt.MouseButton.NoButton
                                           if kind == QEvent.Type.MouseMove else left),
        pressed, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(panel.view.viewport(), event)


def drag(panel: InteractivePanel, start: QPoint, end: QPoint) -> None:
    mouse(panel, QEvent.Type.MouseButtonPress, start)
    middle = (start + end) / 2
    mouse(panel, QEvent.Type.MouseMove, QPoint(round(middle.x()), round(middle.y())))
    mouse(panel, QEvent.Type.MouseMove, end)
    mouse(panel, QEvent.Type.MouseButtonRelease, end)


def wait_preview(qtbot, panel: InteractivePanel) -> None:
    qtbot.waitUntil(panel.is_idle, timeout=WAIT_MS)


def test_shapes_drawn_with_the_mouse_are_saved_and_read_back(qtbot, panel, dialogs, tmp_path):
    panel.arena_tool_buttons["circle"].click()
    assert panel.arenas.tool == "circle"
    drag(panel, at(panel, 60.5, 60.5), at(panel, 60.5 + 40, 60.5))  # centre, then the rim
    panel.arena_tool_buttons["rectangle"].click()
    drag(panel, at(panel, 180, 10), at(panel, 320, 60))
    panel.arena_tool_buttons["polygon"].click()
    for x, y in ((200, 80), (300, 80), (250, 115)):
        qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=at(panel, x + 0.5, y + 0.5))  # fmt: skip
    assert len(panel.arenas.items()) == 2  # the polygon is still open
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=at(panel, 200.5, 80.5))  # its first vertex: closes it  # fmt: skip
    drawn = [
        Arena("circle", ((60.0, 60.0),), radius=40.0),
        Arena("rectangle", ((180.0, 10.0), (320.0, 60.0))),
        Arena("polygon", ((200.0, 80.0), (300.0, 80.0), (250.0, 115.0))),
    ]
    assert panel.arenas.arenas() == drawn
    assert panel.arenas.spec is None and "not saved yet" in panel.arena_label.text()

    # select the rectangle and drag it 5 px to the right, then its bottom-right corner
    panel.arena_tool_buttons[None].click()
    drag(panel, at(panel, 250, 30), at(panel, 255, 30))
    assert panel.arenas.selected() == [1]
    handle = panel.arenas.items()[1].handles[2]
    corner = panel.view.mapFromScene(handle.scenePos())
    drag(panel, corner, at(panel, 310, 50))
    drawn[1] = Arena("rectangle", ((185.0, 10.0), (310.0, 50.0)))
    assert panel.arenas.arenas() == drawn

    dialogs.answers = [tmp_path / "arenas.toml"]
    saved = panel._ask_save_arenas()
    assert saved == tmp_path / "arenas.toml" and panel.arenas.spec == str(saved)
    content = read_arena_file(saved)
    assert [arena_from_mapping(item, k, "x") for k, item in enumerate(content, 1)] == drawn

    # Delete removes the selected arena; loading the file brings the three back
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert len(panel.arenas.arenas()) == 2 and panel.arenas.spec is None
    dialogs.answers = [saved]
    panel.arena_load_button.click()
    assert panel.arenas.arenas() == drawn and panel.arenas.spec == str(saved)


def test_a_polygon_can_be_given_up_and_tiny_drags_draw_nothing(qtbot, panel):
    panel.arenas.set_tool("polygon")
    for x, y in ((10, 10), (100, 10)):
        qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=at(panel, x, y))
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_Escape)
    panel.arenas.set_tool("rectangle")
    drag(panel, at(panel, 50, 50), at(panel, 51, 51))
    assert panel.arenas.arenas() == []
    with pytest.raises(ValueError, match="tool must be one of"):
        panel.arenas.set_tool("hexagon")


def test_grid_auto_and_a_label_image_fill_the_arenas(qtbot, panel, tmp_path):
    panel.grid_rows.setValue(2)
    panel.grid_cols.setValue(3)
    panel.arena_grid_button.click()
    arenas = panel.arenas.arenas()
    assert len(arenas) == 6 and panel.arenas.spec == "grid:2x3"
    assert rasterize(arenas, (120, 330)).min() == 1  # they cover the frame

    with qtbot.waitSignal(panel.arenasChanged, timeout=WAIT_MS):
        panel.arena_auto_button.click()
    found = panel.arenas.arenas()
    assert len(found) == 2 and panel.arenas.spec == "auto"  # the two tanks
    assert found[0].bounds()[2] <= 160 and found[1].bounds()[0] >= 170

    labels = np.zeros((120, 330), np.uint8)
    cv2.circle(labels, (80, 60), 40, 1, -1)
    labels[10:110, 180:320] = 2
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    loaded = panel.load_arenas(tmp_path / "labels.png")
    assert len(loaded) == 2 and panel.arenas.spec == str(tmp_path / "labels.png")
    same = rasterize(loaded, labels.shape) == labels
    assert same.mean() > 0.999
    with pytest.raises(Exception, match="40×30 px but the frames"):
        cv2.imwrite(str(tmp_path / "small.png"), labels[:30, :40])
        panel.load_arenas(tmp_path / "small.png")


def test_detections_are_counted_per_arena_and_outside_ones_ignored(qtbot, panel):
    panel.set_frame(29)
    wait_preview(qtbot, panel)
    assert len(panel.layers.features) == 3 and panel.layers.arenas is None
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        panel.arenas.set_arenas([LEFT, RIGHT])
    wait_preview(qtbot, panel)
    layers = panel.layers
    assert layers.arena_counts() == [1, 2]
    assert sorted(layers.arena.tolist()) == [1, 2, 2]
    assert "3 objects detected in 2 arenas (1: 1, 2: 2)" in panel.info_label.text()
    assert sorted(panel.view.labels()) == sorted(["0", "1", "2", "1: 1 object", "2: 2 objects"])

    panel.set_frame(0)  # the count follows the frame
    wait_preview(qtbot, panel)
    assert panel.layers.index == 0 and panel.layers.arena_counts() == [1, 2]

    # one arena on the left tank only: the right tank's fish are left out, as tracking does
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        panel.arenas.set_arenas([LEFT])
    wait_preview(qtbot, panel)
    assert panel.layers.arena_counts() == [1] and len(panel.layers.features) == 1
    assert panel.layers.features[0, 6] < 160

    # overlapping arenas: the preview says why and detects in the whole frame
    with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT_MS):
        panel.arenas.set_arenas([LEFT, Arena("circle", ((150.0, 60.0),), radius=30.0)])
    wait_preview(qtbot, panel)
    assert panel.layers.arenas is None and len(panel.layers.features) == 3
    assert "arenas not used" in panel.info_label.text() and "overlaps" in panel.info_label.text()


def test_preview_tracking_keeps_every_id_in_its_arena(qtbot, panel):
    panel.arenas.set_arenas([LEFT, RIGHT], spec="grid:1x2")
    wait_preview(qtbot, panel)
    with qtbot.waitSignal(panel.tracked, timeout=WAIT_MS):
        panel.preview_tracking(0, 29)
    table = panel.tracks
    sides = table.groupby("id")["xBody"].agg(lambda x: set((x > 165).tolist()))
    assert all(len(side) == 1 for side in sides)  # no id crosses the wall
    assert {True, False} <= set().union(*sides)


def test_the_arenas_go_to_the_batch_with_the_parameters(qtbot, dialogs, tanks, tmp_path):
    window = MainWindow(dialogs=dialogs)
    qtbot.addWidget(window)
    open_panel(qtbot, window.interactive, tanks)
    panel = window.interactive
    panel.set_grid(1, 2)
    panel.send_button.click()
    assert window.batch.stack.arenas == "grid:1x2"
    assert "grid:1x2" in window.batch.arenas_label.text()
    assert window.tabs.currentWidget() is window.batch
    added = window.batch.add_folders([tanks])
    assert [entry.arenas for entry in added] == ["grid:1x2"]

    panel.arenas.move(0, 0, 5)  # edited by hand: saved to a file first
    dialogs.answers = [tmp_path / "moved.toml"]
    panel.send_button.click()
    assert window.batch.stack.arenas == str(tmp_path / "moved.toml")
    assert (tmp_path / "moved.toml").is_file()

    panel.arenas.move(0, 0, -5)
    dialogs.answers = []  # the save is cancelled: the batch keeps what it had
    panel.send_button.click()
    assert window.batch.stack.arenas == str(tmp_path / "moved.toml")

    panel.arenas.clear()
    panel.send_button.click()
    assert window.batch.stack.arenas is None
    assert "no arenas" in window.batch.arenas_label.text()
    assert not window.batch.clear_arenas_button.isEnabled()

    dialogs.answers = [tmp_path / "moved.toml"]  # the batch panel's own Arenas… button
    window.batch.arenas_button.click()
    assert window.batch.stack.arenas == str(tmp_path / "moved.toml")
    window.batch.clear_arenas_button.click()
    assert window.batch.stack.arenas is None
    window.interactive.shutdown()


def orange_pixels(image: QImage) -> np.ndarray:
    """Mask of the pixels of the arenas' outline colour (#ffa000, antialiased)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height)
    rgb = data.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3)
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (r > 200) & (g > 120) & (g < 190) & (b < 60)


def test_the_review_window_draws_the_arenas_of_the_result(qtbot, tanks):
    summary, _ = track_movie(tanks, SYNTH_PARAMS, arenas="grid:1x2")
    window = ReviewWindow(summary.folder)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.arena_labels is not None and int(window.arena_labels.max()) == 2
    assert window.arenas_check.isChecked() and not window.arenas_check.isHidden()
    window.set_frame(5)
    shown = orange_pixels(window.view.viewport().grab().toImage())
    # the outline between the two arenas: a vertical orange line at the grid's cut (x = 165)
    cut = window.view.mapFromScene(QPointF(165, 60))
    column = shown[:, cut.x() - 3 : cut.x() + 4].any(axis=1)
    top, bottom = window.view.mapFromScene(QPointF(0, 5)), window.view.mapFromScene(QPointF(0, 115))
    assert column[top.y() : bottom.y()].mean() > 0.9
    assert sorted(window.view.labels()) == ["arena 1", "arena 2"]

    window.arenas_check.setChecked(False)
    hidden = orange_pixels(window.view.viewport().grab().toImage())
    assert hidden.sum() < shown.sum() / 10 and not window.view.labels()
    window.close()


def test_a_result_without_arenas_has_no_arena_switch(qtbot, tanks):
    summary, _ = track_movie(tanks, SYNTH_PARAMS)
    window = ReviewWindow(summary.folder)
    qtbot.addWidget(window)
    assert window.arena_labels is None and window.arenas_check.isHidden()
    window.close()
