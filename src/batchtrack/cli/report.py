"""``batchtrack report``: one HTML page (and the batch's tables) for a manifest or folders."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging

__all__ = ["report", "write_manifest_report"]

_MANIFEST_SUFFIXES = (".toml", ".csv")


def entries_from_manifest(manifest: Path) -> list:
    """Report entries for a manifest's entries, with status and wall time from the
    ``<manifest>-summary.json`` written by ``batch run`` when there is one."""
    from ..batch.manifest import load_manifest
    from ..report import ReportEntry, summary_rows

    stack = load_manifest(manifest)
    summary = summary_rows(manifest.with_name(f"{manifest.stem}-summary.json"))
    entries = []
    for entry in stack.entries:
        row = summary.get(str(entry.path), {})
        exists = (entry.result_dir / "tracking.txt").is_file()
        status = row.get("status") or ("Done" if exists else "not run")
        try:
            name = str(entry.path.relative_to(manifest.parent.resolve()))
        except ValueError:
            name = str(entry.path)
        entries.append(
            ReportEntry(name, entry.result_dir, status, row.get("message", ""), row.get("seconds"))
        )
    return entries


def write_manifest_report(manifest: Path) -> dict[str, Path]:
    """``<manifest>-report.html``, ``<manifest>-tracks.parquet`` and ``<manifest>-animals.csv``
    beside the manifest."""
    from ..report import write_report

    stem = manifest.with_name(manifest.stem)
    return write_report(
        entries_from_manifest(manifest),
        manifest.with_name(f"{manifest.stem}-report.html"),
        tables_stem=stem,
        title=f"batchtrack report: {manifest.name}",
    )


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The HTML page (default: <manifest>-report.html beside a manifest, else report.html).",
)
@click.option("-q", "--quiet", is_flag=True, help="Errors only.")
def report(paths: tuple[Path, ...], out: Path | None, quiet: bool) -> None:
    """Write an HTML report of a batch: MANIFEST, or result/movie FOLDERS.

    \b
    One page, no network needed: per entry its status, quality verdict (ok/check) and
    reasons, a trajectory thumbnail, the animals tracked over time and the speeds; the
    check entries first. Beside it <stem>-tracks.parquet (every entry's rows, with an
    entry column) and <stem>-animals.csv.
    """
    from ..report import entries_from_folders, write_report

    setup_logging(quiet)
    try:
        missing = [p for p in paths if not p.exists()]
        if missing:
            fail(f"{missing[0]} does not exist; give a manifest or result folders")
        if len(paths) == 1 and paths[0].is_file() and paths[0].suffix in _MANIFEST_SUFFIXES:
            manifest = paths[0]
            if out is None:
                written = write_manifest_report(manifest)
            else:
                written = write_report(entries_from_manifest(manifest), out)
        else:
            if any(p.is_file() for p in paths):
                fail("give one manifest (.toml or .csv) or result folders, not both")
            written = write_report(entries_from_folders(paths), out or Path("report.html"))
    except BatchtrackError as error:
        fail(error)
    if not quiet:
        click.echo(
            f"report: {written['html']} (tables: {written['tracks']}, {written['animals']})"
        )
