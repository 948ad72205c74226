"""``batchtrack measure``: segment and measure the objects of many 2D images."""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from ..errors import BatchtrackError, ParameterError
from ..workflows.parameters import save_workflow_params, workflow_parameters
from . import fail, main, progress_console, setup_logging

__all__: list[str] = []

log = logging.getLogger(__name__)

_METHODS = ("otsu", "li", "triangle", "yen", "mean")


def _threshold(text: str | None) -> str | float | None:
    if text is None or text.lower() in _METHODS:
        return None if text is None else text.lower()
    try:
        return float(text)
    except ValueError:
        raise ParameterError(
            f"--threshold must be one of {', '.join(_METHODS)} or a grey level, got {text!r}"
        ) from None


def _check_collisions(stack) -> None:
    """Two images with the same stem and output folder would overwrite each other's files."""
    seen = Counter((e.result_dir, e.path.stem) for e in stack)
    clashes = [e for e in stack if seen[(e.result_dir, e.path.stem)] > 1]
    if clashes:
        names = ", ".join(str(e.path) for e in clashes[:4])
        raise ParameterError(
            f"images with the same name would write the same result files: {names}; "
            "measure them in separate runs or without --out"
        )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--threshold",
    metavar="otsu|li|triangle|yen|mean|N",
    help="Automatic threshold method, or a fixed grey level N.  [default: otsu]",
)
@click.option(
    "--dark-objects/--bright-objects",
    default=None,
    help="Objects darker than the background.  [default: bright]",
)
@click.option("--smooth", type=float, metavar="SIGMA", help="Gaussian smoothing [px]; 0 = none.")
@click.option(
    "--fill-holes/--no-fill-holes", default=None, help="Fill holes inside objects.  [default: fill]"
)
@click.option(
    "--clear-border/--keep-border",
    default=None,
    help="Remove objects touching the border.  [default: keep]",
)
@click.option(
    "--min-size",
    type=int,
    metavar="PX",
    help="Remove objects smaller than PX pixels.  [default: 10]",
)
@click.option(
    "--pixel-size",
    type=float,
    metavar="UM",
    help="Pixel size [µm/px], overriding the files' calibration.",
)
@click.option(
    "--cfg",
    type=click.Path(path_type=Path),
    help="Parameter file (the measure_params.toml of an earlier run).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Put all results here (default: a Measurements folder beside each image).",
)
@click.option(
    "--table",
    type=click.Path(path_type=Path),
    help="Batch-wide table (default: measurements_all.csv in the output folder).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: every core).")
@click.option("--scheduler", metavar="ADDR", help="Run on a Dask scheduler (tcp://host:8786).")
@click.option("--shard", metavar="k/N", help="Run only the k-th of N slices of the images.")
@click.option("--force", is_flag=True, help="Redo images whose results are up to date.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or table, errors only.")
def measure(paths: tuple[Path, ...], threshold: str | None, out: Path | None, table: Path | None,
            cfg: Path | None, workers: int | None, scheduler: str | None, shard: str | None,
            force: bool, quiet: bool, **flags) -> None:  # fmt: skip
    """Segment and measure the objects of 2D images (files or folders of images).

    Per image, writes <stem>_labels.tif and <stem>_measurements.csv (comma-separated, one row
    per object: area, perimeter, centroid, bounding box, axes, eccentricity, orientation,
    solidity, intensities), then one table for the whole batch with an 'image' column and the
    parameters used (measure_params.toml). Exits with status 1 if any image failed.
    """
    from ..batch.run import after_batch, run_stack
    from ..batch.stack import Stack

    setup_logging(quiet)
    try:
        from ..workflows import measure as _  # noqa: F401
    except ImportError as error:
        fail(f"measure needs scikit-image and tifffile ({error}): "
             "pip install 'batchtrack[measure]'")  # fmt: skip
    try:
        params = workflow_parameters(
            "measure", {**flags, "threshold": _threshold(threshold)}, cfg=cfg
        )
        stack = Stack(params, workflow="measure", output=out)
        stack.add(paths)
        _check_collisions(stack)
        backend = "dask" if scheduler else ("inprocess" if workers == 1 else "local")
        with _progress(stack, quiet):
            summary = run_stack(
                stack, backend=backend, workers=workers, scheduler=scheduler, force=force,
                shard=shard,
            )  # fmt: skip
        table_path = after_batch(stack, table)
        if table_path is not None:
            save_workflow_params(table_path.with_name("measure_params.toml"), params,
                                 workflow="measure")  # fmt: skip
    except BatchtrackError as error:
        fail(error)
    if not quiet:
        _report(stack, summary, table_path)
    if summary.failed:
        raise SystemExit(1)


@contextlib.contextmanager
def _progress(stack, quiet: bool) -> Iterator[None]:
    """A rich progress bar over the entries, advanced as they finish."""
    if quiet:
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from ..batch.stack import Status

    ended = (Status.DONE, Status.ERROR, Status.SKIPPED)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(
        *columns, transient=True, console=progress_console(), disable=progress_console() is None
    ) as bar:
        task = bar.add_task("measuring", total=len(stack))

        def observer(event: str, entry) -> None:
            if event == "status" and entry.status in ended:
                bar.advance(task)

        stack.subscribe(observer)
        yield


def _report(stack, summary, table_path: Path | None) -> None:
    """A rich table: one row per image (only failures when there are many), then totals."""
    from rich.console import Console
    from rich.table import Table

    from ..batch.stack import Status

    entries = list(stack)
    shown = entries if len(entries) <= 30 else [e for e in entries if e.status is Status.ERROR]
    console = Console()
    if shown:
        grid = Table("image", "status", "result", box=None, header_style="bold")
        colours = {Status.DONE: "green", Status.SKIPPED: "cyan", Status.ERROR: "red"}
        for entry in shown:
            colour = colours.get(entry.status, "")
            grid.add_row(entry.path.name, f"[{colour}]{entry.status}[/]", entry.message)
        console.print(grid)
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    table = f"; table: {_short(table_path)}" if table_path else ""
    console.print(
        f"{len(entries)} images ({counts}) in {summary.seconds:.1f} s "
        f"({summary.frames_per_second:.1f} images/s)" + table
    )


def _short(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
