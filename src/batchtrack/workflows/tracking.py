"""Tracking as a workflow (the batch runner splits its movies into chunks of frames)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..io.frames import find_movies, result_dir_for
from ..params import Parameters, load_cfg
from . import Workflow, register

__all__ = ["TRACKING", "tracking_parameters"]


def tracking_parameters(
    values: Mapping[str, Any] | None = None, cfg: str | Path | None = None
) -> Parameters:
    """Tracking parameters: defaults < ``cfg`` (FastTrack's cfg.toml) < ``values``."""
    params = load_cfg(cfg) if cfg else Parameters()
    return params.with_updates({k: v for k, v in (values or {}).items() if v is not None})


def output_under(root: Path, movie: Path) -> Path:
    """One result folder per movie under ``root``: ``root/<parent>_<movie name>``."""
    return root / f"{movie.parent.name}_{movie.stem}"


TRACKING = register(
    Workflow(
        name="track",
        params_model=Parameters,
        analyse=None,  # the batch runner runs tracking as chunked tasks (batch.tasks)
        find_inputs=find_movies,
        output_dir=result_dir_for,
        output_under=output_under,
        chunked=True,
        input_label="image sequence or video file",
        autoload=True,
        csv_manifest=True,
        named_parameters=True,
        read_parameters=tracking_parameters,
    )
)
