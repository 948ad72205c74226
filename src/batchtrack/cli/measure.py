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
    """Images of different folders sent to one --out folder must not share a name.

    Images of one folder that share a stem (a.tif, a.png) are measured under distinct names
    (a_tif, a_png); this catches plate1/a.tif and plate2/a.tif written into the same folder.
    """
    from ..workflows.measure import output_stem

    keys = [(e.result_dir, output_stem(e.path)) for e in stack]
    seen = Counter(keys)
    clashes = [e for e, key in zip(stack, keys) if seen[key] > 1]
    if clashes:
        listed = ", ".join(str(e.path) for e in clashes[:4])
        raise ParameterError(
            f"images of different folders would write the same result files in one --out "
            f"folder: {listed}; measure them without --out (results beside each folder) or "
            "in separate runs"
        )


def _expand(paths: tuple[Path, ...], recursive: bool) -> list[Path]:
    """The paths to add: with ``recursive``, every sub-folder holding images too."""
    from ..workflows.measure import subfolders

    expanded: list[Path] = []
    for path in paths:
        expanded.append(path)
        if path.is_dir():
            below = subfolders(path)
            if recursive:
                expanded.extend(below)
            elif below:
                names = ", ".join(str(p.relative_to(path)) for p in below[:5])
                more = f" and {len(below) - 5} more" if len(below) > 5 else ""
                log.warning(
                    "%s: %d sub-folder(s) with images skipped (%s%s); add --recursive to "
                    "measure them", path, len(below), names, more,
                )  # fmt: skip
    if recursive:  # a folder holding only sub-folders is not an error then
        expanded = [p for p in expanded if not p.is_dir() or _has_images(p)]
    return expanded


def _has_images(folder: Path) -> bool:
    from ..workflows.measure import find_inputs

    return bool(find_inputs(folder))


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
@click.option("--inclusive/--strict", default=None,
              help="Object pixels >= the level (ImageJ's setThreshold) instead of > it.  "
              "[default: strict]")  # fmt: skip
@click.option("--smooth", type=float, metavar="SIGMA", help="Gaussian smoothing [px]; 0 = none.")
@click.option("--filter", "filter_", type=click.Choice(["none", "gaussian", "mean", "median"]),
              help="Filter before thresholding (mean/median: ImageJ's circular kernel).")
@click.option("--filter-radius", type=float, metavar="PX",
              help="Radius of the mean/median filter, sigma of the gaussian [px].")
@click.option("--connectivity", type=click.Choice(["4", "8"]),
              help="Pixels touching by an edge (4) or also a corner (8) form one object.  "
              "[default: 8]")  # fmt: skip
@click.option("--max-hole-size", type=int, metavar="PX",
              help="Fill only holes smaller than PX pixels (0 = all).")
@click.option("--watershed/--no-watershed", default=None,
              help="Split touching objects (distance-transform watershed).  [default: no]")
@click.option("--min-distance", "watershed_min_distance", type=int, metavar="PX",
              help="Minimum distance between watershed seeds [px].  [default: 5]")
@click.option("--max-size", type=int, metavar="PX",
              help="Remove objects larger than PX pixels (0 = no limit).")
@click.option("--channel", type=int, metavar="K",
              help="Channel to segment in multichannel images (0 = first); the others are "
              "measured too.")  # fmt: skip
@click.option("--columns", metavar="LIST",
              help="Columns to compute: names or groups (size, position, shape, intensity, "
              "centroid, bbox, ellipse, feret, all), comma-separated.  [default: all]")
@click.option("--overlay/--no-overlay", default=None,
              help="Write <image>_overlay.png and the contact sheet.  [default: yes]")
@click.option("--recursive", is_flag=True, help="Also measure the images of sub-folders.")
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
            force: bool, quiet: bool, recursive: bool, filter_: str | None,
            connectivity: str | None, **flags) -> None:  # fmt: skip
    """Segment and measure the objects of 2D images (files or folders of images).

    Per image, writes <stem>_labels.tif, <stem>_measurements.csv (one row per object: size,
    position, the ImageJ/CellProfiler shape descriptors, intensities), <stem>_summary.csv
    and <stem>_overlay.png; then, for the whole batch, measurements_all.csv (an 'image'
    column first), summary.csv (one row per image, also those without objects or failed),
    contact_sheet.png and the parameters used (measure_params.toml). Exits with status 1 if
    any image failed.
    """
    from ..batch.run import after_batch, run_stack
    from ..batch.stack import Stack, Status

    setup_logging(quiet)
    try:
        from ..workflows.measure import SUMMARY, write_summary_failures
    except ImportError as error:
        fail(f"measure needs scikit-image and tifffile ({error}): "
             "pip install 'batchtrack[measure]'")  # fmt: skip
    try:
        values = {**flags, "threshold": _threshold(threshold), "filter": filter_,
                  "connectivity": None if connectivity is None else int(connectivity)}  # fmt: skip
        params = workflow_parameters("measure", values, cfg=cfg)
        stack = Stack(params, workflow="measure", output=out)
        stack.add(_expand(paths, recursive))
        _check_collisions(stack)
        backend = "dask" if scheduler else ("inprocess" if workers == 1 else "local")
        with _progress(stack, quiet):
            summary = run_stack(
                stack, backend=backend, workers=workers, scheduler=scheduler, force=force,
                shard=shard,
            )  # fmt: skip
        table_path = after_batch(stack, table)
        failed = [(e.path, e.message) for e in stack if e.status is Status.ERROR]
        if table_path is not None and failed:
            write_summary_failures(table_path.with_name(SUMMARY), failed)
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
    from rich.markup import escape
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
            grid.add_row(escape(entry.path.name), f"[{colour}]{entry.status}[/]",
                         escape(entry.message))  # fmt: skip
        console.print(grid)
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    table = f"; table: {_short(table_path)}" if table_path else ""
    console.print(
        escape(f"{len(entries)} images ({counts}) in {summary.seconds:.1f} s "
        f"({summary.frames_per_second:.1f} images/s)" + table)
    )


def _short(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
