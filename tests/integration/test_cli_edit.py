"""Correcting results without the window: ``batchtrack edit``, the batch after edits, export-video.

The movies are the batch tests' blobs (three dark ellipses, 60 frames), tracked through the
batch runner so that their result folders carry a resume marker.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from batchdata import BLOB_PARAMS, N_FRAMES, write_blob_sequence
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack, Status
from batchtrack.cli import main
from batchtrack.corrections import EditSession
from batchtrack.edits import Edit, apply_edits
from batchtrack.io.edits import read_edit_log
from batchtrack.io.results import ResultWriter, read_tracking
from batchtrack.schema import TRACKING_COLUMNS


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run(stack: Stack, **options) -> None:
    run_stack(stack, backend="inprocess", **options)


@pytest.fixture
def tracked(tmp_path: Path) -> tuple[Stack, Path]:
    """A one-entry stack, run: (stack, its Tracking_Result folder)."""
    movie = write_blob_sequence(tmp_path / "Run1" / "images")
    stack = Stack(BLOB_PARAMS)
    stack.add([movie])
    run(stack)
    assert stack.entries[0].status is Status.DONE
    return stack, movie / "Tracking_Result"


def tracking_text(table, folder: Path) -> bytes:
    """What ResultWriter writes for ``table``: the reference for a corrected tracking.txt."""
    with ResultWriter(folder / "Tracking_Result") as out:
        out.write_rows(table[list(TRACKING_COLUMNS)].to_numpy(np.float64))
        published = out.finish(np.zeros((4, 4), np.uint8), BLOB_PARAMS)
    return (published / "tracking.txt").read_bytes()


CLI_EDITS = [
    (["--swap", "0", "1", "--from", "20"], Edit("swap", (0, 1), first=20)),
    (["--rename", "2", "7", "--from", "10", "--to", "30"], Edit("rename", (2, 7), 10, 30)),
    (["--merge", "7", "2"], Edit("merge", (7, 2))),
    (["--delete", "1", "--from", "40", "--to", "44"], Edit("delete", (1,), first=40, last=44)),
]  # fmt: skip


def test_cli_edits_give_apply_edits_of_the_original(tracked, tmp_path):
    _, folder = tracked
    before = (folder / "tracking.txt").read_bytes()
    original = read_tracking(folder)
    for args, _ in CLI_EDITS:
        result = cli("edit", str(folder), *args)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("saved: ")
    assert (folder / "tracking_original.txt").read_bytes() == before
    expected = apply_edits(original, [edit for _, edit in CLI_EDITS])
    assert (folder / "tracking.txt").read_bytes() == tracking_text(expected, tmp_path / "ref")
    with sqlite3.connect(folder / "tracking.db") as db:
        rows = db.execute("SELECT imageNumber, id FROM tracking").fetchall()
    assert rows == list(zip(expected["imageNumber"], expected["id"]))
    records = read_edit_log(folder)
    assert [r["what"] for r in records] == ["swap", "rename", "merge", "delete"]
    assert records[1]["ids"] == [2, 7] and records[1]["first"] == 10 and records[1]["last"] == 30
    assert "last" not in records[0] and records[0]["when"].endswith("+00:00")
    listing = cli("edit", str(folder), "--list").output.splitlines()
    assert [line.split()[1:4] for line in listing][:2] == [["swap", "0", "1"], ["rename", "2", "7"]]
    archives = sorted(folder.parent.glob("Tracking_Result_Archive-*"))
    assert len(archives) == len(CLI_EDITS)  # each save archives the previous folder
    assert (archives[0] / "tracking.txt").read_bytes() == before


def test_undo_back_to_no_edit_gives_the_original_bytes(tracked):
    _, folder = tracked
    (folder / "arenas" / "arena_1").mkdir(parents=True)  # what an arena run adds: kept
    (folder / "arenas" / "arena_1" / "tracking.txt").write_text("per-arena table\n")
    (folder / "arenas.csv").write_text("arena,name\n1,A\n")
    before = (folder / "tracking.txt").read_bytes()
    cli("edit", str(folder), "--swap", "0", "2", "--from", "5")
    assert (folder / "tracking.txt").read_bytes() != before
    result = cli("edit", str(folder), "--undo")
    assert result.output.startswith("undone: swap 0 2 from frame 5")
    assert (folder / "tracking.txt").read_bytes() == before
    assert (folder / "tracking_original.txt").read_bytes() == before
    assert not (folder / "edits.toml").exists()
    assert cli("edit", str(folder), "--undo").exit_code == 1
    assert (folder / "arenas" / "arena_1" / "tracking.txt").read_text() == "per-arena table\n"
    assert (folder / "arenas.csv").read_text() == "arena,name\n1,A\n"


def test_an_edit_on_a_missing_id_is_refused_and_nothing_changes(tracked):
    _, folder = tracked
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = cli("edit", str(folder), "--delete", "42", "--from", "3", "--to", "9")
    assert result.exit_code == 1
    assert "error: delete 42 frames 3–9: id 42 has no object in frames 3–9" in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not list(folder.parent.glob("Tracking_Result_Archive-*"))
    assert cli("edit", str(folder), "--swap", "0", "1", "--merge", "1", "2").exit_code == 1
    assert (
        "merge covers the whole movie"
        in cli("edit", str(folder), "--merge", "1", "2", "--from", "4").output
    )


def test_a_batch_rerun_keeps_edits_and_a_redo_archives_them(tracked):
    stack, folder = tracked
    session = EditSession(folder)
    session.add(Edit("swap", (0, 1), first=30))
    session.save()
    edited = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert "edits.toml" in edited and "tracking_original.txt" in edited

    run(stack)  # same inputs: skipped, edits kept byte for byte
    assert stack.entries[0].status is Status.SKIPPED
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == edited

    (folder / "edits.toml").write_text(edited["edits.toml"].decode() + "\n# touched\n")
    run(stack)  # the log no longer matches the tables saved with it: tracked again
    entry = stack.entries[0]
    assert entry.status is Status.DONE
    assert "edits were archived with it, not re-applied" in entry.message
    assert not (folder / "edits.toml").exists() and not (folder / "tracking_original.txt").exists()
    assert (folder / "tracking.txt").read_bytes() == edited["tracking_original.txt"]
    archived = [
        a
        for a in folder.parent.glob("Tracking_Result_Archive-*")
        if (a / "edits.toml").is_file() and b"touched" in (a / "edits.toml").read_bytes()
    ]
    assert len(archived) == 1
    assert (archived[0] / "tracking.txt").read_bytes() == edited["tracking.txt"]

    run(stack)  # unedited again: skipped
    assert stack.entries[0].status is Status.SKIPPED
    EditSession(folder).save()  # no edit: nothing to re-apply, still resumable
    run(stack, force=True)
    assert stack.entries[0].status is Status.DONE
    assert "not re-applied" not in stack.entries[0].message


def test_export_video_has_the_movies_frame_count(tracked, tmp_path):
    _, folder = tracked
    out = tmp_path / "review.mp4"
    result = cli("export-video", str(folder), str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {N_FRAMES} frames" in result.output
    part = tmp_path / "part.avi"
    assert (
        cli("export-video", str(folder.parent), str(part), "--from", "10", "--to", "29").exit_code
        == 0
    )
    for path, frames in ((out, N_FRAMES), (part, 20)):
        capture = cv2.VideoCapture(str(path))
        assert capture.isOpened()
        decoded = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            decoded += 1
            shape = image.shape
        capture.release()
        assert decoded == frames
        assert shape == (120 * 5, 160 * 5, 3)  # enlarged to a long side of at least 800 px
    bad = cli("export-video", str(folder), str(tmp_path / "x.mp4"), "--from", "50", "--to", "90")
    assert bad.exit_code == 1 and "outside the movie (frames 0–59)" in bad.output


def test_edit_finds_the_result_of_a_movie_and_refuses_what_is_not_one(tracked, tmp_path):
    _, folder = tracked
    assert cli("edit", str(folder.parent), "--list").output.strip().endswith("no edits")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("edit", str(empty), "--list")
    assert result.exit_code == 1 and "no tracking result" in result.output
    copy = tmp_path / "copy" / "Tracking_Result"
    shutil.copytree(folder, copy)
    (copy / "edits.toml").write_text('[[edit]]\nwhat = "swap"\nids = [0, 99]\nfirst = 0\n')
    assert cli("edit", str(copy), "--list").exit_code == 0  # id 0 exists: a valid swap
    (copy / "edits.toml").write_text('[[edit]]\nwhat = "delete"\nids = [99]\n')
    result = cli("edit", str(copy), "--list")
    assert result.exit_code == 1 and "id 99 has no object" in result.output


def test_a_video_result_is_found_from_the_video_and_exported(tmp_path):
    from batchdata import write_blob_video
    from batchtrack.corrections import movie_of, result_of
    from batchtrack.movie import track

    video = write_blob_video(tmp_path / "clips" / "fish.avi")
    track(video, BLOB_PARAMS)
    folder = result_of(video)
    assert folder == tmp_path / "clips" / "Tracking_Result_fish" and movie_of(folder) == video
    out = tmp_path / "fish-ids.avi"
    assert cli("export-video", str(video), str(out), "--to", "9").exit_code == 0
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    capture.release()


def test_a_fasttrack_result_is_edited_and_its_file_kept_byte_for_byte(tmp_path, zebrafish_dir):
    folder = tmp_path / "images" / "Tracking_Result"
    folder.mkdir(parents=True)
    shutil.copy(zebrafish_dir / "fasttrack_output.txt", folder / "tracking.txt")
    shutil.copy(zebrafish_dir / "background.pgm", folder / "background.pgm")
    original = read_tracking(folder)
    result = cli("edit", str(folder), "--swap", "3", "5", "--from", "40")
    assert result.exit_code == 0, result.output
    kept = (folder / "tracking_original.txt").read_bytes()
    assert kept == (zebrafish_dir / "fasttrack_output.txt").read_bytes()
    saved = read_tracking(folder)
    expected = apply_edits(original, [Edit("swap", (3, 5), first=40)])
    assert list(saved.columns) == list(TRACKING_COLUMNS)
    np.testing.assert_allclose(saved.to_numpy(), expected.to_numpy(), rtol=1e-5)


def test_saving_edits_writes_the_analysis_files_again_from_the_edited_rows(tmp_path) -> None:
    import pandas as pd

    from batchtrack import Parameters, track
    from batchtrack.corrections import EditSession
    from batchtrack.edits import Edit
    from batchtrack.synth import make_movie, write_sequence

    movie = write_sequence(make_movie(30, 3, shape=(120, 120), seed=4), tmp_path / "m")
    track(movie, Parameters(thresh=60, methBack=1, maxArea=400, animals=3))
    session = EditSession(movie)
    session.add(Edit("swap", (0, 1), first=10))
    folder = session.save()
    text = pd.read_csv(folder / "tracking.txt", sep="\t")
    table = pd.read_parquet(folder / "tracking.parquet")
    merged = text.merge(table, on=["imageNumber", "xBody", "yBody"], suffixes=("", "_parquet"))
    assert len(merged) == len(text) and (merged["id"] == merged["id_parquet"]).all()
    assert pd.read_csv(folder / "animals.csv")["id"].tolist() == [0, 1, 2]
