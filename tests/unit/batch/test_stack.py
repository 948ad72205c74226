"""Tests of batchtrack.batch.stack: FastTrack's rules for adding entries to the batch stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchdata import BLOB_PARAMS, write_background, write_blob_sequence, write_blob_video
from batchtrack.batch.stack import Entry, Stack, Status
from batchtrack.errors import ParameterError
from batchtrack.movie import track_movie
from batchtrack.params import Parameters, save_cfg

TABLE = BLOB_PARAMS
OTHER = BLOB_PARAMS.with_updates(thresh=77, maxTime=9)


def result_files(folder: Path, *, cfg: Parameters | None = None, background: bool = False):
    """Put a cfg.toml and/or a background.pgm in a result folder, as a previous run would."""
    folder.mkdir(parents=True, exist_ok=True)
    if cfg is not None:
        save_cfg(cfg, folder / "cfg.toml")
    if background:
        write_background(folder / "background.pgm", 190)
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """``exp/Run1/images`` and ``exp/Run2/images`` sequences, ``exp/Run3`` without images."""
    exp = tmp_path / "exp"
    write_blob_sequence(exp / "Run1" / "images", 5, seed=1)
    write_blob_sequence(exp / "Run2" / "images", 5, seed=2)
    (exp / "Run3").mkdir()
    return exp


# -- adding ------------------------------------------------------------------------------------
def test_add_several_folders_at_once_with_a_suffix(runs: Path) -> None:
    stack = Stack(TABLE)
    added = stack.add([runs / "Run1", runs / "Run2"], suffix="images")
    assert [e.path for e in added] == [runs / "Run1" / "images", runs / "Run2" / "images"]
    assert stack.entries == added
    assert all(e.status is Status.WAITING and e.message == "" for e in added)
    assert all(e.params == TABLE and e.background is None for e in added)
    assert added[0].result_dir == runs / "Run1" / "images" / "Tracking_Result"
    assert len({e.id for e in added}) == 2


def test_suffix_that_does_not_exist_gives_an_error_entry(runs: Path) -> None:
    stack = Stack(TABLE)
    good, missing = stack.add([runs / "Run1", runs / "Run3"], suffix="images")
    assert good.status is Status.WAITING
    assert missing.path == runs / "Run3" / "images"
    assert missing.status is Status.ERROR
    assert str(missing.path) in missing.message and "suffix" in missing.message


def test_without_suffix_the_folder_itself_is_the_entry(runs: Path) -> None:
    stack = Stack(TABLE)
    (entry,) = stack.add([runs / "Run1" / "images"])
    assert entry.path == runs / "Run1" / "images" and entry.status is Status.WAITING
    # Run1 itself holds no frames (they are one level down): nothing to track there
    (error,) = stack.add([runs / "Run1"])
    assert error.status is Status.ERROR and "nothing to process" in error.message


def test_folder_of_videos_gives_one_entry_per_video(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    for name in ("fish10.avi", "fish2.avi", "fish1.avi"):
        write_blob_video(folder / name, 5)
    (folder / "notes.txt").write_text("not a movie")
    (folder / ".hidden.avi").write_bytes(b"")
    stack = Stack(TABLE)
    entries = stack.add([folder])
    assert [e.path.name for e in entries] == ["fish1.avi", "fish2.avi", "fish10.avi"]
    assert all(e.status is Status.WAITING for e in entries)
    assert entries[0].result_dir == folder / "Tracking_Result_fish1"


def test_video_file_added_directly(tmp_path: Path) -> None:
    video = write_blob_video(tmp_path / "a" / "movie.avi", 5)
    (entry,) = Stack(TABLE).add([video])
    assert entry.path == video and entry.status is Status.WAITING
    assert entry.result_dir == tmp_path / "a" / "Tracking_Result_movie"


def test_folder_with_a_sequence_and_videos_gives_both(tmp_path: Path) -> None:
    folder = write_blob_sequence(tmp_path / "mixed", 5)
    write_blob_video(folder / "extra.avi", 5)
    entries = Stack(TABLE).add([folder])
    assert [e.path for e in entries] == [folder, folder / "extra.avi"]


@pytest.mark.parametrize("kind", ["text files", "empty folder", "image without number", "file"])
def test_nothing_trackable_gives_an_error_entry_with_a_message(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "thing"
    if kind == "file":
        target.write_text("hello")
    else:
        target.mkdir()
        if kind == "text files":
            (target / "a_001.txt").write_text("a")
            (target / "b.csv").write_text("b")
        elif kind == "image without number":
            write_background(target / "background.pgm")
    good = write_blob_sequence(tmp_path / "good", 5)
    stack = Stack(TABLE)
    error, ok = stack.add([target, good])
    assert error.path == target and error.status is Status.ERROR
    assert "nothing to process" in error.message and str(target) in error.message
    assert ok.status is Status.WAITING  # the bad path does not stop the others


# -- snapshot ----------------------------------------------------------------------------------
def test_entries_keep_the_table_as_it_was_when_added(runs: Path) -> None:
    stack = Stack(TABLE)
    (first,) = stack.add([runs / "Run1" / "images"])
    stack.set_params(OTHER)
    (second,) = stack.add([runs / "Run2" / "images"])
    stack.set_params(TABLE.with_updates(thresh=5))
    assert first.params == TABLE and first.params_source == "table"
    assert second.params == OTHER
    assert stack.params.thresh == 5
    with pytest.raises(ValueError, match="frozen"):  # a snapshot cannot change in place either
        first.params.thresh = 1  # type: ignore[misc]


def test_default_table_is_the_workflow_defaults() -> None:
    assert Stack().params == Parameters()


# -- autoload ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cfg", "background"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_autoload_uses_what_the_result_folder_holds(
    runs: Path, cfg: bool, background: bool
) -> None:
    movie = runs / "Run1" / "images"
    folder = result_files(
        movie / "Tracking_Result", cfg=OTHER if cfg else None, background=background
    )
    stack = Stack(TABLE, autoload=True)
    (entry, later) = stack.add([movie, runs / "Run2" / "images"])
    assert entry.status is Status.WAITING
    assert entry.params == (OTHER if cfg else TABLE)
    assert entry.params_source == (str(folder / "cfg.toml") if cfg else "table")
    assert entry.background == (folder / "background.pgm" if background else None)
    # loaded parameters become the current table, so the next entry gets them too
    assert stack.params == (OTHER if cfg else TABLE)
    assert later.params == stack.params and later.background is None


def test_autoload_off_ignores_the_result_folder(runs: Path) -> None:
    movie = runs / "Run1" / "images"
    result_files(movie / "Tracking_Result", cfg=OTHER, background=True)
    stack = Stack(TABLE, autoload=False)
    (entry,) = stack.add([movie])
    assert entry.params == TABLE and entry.background is None and stack.params == TABLE


def test_autoload_of_a_video_reads_its_own_result_folder(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    write_blob_video(folder / "a.avi", 5)
    write_blob_video(folder / "b.avi", 5)
    result_files(folder / "Tracking_Result_b", cfg=OTHER, background=True)
    stack = Stack(TABLE, autoload=True)
    a, b = stack.add([folder])
    assert a.params == TABLE and a.background is None
    assert b.params == OTHER and b.background == folder / "Tracking_Result_b" / "background.pgm"


def test_autoload_of_a_previous_run_on_the_zebrafish(
    zebrafish_copy: Path, zebrafish_params: Parameters
) -> None:
    """A finished result (written by track_movie) is picked up as FastTrack does it."""
    summary, _ = track_movie(zebrafish_copy, zebrafish_params)
    stack = Stack(Parameters(), autoload=True)
    (entry,) = stack.add([zebrafish_copy])
    assert entry.params == zebrafish_params == stack.params
    assert entry.background == summary.folder / "background.pgm"


def test_autoload_of_a_malformed_cfg_gives_an_error_entry(runs: Path) -> None:
    movie = runs / "Run1" / "images"
    (movie / "Tracking_Result").mkdir()
    (movie / "Tracking_Result" / "cfg.toml").write_text("[parameters]\nthresh = 900\n")
    stack = Stack(TABLE, autoload=True)
    (entry,) = stack.add([movie])
    assert entry.status is Status.ERROR
    assert "thresh" in entry.message and "cfg.toml" in entry.message
    assert stack.params == TABLE


# -- unique background -------------------------------------------------------------------------
def test_unique_background_applies_to_present_and_later_entries_then_clears(
    tmp_path: Path,
) -> None:
    movies = [write_blob_sequence(tmp_path / f"m{i}", 3, seed=i) for i in range(5)]
    result_files(movies[2] / "Tracking_Result", cfg=OTHER, background=True)
    result_files(movies[4] / "Tracking_Result", background=True)
    unique = write_background(tmp_path / "unique.pgm", 180)
    stack = Stack(TABLE, autoload=True)
    first = stack.add(movies[:2])
    assert all(e.background is None for e in first)

    stack.set_unique_background(unique)
    assert all(e.background == unique for e in first)
    autoloaded, later = stack.add(movies[2:4])
    assert autoloaded.background == unique  # not the one of its result folder
    assert autoloaded.params == OTHER  # autoloaded parameters still apply
    assert later.background == unique and later.params == OTHER

    stack.set_unique_background(None)
    assert stack.unique_background is None
    assert all(e.background == unique for e in stack.entries)  # already added: unchanged
    (default,) = stack.add(movies[4:])
    assert default.background == movies[4] / "Tracking_Result" / "background.pgm"
    (plain,) = stack.add([write_blob_sequence(tmp_path / "m5", 3)])
    assert plain.background is None


def test_unique_background_replaces_an_override(runs: Path, tmp_path: Path) -> None:
    stack = Stack(TABLE)
    (entry,) = stack.add([runs / "Run1" / "images"])
    stack.override(entry, background=write_background(tmp_path / "own.pgm"))
    unique = write_background(tmp_path / "unique.pgm")
    stack.set_unique_background(unique)
    assert entry.background == unique


# -- overrides, remove, clear ------------------------------------------------------------------
def test_override_background_and_cfg_of_one_entry(runs: Path, tmp_path: Path) -> None:
    stack = Stack(TABLE)
    one, two = stack.add([runs / "Run1", runs / "Run2"], suffix="images")
    background = write_background(tmp_path / "bg.pgm")
    cfg = tmp_path / "cfg.toml"
    save_cfg(OTHER, cfg)
    stack.override(one.id, background=background)
    stack.override(one, cfg=cfg)
    assert one.background == background
    assert one.params == OTHER and one.params_source == str(cfg)
    assert two.params == TABLE and two.background is None
    assert stack.params == TABLE  # an override does not change the table
    stack.override(two, params=OTHER.with_updates(thresh=11))
    assert two.params.thresh == 11 and two.params_source == "override"


def test_override_with_a_bad_cfg_leaves_the_entry_unchanged(runs: Path, tmp_path: Path) -> None:
    stack = Stack(TABLE)
    (entry,) = stack.add([runs / "Run1" / "images"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters]\nminArea = 500\nmaxArea = 100\n")
    with pytest.raises(ParameterError, match="minArea"):
        stack.override(entry, cfg=bad, background=write_background(tmp_path / "bg.pgm"))
    assert entry.params == TABLE and entry.background is None
    with pytest.raises(ParameterError, match="does not exist"):
        stack.override(entry, cfg=tmp_path / "missing.toml")


def test_remove_and_clear(runs: Path) -> None:
    stack = Stack(TABLE)
    one, two = stack.add([runs / "Run1", runs / "Run2"], suffix="images")
    stack.remove(one.id)
    assert stack.entries == [two] and len(stack) == 1
    with pytest.raises(KeyError):
        stack.remove(one.id)
    stack.add([runs / "Run1"], suffix="images")
    stack.clear()
    assert len(stack) == 0 and list(stack) == []


def test_observers_hear_every_change(runs: Path, tmp_path: Path) -> None:
    events: list[tuple[str, int | None]] = []
    stack = Stack(TABLE)
    stack.subscribe(lambda event, entry: events.append((event, entry and entry.id)))
    one, two = stack.add([runs / "Run1", runs / "Run2"], suffix="images")
    stack.set_params(OTHER)
    stack.override(one, background=write_background(tmp_path / "bg.pgm"))
    stack.set_unique_background(tmp_path / "bg.pgm")
    stack.remove(two)
    stack.clear()
    assert events == [
        ("added", one.id), ("added", two.id), ("params", None), ("changed", one.id),
        ("changed", one.id), ("changed", two.id), ("removed", two.id), ("cleared", None),
    ]  # fmt: skip


def test_get_by_id_or_entry(runs: Path) -> None:
    stack = Stack(TABLE)
    (entry,) = stack.add([runs / "Run1" / "images"])
    assert stack.get(entry.id) is entry and stack.get(entry) is entry
    with pytest.raises(KeyError, match="no entry"):
        stack.get(-1)
    assert isinstance(entry, Entry)


def test_reset_puts_entries_back_to_waiting_but_keeps_missing_paths_in_error(
    runs: Path,
) -> None:
    stack = Stack(TABLE)
    done, missing = stack.add([runs / "Run1", runs / "Run3"], suffix="images")
    stack.set_status(done, Status.DONE, "3 ids")
    stack.set_progress(done, 5, 5)
    stack.reset()
    assert done.status is Status.WAITING and done.message == "" and done.done == 0
    assert missing.status is Status.ERROR and "does not exist" in missing.message


def test_unsubscribe_and_reset_events(tmp_path: Path) -> None:
    stack = Stack(BLOB_PARAMS)
    stack.add([write_blob_sequence(tmp_path / "m", 5)])
    events: list[str] = []
    stop = stack.subscribe(lambda event, entry: events.append(event))
    entry = stack.entries[0]
    stack.set_status(entry, Status.DONE, "ok")
    stack.reset()
    assert events == ["status", "status"] and entry.status is Status.WAITING
    stop()
    stack.set_status(entry, Status.DONE)
    assert events == ["status", "status"]


def test_a_folder_without_its_suffix_suggests_the_suffix(tmp_path) -> None:
    from batchtrack.synth import make_movie, write_sequence

    write_sequence(make_movie(3, 1, shape=(48, 48)), tmp_path / "Run1" / "images")
    (entry,) = Stack().add([tmp_path / "Run1"])
    assert entry.status.name == "ERROR"
    assert "one level down: images (1 to process)" in entry.message
    assert "--suffix images" in entry.message
    (good,) = Stack().add([tmp_path / "Run1"], suffix="images")
    assert good.status.name == "WAITING"
