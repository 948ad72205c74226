"""The files of the ``measure`` workflow: one image's results, and a batch's tables.

Per image, :func:`analyse` writes into the output folder (``<stem>`` is the image's file
stem, or ``<stem>_<extension>`` when another image of the same folder has the same stem):

* ``<stem>_labels.tif``: the label image (0 = background, objects 1…N), an ImageJ TIFF
  calibrated in µm when the pixel size is known, else a TIFF with no resolution at all;
* ``<stem>_measurements.csv``: one comma-separated row per object;
* ``<stem>_summary.csv``: the image's row of the batch summary;
* ``<stem>_overlay.png``: outlines and numbers over the contrast-stretched image.

After a batch, :func:`write_batch_table` writes ``measurements_all.csv`` (every object,
``image`` first), ``summary.csv`` (one row per image, also those with no object) and
``contact_sheet.png`` (every overlay) into the folder holding every output folder.
"""

from __future__ import annotations

import collections
import csv
import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError, OutputError
from ...io.tables import write_csv
from .features import COLUMNS, measure_columns
from .params import MeasureParameters
from .pictures import CONTACT_SHEET, write_contact_sheet, write_overlay
from .reading import IMAGE_SUFFIXES, read_picture
from .segment import check_image, segment

__all__ = [
    "BATCH_TABLE",
    "SUMMARY",
    "SUMMARY_COLUMNS",
    "analyse",
    "combine_measurements",
    "contact_sheet_path",
    "labels_path",
    "measurements_path",
    "output_dir",
    "output_stem",
    "overlay_path",
    "read_measurements",
    "summary_path",
    "write_batch_table",
    "write_labels",
    "write_summary_failures",
]

log = logging.getLogger(__name__)

BATCH_TABLE = "measurements_all.csv"
SUMMARY = "summary.csv"
#: Columns of ``summary.csv`` and their meaning.
SUMMARY_COLUMNS: dict[str, str] = {
    "image": "output name of the image (its file stem)",
    "image_path": "the image file",
    "objects": "number of objects",
    "total_area": "summed area of the objects [unit²]",
    "mean_area": "mean object area [unit²] (empty when there is no object)",
    "area_fraction": "object pixels / image pixels",
    "threshold": "the grey level actually used (computed or fixed, in filtered grey levels)",
    "pixel_size": "pixel size [unit/px]",
    "unit": "µm, or px when uncalibrated",
    "status": "ok, no objects, a note (JPEG named .tif), or error: the reason",
}


def output_stem(image_path: str | Path) -> str:
    """The name an image's results are written under: its stem, unless that is shared.

    When another image of the same folder has the same stem (``a.tif`` and ``a.png``), each
    uses ``<stem>_<extension>`` (``a_tif``, ``a_png``) so that both are measured.
    """
    path = Path(image_path)
    try:
        version = os.stat(path.parent).st_mtime_ns
    except OSError:
        return path.stem
    shared = _shared_stems(str(path.parent), version)
    return f"{path.stem}_{path.suffix.lstrip('.').lower()}" if path.stem in shared else path.stem


