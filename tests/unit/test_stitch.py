"""Tests of batchtrack.stitch: tracklet summaries, gap closing, N identities, gaps filled."""

from __future__ import annotations

import numpy as np
import pytest

from batchtrack.schema import AREA_BODY, ID, IMAGE_NUMBER, T_BODY, X_BODY, Y_BODY, column
from batchtrack.stitch import (
    StitchRules,
    Tracklets,
    assign_identities,
    close_gaps,
    interpolated_rows,
    keep_within_capacity,
    relabel,
    trim,
)


def track(tracklet: int, frames: range, x0: float, y0: float, vx: float = 2.0, vy: float = 0.0):
    """Rows of one tracklet moving at constant velocity, area 100."""
    f = np.asarray(frames, np.float64)
    rows = np.zeros((len(f), 23))
    rows[:, IMAGE_NUMBER] = f
    rows[:, ID] = tracklet
    rows[:, X_BODY] = x0 + vx * f
    rows[:, Y_BODY] = y0 + vy * f
    rows[:, AREA_BODY] = 100.0
    rows[:, BODY_LENGTH] = 10.0
    return rows


def in_order(*parts: np.ndarray) -> np.ndarray:
    rows = np.concatenate(parts)
    return rows[np.lexsort((rows[:, ID], rows[:, IMAGE_NUMBER]))]


def summaries(rows: np.ndarray, block: int | None = None) -> Tracklets:
    t = Tracklets()
    if block is None:
        t.add(rows)
    else:
        for start in range(0, len(rows), block):
            t.add(rows[start : start + block])
    return t


BODY_LENGTH = column("bodyMajorAxisLength")
RULES = StitchRules(max_dist=30.0, max_gap=10, max_fill=10, speed=2.0)


def test_summaries_do_not_depend_on_how_the_rows_are_cut_into_blocks() -> None:
    rows = in_order(track(0, range(0, 30), 0, 0), track(1, range(5, 12), 0, 50),
                    track(1, range(15, 40), 0, 50), track(2, range(33, 34), 0, 90))  # fmt: skip
    whole = summaries(rows)
    for block in (1, 3, 7, 50):
        part = summaries(rows, block)
        np.testing.assert_array_equal(part.head, whole.head)
        np.testing.assert_array_equal(part.tail, whole.tail)
        np.testing.assert_array_equal(part.count, whole.count)
        np.testing.assert_array_equal(part.holes, whole.holes)
    assert whole.first_frame.tolist() == [0, 5, 33]
    assert whole.last_frame.tolist() == [29, 39, 33]
    np.testing.assert_allclose(whole.end_velocity(), [[2, 0], [2, 0], [0, 0]])
    # Tracklet 1 misses frames 12-14: one hole, between frames 11 and 15.
    assert whole.holes[:, :, IMAGE_NUMBER].tolist() == [[11, 15]]


def test_a_gap_is_closed_where_the_animal_was_heading_not_elsewhere() -> None:
    # Animal A: tracklet 0 (frames 0-19) then 2 (frames 25-49), on its line; tracklet 1 is
    # another animal far away that starts in the gap.
    rows = in_order(track(0, range(0, 20), 0, 0), track(1, range(22, 50), 0, 200),
                    track(2, range(25, 50), 0, 0))  # fmt: skip
    following = close_gaps(summaries(rows), RULES)
    assert following.tolist() == [2, -1, -1]


def test_gaps_longer_than_max_gap_or_out_of_reach_stay_open() -> None:
    rows = in_order(track(0, range(0, 20), 0, 0), track(1, range(40, 60), 0, 0))
    assert close_gaps(summaries(rows), RULES).tolist() == [-1, -1]
    rows = in_order(track(0, range(0, 20), 0, 0), track(1, range(22, 40), 0, 60))
    assert close_gaps(summaries(rows), RULES).tolist() == [-1, -1]


def test_n_identities_a_spurious_overlapping_tracklet_dropped() -> None:
    # Two animals; animal 0 is lost for 30 frames (longer than any gap closed); a spurious
    # object (tracklet 3) appears while both animals are seen.
    rows = in_order(track(0, range(0, 20), 0, 0), track(1, range(0, 100), 0, 100),
                    track(2, range(50, 100), 0, 0), track(3, range(60, 63), 0, 300))  # fmt: skip
    t = summaries(rows)
    following = close_gaps(t, RULES)
    spans = keep_within_capacity(t, following, 2)
    assert spans[3].tolist() == [-1, -2]  # dropped
    kept = summaries(trim(rows, spans))
    kept.extend(len(t))
    identities = assign_identities(kept, following, 2, RULES)
    identity = identities.identity
    assert identity[3] == -1
    assert identity[0] == identity[2] != identity[1]
    assert sorted(set(identity[:3].tolist())) == [0, 1]
    # The 30-frame gap is longer than max_fill: known, not filled.
    assert identities.gaps[:, :, IMAGE_NUMBER].tolist() == [[19, 50]]
    assert not identities.fill.any()


def test_interpolated_rows_are_linear_and_turn_the_short_way() -> None:
    a, b = np.zeros(23), np.zeros(23)
    a[[IMAGE_NUMBER, X_BODY, T_BODY, ID]] = 10, 0.0, 6.0, 4
    b[[IMAGE_NUMBER, X_BODY, T_BODY, ID]] = 14, 8.0, 0.2, 4
    rows, gap = interpolated_rows(np.stack([a, b])[None], 0, 100)
    assert rows[:, IMAGE_NUMBER].tolist() == [11, 12, 13]
    np.testing.assert_allclose(rows[:, X_BODY], [2, 4, 6])
    turn = (0.2 - 6.0 + np.pi) % (2 * np.pi) - np.pi  # +0.48 rad through 0
    expected = (6.0 + turn * np.array([1, 2, 3]) / 4) % (2 * np.pi)
    np.testing.assert_allclose(rows[:, T_BODY], expected)
    assert (rows[:, ID] == 4).all() and gap.tolist() == [0, 0, 0]
    # Only the frames asked for.
    assert interpolated_rows(np.stack([a, b])[None], 12, 13)[0][:, IMAGE_NUMBER].tolist() == [12]


def test_relabel_fills_short_gaps_and_gives_pieces_the_identity_they_stand_for() -> None:
    rows = in_order(track(0, range(0, 10), 0, 0), track(1, range(14, 30), 0, 0))
    t = summaries(rows)
    following = close_gaps(t, RULES)
    assert following.tolist() == [1, -1]
    identities = assign_identities(t, following, 1, RULES)
    # A piece of a split blob where the animal should be in frame 12, and one far off.
    piece = track(-1, range(12, 13), 0.5, 0.0)
    far = track(-1, range(11, 12), 0, 80)
    out, interpolated = relabel(in_order(rows, piece, far), identities, 0, 30, max_dist=30)
    assert out[:, IMAGE_NUMBER].tolist() == list(range(30))
    assert (out[:, ID] == 0).all()
    assert np.flatnonzero(interpolated).tolist() == [10, 11, 13]
    assert out[12, X_BODY] == pytest.approx(24.5)  # the piece itself, not the interpolation
