from __future__ import annotations

import math

import numpy as np
import pytest

from batchtrack.link import Linker, LinkWeights, cost_matrix, solve
from batchtrack.schema import AREA_BODY, N_FEATURES, PERIMETER_BODY, SPOT_COLUMNS


def objects(xy, angles=None, areas=None, perimeters=None) -> np.ndarray:
    """Feature rows with the given head/tail/body positions (all spots at the same place)."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    f = np.zeros((len(xy), N_FEATURES))
    for x_col, y_col, t_col in SPOT_COLUMNS.values():
        f[:, x_col], f[:, y_col] = xy[:, 0], xy[:, 1]
        f[:, t_col] = 0 if angles is None else angles
    f[:, AREA_BODY] = 0 if areas is None else areas
    f[:, PERIMETER_BODY] = 0 if perimeters is None else perimeters
    return f


def test_cost_terms_are_normalised_and_zero_norm_drops_a_term() -> None:
    prev = objects([[0, 0]], angles=[0.0], areas=[100], perimeters=[40])
    curr = objects([[3, 4]], angles=[math.radians(30)], areas=[110], perimeters=[44])
    w = LinkWeights(norm_dist=5, norm_angle=math.radians(60), norm_area=20, norm_perim=8)
    cost, allowed = cost_matrix(prev, curr, w)
    assert cost[0, 0] == pytest.approx(1 + 0.5 + 0.5 + 0.5)
    w = LinkWeights(norm_dist=5, norm_angle=0, norm_area=0, norm_perim=0)
    assert cost_matrix(prev, curr, w)[0][0, 0] == pytest.approx(1.0)
    assert allowed[0, 0]


def test_angle_difference_wraps_around() -> None:
    prev = objects([[0, 0]], angles=[math.radians(355)])
    curr = objects([[0, 0]], angles=[math.radians(5)])
    cost, _ = cost_matrix(prev, curr, LinkWeights(norm_dist=0, norm_angle=math.radians(10)))
    assert cost[0, 0] == pytest.approx(1.0)


def test_distance_gate_is_exclusive() -> None:
    prev, curr = objects([[0, 0]]), objects([[10, 0]])
    assert not cost_matrix(prev, curr, LinkWeights(max_dist=10))[1][0, 0]
    assert cost_matrix(prev, curr, LinkWeights(max_dist=10.01))[1][0, 0]


def test_solve_prefers_more_allowed_pairs_over_lower_cost() -> None:
    cost = np.array([[0.0, 1.0], [5.0, 100.0]])
    allowed = np.array([[True, True], [False, True]])
    rows, cols = solve(cost, allowed)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 0), (1, 1)]


def test_solve_drops_forbidden_pairs() -> None:
    rows, cols = solve(np.array([[1.0, 2.0]]), np.array([[False, False]]))
    assert rows.size == 0 and cols.size == 0
    rows, cols = solve(np.ones((2, 1)), np.array([[False], [True]]))
    assert rows.tolist() == [1] and cols.tolist() == [0]


def test_ids_follow_objects_and_rows_are_ordered_by_id() -> None:
    linker = Linker(LinkWeights(spot=2, max_dist=20))
    order, ids = linker.step(objects([[0, 0], [100, 0]]))
    assert ids.tolist() == [0, 1]
    order, ids = linker.step(objects([[103, 0], [2, 0]]))  # detection order swapped
    assert ids.tolist() == [0, 1] and order.tolist() == [1, 0]


def test_new_objects_get_the_next_ids_in_detection_order() -> None:
    linker = Linker(LinkWeights(spot=2, max_dist=20))
    linker.step(objects([[0, 0]]))
    order, ids = linker.step(objects([[500, 0], [0, 1], [300, 0]]))
    assert dict(zip(order.tolist(), ids.tolist())) == {1: 0, 0: 1, 2: 2}


def test_lost_object_is_remembered_for_max_time_frames() -> None:
    linker = Linker(LinkWeights(spot=2, max_dist=20, max_time=2))
    linker.step(objects([[0, 0], [200, 0]]))
    for _ in range(2):  # object 0 unseen for 2 frames: still remembered
        _, ids = linker.step(objects([[200, 0]]))
        assert ids.tolist() == [1]
    _, ids = linker.step(objects([[1, 0], [200, 0]]))
    assert ids.tolist() == [0, 1]
    for _ in range(3):  # unseen for 3 > max_time frames: dropped
        linker.step(objects([[200, 0]]))
    _, ids = linker.step(objects([[1, 0], [200, 0]]))
    assert ids.tolist() == [1, 2]


def test_empty_frames_keep_memory() -> None:
    linker = Linker(LinkWeights(spot=2, max_dist=20, max_time=5))
    linker.step(objects([[0, 0]]))
    order, ids = linker.step(np.empty((0, N_FEATURES)))
    assert ids.size == 0 and order.size == 0
    assert linker.step(objects([[1, 1]]))[1].tolist() == [0]


def test_spot_selects_head_tail_or_body() -> None:
    prev = np.zeros((1, N_FEATURES))
    head, body = list(SPOT_COLUMNS[0][:2]), list(SPOT_COLUMNS[2][:2])
    prev[0, head] = [0, 0]
    prev[0, body] = [50, 0]
    curr = prev.copy()
    curr[0, head] = [3, 4]
    assert cost_matrix(prev, curr, LinkWeights(spot=0))[0][0, 0] == pytest.approx(5)
    assert cost_matrix(prev, curr, LinkWeights(spot=2))[0][0, 0] == pytest.approx(0)
