"""Tracking as a workflow (the batch runner splits its movies into chunks of frames)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..io.frames import find_movies, result_dir_for
from ..params import Parameters
from . import Workflow, register

__all__ = ["TRACKING"]


def analyse(
    movie: Path,
    output_dir: Path,
    params: Parameters,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Track one movie into ``output_dir`` (its ``Tracking_Result`` folder)."""
    from ..movie import track_movie

    summary, _ = track_movie(movie, params, output=output_dir, progress=progress)
    return {"frames": summary.n_frames, "message": f"{summary.n_ids} ids, {summary.n_rows} rows"}


def output_under(root: Path, movie: Path) -> Path:
    """One result folder per movie under ``root``: ``root/<parent>_<movie name>``."""
    return root / f"{movie.parent.name}_{movie.stem}"


TRACKING = register(
    Workflow(
        name="track",
        params_model=Parameters,
        analyse=analyse,
        find_inputs=find_movies,
        output_dir=result_dir_for,
        output_under=output_under,
        chunked=True,
    )
)
