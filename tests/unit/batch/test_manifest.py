"""Tests of batchtrack.batch.manifest: saving and loading a stack (TOML and CSV)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from batchdata import BLOB_PARAMS, write_background, write_blob_sequence, write_blob_video
from batchtrack.batch.manifest import load_manifest, save_manifest
from batchtrack.batch.stack import Stack, Status
from batchtrack.errors import ParameterError
from batchtrack.params import PARAMETER_NAMES, Parameters, save_cfg

OTHER = BLOB_PARAMS.with_updates(thresh=77, maxTime=9, normAngle=45.5)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: two sequences, a folder of two videos, backgrounds, a manifest dir."""
    root = tmp_path / "project"
    write_blob_sequence(root / "Run1" / "images", 3, seed=1)
    write_blob_sequence(root / "Run2" / "images", 3, seed=2)
    write_blob_video(root / "videos" / "a.avi", 3)
    write_blob_video(root / "videos" / "b.avi", 3)
    write_background(root / "backgrounds" / "own.pgm", 190)
    write_background(root / "backgrounds" / "unique.pgm", 180)
    return root


def build_stack(root: Path) -> Stack:
    """Entries with different parameters and backgrounds, set through the stack's rules."""
    stack = Stack(BLOB_PARAMS, autoload=True)
    stack.add([root / "Run1", root / "Run2"], suffix="images")
    stack.set_params(OTHER)
    stack.add([root / "videos"])
    stack.override(stack.entries[1], background=root / "backgrounds" / "own.pgm")
    stack.override(stack.entries[3], params=OTHER.with_updates(minArea=33))
    return stack


def assert_same_entries(loaded: Stack, stack: Stack, old: Path, new: Path) -> None:
    moved = [
        (new / e.path.relative_to(old), e.params,
         None if e.background is None else new / e.background.relative_to(old))
        for e in stack.entries
    ]  # fmt: skip
    assert [(e.path, e.params, e.background) for e in loaded.entries] == moved
    assert all(e.status is Status.WAITING for e in loaded.entries)


@pytest.mark.parametrize("suffix", [".toml", ".csv"])
def test_round_trip_keeps_every_entry(project: Path, suffix: str) -> None:
    stack = build_stack(project)
    manifest = save_manifest(stack, project / f"stack{suffix}")
    loaded = load_manifest(manifest)
    assert_same_entries(loaded, stack, project, project)
    expected = [BLOB_PARAMS, BLOB_PARAMS, OTHER, OTHER.with_updates(minArea=33)]
    assert [e.params for e in loaded.entries] == expected
    # the loaded stack runs like the saved one: same result folders
    assert [e.result_dir for e in loaded.entries] == [e.result_dir for e in stack.entries]


@pytest.mark.parametrize("suffix", [".toml", ".csv"])
def test_paths_are_relative_so_a_moved_project_still_loads(
    project: Path, tmp_path: Path, suffix: str
) -> None:
    stack = build_stack(project)
    save_manifest(stack, project / f"stack{suffix}")
    text = (project / f"stack{suffix}").read_text()
    assert str(project) not in text
    assert "Run1/images" in text and "videos/b.avi" in text and "backgrounds/own.pgm" in text
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, moved)
    shutil.rmtree(project)
    loaded = load_manifest(moved / f"stack{suffix}")
    assert_same_entries(loaded, stack, project, moved)
    assert all(e.path.exists() for e in loaded.entries)


def test_manifest_in_a_sub_folder_and_paths_outside_it(project: Path, tmp_path: Path) -> None:
    outside = write_blob_sequence(tmp_path / "outside", 3)
    stack = Stack(BLOB_PARAMS)
    stack.add([project / "Run1" / "images", outside])
    path = save_manifest(stack, project / "manifests" / "stack.toml")
    text = path.read_text()
    assert '"../Run1/images"' in text or str(project / "Run1" / "images") in text
    assert str(outside) in text  # not below the manifest's folder: absolute
    loaded = load_manifest(path)
    assert [e.path.resolve() for e in loaded.entries] == [project / "Run1" / "images", outside]


