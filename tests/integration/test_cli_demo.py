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
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "2 Done" in first.output and "IDF1" in first.output
    runs = sorted(tmp_path.glob("*/Run*"))
    assert [r.name for r in runs] == ["Run1", "Run2"]
    for run in runs:
        assert (run / "images" / "ground_truth.txt").is_file()
        assert (run / "images" / "Tracking_Result" / "trajectories.png").is_file()
    second = CliRunner().invoke(main, args)  # reuses the movies, archives the results
    assert second.exit_code == 0, second.output
    assert len(list(runs[0].glob("images/Tracking_Result_Archive-*"))) == 1
