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
  ``cfg`` (a parameter file), ``recording`` (the recording the file belongs to) and any
  parameter name (overriding the file or the defaults).

Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import tomli_w
from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError

from ..errors import BatchtrackError, ParameterError
from ..params import PARAMETER_NAMES, Parameters, load_cfg
from ..workflows import get_workflow
from .stack import Entry, Stack, Status

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ManifestRunning", "load_manifest", "manifest_run_lock", "save_manifest"]

log = logging.getLogger(__name__)

_TITLE = "batchtrack stack"
_TOP_KEYS = frozenset(
    {"title", "workflow", "autoload", "output", "unique_background", "arenas", "parameters",
     "entry"}
)
_ENTRY_KEYS = frozenset(
    {"path", "background", "workflow", "output", "arenas", "recording", "parameters"}
)
_CSV_COLUMNS = ("path", "background", "cfg", "recording")


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _absolute(text: object, base: Path, key: str = "path", where: str = "") -> Path | None:
    """``text`` as a path relative to ``base`` (``~`` expanded); None when empty.

    Raises
    ------
    ParameterError
        If ``text`` is not a string, or names the home of no such user.
    """
    if text in (None, ""):
        return None
    if not isinstance(text, str) or "\0" in text:
        raise ParameterError(f"{key} {where}must be a path (text), got {_short(text)}")
    try:
        path = Path(text).expanduser()
    except RuntimeError:
        raise ParameterError(
            f"{key} {text!r} {where}names the home folder of no such user; write it in full"
        ) from None
    return path if path.is_absolute() else base / path


def _entry_path(text: object, base: Path, manifest: Path) -> Path:
    path = _absolute(text, base, "path", "of an [[entry]] ")
    if path is None:
        raise ParameterError(f"manifest {manifest}: an entry has an empty 'path'; give its movie")
    return path


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def _typed(table: dict, key: str, kind: type | tuple[type, ...], where: str, path: Path) -> None:
    """Refuse ``table[key]`` unless it is of ``kind`` (a TOML value of the wrong type)."""
    if key in table and not isinstance(table[key], kind):
        names = {str: "text", bool: "true or false", dict: "a table", list: "a list of tables"}
        expected = names.get(kind, str(kind)) if isinstance(kind, type) else "a table"
        raise ParameterError(
            f"manifest {path}: {key} {where}must be {expected}, got {_short(table[key])}"
        )


class ManifestRunning(BatchtrackError):
    """The manifest (or this shard of it) is already being run by another process."""