def test_toml_keeps_table_options_and_unique_background(project: Path) -> None:
    stack = build_stack(project)
    stack.set_unique_background(project / "backgrounds" / "unique.pgm")
    loaded = load_manifest(save_manifest(stack, project / "stack.toml"))
    assert loaded.params == OTHER and loaded.autoload is True and loaded.workflow == "track"
    assert loaded.unique_background == project / "backgrounds" / "unique.pgm"
    assert all(e.background == loaded.unique_background for e in loaded.entries)


def test_toml_keeps_the_output_folder(project: Path) -> None:
    stack = Stack(BLOB_PARAMS, output=project / "results")
    stack.add([project / "Run1" / "images"])
    loaded = load_manifest(save_manifest(stack, project / "stack.toml"))
    assert loaded.output == project / "results"
    assert [e.result_dir for e in loaded.entries] == [project / "results" / "Run1_images"]


def test_toml_keeps_a_user_workflow_and_its_free_parameters(project: Path) -> None:
    from batchtrack.workflows import UserParameters

    params = UserParameters(sigma=1.5, label="cells", channels=[1, 2])
    stack = Stack(params, workflow="batchdata:count_files")
    stack.add([project / "Run1" / "images"])
    loaded = load_manifest(save_manifest(stack, project / "stack.toml"))
    assert loaded.workflow == "batchdata:count_files" and loaded.params == params
    assert [e.params for e in loaded.entries] == [params] * 3
    assert loaded.entries[0].path == project / "Run1" / "images" / "frame_0000.pgm"


def test_csv_of_a_user_workflow_is_refused(project: Path) -> None:
    stack = Stack(workflow="batchdata:count_files")
    with pytest.raises(ParameterError, match=r"\.toml"):
        save_manifest(stack, project / "stack.csv")


def test_csv_is_one_row_per_entry_with_every_parameter(project: Path) -> None:
    stack = build_stack(project)
    path = save_manifest(stack, project / "stack.csv")
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == ["path", "background", *PARAMETER_NAMES]
    assert len(lines) == 1 + len(stack)
    assert lines[2].startswith("Run2/images,backgrounds/own.pgm,")


def test_hand_written_csv_with_a_cfg_column_and_overrides(project: Path) -> None:
    save_cfg(OTHER, project / "base.toml")
    (project / "stack.csv").write_text(
        "path,cfg,background,thresh\n"
        "Run1/images,base.toml,,\n"
        "Run2/images,base.toml,backgrounds/own.pgm,42\n"
        "Run2/images,,,\n"
        "missing/images,,,\n"
    )
    loaded = load_manifest(project / "stack.csv")
    first, second, third, missing = loaded.entries
    assert first.params == OTHER and first.params_source == str(project / "base.toml")
    assert second.params == OTHER.with_updates(thresh=42)
    assert second.background == project / "backgrounds" / "own.pgm"
    assert third.params == Parameters() and third.background is None
    assert [e.status for e in loaded.entries[:3]] == [Status.WAITING] * 3
    assert missing.status is Status.ERROR and "does not exist" in missing.message


def test_missing_entry_path_in_toml_gives_an_error_entry(project: Path) -> None:
    stack = Stack(BLOB_PARAMS)
    stack.add([project / "Run1" / "images", project / "Run2" / "images"])
    path = save_manifest(stack, project / "stack.toml")
    shutil.rmtree(project / "Run2")
    first, second = load_manifest(path).entries
    assert first.status is Status.WAITING
    assert second.status is Status.ERROR and str(project / "Run2" / "images") in second.message


