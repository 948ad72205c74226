"""``tracking.nc``: a result as a movement poses dataset, saved as netCDF.

The layout is movement's native one (neuroinformatics-unit/movement), so that
``xarray.load_dataset("tracking.nc")`` gives a dataset that movement accepts as a poses
dataset (its validators, ``movement.kinematics``, its savers to DeepLabCut or SLEAP files):

- ``position`` (time, space, keypoints, individuals): the head, body and tail points
  (``keypoints = ["head", "body", "tail"]``), ``space = ["x", "y"]``, calibrated in the
  ``unit`` of ``pixelSize``; NaN where an identity is absent;
- ``confidence`` (time, keypoints, individuals): 1 where detected, 0 where interpolated
  (identity stitching), NaN where absent;
- coordinates ``time`` (s, or frame numbers; every frame of the movie whose time is known)
  and ``individuals`` (``id_0``, ``id_1``… after the tracking ids);
- attributes ``source_software = "batchtrack"``, ``ds_type = "poses"``, ``time_unit``
  (``seconds`` or ``frames``), ``fps`` (the nominal frame rate, when times are seconds),
  ``space_unit`` and ``pixel_size``.

Needs xarray and h5netcdf (or netCDF4): ``pip install 'batchtrack[analysis]'``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..calibration import FRAMES, Calibration

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["KEYPOINTS", "NETCDF_FILE", "have_xarray", "save_netcdf", "to_movement_dataset"]

log = logging.getLogger(__name__)

NETCDF_FILE = "tracking.nc"
#: The keypoints, with the ``tracking.txt`` columns giving their x and y.
KEYPOINTS: dict[str, tuple[str, str]] = {
    "head": ("xHead", "yHead"),
    "body": ("xBody", "yBody"),
    "tail": ("xTail", "yTail"),
}


def have_xarray() -> bool:
    """Whether xarray and a netCDF engine (h5netcdf or netCDF4) can be imported."""
    try:
        import xarray  # noqa: F401
    except ImportError:
        return False
    for engine in ("h5netcdf", "netCDF4"):
        try:
            __import__(engine)
        except ImportError:
            continue
        return True
    return False


def to_movement_dataset(
    table: pd.DataFrame, calibration: Calibration, *, n_frames: int
) -> xr.Dataset:
    """A movement poses dataset of a (calibrated) tracking table.

    Parameters
    ----------
    table : DataFrame
        Rows as in ``tracking.parquet``: ``imageNumber``, ``id``, the keypoints' columns and
        optionally ``interpolated``.
    calibration : Calibration
        Gives the time of each frame and the units.
    n_frames : int
        Frames of the movie; the time axis holds each of them whose time is known.

    Returns
    -------
    xarray.Dataset
        See the module docstring.

    Raises
    ------
    ValueError
        If the table has no row (movement needs at least one individual).
    """
    import xarray as xr

    if len(table) == 0:
        raise ValueError("no object was tracked; a movement dataset needs one individual")
    n_frames = max(n_frames, int(table["imageNumber"].max()) + 1)
    times = calibration.times(np.arange(n_frames))
    known = np.flatnonzero(np.isfinite(times))
    slot = np.full(n_frames, -1, np.int64)
    slot[known] = np.arange(len(known))
    ids = np.unique(table["id"].to_numpy(np.int64))
    frames = table["imageNumber"].to_numpy(np.int64)
    rows = slot[frames]
    inside = rows >= 0
    column = np.searchsorted(ids, table["id"].to_numpy(np.int64))
    position = np.full((len(known), 2, len(KEYPOINTS), len(ids)), np.nan)
    confidence = np.full((len(known), len(KEYPOINTS), len(ids)), np.nan)
    interpolated = np.zeros(len(table), bool)
    if "interpolated" in table:
        interpolated = table["interpolated"].to_numpy(bool)
    for k, (x_name, y_name) in enumerate(KEYPOINTS.values()):
        position[rows[inside], 0, k, column[inside]] = table[x_name].to_numpy()[inside]
        position[rows[inside], 1, k, column[inside]] = table[y_name].to_numpy()[inside]
        confidence[rows[inside], k, column[inside]] = np.where(interpolated[inside], 0.0, 1.0)
    attrs: dict[str, str | float] = {
        "source_software": "batchtrack",
        "ds_type": "poses",
        "time_unit": "frames" if calibration.time_unit == FRAMES else "seconds",
        "space_unit": calibration.unit,
        "pixel_size": calibration.pixel_size,
    }
    fps = calibration.frame_rate(n_frames)
    if fps is not None:
        attrs["fps"] = fps
    time_coords = times[known] if calibration.time_unit != FRAMES else known.astype(np.int64)
    extra = {}
    if "arena" in table:  # arenas: each individual's, as a coordinate along individuals
        arena = table.groupby("id", sort=True)["arena"].first().to_numpy(np.int64)
        extra["arena"] = ("individuals", arena)
    return xr.Dataset(
        data_vars={
            "position": (("time", "space", "keypoints", "individuals"), position),
            "confidence": (("time", "keypoints", "individuals"), confidence),
        },
        coords={
            "time": time_coords,
            "space": ["x", "y"],
            "keypoints": list(KEYPOINTS),
            "individuals": [f"id_{i}" for i in ids.tolist()],
            **extra,
        },
        attrs=attrs,
    )


def save_netcdf(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` as netCDF 4 (h5netcdf engine if installed, else netCDF4)."""
    engine: Literal["h5netcdf", "netcdf4"] = "h5netcdf"
    try:
        import h5netcdf  # noqa: F401
    except ImportError:
        engine = "netcdf4"
    path = Path(path)
    dataset.to_netcdf(path, engine=engine)
    return path
