"""Tracking as a workflow (the batch runner splits its movies into chunks of frames)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..io.frames import find_movies, result_dir_for
from ..params import AUTO, AUTO_NAMES, Parameters, load_cfg
from . import Workflow, register

__all__ = ["TRACKING", "tracking_parameters"]


def tracking_parameters(
    values: Mapping[str, Any] | None = None, cfg: str | Path | None = None
) -> Parameters:
    """Tracking parameters: defaults < ``cfg`` (FastTrack's cfg.toml) < ``--auto`` < ``values``.

    ``values["auto"]`` true (the ``--auto`` flag) sets every parameter of
    :data:`~batchtrack.params.AUTO_NAMES` to ``"auto"``; the other values win over it. A
    ``values["scale"]`` (``"X1,Y1,X2,Y2,LENGTH"``, the ``--scale`` option) sets ``pixelSize``
    (:func:`batchtrack.calibration.pixel_size_from_scale`).
    """
    from ..calibration import pixel_size_from_scale

    values = dict(values or {})
    measure_all = values.pop("auto", None)
    if values.get("scale") is not None:
        values["pixelSize"] = pixel_size_from_scale(values["scale"])
    values.pop("scale", None)
    params = load_cfg(cfg) if cfg else Parameters()
    if measure_all:
        params = params.with_updates(dict.fromkeys(AUTO_NAMES, AUTO))
    return params.with_updates({k: v for k, v in values.items() if v is not None})


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
