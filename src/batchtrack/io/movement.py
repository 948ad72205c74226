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

Writing needs netCDF4 or h5netcdf, reading it xarray: ``pip install 'batchtrack[analysis]'``.
The arrays are written through the netCDF4 API without building an xarray dataset: with the
netCDF4 library (the C one, 3 ms for a short clip) when installed, else h5netcdf's
emulation of that API on h5py (23 ms: it counts in a batch of thousands of short clips).
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..calibration import FRAMES, Calibration

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = [
    "KEYPOINTS",
    "NETCDF_FILE",
    "POSES_INPUTS",
    "can_write_netcdf",
    "poses_arrays",
    "save_poses",
    "to_movement_dataset",
]

log = logging.getLogger(__name__)

NETCDF_FILE = "tracking.nc"
#: The keypoints, with the ``tracking.txt`` columns giving their x and y.
KEYPOINTS: dict[str, tuple[str, str]] = {
    "head": ("xHead", "yHead"),
    "body": ("xBody", "yBody"),
    "tail": ("xTail", "yTail"),
}


#: The columns of a result :func:`poses_arrays` reads (``interpolated`` and ``arena`` if
#: there).
POSES_INPUTS: tuple[str, ...] = (
    "imageNumber", "id", *(name for pair in KEYPOINTS.values() for name in pair),
    "interpolated", "arena",
)  # fmt: skip


def can_write_netcdf() -> bool:
    """Whether ``tracking.nc`` can be written: netCDF4 or h5netcdf installed."""
    return _netcdf_api() is not None


@functools.lru_cache(maxsize=1)
def _netcdf_api() -> Any:
    """The module whose ``Dataset`` writes the file: netCDF4, else h5netcdf.legacyapi (the
    same API), else None."""
    try:
        with warnings.catch_warnings():
            # a wheel built against an older NumPy: Cython's harmless size check
            warnings.filterwarnings("ignore", "numpy.ndarray size changed", RuntimeWarning)
            import netCDF4
    except ImportError:
        pass
    else:
        return netCDF4
    try:
        import h5netcdf.legacyapi
    except ImportError:
        return None
    return h5netcdf.legacyapi


#: A dataset as plain arrays: ``{name: (dims, values)}`` for the data variables and the
#: coordinates, and the attributes.
Poses = tuple[dict[str, tuple[tuple[str, ...], np.ndarray]],
              dict[str, tuple[tuple[str, ...], np.ndarray]], dict[str, str | float]]


def poses_arrays(table: pd.DataFrame, calibration: Calibration, *, n_frames: int) -> Poses:
    """The arrays of the movement poses dataset of a (calibrated) tracking table (see
    :func:`to_movement_dataset`), without xarray.

    Returns
    -------
    data_vars, coords : dict
        ``{name: (dims, values)}``.
    attrs : dict
        The dataset's attributes.

    Raises
    ------
    ValueError
        If the table has no row (movement needs at least one individual).
    """
    layout = _Layout(table, calibration, n_frames)
    position, confidence = layout.fill(table, 0, layout.n_times)
    data_vars = {
        "position": (POSITION_DIMS, position),
        "confidence": (CONFIDENCE_DIMS, confidence),
    }
    return data_vars, layout.coords, layout.attrs


POSITION_DIMS = ("time", "space", "keypoints", "individuals")
CONFIDENCE_DIMS = ("time", "keypoints", "individuals")