@contextmanager
def manifest_run_lock(path: str | Path, shard: str | None = None) -> Iterator[None]:
    """Hold a manifest's run lock: a second run of the same manifest (and shard) stops at once.

    The lock is ``.<manifest>.running`` beside it (``.<manifest>-2of10.running`` for shard
    2/10: the tasks of a job array run their shards side by side), with the owner's process,
    host and start time in ``.<manifest>.running.json``.

    Raises
    ------
    ManifestRunning
        Naming the process that runs it, and what to do.
    """
    path = Path(path)
    suffix = "-" + shard.replace("/", "of") if shard else ""
    lock_file = path.with_name(f".{path.name}{suffix}.running")
    owner_file = lock_file.with_name(lock_file.name + ".json")
    lock = FileLock(lock_file, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = json.loads(owner_file.read_text())
            who = f"process {owner['pid']} on {owner['host']}, since {owner['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            who = "another process"
        raise ManifestRunning(
            f"manifest {path}{' shard ' + shard if shard else ''} is already running ({who}); "
            "wait for that run to end, or stop it (Ctrl-C, or kill it), then run again: "
            "finished entries are skipped"
        ) from None
    try:
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
        }
        with contextlib.suppress(OSError):
            owner_file.write_text(json.dumps(owner))
        yield
    finally:
        with contextlib.suppress(OSError):
            owner_file.unlink()
        lock.release()


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
            recordings = any(entry.recording for entry in stack.entries)
            writer.writerow(
                ["path", "background", *(["recording"] if recordings else []), *PARAMETER_NAMES]
            )
            for entry in stack.entries:
                values = entry.params.model_dump()
                writer.writerow(
                    [
                        _relative(entry.path, base),
                        _relative(entry.background, base) or "",
                        *([entry.recording or ""] if recordings else []),
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
        if entry.recording is not None:
            item["recording"] = entry.recording
        if entry.output is not None and entry.output != stack.output:
            item["output"] = _relative(entry.output, base)
        item["parameters"] = entry.params.model_dump()
        entries.append(item)
    document["entry"] = entries
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def load_manifest(path: str | Path) -> Stack:
    """Read a stack saved by :func:`save_manifest` (or written by hand).

    A problem with the whole file (not TOML, an unknown key, a value of the wrong type at the
    top level, an unknown workflow) raises; a problem with one entry (its path, background,
    parameters or workflow) puts that entry in Error with the reason, and the others run.

    Raises
    ------
    ParameterError
        Naming the manifest and the fix.
    """
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
    except RecursionError:
        raise ParameterError(f"manifest {path}: tables or lists nested too deep") from None
    except OSError as error:
        raise ParameterError(f"manifest {path} cannot be read: {error.strerror}") from error
    base = path.parent
    _check_keys(document, _TOP_KEYS, "at the top level", path)
    for key, kind in _TOP_TYPES.items():
        _typed(document, key, kind, "at the top level ", path)
    entries = document.get("entry", [])
    if not all(isinstance(item, dict) for item in entries):
        raise ParameterError(f"manifest {path}: each [[entry]] must be a table with a 'path'")
    workflow = document.get("workflow", "track")
    _announce_user_code(document, path)
    try:
        output = _absolute(document.get("output"), base, "output", "at the top level ")
        unique_background = _absolute(
            document.get("unique_background"), base, "unique_background", "at the top level "
        )
    except ParameterError as error:
        raise ParameterError(f"manifest {path}: {error}") from None
    stack = Stack(
        _params(workflow, document.get("parameters", {}), path),
        autoload=bool(document.get("autoload", False)),
        workflow=workflow,
        output=output,
    )
    stack.unique_background = unique_background
    try:
        stack.arenas = _arena_spec(document.get("arenas"), base, _absolute)
    except ParameterError as error:
        raise ParameterError(f"manifest {path}: {error}") from None
    for item in entries:
        if "path" not in item:
            raise ParameterError(f"manifest {path}: an [[entry]] has no 'path'")
        _check_keys(item, _ENTRY_KEYS, f"in the [[entry]] of {_short(item['path'])}", path)
        stack.entries.append(_toml_entry(item, stack, base, path))
    return stack


def _announce_user_code(document: dict, path: Path) -> None:
    """Say which modules a manifest's user workflows import (and so run) before they do."""
    entries = document.get("entry", [])
    candidates = [document.get("workflow")] + [
        item.get("workflow") for item in (entries if isinstance(entries, list) else [])
        if isinstance(item, dict)
    ]  # fmt: skip
    for name in sorted({n for n in candidates if isinstance(n, str) and ":" in n}):
        module = name.partition(":")[0]
        try:
            spec = importlib.util.find_spec(module) if module and module[0] != "." else None
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None and spec.origin else "not found"
        log.warning(
            "manifest %s runs user code: workflow %r imports module %r (%s)",
            path, name, module, origin,
        )  # fmt: skip


_TOP_TYPES: dict[str, type] = {
    "title": str, "workflow": str, "autoload": bool, "parameters": dict, "entry": list,
}  # fmt: skip


def _toml_entry(item: dict, stack: Stack, base: Path, path: Path) -> Entry:
    """One ``[[entry]]``; one with a bad value becomes an Error entry naming it."""
    try:
        entry_path = _entry_path(item["path"], base, path)
    except ParameterError as error:
        return _error_entry(Path(str(item["path"])), stack, f"manifest {path}: {error}")
    try:
        for key, kind in (("workflow", str), ("parameters", dict), ("recording", str)):
            _typed(item, key, kind, f"of the [[entry]] {item['path']!r} ", path)
        entry_workflow = item.get("workflow", stack.workflow)
        if "parameters" in item or entry_workflow != stack.workflow:
            entry_params = _params(entry_workflow, item.get("parameters", {}), path)
        else:
            entry_params = stack.params  # an entry without its own table takes the stack's
        where = f"of the [[entry]] {item['path']!r} "
        entry = Entry(
            entry_path,
            entry_params,
            background=_absolute(item.get("background"), base, "background", where),
            params_source=str(path),
            workflow=entry_workflow,
            output=_absolute(item.get("output"), base, "output", where) or stack.output,
            arenas=(
                _arena_spec(item["arenas"], base, _absolute) if "arenas" in item else stack.arenas
            ),
            recording=item.get("recording") or None,
        )
    except ParameterError as error:
        message = str(error)
        if not message.startswith(f"manifest {path}") and str(path) not in message:
            message = f"manifest {path}: {message}"
        return _error_entry(entry_path, stack, message)
    _check_exists(entry)
    return entry


def _error_entry(entry_path: Path, stack: Stack, message: str) -> Entry:
    return Entry(
        entry_path,
        stack.params,
        status=Status.ERROR,
        message=message,
        add_error=message,
        workflow=stack.workflow,
        output=stack.output,
    )


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
    except (ValidationError, TypeError, ValueError, RecursionError) as error:
        problem = error.errors()[0]["msg"] if isinstance(error, ValidationError) else error
        raise ParameterError(
            f"manifest {path}: invalid {workflow} parameters ({problem})"
        ) from None


def _load_csv(path: Path) -> Stack:
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            return _read_csv(path, csv.DictReader(stream))
    except UnicodeDecodeError as error:
        raise ParameterError(
            f"manifest {path} is not UTF-8 text ({error.reason} at byte {error.start}); save "
            "it as UTF-8 CSV"
        ) from None
    except csv.Error as error:
        raise ParameterError(f"manifest {path} is not a valid CSV file: {error}") from None
    except OSError as error:
        raise ParameterError(f"manifest {path} cannot be read: {error.strerror}") from error


def _read_csv(path: Path, reader: csv.DictReader) -> Stack:
    base = path.parent
    stack = Stack()
    if reader.fieldnames is None or "path" not in reader.fieldnames:
        raise ParameterError(f"manifest {path} needs a 'path' column")
    unknown = [n for n in reader.fieldnames if n not in _CSV_COLUMNS + PARAMETER_NAMES]
    if unknown:
        raise ParameterError(
            f"manifest {path}: unknown column {', '.join(map(repr, unknown))}; columns are "
            f"path, background, cfg and parameter names ({', '.join(PARAMETER_NAMES)})"
        )
    for line, row in enumerate(reader, start=2):
        stack.entries.append(_csv_entry(row, line, stack, base, path))
    return stack


def _csv_entry(row: dict, line: int, stack: Stack, base: Path, path: Path) -> Entry:
    """One CSV row; one with a bad value becomes an Error entry naming the line."""
    if None in row:  # more cells than columns
        row = {k: v for k, v in row.items() if k is not None}
    entry_path = None
    try:
        entry_path = _entry_path(row.get("path"), base, path)
        cfg = _absolute(row.get("cfg"), base, "cfg")
        params = load_cfg(cfg) if cfg else Parameters()
        overrides = {
            n: _number(n, row[n]) for n in PARAMETER_NAMES if row.get(n) not in (None, "")
        }
        entry = Entry(
            entry_path,
            params.with_updates(overrides),
            background=_absolute(row.get("background"), base, "background"),
            params_source=str(cfg or path),
            recording=(row.get("recording") or "").strip() or None,
        )
    except ParameterError as error:
        message = f"manifest {path}, line {line}: {error}"
        return _error_entry(entry_path or Path(str(row.get("path"))), stack, message)
    _check_exists(entry)
    return entry


def _number(name: str, text: str) -> int | float | str:
    if Parameters.model_fields[name].annotation is str:  # a text parameter (unit)
        return text
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{name} = {text!r} is not a number") from None
    return int(value) if value.is_integer() else value


def _check_exists(entry: Entry) -> None:
    try:
        message = "" if entry.path.exists() else f"{entry.path} does not exist"
    except OSError as error:  # a name too long, a symbolic-link loop
        message = f"{entry.path}: {error.strerror or error}; check the path"
    if message:
        entry.status = Status.ERROR
        entry.message = entry.add_error = message
