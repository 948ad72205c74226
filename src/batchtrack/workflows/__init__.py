"""Workflows: what the batch stack runs on each entry.

A workflow has a name, a parameter model, a way to list the inputs a path holds, an output
folder per input, and a function ``analyse(input_path, output_dir, params, progress)`` that
writes its results into ``output_dir`` and returns a small dict (``frames``: units of work
done, ``message``: a note shown with the status).

The runner gives ``analyse`` a fresh staging folder; once ``analyse`` returns, every file it
wrote is published into the real output folder (files it would replace are first moved to an
``archive-<date>`` sub-folder, never deleted) and a resume marker is written. A crash leaves
only a hidden staging folder, removed by the next run.

Tracking is registered as ``track`` (the runner splits its movies into chunks of frames);
``measure`` segments and measures objects per image. A user's own function is named
``package.module:function`` and takes free-form parameters (a dict).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import ParameterError

__all__ = [
    "UserParameters",
    "Workflow",
    "analyse_task",
    "get_workflow",
    "register",
    "workflow_names",
]

log = logging.getLogger(__name__)

Analyse = Callable[[Path, Path, Any, Callable[[int, int], None] | None], dict | None]


class UserParameters(BaseModel):
    """Free-form parameters of a user's workflow (any key, TOML-compatible values)."""

    model_config = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True)
class Workflow:
    """A per-input analysis the batch stack can run.

    Attributes
    ----------
    name : str
        Registry name (``track``, ``measure``) or ``package.module:function``.
    params_model : type of pydantic BaseModel
        Parameter model; entries hold an instance (a snapshot).
    analyse : callable
        ``analyse(input_path, output_dir, params, progress) -> dict | None``.
    find_inputs : callable
        ``find_inputs(path) -> list[Path]``: the entries a path given to *add* holds.
    output_dir : callable
        ``output_dir(input_path) -> Path``: where the results of one input go.
    output_under : callable
        ``output_under(root, input_path) -> Path``: where the results of one input go when
        every result is sent under one root folder (default: the root itself, shared).
    chunked : bool
        The runner splits inputs into frame chunks (tracking only).
    """

    name: str
    params_model: type[BaseModel]
    analyse: Analyse
    find_inputs: Callable[[Path], list[Path]]
    output_dir: Callable[[Path], Path]
    output_under: Callable[[Path, Path], Path] = lambda root, _input: root
    chunked: bool = False


_REGISTRY: dict[str, Workflow] = {}


def register(workflow: Workflow) -> Workflow:
    """Add a workflow to the registry (by its name)."""
    _REGISTRY[workflow.name] = workflow
    return workflow


def workflow_names() -> list[str]:
    """Names of the registered workflows."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    from . import tracking  # noqa: F401  (registers "track")

    try:
        from . import measure  # noqa: F401  (registers "measure"; needs the measure extra)
    except ImportError as error:  # pragma: no cover - depends on the install
        log.debug("measure workflow unavailable: %s", error)


def _files_in(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path] if path.is_file() else []


def _user_workflow(name: str) -> Workflow:
    module_name, _, function_name = name.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ParameterError(
            f"workflow {name!r} cannot be loaded ({error}); give 'package.module:function' "
            "with the module importable (installed, or on PYTHONPATH)"
        ) from error
    if not callable(function):
        raise ParameterError(f"workflow {name!r} is not a function")
    return Workflow(
        name=name,
        params_model=UserParameters,
        analyse=function,
        find_inputs=_files_in,
        output_dir=lambda path: path.parent / f"{path.stem}_results",
    )


def get_workflow(name: str) -> Workflow:
    """A registered workflow, or a user's function named ``package.module:function``."""
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _user_workflow(name)
    raise ParameterError(
        f"unknown workflow {name!r}; use one of {', '.join(sorted(_REGISTRY))} "
        "or 'package.module:function'"
    )


# -- running one input (in a worker) -----------------------------------------------------------
def _marker_path(output_dir: Path, input_path: Path) -> Path:
    return output_dir / f".{input_path.name}.batchtrack.json"


def _publish(staging: Path, output_dir: Path) -> list[Path]:
    """Move every file of ``staging`` into ``output_dir``, archiving files it replaces."""
    archive = None
    published = []
    for item in sorted(staging.iterdir()):
        target = output_dir / item.name
        if target.exists():
            if archive is None:
                stamp = datetime.now().strftime("%d-%b-%Y-%H-%M-%S")
                archive = output_dir / f"archive-{stamp}"
                archive.mkdir(exist_ok=True)
            shutil.move(str(target), archive / item.name)
        os.replace(item, target)
        published.append(target)
    return published


def analyse_task(workflow_name: str, job) -> dict:
    """Run one input of a non-chunked workflow with staging, publishing and a resume marker."""
    from ..batch.run import init_worker, make_marker, marker_matches
    from ..io.results import remove_stale_partials
    from ..params import parameters_hash

    init_worker()
    workflow = get_workflow(workflow_name)
    input_path, output_dir = Path(job.path), Path(job.output)
    marker = make_marker(input_path, parameters_hash(job.params), None, workflow_name)
    marker_file = _marker_path(output_dir, input_path)
    if not job.force and marker_matches(marker_file, marker):
        return {"skipped": True}
    output_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(output_dir / input_path.name)
    staging = output_dir / f".{input_path.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        params = job.params
        if not isinstance(params, workflow.params_model):
            params = workflow.params_model.model_validate(dict(params))
        result = workflow.analyse(input_path, staging, params, None) or {}
        _publish(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    marker_file.write_text(json.dumps(marker, sort_keys=True))
    return {"frames": int(result.get("frames", 1)), "message": str(result.get("message", ""))}
