"""The ``batchtrack`` command line: one module per command; it calls the public API only."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

import click

from .. import __version__
from ..io.messages import keep_python_stderr_apart, log_to_terminal
from ..params import AUTO, AUTO_NAMES, describe_parameters

__all__ = [
    "fail",
    "format_range",
    "format_value",
    "main",
    "parameter_options",
    "progress_console",
    "run",
    "setup_logging",
]


def setup_logging(quiet: bool) -> None:
    """Log batchtrack's warnings (errors only when quiet) to stderr, in this process and the
    worker processes it starts; the native libraries' messages go to the results' logs only
    (see :mod:`batchtrack.io.messages`)."""
    keep_python_stderr_apart()  # progress bars are never taken for a decoder's complaint
    log_to_terminal(logging.ERROR if quiet else logging.WARNING)


def format_value(value: object) -> str:
    """A value as people read it: floats with 6 significant digits (0.325, not
    0.32499999999999996), everything else as it prints.

    Examples
    --------
    >>> format_value(0.32499999999999996), format_value(20.0), format_value(7)
    ('0.325', '20', '7')
    """
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_range(low: float | None, high: float | None) -> str:
    """``0–255``, ``≥ 1``, ``≤ 5`` or ``any``.

    Examples
    --------
    >>> format_range(0, 255), format_range(1, None), format_range(None, None)
    ('0–255', '≥ 1', 'any')
    """
    if low is not None and high is not None:
        return f"{format_value(low)}–{format_value(high)}"
    if low is not None:
        return f"≥ {format_value(low)}"
    if high is not None:
        return f"≤ {format_value(high)}"
    return "any"


class NumberOrAuto(click.ParamType):
    """A number, or ``auto`` (measure it from the movie)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.name = kind.__name__  # the metavar stays INT or FLOAT; the help says "or auto"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        try:
            return self.kind(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither {self.kind.__name__} nor 'auto'", param, ctx)


#: Options read as text and validated by the parameter model (one-line errors).
_TEXT: dict[str, type] = {"pixelSize": str, "unit": str, "fps": str}
_METAVARS = {"pixelSize": "FLOAT", "unit": "TEXT", "fps": "FLOAT"}


def parameter_options(func: Callable) -> Callable:
    """Add one ``--NAME VALUE`` option per tracking parameter (FastTrack's names), and
    ``--auto`` and ``--scale``.

    batchtrack's own calibration parameters (``pixelSize``, ``unit``, ``fps``) are passed on
    as text and validated by :class:`~batchtrack.params.Parameters`, so that a bad value is a
    one-line error naming the parameter and what is allowed.
    """
    for info in reversed(describe_parameters()):
        kind = int if info["type"] in ("int", int) else float
        unit = f" [{info['unit']}]" if info.get("unit") else ""
        choices = info.get("choices")
        codes = f" ({', '.join(f'{k} {v}' for k, v in choices.items())})" if choices else ""
        measurable = info["name"] in AUTO_NAMES
        if info["type"] == "str":
            span = ""
        elif info["min_exclusive"] and info["max"] is None:
            span = f"; > {format_value(info['min'])}"
        else:
            span = f"; {format_range(info['min'], info['max'])}"
        help_text = (
            f"{info['description']}{unit}{codes}{span}, "
            f"default {format_value(info['default'])}{' (or auto)' if measurable else ''}"
        )
        func = click.option(
            f"--{info['name']}",
            info["name"],
            type=NumberOrAuto(kind) if measurable else _TEXT.get(info["name"], kind),
            metavar=_METAVARS.get(info["name"]),
            default=None,
            help=help_text,
        )(func)
    func = click.option(
        "--scale",
        metavar="LINE",
        default=None,
        help="X1,Y1,X2,Y2,LENGTH: set pixelSize from two points (px) a known LENGTH apart "
        "(in --unit).",
    )(func)
    return click.option(
        "--auto",
        "auto",
        is_flag=True,
        default=None,
        help=f"Measure {', '.join(AUTO_NAMES)} from each movie (values given as options win).",
    )(func)


def progress_console():
    """Where progress bars go: standard error, and only when it is a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else None


def fail(error: Exception | str) -> NoReturn:
    """Print a one-line reason and exit with status 1."""
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


def run() -> NoReturn:
    """The ``batchtrack`` console script: :func:`main`, then an exit without the interpreter's
    teardown.

    Freeing every module's objects one by one (pandas, pyarrow, OpenCV, pydantic) takes a
    quarter of a second after the work is done, which a short command pays in full. The
    exit handlers still run (temporary folders, worker processes) and the output is flushed;
    with threads still running the exit is the ordinary one.
    """
    try:
        main()
    except SystemExit as done:
        code = done.code
    else:  # pragma: no cover - click always exits in standalone mode
        code = 0
    if threading.active_count() > 1:
        sys.exit(code)
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (``| head``), a closed stream
            pass
    os._exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchtrack")
def main() -> None:
    """Track many moving objects in many movies, FastTrack-compatible."""


from . import batch as _batch  # noqa: E402, F401  (registers the commands)
from . import demo as _demo  # noqa: E402, F401
from . import edit as _edit  # noqa: E402, F401
from . import export_video as _export_video  # noqa: E402, F401
from . import gui as _gui  # noqa: E402, F401
from . import measure as _measure  # noqa: E402, F401
from . import report as _report  # noqa: E402, F401
from . import review as _review  # noqa: E402, F401
from . import track as _track  # noqa: E402, F401
