"""The review window driven like a user: next event, click an id, swap, undo, redo, save."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from gui_support import SYNTH_PARAMS
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QGraphicsPathItem

from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack, Status
from batchtrack.cli import main
from batchtrack.edits import Edit, apply_edits
from batchtrack.gui.batch_panel import BatchPanel
from batchtrack.gui.review import ReviewWindow
from batchtrack.io.edits import read_edit_log
from batchtrack.io.results import read_tracking
from batchtrack.movie import track
from batchtrack.overlay import draw_frame
from batchtrack.synth import make_movie, write_sequence

WAIT_MS = 10_000


@pytest.fixture
def result(tmp_path: Path) -> Path:
    """Four fish, 60 frames, tracked; they touch around frame 13 (gaps, merged blobs)."""
    movie = write_sequence(
        make_movie(60, 4, shape=(120, 160), seed=3, length=(18, 24)), tmp_path / "fish"
    )
    track(movie, SYNTH_PARAMS)
    return movie / "Tracking_Result"


@pytest.fixture
def window(qtbot, result) -> ReviewWindow:
    widget = ReviewWindow(result)
    qtbot.addWidget(widget)
    widget.show()
    widget.activateWindow()
    qtbot.waitExposed(widget)
    return widget


def click_object(qtbot, window: ReviewWindow, track_id: int, *, shift: bool = False) -> None:
    """Click where ``track_id``'s object is drawn in the current frame."""
    found = window.replay.objects(window.frame)
    (i,) = np.flatnonzero(found.ids == track_id)
    x, y = found.body[i]
    point = window.view.mapFromScene(QPointF(x + 0.5, y + 0.5))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, modifier, point)


def test_opening_shows_the_real_frame_the_ids_and_the_events(window, result):
    frame0 = cv2.imread(str(result.parent / "frame_000000.pgm"), cv2.IMREAD_GRAYSCALE)
    assert window.scale == 5  # 160 px wide: drawn enlarged to 800 px, as export-video does
    picture = window.view.image
    expected = draw_frame(frame0, window.replay, 0, scale=5, rgb=True)
    np.testing.assert_array_equal(picture, expected)  # the export's drawing, in RGB
    enlarged = np.repeat(np.repeat(frame0, 5, axis=0), 5, axis=1)
    same = (picture == enlarged[..., None]).all(axis=2)
    assert 0.9 < same.mean() < 1.0  # the real frame, with the objects drawn over it
    assert window.replay.objects(0).ids.tolist() == [0, 1, 2, 3]
    for x, y in window.replay.objects(0).body:  # each id's label is drawn in its colour
        box = picture[int(y * 5) : int(y * 5) + 40, int(x * 5) : int(x * 5) + 40]
        assert (np.ptp(box.astype(int), axis=2) > 60).any()
    assert window.n_frames == 60 and window.slider.maximum() == 59
    assert len(window.events) == window.event_list.count() > 0
    assert window.timeline.spans and "Frame 0 / 59: 4 objects" in window.info_label.text()


