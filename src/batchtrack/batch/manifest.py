"""Saving and loading a stack, so that a batch is reproducible and runs headless.

Two formats, chosen by the file extension:

* **TOML** (``stack.toml``): the current parameter table, the options, and one ``[[entry]]``
  table per entry with its path, background and full parameter snapshot::

      title = "batchtrack stack"
      workflow = "track"
      autoload = false

      [parameters]
      thresh = 60
      ...

      [[entry]]
      path = "Run1/images"
      background = "Run1/images/Tracking_Result/background.pgm"

      [entry.parameters]
      thresh = 60
      ...

* **CSV** (``stack.csv``): one row per entry; columns ``path`` (required), ``background``,
  ``cfg`` (a parameter file) and any parameter name (overriding the file or the defaults).

Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path

import tomli_w
from pydantic import BaseModel, ValidationError

from ..errors import ParameterError
from ..params import PARAMETER_NAMES, Parameters, load_cfg
from ..workflows import get_workflow
from .stack import Entry, Stack, Status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_manifest", "save_manifest"]

_TITLE = "batchtrack stack"
_TOP_KEYS = frozenset(
    {"title", "workflow", "autoload", "output", "unique_background", "arenas", "parameters",
     "entry"}
)
_ENTRY_KEYS = frozenset({"path", "background", "workflow", "output", "arenas", "parameters"})
_CSV_COLUMNS = ("path", "background", "cfg")


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _absolute(text: str | None, base: Path) -> Path | None:
    if text in (None, ""):
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _entry_path(text: str | None, base: Path, manifest: Path) -> Path:
    path = _absolute(text, base)
    if path is None:
        raise ParameterError(f"manifest {manifest}: an entry has an empty 'path'; give its movie")
    return path


def save_manifest(stack: Stack, path: str | Path) -> Path:
    """Write the stack to ``path`` (``.toml`` or ``.csv``)."""
    path = Path(path)
    base = path.parent
    base.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        if not get_workflow(stack.workflow).csv_manifest:
            raise ParameterError(
                f"manifest {path}: a CSV manifest holds tracking parameters only; save the "
                f"{stack.workflow!r} stack as .toml"
            )
        with open(path, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["path", "background", *PARAMETER_NAMES])
            for entry in stack.entries:
                values = entry.params.model_dump()
                writer.writerow(
                    [
                        _relative(entry.path, base),
                        _relative(entry.background, base) or "",
                        *(values[n] for n in PARAMETER_NAMES),
                    ]
                )
        return path
    document: dict = {"title": _TITLE, "workflow": stack.workflow, "autoload": stack.autoload}
    if stack.output is not None:
        document["output"] = _relative(stack.output, base)
    if stack.unique_background is not None:
        document["unique_background"] = _relative(stack.unique_background, base)
    if stack.arenas is not None:
        document["arenas"] = _arena_spec(stack.arenas, base, _relative)
    document["parameters"] = stack.params.model_dump()
    entries = []
    for entry in stack.entries:
        item: dict = {"path": _relative(entry.path, base)}
        if entry.background is not None:
            item["background"] = _relative(entry.background, base)
        if entry.workflow != stack.workflow:
            item["workflow"] = entry.workflow
        if entry.arenas is not None:
            item["arenas"] = _arena_spec(entry.arenas, base, _relative)
        if entry.output is not None and entry.output != stack.output:
            item["output"] = _relative(entry.output, base)
        item["parameters"] = entry.params.model_dump()
        entries.append(item)
    document["entry"] = entries
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def load_manifest(path: str | Path) -> Stack:
    """Read a stack saved by :func:`save_manifest` (or written by hand)."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(
            f"manifest {path} does not exist; create it with 'batchtrack batch add'"
        )
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ParameterError(f"manifest {path} is not valid TOML: {error}") from error
    base = path.parent
    _check_keys(document, _TOP_KEYS, "at the top level", path)
    workflow = document.get("workflow", "track")
    output = _absolute(document.get("output"), base)
    stack = Stack(
        _params(workflow, document.get("parameters", {}), path),
        autoload=bool(document.get("autoload", False)),
        workflow=workflow,
        output=output,
    )
    stack.unique_background = _absolute(document.get("unique_background"), base)
    stack.arenas = _arena_spec(document.get("arenas"), base, _absolute)
    for item in document.get("entry", []):
        if not isinstance(item, dict) or "path" not in item:
            raise ParameterError(f"manifest {path}: an [[entry]] has no 'path'")
        _check_keys(item, _ENTRY_KEYS, f"in the [[entry]] of {item['path']!r}", path)
        entry_workflow = item.get("workflow", workflow)
        if "parameters" in item or entry_workflow != stack.workflow:
            entry_params = _params(entry_workflow, item.get("parameters", {}), path)
        else:
            entry_params = stack.params  # an entry without its own table takes the stack's
        entry = Entry(
            _entry_path(item["path"], base, path),
            entry_params,
            background=_absolute(item.get("background"), base),
            params_source=str(path),
            workflow=entry_workflow,
            output=_absolute(item.get("output"), base) or output,
            arenas=_arena_spec(item.get("arenas", document.get("arenas")), base, _absolute),
        )
        _check_exists(entry)
        stack.entries.append(entry)
    return stack