# -- malformed manifests -----------------------------------------------------------------------
ENTRY = '[[entry]]\npath = "Run1/images"\n'


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("title = 'x'\n[[entry]\npath = 'a'\n", "not valid TOML"),
        ("[[entry]]\nbackground = 'bg.pgm'\n", "has no 'path'"),
        ("[parameters]\nmaxTime = -1\n" + ENTRY, "maxTime"),
        ("workflow = 'nope'\n" + ENTRY, "unknown workflow 'nope'"),
        (ENTRY + "backgound = 'bg.pgm'\n", "backgound"),
        ("autolod = true\n" + ENTRY, "autolod"),
        # the manifest-loader crashes of issue 17
        ("workflow = 5\n", "workflow at the top level must be text, got 5"),
        ("workflow = ':'\n", "workflow ':' cannot be loaded"),
        ("workflow = '..x:f'\n", "workflow '..x:f' cannot be loaded"),
        ("[workflow]\na = 1\n", "workflow at the top level must be text"),
        ("entry = 5\n", "entry at the top level must be a list of tables, got 5"),
        ("entry = ['a']\n", "each \\[\\[entry\\]\\] must be a table"),
        ("output = 5\n", "output at the top level must be a path"),
        ("unique_background = 5\n", "unique_background at the top level must be a path"),
        ("parameters = 5\n", "parameters at the top level must be a table, got 5"),
        ("autoload = 'yes'\n", "autoload at the top level must be true or false"),
        ("title = 5\n", "title at the top level must be text"),
        ("a = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deep"),
    ],
    ids=[
        "syntax", "no path", "table", "workflow", "entry key", "top key", "workflow 5",
        "workflow colon", "workflow relative", "workflow table", "entry 5", "entry text",
        "output 5", "unique_background 5", "parameters 5", "autoload text", "title 5", "deep",
    ],
)  # fmt: skip
def test_malformed_toml_raises_a_parameter_error(project: Path, text: str, match: str) -> None:
    path = project / "stack.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=match) as error:
        load_manifest(path)
    assert "stack.toml" in str(error.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[[entry]]\npath = ''\n", "empty 'path'"),
        (ENTRY + "[entry.parameters]\nthersh = 60\n", "thersh"),
        (ENTRY + "[entry.parameters]\nthresh = 600\n", "thresh"),
        (ENTRY + "[entry.parameters]\nminArea = 300\nmaxArea = 200\n", "minArea"),
        ("[[entry]]\npath = 5\n", "path of an \\[\\[entry\\]\\] must be a path"),
        (ENTRY + "background = 5\n", "background of the \\[\\[entry\\]\\] 'Run1/images'"),
        (ENTRY + "parameters = 5\n", "parameters of the .* must be a table"),
        (ENTRY + "workflow = 5\n", "workflow of the .* must be text"),
        (ENTRY + "output = [1]\n", "output of the .* must be a path"),
        ("[[entry]]\npath = '~nosuchuser/x'\n", "no such user"),
        ("[[entry]]\npath = '" + "x" * 300 + "'\n", "File name too long"),
    ],
    ids=[
        "empty path", "unknown name", "out of range", "inconsistent", "path 5", "background 5",
        "parameters 5", "workflow 5", "output list", "no such user", "long name",
    ],
)  # fmt: skip
def test_a_bad_toml_entry_is_that_entrys_error(project: Path, text: str, match: str) -> None:
    path = project / "stack.toml"
    path.write_text(text + '[[entry]]\npath = "Run2/images"\n')
    first, second = load_manifest(path).entries
    assert first.status is Status.ERROR and re.search(match, first.message), first.message
    assert second.status is Status.WAITING


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("folder,thresh\nRun1/images,60\n", "'path' column"),
        ("", "'path' column"),
        ("path,thersh\nRun1/images,60\n", "thersh"),
    ],
    ids=["no path column", "empty", "unknown column"],
)
def test_malformed_csv_raises_a_parameter_error(project: Path, text: str, match: str) -> None:
    path = project / "stack.csv"
    path.write_text(text)
    with pytest.raises(ParameterError, match=match):
        load_manifest(path)


def test_a_non_utf8_csv_raises_a_parameter_error(project: Path) -> None:
    path = project / "stack.csv"
    path.write_bytes(b"path,thresh\n\xff\xfe,60\n")
    with pytest.raises(ParameterError, match=r"stack\.csv is not UTF-8 text"):
        load_manifest(path)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("Run1/images,sixty,", "line 2.*sixty"),
        ("Run1/images,600,", "line 2.*thresh"),
        ("Run1/images,,nothere.toml", "line 2.*nothere.toml"),
    ],
    ids=["not a number", "out of range", "cfg"],
)
def test_a_bad_csv_row_is_that_entrys_error(project: Path, row: str, match: str) -> None:
    path = project / "stack.csv"
    path.write_text(f"path,thresh,cfg\n{row}\nRun2/images,60,\n")
    first, second = load_manifest(path).entries
    assert first.status is Status.ERROR and re.search(match, first.message), first.message
    assert second.status is Status.WAITING


def test_missing_manifest_raises_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        load_manifest(tmp_path / "nothing.toml")
