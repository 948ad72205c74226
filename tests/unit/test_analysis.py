"""Speeds and the per-animal table (batchtrack.analysis)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from batchtrack.analysis import MOVING_FRACTION, SpeedStream, per_animal


def _stream(frames, ids, t, x, y, blocks):
    """Speeds of rows pushed in ``blocks`` (cut points), in the rows' order."""
    stream, out_rows, out_speed = SpeedStream(), [], []
    cuts = [0, *blocks, len(frames)]
    for a, b in itertools.pairwise(cuts):
        (rows,), speed = stream.push(frames[a:b], ids[a:b], t[a:b], x[a:b], y[a:b],
                                     [np.arange(a, b)])  # fmt: skip
        out_rows.append(rows)
        out_speed.append(speed)
    (rows,), speed = stream.flush() or ([np.empty(0, int)], np.empty(0))
    out_rows.append(rows)
    out_speed.append(speed)
    order = np.concatenate(out_rows)
    assert order.tolist() == list(range(len(frames)))  # every row once, in order
    return np.concatenate(out_speed)


def test_speed_is_numpy_gradient_on_uneven_times_whatever_the_blocks() -> None:
    rng = np.random.default_rng(0)
    n = 30
    t = np.cumsum(rng.uniform(0.02, 0.1, n))
    x, y = np.cumsum(rng.normal(size=n)), np.cumsum(rng.normal(size=n))
    frames, ids = np.arange(n), np.zeros(n, int)
    expected = np.hypot(np.gradient(x, t), np.gradient(y, t))
    expected[0] = np.hypot(*np.array([np.gradient(x, t)[0], np.gradient(y, t)[0]]))
    for blocks in ([], [1], [5, 6, 7, 20], list(range(1, n))):
        np.testing.assert_allclose(_stream(frames, ids, t, x, y, blocks), expected)


def test_gaps_give_nan_beside_them_and_two_ids_do_not_mix() -> None:
    # id 0 seen in frames 0-3 and 6-9 (gap 4-5), id 1 in frames 0-9, moving 1 px/frame
    frames = np.array([*range(10), 0, 1, 2, 3, 6, 7, 8, 9])
    ids = np.array([1] * 10 + [0] * 8)
    order = np.lexsort((ids, frames))
    frames, ids = frames[order], ids[order]
    x = frames * np.where(ids == 0, 2.0, 1.0)
    speed = _stream(frames, ids, frames.astype(float), x, np.zeros(len(x)), [7])
    by = pd.DataFrame({"f": frames, "id": ids, "s": speed})
    assert (by[by.id == 1].s == 1.0).all()
    zero = by[by.id == 0].set_index("f").s
    assert zero[[0, 1, 2, 7, 8, 9]].tolist() == [2.0] * 6
    assert zero[[3, 6]].isna().all()  # next to the gap: unknown, as in movement


def test_per_animal_table() -> None:
    frames = np.arange(10)
    table = pd.DataFrame({
        "id": 0, "imageNumber": frames, "time": frames / 10, "xBody": frames * 0.5,
        "yBody": 0.0, "speed": 5.0, "bodyMajorAxisLength": 2.0,
    })  # fmt: skip
    table.loc[5:, "speed"] = 0.1
    animals = per_animal(table, n_frames=20, frame_interval=0.1, unit="mm", time_unit="s")
    row = animals.iloc[0]
    assert row["frames"] == 10 and row["coverage"] == 0.5
    assert row["distance"] == pytest.approx(4.5) and row["mean_speed"] == pytest.approx(2.55)
    assert row["moving_threshold"] == pytest.approx(MOVING_FRACTION * 2.0 / 0.1)
    assert row["time_moving"] == pytest.approx(0.5)  # 5 frames above 2 mm/s
    assert (row["first_time"], row["last_time"], row["unit"]) == (0.0, 0.9, "mm")
    empty = per_animal(table.iloc[:0], n_frames=20, frame_interval=0.1)
    assert len(empty) == 0 and "median_speed" in empty.columns
