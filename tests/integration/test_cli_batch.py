"""``batchtrack batch``: one-shot runs and manifests, end to end through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from batchdata import BLOB_PARAMS, write_blob_sequence
from batchtrack.batch.manifest import load_manifest
from batchtrack.cli import main
from batchtrack.io.results import read_tracking

FLAGS = [f"--{k}={v}" for k, v in BLOB_PARAMS.model_dump().items()]


def batch(*args: str):
    return CliRunner().invoke(main, ["batch", *args], catch_exceptions=False)


def experiment(root: Path, runs: int = 3) -> list[Path]:
    """root/Run1/images ... with the suffix layout."""
    return [write_blob_sequence(root / f"Run{i}" / "images", 20, seed=i).parent
            for i in range(1, runs + 1)]  # fmt: skip


def test_one_shot_with_suffix_and_a_missing_run(tmp_path: Path) -> None:
    runs = experiment(tmp_path)
    missing = tmp_path / "Run9"
    result = batch(
        *map(str, [*runs, missing]),
        "--suffix",
        "images",
        "--backend",
        "inprocess",
        "--chunk-size",
        "7",
        "--summary",
        str(tmp_path / "summary"),
        *FLAGS,
    )
    assert result.exit_code == 1  # one entry failed
    for run in runs:
        assert len(read_tracking(run / "images" / "Tracking_Result")) > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"]["Done"] == 3 and summary["counts"]["Error"] == 1
    assert "Run9/images does not exist" in (tmp_path / "summary.csv").read_text()
    assert "3 Done, 1 Error" in result.output


def test_manifest_add_list_remove_clear_run(tmp_path: Path) -> None:
    runs = experiment(tmp_path)
    manifest = tmp_path / "stack.toml"
    result = batch("add", str(manifest), *map(str, runs[:2]), "--suffix", "images", *FLAGS)
    assert result.exit_code == 0 and "added 2 entries" in result.output
    result = batch("add", str(manifest), str(runs[2]), "--suffix", "images", "--thresh=45")
    assert "3 in all" in result.output
    stack = load_manifest(manifest)
    assert [e.params.thresh for e in stack] == [BLOB_PARAMS.thresh] * 2 + [45]
    assert stack.entries[2].params.maxArea == BLOB_PARAMS.maxArea  # table kept, one flag changed
    listing = batch("list", str(manifest)).output
    assert "Run3/images" in listing and "thresh=45" in listing

    assert batch("remove", str(manifest), "2").exit_code == 0
    assert [e.path.parent.name for e in load_manifest(manifest)] == ["Run1", "Run3"]
    assert batch("remove", str(manifest), "7").exit_code == 1

    result = batch("run", str(manifest), "--backend", "inprocess", "-q")
    assert result.exit_code == 0
    assert (runs[0] / "images" / "Tracking_Result" / "tracking.txt").is_file()
    assert not (runs[1] / "images" / "Tracking_Result").exists()
    counts = json.loads((tmp_path / "stack-summary.json").read_text())["counts"]
    assert counts["Done"] == 2
    again = batch("run", str(manifest), "--backend", "inprocess", "-q")
    assert again.exit_code == 0
    assert json.loads((tmp_path / "stack-summary.json").read_text())["counts"]["Skipped"] == 2

    assert batch("clear", str(manifest)).exit_code == 0
    assert len(load_manifest(manifest)) == 0


def test_shards_split_a_manifest(tmp_path: Path) -> None:
    runs = experiment(tmp_path, 4)
    manifest = tmp_path / "stack.toml"
    batch("add", str(manifest), *map(str, runs), "--suffix", "images", *FLAGS)
    batch("run", str(manifest), "--backend", "inprocess", "--shard", "2/2", "-q")
    done = [r.name for r in runs if (r / "images" / "Tracking_Result").exists()]
    assert done == ["Run2", "Run4"]
    assert (tmp_path / "stack-summary-2of2.json").is_file()  # one summary per shard
    assert batch("run", str(manifest), "--shard", "3/2").exit_code == 1


def test_user_workflow_with_params(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("a.dat", "b.dat"):
        (folder / name).write_bytes(b"12345")
    result = batch(
        str(folder),
        "--workflow",
        "batchdata:count_files",
        "--param",
        "level=7",
        "--backend",
        "inprocess",
        "--out",
        str(tmp_path / "out"),
        "-q",
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "a.dat.size.txt").read_text()
    assert text.startswith("5\n") and "'level': 7" in text


def test_measure_through_batch_writes_the_combined_table(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        image = np.zeros((64, 64), np.uint8)
        cv2.circle(image, (20 + 10 * i, 30), 8, 200, -1)
        cv2.imwrite(str(folder / f"cell_{i}.png"), image)
    result = batch(
        str(folder),
        "--workflow",
        "measure",
        "--backend",
        "inprocess",
        "--out",
        str(tmp_path / "out"),
        "-q",
    )
    assert result.exit_code == 0, result.output
    combined = (tmp_path / "out" / "measurements_all.csv").read_text().splitlines()
    assert combined[0].startswith("image,label,") and len(combined) == 3  # comma-separated


def test_summary_dash_and_json_print_machine_readable_json(tmp_path: Path) -> None:
    runs = experiment(tmp_path, runs=2)
    common = [*map(str, runs), "--suffix", "images", "--backend", "inprocess", *FLAGS]
    for extra in (["--summary", "-"], ["--json"]):
        result = CliRunner().invoke(main, ["batch", *common, *extra, "--force"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)  # nothing else on stdout
        assert document["counts"]["Done"] == 2 and len(document["entries"]) == 2
    assert not list(tmp_path.glob("-*")) and not list(Path.cwd().glob("-.*"))


def test_batch_help_shows_the_options_of_both_forms() -> None:
    for args in (["batch", "--help"], ["batch", "exp/Run1", "--help"]):
        result = CliRunner().invoke(main, args, prog_name="batchtrack")
        assert result.exit_code == 0
        assert "Usage: batchtrack batch [OPTIONS] PATH... | COMMAND [ARGS]..." in result.output
        assert "batch now" not in result.output
        for option in ("--suffix", "--cfg", "--workers", "--summary", "--json", "--thresh"):
            assert option in result.output, option
