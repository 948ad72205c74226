"""Workflows: what the batch stack runs on each entry.

A workflow has a name, a parameter model, a way to list the inputs a path holds, an output
folder per input, and a function ``analyse(input_path, output_dir, params, progress)`` that
writes its results into ``output_dir`` and returns a small dict (``frames``: units of work
done, ``message``: a note shown with the status).

The batch runner (:mod:`batchtrack.batch.tasks`) gives ``analyse`` a fresh staging folder;
once ``analyse`` returns, every file it wrote is published into the real output folder (files
it would replace are first moved to an ``archive-<date>`` sub-folder, never deleted) and a
resume marker is written. A crash leaves only a hidden staging folder, removed by the next run.

Each workflow carries what makes it different (its inputs, whether results autoload, whether
a CSV manifest can hold its parameters, how its parameter file is read, what runs after a
batch), so that the generic layers never test a workflow's name.

Tracking is registered as ``track`` (the runner splits its movies into chunks of frames);
``measure`` segments and measures objects per image. A user's own function is named
``package.module:function`` and takes free-form parameters (a dict).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import ParameterError

__all__ = [
    "UserParameters",
    "Workflow",
    "get_workflow",
    "register",
    "workflow_names",
]

log = logging.getLogger(__name__)

Analyse = Callable[[Path, Path, Any, Callable[[int, int], None] | None], dict | None]
#: ``read_parameters(values, cfg) -> params``: defaults < parameter file < ``values``.
ReadParameters = Callable[[Mapping[str, Any], Path | None], BaseModel]
#: ``after_batch(results, path) -> written file or None``; ``results`` holds the
#: ``(input, output folder)`` of every finished entry, ``path`` the file asked for (or None).
AfterBatch = Callable[[Sequence[tuple[Path, Path]], Path | None], Path | None]


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
    analyse : callable or None
        ``analyse(input_path, output_dir, params, progress) -> dict | None``; None for a
        chunked workflow, which the runner runs as its own tasks.
    find_inputs : callable
        ``find_inputs(path) -> list[Path]``: the entries a path given to *add* holds.
    output_dir : callable
        ``output_dir(input_path) -> Path``: where the results of one input go.
    output_under : callable
        ``output_under(root, input_path) -> Path``: where the results of one input go when
        every result is sent under one root folder (default: the root itself, shared).
    chunked : bool
        The runner splits inputs into frame chunks (tracking only).
    input_label : str
        What the workflow reads, for messages ("image files").
    autoload : bool
        An entry's result folder may hold parameters and a background to reuse (tracking).
    csv_manifest : bool
        Its parameters fit one row of a CSV manifest (flat numbers: tracking).
    named_parameters : bool
        The command line has one ``--NAME`` option per parameter (tracking); otherwise
        parameters are given as ``--param name=value``.
    read_parameters : callable, optional
        How a parameter file is read (default: its ``[parameters]`` TOML table).
    after_batch : callable, optional
        What runs once a batch is done (measure: the batch-wide table).
    """

    name: str
    params_model: type[BaseModel]
    analyse: Analyse | None
    find_inputs: Callable[[Path], list[Path]]
    output_dir: Callable[[Path], Path]
    output_under: Callable[[Path, Path], Path] = lambda root, _input: root
    chunked: bool = False
    input_label: str = "input files"
    autoload: bool = False
    csv_manifest: bool = False
    named_parameters: bool = False
    read_parameters: ReadParameters | None = None
    after_batch: AfterBatch | None = None


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
    except (ImportError, AttributeError, ValueError, TypeError) as error:  # "", "..x"
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
    if not isinstance(name, str):
        raise ParameterError(f"a workflow is named by text, got {name!r}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _user_workflow(name)
    raise ParameterError(
        f"unknown workflow {name!r}; use one of {', '.join(sorted(_REGISTRY))} "
        "or 'package.module:function'"
    )
