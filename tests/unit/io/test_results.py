from __future__ import annotations

import socket
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from batchtrack.errors import OutputError
from batchtrack.io.publish import archive_name
from batchtrack.io.results import ResultWriter, read_tracking
from batchtrack.params import Parameters, load_cfg
from batchtrack.schema import TRACKING_COLUMNS


def rows(n: int = 3) -> np.ndarray:
    r = np.random.default_rng(0).uniform(0, 100, (n, len(TRACKING_COLUMNS)))
    r[:, -2] = np.arange(n)  # imageNumber
    r[:, -1] = [0, 1, 0][:n]
    return r


def test_result_folder_contents(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    params = Parameters(thresh=42)
    with ResultWriter(folder) as out:
        out.write_rows(rows())
        out.log("frame 7 skipped: unreadable")
        out.finish(np.full((4, 5), 128, np.uint8), params)
    assert sorted(p.name for p in folder.iterdir()) == [
        "background.pgm", "cfg.toml", "log", "tracking.db", "tracking.txt",
    ]  # fmt: skip
    table = read_tracking(folder)
    assert list(table.columns) == list(TRACKING_COLUMNS)
    np.testing.assert_allclose(table.to_numpy(), rows(), rtol=1e-5)
    with sqlite3.connect(folder / "tracking.db") as db:
        db_rows = db.execute("SELECT * FROM tracking").fetchall()
        types = {r[1]: r[2] for r in db.execute("PRAGMA table_info(tracking)")}
        stored = dict(db.execute("SELECT parameter, value FROM parameter").fetchall())
        stored_as = set(db.execute("SELECT typeof(imageNumber), typeof(id) FROM tracking"))
    np.testing.assert_allclose(np.array(db_rows), rows())
    assert stored_as == {("integer", "integer")}  # inserted as floats, stored as integers
    assert types["xHead"] == "REAL"
    assert types["imageNumber"] == types["id"] == "INTEGER"
    assert stored["thresh"] == 42
    assert load_cfg(folder / "cfg.toml") == params
    assert "frame 7 skipped" in (folder / "log").read_text()


def test_numbers_are_printed_with_six_significant_digits(tmp_path: Path) -> None:
    r = rows(1)
    r[0, 0] = 514.60317460
    with ResultWriter(tmp_path / "R") as out:
        out.write_rows(r)
        out.finish(np.zeros((2, 2), np.uint8), Parameters())
    assert (tmp_path / "R" / "tracking.txt").read_text().splitlines()[1].startswith("514.603\t")


def test_existing_result_is_archived_not_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    folder.mkdir()
    (folder / "tracking.txt").write_text("old result")
    with ResultWriter(folder) as out:
        out.finish(np.zeros((2, 2), np.uint8), Parameters())
    archives = list(tmp_path.glob("Tracking_Result_Archive-*"))
    assert len(archives) == 1
    assert (archives[0] / "tracking.txt").read_text() == "old result"
    assert (folder / "tracking.txt").read_text().startswith("xHead")


def test_archive_name_format_and_collisions(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    when = datetime(2024, 3, 5, 14, 7, 9)
    first = archive_name(folder, when)
    assert first.name == "Tracking_Result_Archive-05-Mar-2024-14-07-09"
    first.mkdir()
    assert archive_name(folder, when).name == "Tracking_Result_Archive-05-Mar-2024-14-07-09-1"


def test_failure_leaves_previous_result_untouched_and_no_partial(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    folder.mkdir()
    (folder / "tracking.txt").write_text("old result")
    with pytest.raises(RuntimeError), ResultWriter(folder) as out:
        out.write_rows(rows())
        raise RuntimeError("crash in the middle")
    assert (folder / "tracking.txt").read_text() == "old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Tracking_Result"]


def test_stale_partial_of_a_dead_process_is_cleaned(tmp_path: Path) -> None:
    stale = tmp_path / f".Tracking_Result.partial-{socket.gethostname()}-999999999"
    stale.mkdir()
    with ResultWriter(tmp_path / "Tracking_Result") as out:
        out.finish(np.zeros((2, 2), np.uint8), Parameters())
    assert not stale.exists()


def test_unwritable_location_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write results"):
        ResultWriter(blocker / "Tracking_Result")
