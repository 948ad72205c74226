"""tracking.parquet streamed by the result writer (batchtrack.io.tables, io.results)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from batchtrack.analysis import SpeedStream
from batchtrack.calibration import Calibration
from batchtrack.io.results import ResultWriter
from batchtrack.io.tables import TRACK_COLUMNS, read_tracks, write_csv
from batchtrack.params import Parameters
from batchtrack.schema import ID, IMAGE_NUMBER, TRACKING_COLUMNS, X_BODY


def rows(n_frames: int) -> np.ndarray:
    """Two ids in every frame, moving 2 px/frame along x."""
    out = np.zeros((2 * n_frames, len(TRACKING_COLUMNS)))
    out[:, IMAGE_NUMBER] = np.repeat(np.arange(n_frames), 2)
    out[:, ID] = np.tile([0, 1], n_frames)
    out[:, X_BODY] = out[:, IMAGE_NUMBER] * 2 + out[:, ID] * 50
    return out


def write(folder: Path, table: np.ndarray, cuts: list[int], interpolated=None) -> Path:
    calibration = Calibration(pixel_size=0.5, unit="mm", fps=10)
    with ResultWriter(folder, calibration=calibration, speeds=SpeedStream()) as out:
        bounds = [0, *cuts, len(table)]
        for a, b in itertools.pairwise(bounds):
            flags = None if interpolated is None else interpolated[a:b]
            out.write_rows(table[a:b], interpolated=flags)
        return out.finish(np.zeros((8, 8), np.uint8), Parameters())


def test_rows_are_streamed_calibrated_with_time_and_speed(tmp_path: Path) -> None:
    table = rows(20)
    flags = np.zeros(len(table), bool)
    flags[[3, 4]] = True
    parquet = read_tracks(write(tmp_path / "a", table, [6, 7, 30], flags))
    assert tuple(parquet.columns) == TRACK_COLUMNS
    np.testing.assert_array_equal(parquet["xBody"], table[:, X_BODY] * 0.5)
    np.testing.assert_array_equal(parquet["time"], table[:, IMAGE_NUMBER] / 10)
    np.testing.assert_allclose(parquet["speed"], 10.0)  # 1 mm per 0.1 s
    assert parquet["interpolated"].tolist() == flags.tolist()
    same = read_tracks(write(tmp_path / "b", table, []))
    assert same.drop(columns="interpolated").equals(parquet.drop(columns="interpolated"))


def test_interpolated_flags_must_match_the_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interpolated"):
        write(tmp_path / "c", rows(3), [], np.zeros(2, bool))


def test_write_csv_writes_the_text_pandas_writes(tmp_path):
    """Numbers of every magnitude, NaN and inf, float32, booleans, quoted and missing text,
    empty tables: the fast writer's bytes equal ``DataFrame.to_csv(index=False)``'s."""
    import pandas as pd

    rng = np.random.default_rng(1)
    for _trial in range(40):
        n = int(rng.integers(0, 30))
        floats = rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n)
        floats[rng.random(n) < 0.2] = np.nan
        floats[rng.random(n) < 0.05] = np.inf
        table = pd.DataFrame({
            "i": rng.integers(-5, 10**12, n), "f": floats,
            "f32": rng.random(n).astype(np.float32), "b": rng.random(n) < 0.5,
            "s": [rng.choice(["a", 'q"uote', "c,d", "", "é\nx", None]) for _ in range(n)],
            "u8": rng.integers(0, 200, n).astype(np.uint8), "whole": np.round(rng.random(n) * 9),
        })  # fmt: skip
        table.to_csv(tmp_path / "pandas.csv", index=False)
        write_csv(table, tmp_path / "fast.csv")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize("limit", [10_000, 25])
def test_a_short_table_is_kept_as_read_back_and_a_long_one_is_not(tmp_path, monkeypatch, limit):
    """What the analysis files are given instead of reading ``tracking.parquet`` back equals
    what they would read; beyond ``KEPT_ROWS`` rows nothing is kept (memory stays bounded)."""
    from batchtrack.analysis_files import ANALYSIS_INPUTS
    from batchtrack.io import tables

    monkeypatch.setattr(tables, "KEPT_ROWS", limit)
    table = rows(20)  # 40 rows
    calibration = Calibration(pixel_size=0.5, unit="mm", fps=10)
    with ResultWriter(tmp_path / "k", calibration=calibration, speeds=SpeedStream()) as out:
        for a, b in itertools.pairwise([0, 7, 19, 40]):
            out.write_rows(table[a:b])
        kept = out.close_tables(keep=ANALYSIS_INPUTS)
        folder = out.partial
        if limit < len(table):
            assert kept is None
        else:
            assert kept is not None
            expected = read_tracks(folder, columns=ANALYSIS_INPUTS)
            assert list(kept.columns) == list(expected.columns)
            assert kept.equals(expected)
        out.finish(np.zeros((8, 8), np.uint8), Parameters())


def test_arrow_arrays_equal_pyarrows_own() -> None:
    import pyarrow as pa

    from batchtrack.io.tables import _arrow

    rng = np.random.default_rng(3)
    floats = rng.normal(size=37)
    floats[[2, 5]] = np.nan, np.inf
    strided = np.arange(60.0).reshape(20, 3)[:, 1]  # a column of a C-ordered table
    for values in (floats, strided, np.arange(-5, 30, dtype=np.int64), rng.random(41) > 0.5,
                   np.zeros(0), np.arange(4, dtype=np.int32)):  # fmt: skip
        mine, theirs = _arrow(values), pa.array(values)
        assert mine.type == theirs.type and mine.null_count == theirs.null_count == 0
        assert np.array_equal(
            mine.to_numpy(zero_copy_only=False), values, equal_nan=values.dtype == np.float64
        )