def test_review_next_event_click_swap_undo_redo_save(qtbot, window, result, tmp_path):
    untouched = tmp_path / "cli" / "Tracking_Result"
    shutil.copytree(result, untouched)
    original = read_tracking(result)

    qtbot.keyClick(window, Qt.Key.Key_N)
    first_event = int(window.events["frame"].min())
    assert window.frame == first_event
    assert window.event_list.currentRow() == 0
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.frame == first_event + 1
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert window.frame == first_event

    ids = window.replay.objects(window.frame).ids.tolist()
    a, b = ids[0], ids[-1]
    click_object(qtbot, window, a)
    assert window.selected == a and window.id_a.value() == a
    assert window.first_spin.value() == window.frame
    assert f"selected id {a}" in window.info_label.text()
    whole_track = [i for i in window.view.overlays() if isinstance(i, QGraphicsPathItem)]
    assert any(item.pen().color().name() == "#ffffff" and item.pen().widthF() == 4.0
               for item in whole_track)  # fmt: skip
    click_object(qtbot, window, b, shift=True)
    assert window.id_b.value() == b and window.selected == a

    with qtbot.waitSignal(window.edited, timeout=WAIT_MS):
        qtbot.mouseClick(window.swap_button, Qt.MouseButton.LeftButton)
    swap = Edit("swap", (a, b), first=window.frame)
    assert [(e.what, e.ids, e.first, e.last) for e in window.session.edits] == [
        (swap.what, swap.ids, swap.first, None)
    ]
    assert window.edit_list.count() == 1 and window.windowTitle().endswith("*")
    swapped = window.replay.objects(window.frame)
    before = apply_edits(original, [])
    at = before[before["imageNumber"] == window.frame].set_index("id")
    (row_a,) = np.flatnonzero(swapped.ids == a)
    np.testing.assert_allclose(swapped.body[row_a], at.loc[b, ["xBody", "yBody"]])

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session.edits == [] and window.redo_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(window.session.edits) == 1

    with qtbot.waitSignal(window.saved, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.windowTitle().endswith("*")
    saved = read_tracking(result)
    expected = apply_edits(original, window.session.edits)
    np.testing.assert_array_equal(saved.to_numpy(), expected.to_numpy())
    assert (result / "tracking_original.txt").read_bytes() == (
        untouched / "tracking.txt"
    ).read_bytes()

    # the same edit from the command line gives the same files
    cli = CliRunner().invoke(
        main, ["edit", str(untouched), "--swap", str(a), str(b), "--from", str(window.frame)]
    )
    assert cli.exit_code == 0, cli.output
    for name in ("tracking.txt", "tracking_original.txt", "cfg.toml", "background.pgm"):
        assert (result / name).read_bytes() == (untouched / name).read_bytes(), name
    strip = [{k: v for k, v in r.items() if k != "when"} for r in read_edit_log(result)]
    assert strip == [{k: v for k, v in r.items() if k != "when"} for r in read_edit_log(untouched)]


def test_an_edit_that_cannot_apply_is_reported_and_changes_nothing(qtbot, window):
    window.id_a.setValue(77)
    window.id_b.setValue(0)
    qtbot.mouseClick(window.rename_button, Qt.MouseButton.LeftButton)
    assert window.session.edits == []
    assert "id 77 has no object" in window.statusBar().currentMessage()


def test_play_slider_timeline_and_event_list(qtbot, window):
    window.speed_combo.setCurrentText("8×")
    with qtbot.waitSignal(window.frameShown, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.frame >= 5, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.timer.isActive() and window.play_button.text() == "Play"
    window.slider.setValue(30)
    assert window.frame == 30 and window.frame_spin.value() == 30
    qtbot.mouseClick(
        window.timeline, Qt.MouseButton.LeftButton, pos=window.timeline.rect().center()
    )
    assert abs(window.frame - 30) <= 1
    item = window.event_list.item(window.event_list.count() - 1)
    window.event_list.itemClicked.emit(item)
    frame, ids = item.data(Qt.ItemDataRole.UserRole)
    assert window.frame == frame and (not ids or window.selected == ids[0])
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert window.frame == 59


def test_the_batch_panel_opens_a_done_entry_for_review(qtbot, result, dialogs):
    stack = Stack(SYNTH_PARAMS)
    stack.add([result.parent])
    run_stack(stack, backend="inprocess", force=True)
    assert stack.entries[0].status is Status.DONE
    panel = BatchPanel(stack, dialogs=dialogs)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.mouseClick(panel.review_button, Qt.MouseButton.LeftButton)  # nothing selected
    assert not any(isinstance(w, ReviewWindow) for w in panel._windows)
    panel.table.selectRow(0)
    qtbot.mouseClick(panel.review_button, Qt.MouseButton.LeftButton)
    (window,) = [w for w in panel._windows if isinstance(w, ReviewWindow)]
    assert window.isVisible() and window.session.folder == stack.entries[0].result_dir
    window.close()


def test_review_command_names_what_is_missing(tmp_path):
    result = CliRunner().invoke(main, ["review", str(tmp_path)])
    assert result.exit_code == 1
    assert "no tracking result" in result.output and "track the movie first" in result.output


def test_closing_with_unsaved_edits_asks_and_can_save(qtbot, window, result):
    window.apply(Edit("delete", (0,), first=3, last=3))
    answers = ["cancel", "save"]
    window.ask_unsaved = lambda: answers.pop(0)
    assert not window.close() and window.isVisible()  # cancelled: still open, still edited
    assert window.session.modified
    assert window.close()
    assert not window.session.modified
    assert [r["what"] for r in read_edit_log(result)] == ["delete"]