class _Layout:
    """The axes and attributes of a poses dataset, and its values for a range of times."""

    def __init__(self, table: pd.DataFrame, calibration: Calibration, n_frames: int) -> None:
        if len(table) == 0:
            raise ValueError("no object was tracked; a movement dataset needs one individual")
        n_frames = max(n_frames, int(table["imageNumber"].max()) + 1)
        times = calibration.times(np.arange(n_frames))
        known = np.flatnonzero(np.isfinite(times))
        self.n_times = len(known)
        self.slot = np.full(n_frames, -1, np.int64)
        self.slot[known] = np.arange(len(known))
        self.ids = np.unique(table["id"].to_numpy(np.int64))
        self.attrs: dict[str, str | float] = {
            "source_software": "batchtrack",
            "ds_type": "poses",
            "time_unit": "frames" if calibration.time_unit == FRAMES else "seconds",
            "space_unit": calibration.unit,
            "pixel_size": calibration.pixel_size,
        }
        fps = calibration.frame_rate(n_frames)
        if fps is not None:
            self.attrs["fps"] = fps
        time_coords = times[known] if calibration.time_unit != FRAMES else known.astype(np.int64)
        names = np.array([f"id_{i}" for i in self.ids.tolist()], object)
        self.coords: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
            "time": (("time",), time_coords),
            "space": (("space",), np.array(["x", "y"], object)),
            "keypoints": (("keypoints",), np.array(list(KEYPOINTS), object)),
            "individuals": (("individuals",), names),
        }
        if "arena" in table:  # arenas: each individual's, as a coordinate along individuals
            arena = table.groupby("id", sort=True)["arena"].first().to_numpy(np.int64)
            self.coords["arena"] = (("individuals",), arena)

    def fill(self, table: pd.DataFrame, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """``position`` and ``confidence`` for the times ``start`` to ``stop`` (exclusive)."""
        rows = self.slot[table["imageNumber"].to_numpy(np.int64)]
        inside = np.flatnonzero((rows >= start) & (rows < stop))
        rows = rows[inside] - start
        column = np.searchsorted(self.ids, table["id"].to_numpy(np.int64)[inside])
        position = np.full((stop - start, 2, len(KEYPOINTS), len(self.ids)), np.nan)
        confidence = np.full((stop - start, len(KEYPOINTS), len(self.ids)), np.nan)
        detected = np.ones(len(inside))
        if "interpolated" in table:
            detected = np.where(table["interpolated"].to_numpy(bool)[inside], 0.0, 1.0)
        for k, (x_name, y_name) in enumerate(KEYPOINTS.values()):
            position[rows, 0, k, column] = table[x_name].to_numpy()[inside]
            position[rows, 1, k, column] = table[y_name].to_numpy()[inside]
            confidence[rows, k, column] = detected
        return position, confidence


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

    data_vars, coords, attrs = poses_arrays(table, calibration, n_frames=n_frames)
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)


def save_poses(
    table: pd.DataFrame, calibration: Calibration, path: str | Path, *, n_frames: int
) -> Path:
    """Write the movement poses dataset of a tracking table as netCDF 4 (``tracking.nc``).

    The arrays are written through the netCDF4 API directly (netCDF4's, else h5netcdf's):
    building an xarray dataset first imports Dask (and with it numba) when they are
    installed, which costs more than tracking a short movie. ``xarray.load_dataset`` reads
    the file back to :func:`to_movement_dataset`'s dataset.

    Examples
    --------
    >>> import tempfile, pandas as pd, xarray as xr
    >>> table = pd.DataFrame({"imageNumber": [0, 1], "id": [0, 0], "arena": [2, 2],
    ...     **{c: [1.0, 2.0] for c in ("xHead", "yHead", "xBody", "yBody", "xTail", "yTail")}})
    >>> path = save_poses(table, Calibration(), Path(tempfile.mkdtemp()) / "a.nc", n_frames=2)
    >>> xr.load_dataset(path).identical(to_movement_dataset(table, Calibration(), n_frames=2))
    True
    """
    path = Path(path)
    netcdf = _netcdf_api()
    if netcdf is None:
        raise ImportError("writing tracking.nc needs netCDF4 or h5netcdf: "
                          "pip install 'batchtrack[analysis]'")  # fmt: skip
    layout = _Layout(table, calibration, n_frames)
    coords = layout.coords
    others = " ".join(name for name, (dims, _) in coords.items() if dims != (name,))
    with netcdf.Dataset(str(path), "w") as out:
        for name, (dims, values) in coords.items():
            if dims == (name,):
                out.createDimension(name, len(values))
        for name, (dims, values) in coords.items():
            kind = str if values.dtype == object else values.dtype
            out.createVariable(name, kind, dims)[...] = values
        variables = [out.createVariable(name, np.float64, dims)
                     for name, dims in (("position", POSITION_DIMS),
                                        ("confidence", CONFIDENCE_DIMS))]  # fmt: skip
        for variable in variables:
            if others:
                variable.setncattr("coordinates", others)
        # written _TIME_SLICE times at a time: a long movie's arrays are never whole in memory
        for start in range(0, layout.n_times, _TIME_SLICE):
            stop = min(start + _TIME_SLICE, layout.n_times)
            for variable, values in zip(variables, layout.fill(table, start, stop), strict=True):
                variable[start:stop] = values
        for key, value in layout.attrs.items():
            out.setncattr(key, value)
    return path


#: Times of ``tracking.nc`` filled and written at once.
_TIME_SLICE = 2000
