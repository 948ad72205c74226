"""The ``batchtrack`` command line. It calls the public API only."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import BatchtrackError
from .params import Parameters, describe_parameters, load_cfg

log = logging.getLogger("batchtrack")


def _setup_logging(quiet: bool) -> None:
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


def build_parameters(cfg: Path | None, flags: dict[str, Any]) -> Parameters:
    """Defaults < ``--cfg`` file < individual flags."""
    params = load_cfg(cfg) if cfg else Parameters()
    return params.with_updates({k: v for k, v in flags.items() if v is not None})


def _fail(error: Exception) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="batchtrack")
def main() -> None:
    """Track many moving objects in many movies, FastTrack-compatible."""


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--cfg", type=click.Path(path_type=Path), help="Parameter file (cfg.toml).")
@click.option("--background", type=click.Path(path_type=Path), help="Background image to use.")
@click.option(
    "--output", type=click.Path(path_type=Path), help="Result folder (default: FastTrack's)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, errors only.")
@parameter_options
def track(path: Path, cfg: Path | None, background: Path | None, output: Path | None,
          quiet: bool, **flags: Any) -> None:  # fmt: skip
    """Track one image sequence (a folder) or one video file.

    Results go to PATH/Tracking_Result (sequence) or Tracking_Result_<name> beside a video;
    an existing result folder is archived, never overwritten.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .track import track_movie

    _setup_logging(quiet)
    try:
        params = build_parameters(cfg, flags)
        if quiet:
            summary, _ = track_movie(path, params, background=background, output=output)
        else:
            columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn())  # fmt: skip
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task(f"tracking {path.name}", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                summary, _ = track_movie(
                    path, params, background=background, output=output, progress=progress
                )
    except BatchtrackError as error:
        _fail(error)
        return
    if not quiet:
        rate = summary.n_frames / summary.seconds if summary.seconds else float("nan")
        click.echo(
            f"{summary.n_frames} frames, {summary.n_ids} ids, {summary.n_rows} rows in "
            f"{summary.seconds:.2f} s ({rate:.0f} frames/s) -> {summary.folder}"
        )
        if summary.skipped:
            click.echo(f"{len(summary.skipped)} unreadable frames skipped (see the log)")


if __name__ == "__main__":  # pragma: no cover
    main()
