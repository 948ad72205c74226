"""``batchtrack demo``: the README's main-job command, end to end."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from batchtrack.cli import main


def test_demo_tracks_a_batch_scores_it_and_reruns(tmp_path: Path) -> None:
    args = [
        "demo",
        "--out",
        str(tmp_path),
        "--movies",
        "2",
        "--frames",
        "40",
        "--objects",
        "4",
        "--size",
        "160",
        "--workers",
        "2",
    ]
    first = CliRunner().invoke(main, [*args, "--images"])
    assert first.exit_code == 0, first.output
    assert "2 Done" in first.output and "IDF1" in first.output
    runs = sorted(tmp_path.glob("*/Run*"))
    assert [r.name for r in runs] == ["Run1", "Run2"]
    for run in runs:
        assert (run / "images" / "ground_truth.txt").is_file()
        assert (run / "images" / "Tracking_Result" / "trajectories.png").is_file()
    second = CliRunner().invoke(main, [*args, "--images"])  # reuses the movies, archives
    assert second.exit_code == 0, second.output
    assert len(list(runs[0].glob("images/Tracking_Result_Archive-*"))) == 1


def test_demo_writes_small_videos_by_default_and_says_where_and_how_much(tmp_path: Path) -> None:
    args = ["demo", "--out", str(tmp_path), "--movies", "2", "--frames", "60", "--size", "256"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (root,) = tmp_path.glob("60frames-15fish-256px-seed0")
    videos = sorted(root.glob("Run*/movie.avi"))
    assert len(videos) == 2 and all((v.parent / "Tracking_Result_movie").is_dir() for v in videos)
    on_disk = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6
    assert f"in {root} (" in result.output and " MB on disk)" in result.output
    assert on_disk < 5


def test_demo_tells_the_tracker_the_number_of_fish_unless_animals_0(tmp_path: Path) -> None:
    from batchtrack.params import load_cfg

    args = ["demo", "--out", str(tmp_path), "--movies", "1", "--frames", "60", "--objects",
            "5", "--size", "192", "--workers", "1"]  # fmt: skip
    known = CliRunner().invoke(main, args)
    assert known.exit_code == 0, known.output
    (result,) = tmp_path.glob("*/Run1/Tracking_Result_movie")
    assert load_cfg(result / "cfg.toml").animals == 5
    assert "5 ids" in known.output  # exactly the fish, by construction of the known count
    compatible = CliRunner().invoke(main, [*args, "--animals", "0"])
    assert compatible.exit_code == 0, compatible.output
    assert load_cfg(result / "cfg.toml").animals == 0
