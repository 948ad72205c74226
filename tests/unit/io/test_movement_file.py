"""tracking.nc written in slices of time equals the movement dataset built at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from batchtrack.calibration import Calibration
from batchtrack.io import movement


@pytest.mark.parametrize("api", ["netCDF4", "h5netcdf.legacyapi"])
def test_a_long_result_written_slice_by_slice_reads_back_as_the_whole_dataset(
    api, tmp_path, monkeypatch
):
    """Through the netCDF4 library and through h5netcdf's emulation of its API alike."""
    import importlib

    monkeypatch.setattr(movement, "_netcdf_api", lambda: importlib.import_module(api))
    rng = np.random.default_rng(5)
    n_frames = 2 * movement._TIME_SLICE + 321  # three slices, the last one partial
    frames = np.repeat(np.arange(n_frames), 3)
    ids = np.tile([0, 4, 7], n_frames)
    keep = rng.random(len(frames)) > 0.1  # ids missing here and there
    table = pd.DataFrame({"imageNumber": frames[keep], "id": ids[keep]})
    for name in ("xHead", "yHead", "xBody", "yBody", "xTail", "yTail"):
        table[name] = rng.normal(100, 20, len(table))
    table["interpolated"] = rng.random(len(table)) < 0.05
    table["arena"] = table["id"].map({0: 1, 4: 1, 7: 2})
    calibration = Calibration(fps=25.0)
    path = movement.save_poses(table, calibration, tmp_path / "t.nc", n_frames=n_frames)
    back = xr.load_dataset(path)
    whole = movement.to_movement_dataset(table, calibration, n_frames=n_frames)
    assert back.identical(whole)
    assert back.sizes["time"] == n_frames and back.arena.values.tolist() == [1, 1, 2]
    assert int((back.confidence == 0).sum()) == 3 * int(table["interpolated"].sum())