@functools.lru_cache(maxsize=16)
def _shared_stems(folder: str, version: int) -> frozenset[str]:
    """The stems that two image files of ``folder`` share, listed once per version of the
    folder (its modification time): an image's name is then found without listing its
    folder again (which made a folder of N images cost N listings of N names)."""
    del version  # part of the cache key only
    try:
        names = os.listdir(folder)
    except OSError:
        return frozenset()
    stems = [Path(n).stem for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    return frozenset(stem for stem, count in collections.Counter(stems).items() if count > 1)


def output_dir(path: str | Path) -> Path:
    """Default output folder of an image: ``Measurements`` beside it."""
    return Path(path).parent / "Measurements"


def measurements_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the table of ``image_path`` goes in ``folder`` (``<stem>_measurements.csv``)."""
    return Path(folder) / f"{output_stem(image_path)}_measurements.csv"


def labels_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the label image of ``image_path`` goes in ``folder`` (``<stem>_labels.tif``)."""
    return Path(folder) / f"{output_stem(image_path)}_labels.tif"


def summary_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the summary row of ``image_path`` goes in ``folder`` (``<stem>_summary.csv``)."""
    return Path(folder) / f"{output_stem(image_path)}_summary.csv"


def overlay_path(image_path: str | Path, folder: str | Path) -> Path:
    """Where the overlay of ``image_path`` goes in ``folder`` (``<stem>_overlay.png``)."""
    return Path(folder) / f"{output_stem(image_path)}_overlay.png"


def write_labels(path: Path, labels: np.ndarray, pixel_size: float | None) -> None:
    """Save a label image as TIFF (16-bit when it fits, else 32-bit; zlib-compressed).

    Calibrated: an ImageJ TIFF with its resolution in pixels per micron (Fiji shows µm).
    Uncalibrated: a TIFF without resolution tags (tifffile would write a unit-less 1/1
    resolution, which some readers reject).
    """
    import cv2

    wide = labels.max(initial=0) >= 2**16
    data = labels.astype(np.int32 if wide else np.uint16)
    if pixel_size and not wide:
        import tifffile

        # strips of about 32 KiB: zlib works within the cache (0.9 ms for 512 × 512 px,
        # 1.3–1.5 ms with tifffile's default strips)
        rows = max(1, 32768 // (data.shape[1] * data.itemsize))
        tifffile.imwrite(path, data, imagej=True, resolution=(1 / pixel_size, 1 / pixel_size),
                         metadata={"unit": "micron"}, compression="zlib",
                         compressionargs={"level": 1}, rowsperstrip=rows)  # fmt: skip
        return
    flags = [cv2.IMWRITE_TIFF_COMPRESSION, 8]  # Adobe deflate, which tifffile reads too
    if not cv2.imwrite(str(path), data, flags):
        raise OSError(f"OpenCV could not write {path}")


def analyse(
    image_path: Path,
    output_dir: Path,
    params: MeasureParameters,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Measure one image; write its label image, tables and overlay into ``output_dir``.

    The pixel size is ``params.pixel_size`` when set, else the file's, else 1 (pixels).

    Returns
    -------
    dict
        ``frames`` (1) and ``message`` (objects, threshold, pixel size and its source).

    Raises
    ------
    InputError
        Unreadable file, or an image that cannot be segmented (the message says why).
    OutputError
        The results cannot be written.
    """
    image_path, output_dir = Path(image_path), Path(output_dir)
    picture = read_picture(image_path)
    calibration = params.pixel_size or picture.pixel_size
    if params.pixel_size:
        note = f"pixel {params.pixel_size:.4g} µm (given)"
    elif picture.pixel_size:
        note = f"pixel {picture.pixel_size:.4g} µm (file)"
    else:
        note = "uncalibrated (pixels)"
    others: dict[str, np.ndarray] = {}
    if params.channel >= 0:
        if params.channel >= len(picture.channels):
            raise InputError(
                f"{image_path} has {len(picture.channels)} channel(s); channel = "
                f"{params.channel} does not exist (0 = first)"
            )
        image = picture.channels[params.channel]
        others = {f"c{k}": c for k, c in enumerate(picture.channels) if k != params.channel}
    else:
        image = picture.grey(image_path)
    image = check_image(image, str(image_path))
    labels, level = segment(image, params=params)
    table = measure_columns(labels, image, pixel_size=calibration or 1.0,
                            columns=params.columns, channels=others,
                            connectivity=params.connectivity)  # fmt: skip
    stem = output_stem(image_path)
    objects = len(table["label"])
    full_path = str(image_path.resolve())
    table["image_path"] = np.full(objects, full_path, dtype=object)
    table["label_path"] = np.full(objects, f"{stem}_labels.tif", dtype=object)
    status = "ok" if objects else "no objects"
    if picture.note:
        status = f"{status}; {picture.note}"
    inside = np.count_nonzero(labels)  # object pixels, whatever the columns asked for
    total = inside * (calibration or 1.0) ** 2
    summary = {
        "image": stem, "image_path": full_path, "objects": objects,
        "total_area": float(total), "mean_area": float(total / objects) if objects else "",
        "area_fraction": float(inside) / labels.size, "threshold": level,
        "pixel_size": calibration or 1.0, "unit": "µm" if calibration else "px",
        "status": status,
    }  # fmt: skip
    try:
        write_labels(labels_path(image_path, output_dir), labels, calibration)
        write_csv(table, measurements_path(image_path, output_dir))
        with open(summary_path(image_path, output_dir), "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(SUMMARY_COLUMNS))
            writer.writeheader()
            writer.writerow({k: repr(v) if isinstance(v, float) else v
                             for k, v in summary.items()})  # fmt: skip
        if params.overlay:
            write_overlay(overlay_path(image_path, output_dir), image, labels)
    except OSError as error:
        raise OutputError(
            f"cannot write the results of {image_path} in {output_dir}: {error}"
        ) from error
    if progress is not None:
        progress(1, 1)
    message = f"{objects} objects, threshold {level:.6g}, {note}"
    return {"frames": 1, "message": message + (f"; {picture.note}" if picture.note else "")}


def read_measurements(path: str | Path) -> pd.DataFrame:
    """Read one ``<stem>_measurements.csv`` (comma-separated)."""
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read the measurement table {path}: {error}") from error


def combine_measurements(source: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Join per-image tables into one, with the image's output name as first column.

    Parameters
    ----------
    source : folder or iterable of paths
        A folder (its ``*_measurements.csv`` files, sorted) or the tables themselves.

    Returns
    -------
    DataFrame
        Columns ``image`` then those of the tables; one row per object of every image.
        ``label_path`` is made absolute (the tables hold it relative to their folder).
    """
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder of measurement tables")
        paths = sorted(folder.glob("*_measurements.csv"))
    else:
        paths = [Path(p) for p in source]
    tables = []
    for path in paths:
        table = read_measurements(path)
        if len(table):
            table.insert(0, "image", path.name.removesuffix("_measurements.csv"))
            if "label_path" in table:
                folder = path.parent.resolve()
                table["label_path"] = [str(folder / p) for p in table["label_path"]]
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["image", *COLUMNS, "image_path", "label_path"])
    return pd.concat(tables, ignore_index=True)


def _common_folder(folders: list[Path]) -> Path:
    try:
        return Path(os.path.commonpath([f.resolve() for f in folders]))
    except ValueError:  # different drives (Windows)
        return Path.cwd()


def write_batch_table(
    results: Sequence[tuple[Path, Path]], path: Path | None = None
) -> Path | None:
    """Write the batch's tables and contact sheet (the workflow's ``after_batch``).

    Parameters
    ----------
    results : sequence of (image path, output folder)
        The finished entries.
    path : Path, optional
        The object table; by default ``measurements_all.csv`` in the folder that holds
        every entry's output folder. ``summary.csv`` and ``contact_sheet.png`` go beside it.

    Returns
    -------
    Path or None
        The object table written; None (nothing written) when no entry finished.
    """
    if not results:
        return None
    if path is None:
        path = _common_folder([folder for _, folder in results]) / BATCH_TABLE
    tables = [measurements_path(image, folder) for image, folder in results]
    tables = [t for t in tables if t.is_file()]
    rows = [summary_path(image, folder) for image, folder in results]
    summary = [_read_row(r) for r in rows if r.is_file()]
    overlays = [(output_stem(image), overlay_path(image, folder)) for image, folder in results]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        objects = _concatenate_tables(tables, path)
        if objects is None:  # tables with different columns (e.g. another channel count)
            combined = combine_measurements(tables)
            combined.to_csv(path, index=False)
            objects = len(combined)
        with open(path.with_name(SUMMARY), "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(SUMMARY_COLUMNS),
                                    lineterminator="\n", extrasaction="ignore")  # fmt: skip
            writer.writeheader()
            writer.writerows(summary)
        sheet = path.with_name(CONTACT_SHEET)
        if any(p.is_file() for _, p in overlays):
            write_contact_sheet([(n, p) for n, p in overlays], sheet)
    except OSError as error:
        raise OutputError(f"cannot write the batch tables beside {path}: {error}") from error
    log.info("%d objects of %d images -> %s", objects, len(results), path)
    return path


def _concatenate_tables(tables: Sequence[Path], path: Path) -> int | None:
    """Write :func:`combine_measurements` of ``tables`` into ``path`` as text, row by row.

    The rows are copied as they were written (not parsed into numbers and formatted again),
    with the image's name in front and ``label_path`` made absolute, so a batch of thousands
    of images is combined in the time of reading its tables once, in bounded memory. Returns
    the number of rows, or None (nothing written) when the tables do not all have the same
    columns, or none has a row: then :func:`combine_measurements` decides the columns.
    """
    header: list[str] | None = None
    where: int | None = None
    written = 0
    same = True
    partial = path.with_name(f".{path.name}.partial")
    folders: dict[Path, str] = {}  # each output folder resolved once
    with open(partial, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        for table in tables:
            with open(table, newline="", encoding="utf-8") as stream:
                reader = csv.reader(stream)
                first = next(reader, None)
                if first is None or (header is not None and first != header):
                    same = False  # not the same columns: the frame's union decides them
                    break
                if header is None:
                    header = first
                    where = header.index("label_path") if "label_path" in header else None
                    writer.writerow(["image", *header])
                name = table.name.removesuffix("_measurements.csv")
                if table.parent not in folders:
                    folders[table.parent] = str(table.parent.resolve())
                folder = folders[table.parent]
                for row in reader:
                    if where is not None:  # a file name of the folder (written by analyse)
                        row[where] = os.path.join(folder, row[where])
                    writer.writerow([name, *row])
                    written += 1
    if not (same and written):
        partial.unlink()
        return None
    os.replace(partial, path)
    return written


def _read_row(path: Path) -> dict[str, str]:
    """The row of a ``<stem>_summary.csv``, as text (it is written back as it is)."""
    with open(path, newline="", encoding="utf-8") as file:
        return next(csv.DictReader(file))


def write_summary_failures(summary: Path, failures: Sequence[tuple[Path, str]]) -> Path:
    """Add a row per failed image (status ``error: <reason>``) to a ``summary.csv``."""
    table = pd.read_csv(summary) if summary.is_file() else pd.DataFrame(
        columns=list(SUMMARY_COLUMNS))  # fmt: skip
    rows = pd.DataFrame([{"image": output_stem(p), "image_path": str(Path(p).resolve()),
                          "objects": 0, "status": f"error: {message}"}
                         for p, message in failures], columns=list(SUMMARY_COLUMNS))  # fmt: skip
    both = pd.concat([table, rows], ignore_index=True) if len(table) else rows
    both.sort_values("image", kind="stable").to_csv(summary, index=False)
    return summary


def contact_sheet_path(table: str | Path) -> Path | None:
    """The contact sheet of a batch (beside its ``measurements_all.csv`` or in a folder).

    For the batch report: returns the PNG's path, or None when the batch made none.
    """
    table = Path(table)
    sheet = (table if table.is_dir() else table.parent) / CONTACT_SHEET
    return sheet if sheet.is_file() else None