def _arena_spec(spec: object, base: Path, convert: Callable[..., object]) -> str | None:
    """An ``arenas`` value with a file name made relative to (or absolute from) ``base``;
    ``grid:RxC`` and ``auto`` as they are."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        raise ParameterError(f"arenas must be a file name, grid:ROWSxCOLS or auto, got {spec!r}")
    if spec.startswith("grid:") or spec == "auto":
        return spec
    return str(convert(spec if convert is _absolute else Path(spec), base))


def _check_keys(table: dict, allowed: frozenset[str], where: str, path: Path) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ParameterError(
            f"manifest {path}: unknown key {', '.join(map(repr, unknown))} {where}; "
            f"use {', '.join(sorted(allowed))}"
        )


def _params(workflow: str, values: dict, path: Path) -> BaseModel:
    """Validate a parameter table for ``workflow``, naming the manifest on error."""
    try:
        model = get_workflow(workflow).params_model
    except ParameterError as error:
        raise ParameterError(f"manifest {path}: {error}") from error
    if model is Parameters:
        return Parameters.from_mapping(values, source=str(path))
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ParameterError(f"manifest {path}: invalid {workflow} parameters: {error}") from error


def _load_csv(path: Path) -> Stack:
    base = path.parent
    stack = Stack()
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ParameterError(f"manifest {path} needs a 'path' column")
        unknown = [n for n in reader.fieldnames if n not in _CSV_COLUMNS + PARAMETER_NAMES]
        if unknown:
            raise ParameterError(
                f"manifest {path}: unknown column {', '.join(map(repr, unknown))}; columns are "
                f"path, background, cfg and parameter names ({', '.join(PARAMETER_NAMES)})"
            )
        for line, row in enumerate(reader, start=2):
            cfg = _absolute(row.get("cfg"), base)
            params = load_cfg(cfg) if cfg else Parameters()
            try:
                overrides = {
                    n: _number(n, row[n]) for n in PARAMETER_NAMES if row.get(n) not in (None, "")
                }
                params = params.with_updates(overrides)
            except ParameterError as error:
                raise ParameterError(f"manifest {path}, line {line}: {error}") from error
            entry = Entry(
                _entry_path(row["path"], base, path),
                params,
                background=_absolute(row.get("background"), base),
                params_source=str(cfg or path),
            )
            _check_exists(entry)
            stack.entries.append(entry)
    return stack


def _number(name: str, text: str) -> int | float | str:
    if Parameters.model_fields[name].annotation is str:  # a text parameter (unit)
        return text
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{name} = {text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _check_exists(entry: Entry) -> None:
    if not entry.path.exists():
        entry.status = Status.ERROR
        entry.message = entry.add_error = f"{entry.path} does not exist"
