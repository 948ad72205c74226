"""Parameter files of any workflow: read and write, and the table a run uses.

Tracking reads FastTrack's ``cfg.toml`` (:mod:`batchtrack.params`); the other workflows read
and write a TOML file whose ``[parameters]`` table holds the values.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError

from ..errors import OutputError, ParameterError
from . import get_workflow

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_workflow_params", "save_workflow_params", "workflow_parameters"]


def load_workflow_params(path: str | Path) -> dict[str, Any]:
    """The ``[parameters]`` table of a TOML file (or its top level when it has none)."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ParameterError(f"cannot read the parameter file {path}: {error}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ParameterError(f"parameter file {path} is not valid TOML: {error}") from error
    table = document.get("parameters", document)
    return {k: v for k, v in table.items() if k != "title"}


def save_workflow_params(path: str | Path, params: BaseModel, *, workflow: str) -> Path:
    """Write ``params`` as ``title = "batchtrack <workflow>"`` plus a ``[parameters]`` table."""
    path = Path(path)
    document = {"title": f"batchtrack {workflow}", "parameters": params.model_dump()}
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except OSError as error:
        raise OutputError(f"cannot write the parameter file {path}: {error}") from error
    return path


def workflow_parameters(
    workflow: str,
    values: Mapping[str, Any] | None = None,
    *,
    cfg: str | Path | None = None,
) -> BaseModel:
    """Validated parameters of ``workflow``: its defaults < ``cfg`` file < ``values``.

    Parameters
    ----------
    workflow : str
        ``track``, ``measure`` or ``package.module:function``.
    values : mapping, optional
        Values given on the command line (None values are skipped).
    cfg : path, optional
        A parameter file: FastTrack's cfg.toml for tracking, else a TOML file whose
        ``[parameters]`` table holds the values.

    Raises
    ------
    ParameterError
        Unknown workflow, unreadable file, unknown name or invalid value.
    """
    given = {k: v for k, v in (values or {}).items() if v is not None}
    chosen = get_workflow(workflow)
    if chosen.read_parameters is not None:
        return chosen.read_parameters(given, None if cfg is None else Path(cfg))
    model = chosen.params_model
    merged = {**(load_workflow_params(cfg) if cfg else {}), **given}
    try:
        return model(**merged)
    except ValidationError as error:
        source = f" in {cfg}" if cfg else ""
        raise ParameterError(f"invalid {workflow} parameters{source}: {error}") from error
