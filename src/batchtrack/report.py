"""The batch report: one self-contained HTML page that shows which results to distrust.

Per entry: its status, the quality verdict and its reasons (:mod:`batchtrack.quality`), a
trajectory thumbnail, the number of animals tracked over time and the distribution of their
speeds, drawn with matplotlib and embedded as PNG (``data:`` URLs), so that the page needs no
network and no other file. The whole batch is one table, sorted with the ``check`` entries
first (then failed entries, then ``ok`` ones); a click on a column header sorts by it.

Beside the page, the batch's tables in one file each:

- ``<stem>-tracks.parquet``: every entry's ``tracking.parquet`` rows, with an ``entry``
  column first (streamed entry by entry);
- ``<stem>-animals.csv``: every entry's ``animals.csv`` rows, with an ``entry`` column first.

Needs matplotlib and pyarrow (``pip install 'batchtrack[analysis]'``).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import OutputError, ParameterError
from .io.tables import ANIMALS_FILE, ARENA_COLUMN, PARQUET_FILE, read_quality

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["ReportEntry", "entries_from_folders", "summary_rows", "write_report"]

log = logging.getLogger(__name__)

#: Order of the table before any click: entries to check, failed ones, then good ones.
_RANK = {"check": 0, None: 1, "ok": 2}
#: Tracks with fewer rows are left out of the thumbnails.
_MIN_TRACK = 10


@dataclass(frozen=True)
class ReportEntry:
    """One line of the report: a result folder and what the batch said about it."""

    name: str
    result: Path
    status: str = "Done"
    message: str = ""
    seconds: float | None = None


def entries_from_folders(paths: Iterable[str | Path]) -> list[ReportEntry]:
    """Report entries for result folders, or movie folders holding ``Tracking_Result``.

    Raises
    ------
    ParameterError
        If a path is neither a result folder nor holds one.
    """
    entries = []
    for path in map(Path, paths):
        folder = path if (path / "tracking.txt").is_file() else path / "Tracking_Result"
        if not (folder / "tracking.txt").is_file():
            raise ParameterError(
                f"{path} is not a result folder (no tracking.txt) and holds no Tracking_Result; "
                "give result folders, movie folders or a manifest"
            )
        inside = folder == path / "Tracking_Result"
        name = path.name if inside else f"{path.parent.name}/{path.name}"
        entries.append(ReportEntry(name, folder))
    return entries


def summary_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The entries of a batch summary JSON (``<manifest>-summary.json``) by movie path; empty
    when the file is missing or unreadable."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {row["path"]: row for row in document.get("entries", []) if "path" in row}


# -- figures ----------------------------------------------------------------------------------
def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float = 3.2, height: float = 2.2) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure


def _thumbnail(folder: Path, tracks: pd.DataFrame, unit: str, pixel_size: float) -> str:
    import cv2

    figure = _figure(2.6, 2.4)
    axes = figure.add_subplot()
    background = cv2.imread(str(folder / "background.pgm"), cv2.IMREAD_GRAYSCALE)
    if background is not None:
        height, width = background.shape
        extent = (0.0, width * pixel_size, height * pixel_size, 0.0)
        axes.imshow(background, cmap="gray", extent=extent, vmin=0, vmax=255, alpha=0.6)
    for _, track in tracks.groupby("id", sort=True):
        if len(track) >= _MIN_TRACK:
            axes.plot(track["xBody"], track["yBody"], linewidth=0.8)
    axes.set_aspect("equal")
    if background is None:
        axes.invert_yaxis()
    axes.set_xlabel(unit, fontsize=7)
    axes.tick_params(labelsize=6)
    return _png(figure)


def _count_plot(tracks: pd.DataFrame, expected: int, time_unit: str) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    counts = tracks.groupby("time").size()
    axes.plot(counts.index, counts.to_numpy(), drawstyle="steps-mid", linewidth=1)
    if expected:
        axes.axhline(expected, color="grey", linestyle="--", linewidth=0.8, label="expected")
        axes.legend(fontsize=6, loc="lower right")
    axes.set_xlabel(f"time ({time_unit})", fontsize=7)
    axes.set_ylabel("animals tracked", fontsize=7)
    axes.tick_params(labelsize=6)
    axes.set_ylim(bottom=0)
    return _png(figure)


def _speed_plot(tracks: pd.DataFrame, unit: str, time_unit: str) -> str:
    figure = _figure()
    axes = figure.add_subplot()
    speed = tracks["speed"].to_numpy(np.float64)
    speed = speed[np.isfinite(speed)]
    if len(speed):
        axes.hist(speed, bins=40, color="#4c72b0")
    axes.set_xlabel(f"speed ({unit}/{time_unit})", fontsize=7)
    axes.set_ylabel("frames", fontsize=7)
    axes.tick_params(labelsize=6)
    return _png(figure)


# -- one entry ----------------------------------------------------------------------------------
def _about(path: Path) -> dict[str, Any]:
    """The calibration stored in a tracking.parquet's metadata."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    try:
        return json.loads(metadata.get(b"batchtrack", b"{}"))
    except ValueError:
        return {}


