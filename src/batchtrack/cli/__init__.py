"""The ``batchtrack`` command line: one module per command; it calls the public API only."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import NoReturn

import click

from .. import __version__
from ..params import describe_parameters

__all__ = [
    "fail",
    "main",
    "parameter_options",
    "progress_console",
    "setup_logging",
]


def setup_logging(quiet: bool) -> None:
    """Log batchtrack's warnings (errors only when quiet) to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("batchtrack")
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if quiet else logging.WARNING)


def parameter_options(func: Callable) -> Callable:
    """Add one ``--NAME VALUE`` option per tracking parameter (FastTrack's names)."""
    for info in reversed(describe_parameters()):
        kind = int if info["type"] in ("int", int) else float
        unit = f" [{info['unit']}]" if info.get("unit") else ""
        choices = info.get("choices")
        codes = f" ({', '.join(f'{k} {v}' for k, v in choices.items())})" if choices else ""
        help_text = (
            f"{info['description']}{unit}{codes}; {info['min']}–{info['max']}, "
            f"default {info['default']}"
        )
        func = click.option(
            f"--{info['name']}", info["name"], type=kind, default=None, help=help_text
        )(func)
    return func


def progress_console():
    """Where progress bars go: standard error, and only when it is a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    return console if console.is_terminal else None


def fail(error: Exception | str) -> NoReturn:
    """Print a one-line reason and exit with status 1."""
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchtrack")
def main() -> None:
    """Track many moving objects in many movies, FastTrack-compatible."""


from . import batch as _batch  # noqa: E402, F401  (registers the commands)
from . import demo as _demo  # noqa: E402, F401
from . import gui as _gui  # noqa: E402, F401
from . import measure as _measure  # noqa: E402, F401
from . import track as _track  # noqa: E402, F401
