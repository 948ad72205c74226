"""Tests of batchtrack.metrics on hand-made tables and on the zebrafish sample."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batchtrack.errors import InputError, ParameterError
from batchtrack.metrics import IdentityScore, identity_score, judged_rows, read_tracking

ZEBRAFISH = Path(__file__).resolve().parents[3] / "shared" / "data" / "zebrafish-100"


def table(rows: list[tuple[int, int, float, float]]) -> pd.DataFrame:
    """A tracking table from (imageNumber, id, xBody, yBody) rows."""
    return pd.DataFrame(rows, columns=["imageNumber", "id", "xBody", "yBody"])


def lines(n_frames: int = 10, n_objects: int = 3) -> pd.DataFrame:
    """Objects moving right along parallel lines 100 px apart, id k on line y = 100 k."""
    return table([(f, k, 2.0 * f, 100.0 * k) for f in range(n_frames) for k in range(n_objects)])


def test_perfect_tracking() -> None:
    truth = lines()
    score = identity_score(truth.copy(), truth)
    assert score == IdentityScore(
        switches=0,
        fragmentations=0,
        idf1=1.0,
        idp=1.0,
        idr=1.0,
        idtp=30,
        matches=30,
        misses=0,
        false_positives=0,
        n_gt=30,
        n_result=30,
        mostly_tracked=3,
        partially_tracked=0,
        mostly_lost=0,
    )
    assert score.mota == 1.0


def test_one_swap_counts_two_switches_and_lowers_idf1() -> None:
    truth = lines(n_frames=10, n_objects=2)
    result = truth.copy()
    late = result["imageNumber"] >= 7
    result.loc[late, "id"] = 1 - result.loc[late, "id"]
    score = identity_score(result, truth)
    assert score.switches == 2
    # Best id mapping keeps 0->0 and 1->1: 7 frames each of 10; IDF1 = 2*14 / (20 + 20).
    assert score.idtp == 14
    assert score.idf1 == pytest.approx(0.7)
    assert score.idp == pytest.approx(0.7)
    assert score.idr == pytest.approx(0.7)
    assert (score.matches, score.misses, score.false_positives) == (20, 0, 0)
    assert score.mota == pytest.approx(1 - 2 / 20)


def test_missed_detection_is_a_miss_and_a_fragmentation() -> None:
    truth = lines()
    result = truth.drop(index=truth.index[(truth["imageNumber"] == 4) & (truth["id"] == 1)])
    score = identity_score(result, truth)
    assert (score.matches, score.misses, score.false_positives) == (29, 1, 0)
    assert score.switches == 0
    assert score.fragmentations == 1
    assert score.idtp == 29
    assert score.idr == pytest.approx(29 / 30)
    assert score.idp == 1.0
    assert score.idf1 == pytest.approx(58 / 59)


def test_false_positive() -> None:
    truth = lines()
    result = pd.concat([truth, table([(3, 99, 500.0, 500.0)])], ignore_index=True)
    score = identity_score(result, truth)
    assert (score.matches, score.misses, score.false_positives) == (30, 0, 1)
    assert score.switches == 0
    assert score.idp == pytest.approx(30 / 31)
    assert score.idr == 1.0
    assert score.n_result == 31


def test_relabelled_ids_are_still_perfect() -> None:
    truth = lines(n_objects=4)
    result = truth.assign(id=truth["id"].map({0: 42, 1: -7, 2: 3, 3: 0}))
    score = identity_score(result, truth)
    assert score.switches == 0
    assert score.idf1 == 1.0
    assert score.matches == 40


def test_distance_gate_is_inclusive_and_respected() -> None:
    truth = lines()
    result = truth.assign(xBody=truth["xBody"] + 3.0, yBody=truth["yBody"] + 4.0)  # 5 px away
    at_gate = identity_score(result, truth, max_distance=5.0)
    assert at_gate.matches == 30
    assert at_gate.idf1 == 1.0
    beyond = identity_score(result, truth, max_distance=4.99)
    assert (beyond.matches, beyond.misses, beyond.false_positives) == (0, 30, 30)
    assert beyond.idtp == 0
    assert beyond.idf1 == 0.0


def test_previous_correspondence_is_kept_when_still_within_gate() -> None:
    # In frame 1 the nearest-neighbour assignment would cross the ids, but each truth
    # object's previous result id is still within the gate: CLEAR MOT keeps it.
    truth = table([(0, 0, 0.0, 0.0), (0, 1, 6.0, 0.0), (1, 0, 0.0, 0.0), (1, 1, 6.0, 0.0)])
    result = table([(0, 0, 0.0, 0.0), (0, 1, 6.0, 0.0), (1, 0, 5.0, 0.0), (1, 1, 1.0, 0.0)])
    score = identity_score(result, truth, max_distance=10.0)
    assert score.switches == 0
    assert score.matches == 4


def test_switch_counted_against_last_match_across_a_gap() -> None:
    truth = table([(f, 0, 0.0, 0.0) for f in range(6)])
    # Matched to id 5 in frames 0-1, unseen in 2-3, back as id 5 in 4, then id 8 in 5.
    result = table([(0, 5, 0.0, 0.0), (1, 5, 0.0, 0.0), (4, 5, 0.0, 0.0), (5, 8, 0.0, 0.0)])
    score = identity_score(result, truth)
    assert score.switches == 1
    assert score.fragmentations == 1
    assert score.misses == 2


def test_frames_need_not_start_at_zero_or_be_contiguous() -> None:
    truth = lines().assign(imageNumber=lambda t: t["imageNumber"] * 7 + 1000)
    score = identity_score(truth.copy(), truth)
    assert score.idf1 == 1.0
    assert score.matches == 30


def test_objects_never_match_across_frames() -> None:
    truth = table([(0, 0, 0.0, 0.0)])
    result = table([(1, 0, 0.0, 0.0)])
    score = identity_score(result, truth, max_distance=1000.0)
    assert (score.matches, score.misses, score.false_positives) == (0, 1, 1)


def test_empty_result_scores_zero_recall_and_undefined_precision() -> None:
    truth = lines()
    score = identity_score(truth.iloc[:0], truth)
    assert (score.matches, score.misses, score.false_positives) == (0, 30, 0)
    assert score.idr == 0.0
    assert score.idf1 == 0.0
    assert math.isnan(score.idp)


def test_many_frames_with_noise_and_a_swap() -> None:
    rng = np.random.default_rng(0)
    n_frames, n_objects = 2000, 20
    frame = np.repeat(np.arange(n_frames), n_objects)
    ident = np.tile(np.arange(n_objects), n_frames)
    truth = pd.DataFrame(
        {"imageNumber": frame, "id": ident, "xBody": 50.0 * ident + 0.1 * frame, "yBody": 30.0}
    )
    result = truth.assign(
        xBody=truth["xBody"] + rng.normal(0, 1, len(truth)),
        yBody=truth["yBody"] + rng.normal(0, 1, len(truth)),
    )
    late = (result["imageNumber"] >= 1500) & result["id"].isin([3, 4])
    result.loc[late, "id"] = 7 - result.loc[late, "id"]
    score = identity_score(result, truth)
    assert score.switches == 2
    assert score.matches == n_frames * n_objects
    assert score.idtp == n_frames * n_objects - 2 * 500


def test_score_is_frozen_and_readable() -> None:
    score = identity_score(lines(), lines())
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.switches = 3  # type: ignore[misc]
    assert "IDF1 1.0000" in str(score)
    assert "0 switches" in str(score)


def test_missing_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match="truth table lacks column"):
        identity_score(lines(), lines().drop(columns="yBody"))


def test_duplicate_id_in_a_frame_is_an_input_error() -> None:
    result = pd.concat([lines(), lines().iloc[:1]], ignore_index=True)
    with pytest.raises(InputError, match="duplicated"):
        identity_score(result, lines())


def test_non_finite_position_is_an_input_error() -> None:
    result = lines().astype({"xBody": float})
    result.loc[2, "xBody"] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        identity_score(result, lines())


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_bad_max_distance_is_a_parameter_error(bad: float) -> None:
    with pytest.raises(ParameterError, match="max_distance"):
        identity_score(lines(), lines(), max_distance=bad)


def test_read_tracking_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "tracking.txt"
    lines().to_csv(path, sep="\t", index=False)
    back = read_tracking(path)
    pd.testing.assert_frame_equal(back, lines())


def test_read_tracking_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"tracking\.txt"):
        read_tracking(tmp_path / "tracking.txt")


def test_zebrafish_reference_against_itself_is_perfect() -> None:
    truth = read_tracking(ZEBRAFISH / "reference_tracking.txt")
    score = identity_score(truth, truth)
    assert score.idf1 == 1.0
    assert score.switches == 0
    assert score.n_gt == 1220


def test_zebrafish_fasttrack_output_against_reference() -> None:
    # Frozen values, cross-checked with py-motmetrics 1.4 (same gate, same definitions;
    # its num_matches 1210 excludes the 10 switches).
    truth = read_tracking(ZEBRAFISH / "reference_tracking.txt")
    result = read_tracking(ZEBRAFISH / "fasttrack_output.txt")
    score = identity_score(result, truth, max_distance=10.0)
    assert score.switches == 10
    assert (score.matches, score.misses, score.false_positives) == (1220, 0, 4)
    assert score.fragmentations == 0
    assert score.idtp == 1129
    assert score.idf1 == pytest.approx(2 * 1129 / (1220 + 1224))
    # FastTrack's 4 surplus rows lie in frames where the reference misses a fish
    judged = judged_rows(result, truth, animals=14)
    assert len(judged) == 1220
    assert identity_score(judged, truth).idf1 == pytest.approx(1129 / 1220)


def test_mostly_tracked_partially_tracked_mostly_lost() -> None:
    truth = lines(n_frames=10, n_objects=3)
    # Object 0 found in all 10 frames, object 1 in 5 (partially), object 2 in 1 (lost).
    keep = (truth["id"] == 0) | ((truth["id"] == 1) & (truth["imageNumber"] < 5))
    keep |= (truth["id"] == 2) & (truth["imageNumber"] == 0)
    score = identity_score(truth[keep].copy(), truth)
    assert (score.mostly_tracked, score.partially_tracked, score.mostly_lost) == (1, 1, 1)
    assert score.fragmentations == 0


def test_judged_rows_leave_out_only_what_a_partial_truth_did_not_annotate() -> None:
    truth = table([(0, 0, 0.0, 0.0), (0, 1, 50.0, 0.0), (1, 0, 1.0, 0.0), (2, 0, 2.0, 0.0),
                   (2, 1, 52.0, 0.0)])  # fmt: skip
    result = table([(0, 0, 0.0, 0.0), (0, 1, 50.0, 0.0), (0, 2, 90.0, 0.0),  # surplus: kept
                     (1, 0, 1.0, 0.0), (1, 1, 51.0, 0.0),  # fish 1 not annotated: left out
                     (1, 2, 9.0, 0.0),  # within the gate of a truth row: judged
                     (2, 0, 2.0, 0.0), (2, 1, 52.0, 0.0), (3, 0, 3.0, 0.0)])  # fmt: skip
    kept = judged_rows(result, truth)
    assert list(zip(kept.imageNumber, kept.id)) == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)
    ]
    assert len(judged_rows(result, truth, animals=1)) == 9 - 1  # every frame complete but 3
    score = identity_score(kept, truth)
    assert score.false_positives == 2 and score.idr == 1.0