def _entry_html(entry: ReportEntry, index: int) -> tuple[dict[str, Any], str]:
    """The entry's values for the table and its figures' HTML."""
    from .io.tables import read_tracks

    quality = read_quality(entry.result) or {}
    verdict = quality.get("verdict") if entry.status in ("Done", "Skipped") else None
    values: dict[str, Any] = {
        "index": index,
        "name": entry.name,
        "status": entry.status,
        "verdict": verdict,
        "reasons": "; ".join(quality.get("reasons", [])) if verdict else entry.message,
        "ids": quality.get("ids"),
        "animals": quality.get("animals") or None,
        "arenas": _arenas_text(quality.get("arenas")),
        "expected": quality.get("expected_count_fraction"),
        "seconds": entry.seconds,
    }
    parquet = entry.result / PARQUET_FILE
    if verdict is None or not parquet.is_file():
        return values, "<td colspan=3 class=none>no result</td>"
    about = _about(parquet)
    unit, time_unit = about.get("unit", "px"), about.get("time_unit", "frames")
    tracks = read_tracks(parquet, columns=["time", "id", "xBody", "yBody", "speed"])
    figures = [
        _thumbnail(entry.result, tracks, unit, float(about.get("pixelSize", 1.0))),
        _count_plot(tracks, int(quality.get("expected_count") or 0), time_unit),
        _speed_plot(tracks, unit, time_unit),
    ]
    alts = ("trajectories", "animals over time", "speed distribution")
    cells = "".join(
        f'<td><img src="{src}" alt="{alt} of {html.escape(entry.name)}"></td>'
        for src, alt in zip(figures, alts)
    )
    return values, cells


def _row(values: dict[str, Any], figures: str) -> str:
    verdict = values["verdict"] or "error"
    rank = _RANK.get(values["verdict"], 1)

    def cell(text: Any, key: Any, css: str = "") -> str:
        shown = "" if text is None else html.escape(str(text))
        sort = "" if key is None else html.escape(str(key))
        return f'<td class="{css}" data-sort="{sort}">{shown}</td>'

    expected = values["expected"]
    seconds = values["seconds"]
    return (
        f'<tr class="{verdict}" data-rank="{rank}">'
        + cell(values["index"], values["index"])
        + cell(values["name"], values["name"], "name")
        + cell(values["status"], values["status"])
        + cell(verdict, rank, f"verdict {verdict}")
        + cell(values["reasons"], values["reasons"], "reasons")
        + cell(values["ids"], values["ids"])
        + cell(values["animals"] or "?", values["animals"] or 0)
        + cell(values["arenas"][0], values["arenas"][1])
        + cell(None if expected is None else f"{expected:.0%}", expected)
        + cell(None if seconds is None else f"{seconds:.1f}", seconds)
        + figures
        + "</tr>"
    )


_HEADERS = (
    "#", "entry", "status", "verdict", "reasons", "ids", "animals", "arenas", "expected count",
    "wall time (s)",
)  # fmt: skip


