"""A known number of animals (``animals = N``): identities measured against ground truth.

Numbers frozen from real runs (see README, "Identities with a known number of animals", and
``benchmarks/bench_identity.py``); the issue's targets are not all reached, the frozen values
are what the code reaches:

===================================  ============  ========  =====================
data                                 IDF1          switches  target (issue 8)
===================================  ============  ========  =====================
zebrafish-100, 14 animals, vs ref.   0.8841        4         ≥ 0.96, ≤ 5 switches
synthetic 10 animals (5 px gate)     0.9983        0
synthetic 25 animals (5 px gate)     0.9951        2         ≥ 0.97
synthetic 50 animals (5 px gate)     0.7608        61        ≥ 0.90
===================================  ============  ========  =====================

The zebrafish reference holds only the objects FastTrack detected (1220 of the 1400 fish
positions): the touching fish that are split and the gaps filled here count as false
positives against it (169 of them), which alone caps IDF1 near 0.936 (IDR: 0.944). On the
rows the reference can judge (:func:`batchtrack.metrics.judged_rows`) IDF1 is 0.9412, against
FastTrack's 0.9254.
zebrafish8 (first 300 frames of each video, hand-tuned parameters below): exactly 8 ids, each
in every frame.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from batchtrack.cli import main
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.errors import ParameterError
from batchtrack.io.frames import open_frames
from batchtrack.io.results import read_tracking
from batchtrack.metrics import identity_score, judged_rows
from batchtrack.movie import compute_background, detect_range, track, track_movie, write_result
from batchtrack.params import Parameters
from batchtrack.synth import make_movie, write_sequence

ZEBRAFISH8 = Path(__file__).resolve().parents[3] / "shared" / "data" / "zebrafish8"

#: zebrafish8, found by hand: dark fish (lightBack 0) on a maximum-projection background;
#: minArea 250 leaves out the reflections of the box on the right (a fish is ~450 px²);
#: maxTime 30 lets the three fish that touch for ~50 frames in test_B be joined and filled.
ZEBRAFISH8_PARAMS = dict(
    lightBack=0, methBack=1, nBack=50, thresh=30, minArea=250, maxArea=2000, maxDist=80,
    maxTime=30, spot=2, normDist=20, normAngle=90, animals=8,
)  # fmt: skip
CLIP = 300

#: (IDF1, switches) frozen from real runs.
RECORDED_SYNTHETIC = {10: (0.9983, 0), 25: (0.9951, 2), 50: (0.7608, 61)}
RECORDED_ZEBRAFISH = (0.8841, 4)
#: IDF1 on the rows the reference can judge, frozen from a real run.
RECORDED_ZEBRAFISH_JUDGED = 0.9412


@pytest.fixture(scope="module")
def zebrafish_movie(tmp_path_factory: pytest.TempPathFactory, zebrafish_dir: Path) -> Path:
    movie = tmp_path_factory.mktemp("zf") / "images"
    shutil.copytree(zebrafish_dir / "images", movie)
    return movie


def test_zebrafish_with_14_animals_against_the_reference(
    zebrafish_movie: Path, zebrafish_dir: Path, zebrafish_params: Parameters
) -> None:
    params = zebrafish_params.with_updates(animals=14)
    table = track(zebrafish_movie, params, background=zebrafish_dir / "background.pgm")
    score = identity_score(table, read_tracking(zebrafish_dir / "reference_tracking.txt"))
    print(f"zebrafish-100, animals = 14: {score}")
    assert sorted(table.id.unique()) == list(range(14))
    assert table.groupby("imageNumber").id.nunique().max() == 14
    idf1, switches = RECORDED_ZEBRAFISH
    assert score.idf1 >= idf1 - 0.005
    assert score.switches <= switches
    assert score.misses <= 3  # every fish FastTrack found is found
    truth = read_tracking(zebrafish_dir / "reference_tracking.txt")
    judged = identity_score(judged_rows(table, truth, animals=14), truth)
    assert judged.idf1 >= RECORDED_ZEBRAFISH_JUDGED - 0.005
    assert judged.idr == score.idr  # only rows the reference cannot judge are left out


def test_animals_0_writes_the_compatible_result_byte_for_byte(
    zebrafish_movie: Path, zebrafish_dir: Path, zebrafish_params: Parameters, tmp_path: Path
) -> None:
    background = zebrafish_dir / "background.pgm"
    synthetic = write_sequence(make_movie(60, 6, shape=(160, 160), seed=2), tmp_path / "syn")
    for movie, params in ((zebrafish_movie, zebrafish_params),
                          (synthetic, Parameters(**DEMO_PARAMETERS))):  # fmt: skip
        bg = background if movie == zebrafish_movie else synthetic / "background.pgm"
        default, _ = track_movie(movie, params, background=bg, output=tmp_path / "a")
        zero, _ = track_movie(
            movie, params.with_updates(animals=0), background=bg, output=tmp_path / "b"
        )
        for name in ("tracking.txt", "cfg.toml"):
            assert (zero.folder / name).read_bytes() == (default.folder / name).read_bytes()
        assert "animals" not in (zero.folder / "cfg.toml").read_text()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    movies = {}
    for n in RECORDED_SYNTHETIC:
        movie = make_movie(300, n, shape=(512, 512), seed=1)
        movies[n] = (movie, write_sequence(movie, tmp_path_factory.mktemp(f"syn{n}") / "movie"))
    return movies


@pytest.mark.parametrize("n_animals", sorted(RECORDED_SYNTHETIC))
def test_synthetic_touching_and_crossing_animals(synthetic, n_animals: int) -> None:
    movie, folder = synthetic[n_animals]
    params = Parameters(**DEMO_PARAMETERS, animals=n_animals)
    table = track(folder, params, background=folder / "background.pgm")
    score = identity_score(table, movie.ground_truth, max_distance=5.0)
    compatible = identity_score(
        track(folder, Parameters(**DEMO_PARAMETERS), background=folder / "background.pgm"),
        movie.ground_truth,
        max_distance=5.0,
    )
    print(f"{n_animals} animals: {score}\n  compatible mode: {compatible}")
    assert sorted(table.id.unique()) == list(range(n_animals))
    idf1, switches = RECORDED_SYNTHETIC[n_animals]
    assert score.idf1 >= idf1 - 0.005
    assert score.switches <= switches + 2
    assert score.idf1 > compatible.idf1 and score.mota > compatible.mota
    assert score.mostly_tracked >= compatible.mostly_tracked


def largest_step(table: pd.DataFrame) -> float:
    """Largest distance an id moves between two consecutive frames (px)."""
    table = table.sort_values(["id", "imageNumber"])
    same = (table.id.diff() == 0) & (table.imageNumber.diff() == 1)
    steps = np.hypot(table.xBody.diff(), table.yBody.diff())[same]
    return float(steps.max())


@pytest.mark.parametrize(("video", "step"), [("test_A.avi", 75.0), ("test_B.avi", 90.0)])
def test_zebrafish8_gives_8_ids_present_in_every_frame(
    tmp_path: Path, video: str, step: float
) -> None:
    """First 300 frames. A's largest step is a jump of the whole video (frames 21-23, every
    fish moves 50-70 px at once); B's (frame 119) is an identity error, frozen as reached: two
    fish touching as one unsplit blob separate and an id lost nearby takes one of them."""
    params = Parameters(**ZEBRAFISH8_PARAMS)
    with open_frames(ZEBRAFISH8 / video) as source:
        background = compute_background(source, params)
        chunks = [detect_range(source, background, params, start=s, stop=s + 100)
                  for s in range(0, CLIP, 100)]  # fmt: skip
    summary, table = write_result(chunks, params, background, tmp_path / "result", collect=True)
    assert table is not None
    coverage = table.groupby("id").imageNumber.nunique() / CLIP
    print(f"{video}: {summary.n_ids} ids, coverage {coverage.round(4).tolist()}, "
          f"largest step {largest_step(table):.1f} px")  # fmt: skip
    assert sorted(table.id.unique()) == list(range(8))
    assert coverage.min() >= 0.98
    assert largest_step(table) <= step


def test_fewer_animals_than_declared_finishes_with_a_warning_naming_the_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_sequence(make_movie(40, 3, shape=(160, 160), seed=3), tmp_path / "movie")
    params = Parameters(**DEMO_PARAMETERS, animals=5)
    with caplog.at_level(logging.WARNING, logger="batchtrack.movie"):
        summary, table = track_movie(
            folder, params, background=folder / "background.pgm", collect=True
        )
    assert table is not None and table.id.nunique() <= 5
    assert any("animals = 5" in r.message and "0-39" in r.message for r in caplog.records)
    assert "fewer were found in 40 frame(s): 0-39" in (summary.folder / "log").read_text()


def test_more_animals_than_can_fit_is_refused(tmp_path: Path) -> None:
    folder = write_sequence(make_movie(5, 2, shape=(64, 64), seed=3), tmp_path / "movie")
    with pytest.raises(ParameterError, match=r"animals = 300 cannot fit.*minArea"):
        track(folder, Parameters(**DEMO_PARAMETERS, animals=300))


@pytest.mark.parametrize(("value", "words"), [("-1", ["animals", "-1", ">= 0"]),
                                               ("2.5", ["animals", "2.5"])])  # fmt: skip
def test_bad_animals_value_is_a_one_line_error(tmp_path: Path, value: str, words) -> None:
    result = CliRunner().invoke(main, ["track", str(tmp_path), f"--animals={value}"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    message = result.output.strip().splitlines()[-1]
    for word in words:
        assert word in message, message
    with pytest.raises(ParameterError, match="animals"):
        Parameters(animals=float(value))


def test_animals_reaches_the_manifest_and_the_parameter_table(tmp_path: Path) -> None:
    from batchtrack.batch.manifest import load_manifest, save_manifest
    from batchtrack.batch.stack import Stack
    from batchtrack.params import describe_parameters

    movie = write_sequence(make_movie(5, 2, shape=(64, 64), seed=1), tmp_path / "movie")
    stack = Stack(Parameters(animals=3))
    stack.add([movie])
    stack.entries[0].params = stack.entries[0].params.with_updates(animals=5)
    loaded = load_manifest(save_manifest(stack, tmp_path / "stack.toml"))
    assert loaded.entries[0].params.animals == 5
    assert "animals" in [info["name"] for info in describe_parameters()]


def test_a_lamp_that_dims_does_not_hide_the_animals(tmp_path: Path) -> None:
    import cv2

    movie = make_movie(60, 4, shape=(160, 160), seed=4)
    folder = write_sequence(movie, tmp_path / "movie")
    frames = sorted(folder.glob("frame_*.pgm"))
    for file in frames[20:40]:  # the lamp dims to 75 % for 20 frames
        image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(file), cv2.convertScaleAbs(image, alpha=0.75))
    background = folder / "background.pgm"
    known = track(folder, Parameters(**DEMO_PARAMETERS, animals=4), background=background)
    compatible = track(folder, Parameters(**DEMO_PARAMETERS), background=background)
    dim = known.imageNumber.between(20, 39)
    assert known[dim].groupby("imageNumber").id.nunique().min() == 4
    score = identity_score(known, movie.ground_truth, max_distance=5.0)
    assert score.idf1 >= 0.95, score
    # Without the normalisation the dimmed frames are one frame-sized blob, out of bounds.
    assert compatible.imageNumber.between(20, 39).sum() == 0
