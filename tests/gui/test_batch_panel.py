"""The batch panel: FastTrack's 14 elements, parallel runs, stop, manifests, trajectories."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_support import SYNTH_PARAMS, write_movie
from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QMessageBox

from batchtrack.batch.stack import Status
from batchtrack.gui.batch_panel import (
    BACKGROUND,
    PARAMS,
    PATH,
    RECORDING,
    RESULT,
    STATUS,
    TIME,
    BatchPanel,
)
from batchtrack.gui.dialogs import TrajectoryDialog
from batchtrack.params import Parameters, describe_parameters, save_cfg

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def panel(qtbot, dialogs) -> BatchPanel:
    widget = BatchPanel(dialogs=dialogs)
    widget.set_table_params(SYNTH_PARAMS)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget
    widget.shutdown()
    for box in widget.findChildren(QMessageBox):
        box.close()


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def texts(panel: BatchPanel, column: int) -> list[str]:
    if column in (BACKGROUND, PARAMS):
        return [
            panel.table.cellWidget(r, column).label.text() for r in range(panel.table.rowCount())
        ]
    return [panel.table.item(r, column).text() for r in range(panel.table.rowCount())]


def double_click(qtbot, panel: BatchPanel, entry) -> None:
    item = panel.table.item(panel.row_of(entry), PATH)
    centre = panel.table.visualItemRect(item).center()
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)


# -- 1, 3: open folders with a suffix -----------------------------------------------------------
def test_open_folders_adds_each_folder_with_the_suffix(qtbot, panel, dialogs, experiment):
    assert panel.empty_hint.isVisible()
    panel.suffix_edit.setText("images")
    dialogs.answers = [[experiment / "Run0", experiment / "Run2"]]
    click(qtbot, panel.open_button)
    assert dialogs.asked == ["Add movies: choose one or more folders"]
    assert texts(panel, PATH) == [
        str(experiment / "Run0" / "images"),
        str(experiment / "Run2" / "images"),
    ]
    assert texts(panel, STATUS) == ["Waiting", "Waiting"]
    assert not panel.empty_hint.isVisible()
    # Without the suffix the Run folders hold no sequence: Error entries saying why.
    panel.suffix_edit.clear()
    panel.add_folders([experiment / "Run1", experiment / "missing"])
    assert texts(panel, STATUS)[2:] == ["Error", "Error"]
    assert "nothing to process" in panel.status_item(panel.entries()[2]).toolTip()
    assert "does not exist" in panel.status_item(panel.entries()[3]).toolTip()


def test_a_cancelled_dialog_adds_nothing(qtbot, panel, dialogs):
    click(qtbot, panel.open_button)
    assert panel.table.rowCount() == 0


# -- 10: autoload ------------------------------------------------------------------------------
def saved_result(movie: Path, params: Parameters) -> Path:
    """What the interactive panel's 'Save parameters' leaves in a movie's result folder."""
    folder = movie / "Tracking_Result"
    folder.mkdir()
    save_cfg(params, folder / "cfg.toml")
    cv2.imwrite(str(folder / "background.pgm"), np.full((120, 160), 230, np.uint8))
    return folder


def test_autoload_on_takes_cfg_and_background_and_fills_the_table(qtbot, panel, experiment):
    tuned = SYNTH_PARAMS.with_updates(thresh=77, maxTime=9)
    folder = saved_result(experiment / "Run0" / "images", tuned)
    click(qtbot, panel.autoload_check)
    assert panel.stack.autoload
    (entry,) = panel.add_folders([experiment / "Run0"], suffix="images")
    assert entry.params == tuned
    assert entry.background == folder / "background.pgm"
    assert panel.params_table.value("thresh") == 77  # loaded parameters become the table
    assert panel.stack.params == tuned
    row = panel.row_of(entry)
    assert panel.table.cellWidget(row, PARAMS).label.text() == "…/Tracking_Result/cfg.toml"
    assert (
        panel.table.cellWidget(row, BACKGROUND).label.text() == "…/Tracking_Result/background.pgm"
    )


def test_autoload_off_ignores_saved_files(qtbot, panel, experiment):
    saved_result(experiment / "Run0" / "images", SYNTH_PARAMS.with_updates(thresh=77))
    assert not panel.autoload_check.isChecked()
    (entry,) = panel.add_folders([experiment / "Run0"], suffix="images")
    assert entry.params == SYNTH_PARAMS
    assert entry.background is None
    assert texts(panel, BACKGROUND) == ["computed"]
    assert texts(panel, PARAMS) == ["table snapshot"]


# -- 2, 11: unique background ------------------------------------------------------------------
def test_unique_background_applies_before_and_after_adds_until_cleared(
    qtbot, panel, dialogs, experiment
):
    background = experiment / "Run0" / "background.pgm"
    panel.add_folders([experiment / "Run0"], suffix="images")
    assert not panel.clear_background_button.isEnabled()
    dialogs.answers = [background]
    click(qtbot, panel.unique_button)
    assert panel.unique_label.text() == str(background)
    panel.add_folders([experiment / "Run1"], suffix="images")
    assert [e.background for e in panel.entries()] == [background, background]
    assert texts(panel, BACKGROUND) == ["…/Run0/background.pgm"] * 2
    click(qtbot, panel.clear_background_button)
    assert "none" in panel.unique_label.text()
    assert not panel.clear_background_button.isEnabled()
    panel.add_folders([experiment / "Run2"], suffix="images")
    assert [e.background for e in panel.entries()] == [background, background, None]


# -- 5, 6: per-entry overrides -----------------------------------------------------------------
def test_entry_buttons_override_background_and_parameters(
    qtbot, panel, dialogs, experiment, tmp_path
):
    panel.add_folders([experiment / "Run0", experiment / "Run1"], suffix="images")
    first, second = panel.entries()
    background = experiment / "Run1" / "background.pgm"
    dialogs.answers = [background]
    click(qtbot, panel.table.cellWidget(1, BACKGROUND).button)
    assert second.background == background and first.background is None
    assert panel.table.cellWidget(1, BACKGROUND).label.toolTip() == str(background)

    cfg = tmp_path / "special.toml"
    save_cfg(SYNTH_PARAMS.with_updates(thresh=33), cfg)
    dialogs.answers = [cfg]
    click(qtbot, panel.table.cellWidget(0, PARAMS).button)
    assert first.params.thresh == 33 and second.params.thresh == SYNTH_PARAMS.thresh
    assert texts(panel, PARAMS) == [f"…/{tmp_path.name}/special.toml", "table snapshot"]
    assert "thresh = 33" in panel.table.cellWidget(0, PARAMS).label.toolTip()

    bad = tmp_path / "bad.toml"
    bad.write_text('title = "FastTrack cfg"\n\n[parameters]\nthresh = 999\n')
    dialogs.answers = [bad]
    with qtbot.waitSignal(panel.message) as said:
        click(qtbot, panel.table.cellWidget(0, PARAMS).button)
    assert "thresh" in said.args[0] and "bad.toml" in said.args[0]
    assert first.params.thresh == 33  # unchanged


# -- 9: the parameter table --------------------------------------------------------------------
def test_parameter_table_shows_every_parameter_with_unit_range_help_and_choices(panel):
    table = panel.params_table
    infos = describe_parameters()
    assert table.rowCount() == len(infos)
    for row, info in enumerate(infos):
        assert table.item(row, 0).text() == info["name"]
        assert table.item(row, 2).text() == (info["unit"] or "")
        assert table.item(row, 3).text()  # a range
        assert info["description"] in table.item(row, 0).toolTip()
        editor = table.editor(info["name"])
        if info["choices"]:
            assert isinstance(editor, QComboBox)
            codes = [editor.itemData(i) for i in range(editor.count())]
            assert codes == list(info["choices"])
        elif info["type"] == "str":
            assert editor.text() == info["default"]
        else:
            assert editor.minimum() == info["min"]
            if info["max"] is not None:
                assert editor.maximum() == info["max"]
    assert table.item(0, 3).text() == "0–255"  # thresh


def test_table_edits_set_the_stack_table_and_entries_keep_their_snapshot(panel, experiment):
    (entry,) = panel.add_folders([experiment / "Run0"], suffix="images")
    panel.params_table.set_value("methBack", 2)
    panel.params_table.set_value("thresh", 51)
    assert panel.stack.params.methBack == 2 and panel.stack.params.thresh == 51
    assert entry.params == SYNTH_PARAMS  # FastTrack's snapshot rule
    (later,) = panel.add_folders([experiment / "Run1"], suffix="images")
    assert later.params.thresh == 51


def test_invalid_combination_is_marked_and_not_applied(qtbot, panel):
    with qtbot.waitSignal(panel.params_table.invalid) as said:
        panel.params_table.set_value("minArea", 5000)
    assert "minArea" in said.args[0]
    assert panel.params_table.editor("minArea").styleSheet()
    assert panel.stack.params.minArea == SYNTH_PARAMS.minArea
    panel.params_table.set_value("maxArea", 6000)  # makes the set valid again
    assert panel.stack.params.minArea == 5000
    assert not panel.params_table.editor("minArea").styleSheet()


# -- 13, 14: remove selected, clear ------------------------------------------------------------
def test_remove_selected_then_clear(qtbot, panel, experiment):
    panel.add_folders([experiment / f"Run{i}" for i in range(3)], suffix="images")
    selection = panel.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (0, 2):
        selection.select(panel.table.model().index(row, 0), flags)
    click(qtbot, panel.remove_button)
    assert texts(panel, PATH) == [str(experiment / "Run1" / "images")]
    assert [e.path.parent.name for e in panel.entries()] == ["Run1"]
    click(qtbot, panel.clear_button)
    assert panel.table.rowCount() == 0 and len(panel.stack) == 0
    assert panel.empty_hint.isVisible()


# -- 7, 8, 12: a real run ----------------------------------------------------------------------
def test_start_runs_in_parallel_to_done_with_live_progress_and_no_freeze(qtbot, panel, experiment):
    panel.add_folders([experiment / f"Run{i}" for i in range(3)], suffix="images")
    panel.chunk_size = 10  # 40-frame movies: four progress steps each
    panel.workers_spin.setValue(2)
    seen: dict[int, list[int]] = {}
    for entry in panel.entries():
        bar = panel.progress_bar(entry)
        bar.valueChanged.connect(lambda value, i=entry.id: seen.setdefault(i, []).append(value))
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        click(qtbot, panel.start_button)
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
        assert not panel.open_button.isEnabled() and not panel.clear_button.isEnabled()
    timer.stop()
    assert texts(panel, STATUS) == ["Done"] * 3
    for entry in panel.entries():
        assert panel.progress_bar(entry).value() == panel.progress_bar(entry).maximum() == 40
        assert (entry.path / "Tracking_Result" / "tracking.txt").is_file()
        assert "ids" in panel.status_item(entry).toolTip()
    intermediate = [v for values in seen.values() for v in values if 0 < v < 40]
    assert intermediate, f"progress values seen: {seen}"
    assert finished.args[0].counts["Done"] == 3
    assert panel.summary_label.text().startswith("Finished: 3 Done")
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    gaps = np.diff(ticks)
    assert len(ticks) > 10 and gaps.max() < 1.0, f"GUI thread blocked {gaps.max():.2f} s"


def test_start_on_a_dask_cluster_given_by_its_address(qtbot, panel, experiment):
    from distributed import LocalCluster

    panel.add_folders([experiment / f"Run{i}" for i in range(2)], suffix="images")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        panel.scheduler_edit.setText(cluster.scheduler_address)
        with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
            click(qtbot, panel.start_button)
            assert not panel.scheduler_edit.isEnabled()
            assert cluster.scheduler_address in panel.summary_label.text()
    assert texts(panel, STATUS) == ["Done"] * 2
    assert finished.args[0].counts["Done"] == 2
    assert panel.scheduler_edit.isEnabled()


def test_failing_entry_is_shown_as_error_and_done_entries_show_trajectories(
    qtbot, panel, experiment, tmp_path
):
    panel.backend = "inprocess"
    panel.add_folders([experiment / "Run0", experiment / "Run1"], suffix="images")
    wrong_size = tmp_path / "small.pgm"
    cv2.imwrite(str(wrong_size), np.full((10, 10), 200, np.uint8))
    done, failing = panel.entries()
    panel.override_background(failing, wrong_size)
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS):
        panel.start()
    assert done.status is Status.DONE and failing.status is Status.ERROR
    assert texts(panel, STATUS) == ["Done", "Error"]
    tooltip = panel.status_item(failing).toolTip()
    assert "small.pgm" in tooltip and "10×10" in tooltip
    assert "1 Error" in panel.summary_label.text()
    assert panel.summary_label.styleSheet()  # shown in red

    with qtbot.waitSignal(panel.message) as said:
        double_click(qtbot, panel, failing)
    assert "Done" in said.args[0]
    assert not panel.findChildren(TrajectoryDialog)
    double_click(qtbot, panel, done)
    (dialog,) = panel.findChildren(TrajectoryDialog)
    assert dialog.png == done.path / "Tracking_Result" / "trajectories.png"
    assert dialog.png.is_file() and dialog.view.image.shape[2] == 3
    dialog.close()


def test_stop_cancels_the_run(qtbot, panel, tmp_path):
    folders = [write_movie(tmp_path / f"Long{i}" / "images", frames=150, seed=i) for i in range(3)]
    panel.backend = "inprocess"
    panel.chunk_size = 5
    panel.add_folders(folders)
    first = panel.entries()[0]
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        panel.start()
        qtbot.waitUntil(lambda: panel.progress_bar(first).value() > 0, timeout=RUN_TIMEOUT_MS)
        click(qtbot, panel.stop_button)
        assert panel.summary_label.text().startswith("Stopping")
    assert panel.summary_label.text().startswith("Stopped:")
    statuses = [e.status for e in panel.entries()]
    assert Status.WAITING in statuses, statuses
    cancelled = [e for e in panel.entries() if e.message == "cancelled"]
    assert cancelled and all(panel.status_item(e).text() == "Waiting" for e in cancelled)
    assert finished.args[0].counts["Done"] < 3
    assert panel.start_button.isEnabled()


# -- manifests ---------------------------------------------------------------------------------
def test_save_and_load_the_stack_as_a_manifest(qtbot, panel, dialogs, experiment, tmp_path):
    background = experiment / "Run0" / "background.pgm"
    panel.add_folders([experiment / "Run0", experiment / "Run1"], suffix="images")
    panel.override_background(panel.entries()[1], background)
    panel.set_unique_background(None)
    panel.set_autoload(True)
    manifest = tmp_path / "stack.toml"
    dialogs.answers = [manifest]
    click(qtbot, panel.save_button)
    assert manifest.is_file()
    before = [(e.path, e.background, e.params) for e in panel.entries()]

    click(qtbot, panel.clear_button)
    panel.set_autoload(False)
    panel.params_table.set_value("thresh", 99)
    dialogs.answers = [manifest]
    click(qtbot, panel.load_button)
    assert [(e.path, e.background, e.params) for e in panel.entries()] == before
    assert texts(panel, PATH) == [str(p) for p, _, _ in before]
    assert texts(panel, BACKGROUND)[1] == "…/Run0/background.pgm"
    assert panel.autoload_check.isChecked()
    assert panel.params_table.value("thresh") == SYNTH_PARAMS.thresh
    # The loaded stack is live: adding goes into it.
    panel.add_folders([experiment / "Run2"], suffix="images")
    assert len(panel.stack) == 3 and panel.table.rowCount() == 3


def test_closing_the_window_during_a_run_stops_it(qtbot, dialogs, tmp_path):
    from batchtrack.gui.window import MainWindow

    window = MainWindow(dialogs=dialogs)
    qtbot.addWidget(window)
    window.show()
    panel = window.batch
    panel.backend, panel.chunk_size = "inprocess", 5
    panel.set_table_params(SYNTH_PARAMS)
    panel.add_folders([write_movie(tmp_path / f"M{i}", frames=150, seed=i) for i in range(3)])
    panel.start()
    qtbot.waitUntil(lambda: panel.progress_bar(panel.entries()[0]).value() > 0)
    window.close()
    assert not panel.runner.running
    assert any(e.status is Status.WAITING for e in panel.entries())


# -- what a scientist expects of the window (issue 15) ------------------------------------------
def test_queued_entries_wait_while_two_workers_run(qtbot, panel, tmp_path):
    folders = [write_movie(tmp_path / f"M{i}" / "images", frames=120, seed=i) for i in range(4)]
    panel.add_folders(folders)
    panel.workers_spin.setValue(2)
    running_at_once: list[int] = []
    seen: set[Status] = set()

    def on_event(event, entry) -> None:
        if entry is not None and event == "status":
            seen.add(entry.status)
            running_at_once.append(sum(e.status is Status.RUNNING for e in panel.stack))

    panel.stack.subscribe(on_event)
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS):
        panel.start()
    assert Status.QUEUED in seen
    assert max(running_at_once) <= 2, running_at_once
    assert texts(panel, STATUS) == ["Done"] * 4


def test_time_and_result_columns_after_a_run(qtbot, panel, experiment):
    panel.backend = "inprocess"
    panel.add_folders([experiment / "Run0"], suffix="images")
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS):
        panel.start()
    (entry,) = panel.entries()
    assert entry.seconds > 0
    assert texts(panel, TIME)[0].endswith(" s")
    verdict = json.loads((entry.result_dir / "quality.json").read_text())["verdict"]
    assert texts(panel, RESULT) == [f"{entry.n_ids} ids · {verdict}"] and entry.n_ids == 3
    assert f"quality: {verdict}" in panel.table.item(0, RESULT).toolTip()


def test_redo_finished_tracks_again_and_archives(qtbot, panel, experiment):
    panel.backend = "inprocess"
    panel.add_folders([experiment / "Run0"], suffix="images")
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS):
        panel.start()
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as again:
        panel.start()
    assert again.args[0].counts["Skipped"] == 1
    panel.force_check.setChecked(True)
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as forced:
        panel.start()
    assert forced.args[0].counts["Done"] == 1
    assert len(list((experiment / "Run0" / "images").glob("Tracking_Result_Archive-*"))) == 1


def test_after_stop_finished_entries_are_done_and_other_bars_reset(qtbot, panel, tmp_path):
    folders = [write_movie(tmp_path / f"S{i}" / "images", frames=150, seed=i) for i in range(4)]
    panel.backend = "inprocess"
    panel.chunk_size = 5
    panel.add_folders(folders)
    first = panel.entries()[0]
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        panel.start()
        qtbot.waitUntil(lambda: first.status is Status.DONE, timeout=RUN_TIMEOUT_MS)
        click(qtbot, panel.stop_button)
    summary = finished.args[0]
    done = [e for e in panel.entries() if (e.result_dir / "tracking.txt").is_file()]
    assert all(e.status is Status.DONE for e in done) and summary.counts["Done"] == len(done)
    assert summary.frames == 150 * len(done)
    for entry in panel.entries():
        if entry.status is Status.WAITING:
            assert panel.progress_bar(entry).value() == 0
    assert f"{len(done)} Done" in panel.summary_label.text()


def test_a_doubtful_parameter_is_marked_on_its_row_with_the_fix(qtbot, panel):
    table = panel.params_table
    with qtbot.waitSignal(table.warned) as said:
        table.set_value("methBack", 0)  # lightBack 0: the minimum keeps the dark fish
    assert "methBack=1 or 2 is usually right" in said.args[0]
    row = [table.item(r, 0).text() for r in range(table.rowCount())].index("⚠ methBack")
    assert "methBack=1 or 2" in table.item(row, 0).toolTip()
    assert panel.params_notice.isVisible() and "methBack=1 or 2" in panel.params_notice.text()
    table.set_value("methBack", 1)
    assert not panel.params_notice.isVisible()
    assert table.warning("methBack") == ""
    assert "⚠ methBack" not in [table.item(r, 0).text() for r in range(table.rowCount())]


def test_folder_dialogs_open_at_the_current_folder_first() -> None:
    from batchtrack.gui.dialogs import Dialogs

    assert Dialogs().last_dir == str(Path.cwd())


def test_files_added_as_a_recording_run_as_one_and_show_it(qtbot, panel, experiment):
    panel.recording_edit.setText("day1")
    panel.add_folders([experiment / "Run2", experiment / "Run0"], suffix="images")
    panel.recording_edit.clear()
    panel.add_folders([experiment / "Run1"], suffix="images")
    assert texts(panel, RECORDING) == ["day1", "day1", ""]
    assert [e.path.parent.name for e in panel.entries()] == ["Run0", "Run2", "Run1"]
    assert "recording 'day1'" in panel.table.item(0, RECORDING).toolTip()
    panel.workers_spin.setValue(2)
    with qtbot.waitSignal(panel.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        click(qtbot, panel.start_button)
    assert finished.args[0].counts["Done"] == 3
    first, second, alone = panel.entries()
    assert "file 1 of recording 'day1'" in first.message
    assert "file 2 of recording 'day1'" in second.message
    assert "recording" not in alone.message
    assert (experiment / "Run0" / "day1-tracks.parquet").is_file()