def _arenas_text(arenas: list[dict[str, Any]] | None) -> tuple[str, int]:
    """``"12 (2 to check)"`` for a result with arenas, with its sort key; empty without."""
    if not arenas:
        return "", 0
    doubtful = sum(a.get("verdict") != "ok" for a in arenas)
    text = f"{len(arenas)}" + (f" ({doubtful} to check)" if doubtful else "")
    return text, len(arenas)

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
p.counts span { margin-right: 1.2em; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; vertical-align: middle; }
th, td { text-align: left; }
th { background: #f2f2f2; cursor: pointer; position: sticky; top: 0; user-select: none; }
th.figure { cursor: default; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.verdict { font-weight: bold; text-transform: uppercase; }
td.check { color: #b35900; } td.ok { color: #2e7d32; } td.error { color: #c62828; }
tr.check { background: #fff6e8; } tr.error { background: #fdecec; }
td.reasons { min-width: 15em; max-width: 24em; }
td.name { min-width: 6em; max-width: 16em; overflow-wrap: anywhere; }
td.none { color: #888; font-style: italic; }
img { display: block; }
"""

_SCRIPT = """
(function () {
  const table = document.getElementById("entries");
  const body = table.tBodies[0];
  const value = (row, column) => row.cells[column].dataset.sort;
  const compare = (a, b) => {
    const x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    return a.localeCompare(b);
  };
  table.querySelectorAll("th[data-column]").forEach((header) => {
    header.addEventListener("click", () => {
      const column = Number(header.dataset.column);
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const rows = Array.from(body.rows);
      rows.sort((a, b) => (ascending ? 1 : -1) * compare(value(a, column), value(b, column)));
      rows.forEach((row) => body.appendChild(row));
    });
  });
})();
"""


def _page(title: str, rows: list[str], counts: dict[str, int]) -> str:
    headers = "".join(
        f'<th data-column="{i}"{" aria-sort=ascending" if name == "verdict" else ""}>'
        f"{html.escape(name)}</th>"
        for i, name in enumerate(_HEADERS)
    )
    headers += "".join(
        f'<th class="figure">{name}</th>'
        for name in ("trajectories", "animals over time", "speed")
    )
    summary = "".join(f"<span>{html.escape(k)}: <b>{v}</b></span>" for k, v in counts.items())
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=counts>{summary}</p>"
        "<p>Verdicts come from quality measures without ground truth (see quality.json in "
        "each result folder). Click a column header to sort.</p>"
        f'<table id="entries"><thead><tr>{headers}</tr></thead><tbody>'
        + "\n".join(rows)
        + f"</tbody></table><script>{_SCRIPT}</script></body></html>\n"
    )


# -- the batch tables ---------------------------------------------------------------------------
def _combined_tracks(entries: Sequence[ReportEntry], path: Path) -> int:
    """Stream every entry's tracking.parquet into one file with an ``entry`` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    sources = [e.result / PARQUET_FILE for e in entries]
    arenas = any(ARENA_COLUMN in pq.read_schema(s).names for s in sources if s.is_file())
    try:
        for entry, source in zip(entries, sources, strict=True):
            if not source.is_file():
                continue
            table = pq.read_table(source)
            plain = pa.Table.from_arrays(table.columns, names=table.column_names)
            plain = plain.add_column(0, "entry", pa.array([entry.name] * len(plain), pa.string()))
            if arenas and ARENA_COLUMN not in plain.column_names:  # a movie without arenas
                plain = plain.append_column(ARENA_COLUMN, pa.nulls(len(plain), pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(str(path), plain.schema)
            writer.write_table(plain.cast(writer.schema))
            rows += len(plain)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no entry has a table: an empty one, so that readers find the file
        pq.write_table(pa.table({"entry": pa.array([], pa.string())}), str(path))
    return rows


def _combined_animals(entries: Sequence[ReportEntry], path: Path) -> int:
    import pandas as pd

    tables = []
    for entry in entries:
        source = entry.result / ANIMALS_FILE
        if source.is_file():
            table = pd.read_csv(source)
            table.insert(0, "entry", entry.name)
            tables.append(table)
    combined = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({"entry": []})
    combined.to_csv(path, index=False)
    return len(combined)


def write_report(
    entries: Sequence[ReportEntry],
    html_path: str | Path,
    *,
    tables_stem: str | Path | None = None,
    title: str = "batchtrack report",
) -> dict[str, Path]:
    """Write the HTML report and the batch's combined tables.

    Parameters
    ----------
    entries : sequence of ReportEntry
        The results, in batch order.
    html_path : path
        The page to write.
    tables_stem : path, optional
        ``<stem>-tracks.parquet`` and ``<stem>-animals.csv`` are written (default: the page's
        path without its suffix).
    title : str
        Heading of the page.

    Returns
    -------
    dict of str to Path
        ``html``, ``tracks`` and ``animals``: the files written.

    Raises
    ------
    OutputError
        If a file cannot be written.
    """
    html_path = Path(html_path)
    stem = Path(tables_stem) if tables_stem is not None else html_path.with_suffix("")
    built = []
    for index, entry in enumerate(entries, start=1):
        values, figures = _entry_html(entry, index)
        built.append((values, figures))
    built.sort(key=lambda item: (_RANK.get(item[0]["verdict"], 1), item[0]["index"]))
    counts = {"entries": len(built)}
    for verdict in ("check", "ok"):
        counts[verdict] = sum(values["verdict"] == verdict for values, _ in built)
    counts["failed or not run"] = sum(values["verdict"] is None for values, _ in built)
    rows = [_row(values, figures) for values, figures in built]
    tracks = stem.with_name(f"{stem.name}-tracks.parquet")
    animals = stem.with_name(f"{stem.name}-animals.csv")
    try:
        html_path.write_text(_page(title, rows, counts), encoding="utf-8")
        n_tracks = _combined_tracks(entries, tracks)
        _combined_animals(entries, animals)
    except OSError as error:
        raise OutputError(f"cannot write the report {html_path}: {error}") from error
    log.info("report of %d entries (%d rows) in %s", len(built), n_tracks, html_path)
    return {"html": html_path, "tracks": tracks, "animals": animals}
