"""The analysis files of one result folder, written beside FastTrack's before it is published.

From the folder's ``tracking.parquet`` (streamed by :class:`~batchtrack.io.results.ResultWriter`):

- ``animals.csv``: one row per identity (:func:`batchtrack.analysis.per_animal`);
- ``tracking.nc``: the movement poses dataset (:mod:`batchtrack.io.movement`);
- ``quality.json``: the quality measures, verdict and reasons (:mod:`batchtrack.quality`).

A file whose library is not installed (pyarrow, xarray) is left out, with a line in the
result's ``log``; a result with no object gets a header-only ``animals.csv`` and no
``tracking.nc`` (movement needs one individual), also said in the ``log``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis import ANIMAL_COLUMNS, PER_ANIMAL_INPUTS, per_animal
from .calibration import Calibration
from .io import movement as movement_io
from .io import tables
from .params import Parameters
from .quality import QUALITY_COLUMNS, assess, assess_arenas

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ANALYSIS_INPUTS", "analysis_files_task", "warm_up", "write_analysis_files"]

log = logging.getLogger(__name__)

#: Arenas to check whose reasons are listed in ``quality.json``'s ``reasons``.
_ARENA_REASONS = 5


#: The columns of ``tracking.parquet`` the analysis files read.
ANALYSIS_INPUTS: list[str] = list(
    dict.fromkeys([*PER_ANIMAL_INPUTS, *QUALITY_COLUMNS, *movement_io.POSES_INPUTS, "arena"])
)


def _tracks(folder: Path, calibration: Calibration):
    """The result table: tracking.parquet (calibrated), else tracking.txt (px), its pixel
    size, and whether it is tracking.parquet (which only it has ``time`` and ``speed``)."""
    if (folder / tables.PARQUET_FILE).is_file():
        # only the columns the analysis files read: the table of a long movie is large
        return tables.read_tracks(folder, columns=ANALYSIS_INPUTS), calibration.pixel_size, True
    from .io.results import read_tracking

    return read_tracking(folder), 1.0, False


def write_analysis_files(
    folder: str | Path,
    params: Parameters,
    calibration: Calibration,
    *,
    n_frames: int,
    skipped: Sequence[int] = (),
    note: Callable[[str], None] | None = None,
    arena_animals: Sequence[int] | None = None,
    table: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write ``animals.csv``, ``tracking.nc`` and ``quality.json`` into ``folder``.

    Parameters
    ----------
    folder : path
        A result folder holding ``tracking.txt`` and, with pyarrow, ``tracking.parquet``.
    params : Parameters
        The tracking parameters (``animals``, ``maxDist``, ``spot``).
    calibration : Calibration
        Units and clock of the result.
    n_frames : int
        Frames of the movie, unreadable ones included.
    skipped : sequence of int
        The unreadable frames.
    note : callable, optional
        Called with each message worth keeping in the result's ``log``.
    arena_animals : sequence of int, optional
        The animals of each arena, when the movie has arenas: ``quality.json`` then also
        judges each arena (``arenas``), and an arena to check makes the result one to check.
    table : DataFrame, optional
        ``tracking.parquet``'s :data:`ANALYSIS_INPUTS` columns, when the writer kept them
        (a short movie): the file is then not read back.

    Returns
    -------
    dict
        The quality report written to ``quality.json``.
    """
    folder = Path(folder)
    say = note or (lambda message: None)
    if table is not None:  # tracking.parquet's, kept by its writer
        scale, calibrated = calibration.pixel_size, True
    else:
        table, scale, calibrated = _tracks(folder, calibration)
    if not calibrated:
        say("tracking.parquet, animals.csv and tracking.nc not written: pyarrow is missing "
            "(pip install 'batchtrack[analysis]')")  # fmt: skip
    else:
        frame_interval = calibration.frame_interval(n_frames)
        animals = per_animal(
            table, n_frames=n_frames, frame_interval=frame_interval, unit=calibration.unit,
            time_unit=calibration.time_unit,
        )  # fmt: skip
        tables.write_animals(animals, folder / tables.ANIMALS_FILE)
        _write_netcdf(folder, table, calibration, n_frames, say)
    times = calibration.timestamps if calibration.fps == 0 else None
    quality = assess(
        table, n_frames=n_frames, skipped=list(skipped), animals=params.animals,
        max_dist=params.maxDist * scale, spot=params.spot, times=times,
    )  # fmt: skip
    report = quality.as_dict()
    if arena_animals is not None and tables.ARENA_COLUMN in table:
        per_arena = assess_arenas(
            table, list(arena_animals), n_frames=n_frames, skipped=list(skipped),
            max_dist=params.maxDist * scale, spot=params.spot,
        )  # fmt: skip
        report["arenas"] = per_arena
        doubtful = [a for a in per_arena if a["verdict"] != "ok"]
        for arena in doubtful[:_ARENA_REASONS]:
            report["reasons"].append(f"arena {arena['arena']}: {'; '.join(arena['reasons'])}")
        if len(doubtful) > _ARENA_REASONS:
            report["reasons"].append(
                f"{len(doubtful) - _ARENA_REASONS} more arenas to check (see arenas)"
            )
        if doubtful:
            report["verdict"] = "check"
    tables.write_quality(report, folder / tables.QUALITY_FILE)
    return report


def analysis_files_task(
    folder: str | Path,
    params: Parameters,
    calibration: Calibration,
    n_frames: int,
    skipped: Sequence[int],
    arena_animals: Sequence[int] | None,
) -> list[str]:
    """:func:`write_analysis_files` from the folder's ``tracking.parquet``, e.g. in a worker
    process; returns the messages for the result's ``log`` (its notes, and the warnings
    logged meanwhile), which the caller writes there."""
    from .io.messages import collect_messages

    with collect_messages() as messages:
        write_analysis_files(
            folder, params, calibration, n_frames=n_frames, skipped=skipped,
            note=messages.append, arena_animals=arena_animals,
        )  # fmt: skip
    return messages


def warm_up() -> None:
    """Import what :func:`write_analysis_files` needs (pandas alone is half a second), e.g. in
    a worker process that will run :func:`analysis_files_task`."""
    import pandas  # noqa: F401

    if tables.have_pyarrow():
        import pyarrow.parquet  # noqa: F401
    movement_io.can_write_netcdf()


def _write_netcdf(
    folder: Path, table, calibration: Calibration, n_frames: int, say: Callable[[str], None]
) -> None:
    if not movement_io.can_write_netcdf():
        say("tracking.nc not written: netCDF4 and h5netcdf are missing "
            "(pip install 'batchtrack[analysis]')")  # fmt: skip
        return
    if len(table) == 0:
        say("tracking.nc not written: no object was tracked (a movement dataset needs one)")
        return
    movement_io.save_poses(table, calibration, folder / movement_io.NETCDF_FILE, n_frames=n_frames)


#: Columns of ``animals.csv`` (re-exported for the report).
ANIMALS_CSV_COLUMNS = ANIMAL_COLUMNS
