"""Resume markers: what produced a finished result, so that a rerun can skip it.

A marker records the workflow, the parameter hash, the background's hash, a signature of the
input and batchtrack's version, plus the size and content hash of every file the result
published. Tracking saves it as ``batchtrack.json`` inside its result folder; the other
workflows as ``.<input name>.batchtrack.json`` in their output folder.

A rerun skips an entry only when both hold:

* its saved marker was made from the same inputs: the same parameters, background and
  version, and the same input files, each with the same name, size, modification time (ns)
  and content hash (:func:`file_digest`: the whole file up to 1 MiB, sampled blocks beyond);
* every output file the marker lists is still there with the recorded size and hash
  (:func:`outputs_intact`), so a deleted or truncated ``tracking.txt`` or a deleted
  ``tracking.db`` is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from .edits import EDITS
from .frames import visible_files

__all__ = [
    "MARKER",
    "edits_hash",
    "file_contents",
    "file_digest",
    "input_signature",
    "make_marker",
    "marker_matches",
    "outputs_intact",
    "read_contents",
    "read_marker",
    "record_outputs",
    "run_report",
    "signature_files",
    "write_marker",
]

#: File of a tracking result folder recording what produced it.
MARKER = "batchtrack.json"

#: Files up to this size (frames) are checksummed whole; larger ones (videos) by samples.
WHOLE_FILE = 1 << 20
#: Sampled blocks of a larger file: the first, the last, and evenly spaced ones between.
SAMPLE_BLOCKS, SAMPLE_SIZE = 16, 64 << 10


def _full_hash(path: Path | None) -> str:
    """SHA-256 of a background image ("computed" without one).

    Raises
    ------
    InputError
        If the image is missing, a folder or unreadable (naming it and the fix).
    """
    if path is None:
        return "computed"
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise InputError(
            f"background image {path} does not exist; give an existing image file, or none to "
            "compute the background"
        ) from None
    except IsADirectoryError:
        raise InputError(
            f"background image {path} is a folder; give an image file (e.g. background.pgm)"
        ) from None
    except OSError as error:
        raise InputError(
            f"background image {path} cannot be read ({error.strerror or error}); make it "
            "readable or give another image"
        ) from None
    return digest.hexdigest()


def file_digest(path: str | os.PathLike[str], size: int | None = None) -> str:
    """A cheap content hash: a CRC-32 of the whole file up to 1 MiB (a frame), a BLAKE2b of
    16 sampled 64 KiB blocks beyond (a video).

    The blocks are the first, the last and 14 evenly spaced between, so that a re-encoded
    or replaced video changes the digest while a 2 GB video costs 1 MiB of reading. A change
    confined to bytes outside the samples of a large file keeps the digest: ``--force``
    redoes such an entry. The checksum guards against accidents, not against an adversary.

    Parameters
    ----------
    path : path-like
        The file.
    size : int, optional
        Its size, when already known (saves a ``stat``).

    Returns
    -------
    str
        ``crc32:`` and 8 hexadecimal digits, or ``blake2b:`` and 32.

    Examples
    --------
    >>> _ = Path("a.bin").write_bytes(b"x" * 100)
    >>> file_digest("a.bin")
    'crc32:5e0e5d8f'
    """
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size if size is None else size
        if size <= WHOLE_FILE:
            return f"crc32:{zlib.crc32(stream.read()):08x}"
        digest = hashlib.blake2b(digest_size=16)
        last = size - SAMPLE_SIZE
        for k in range(SAMPLE_BLOCKS):
            stream.seek(last * k // (SAMPLE_BLOCKS - 1))
            digest.update(stream.read(SAMPLE_SIZE))
    return f"blake2b:{digest.hexdigest()}"


def signature_files(path: Path) -> tuple[Path, list[tuple[str, os.stat_result]]]:
    """The files :func:`input_signature` covers: their folder, and (name, stat) of each."""
    if path.is_dir():
        # a symbolic-link loop is not a frame: the reader reports it, this leaves it out
        return path, [(entry.name, entry.stat()) for entry in visible_files(path, warn=False)]
    return path.parent, [(path.name, path.stat())]


def file_contents(folder: Path, files: Sequence[tuple[str, int | None]]) -> list[str]:
    """:func:`file_digest` of each (name, size) in ``folder`` (size None: found on opening it),
    or ``unreadable:<errno>``.

    What :func:`input_signature` records of each file's content; computed anywhere (e.g. by
    the worker processes that read the frames) and handed to it as ``contents``.
    """
    out = []
    for name, size in files:
        try:
            out.append(file_digest(folder / name, size))
        except OSError as error:  # e.g. permission denied: the reader skips it, with the reason
            out.append(f"unreadable:{error.errno}")  # readable later: another signature, redone
    return out


def read_contents(
    folder: Path, names: Sequence[str], crcs: Mapping[str, tuple[int, int]]
) -> dict[str, str]:
    """:func:`file_contents` of the files ``names`` of ``folder``, taken from ``crcs`` (name →
    CRC-32 and size of the bytes a reader read whole, e.g.
    :attr:`batchtrack.io.frames.ImageSequence.read_crcs`) where that is what
    :func:`file_digest` computes, and read here otherwise.

    Examples
    --------
    >>> import zlib
    >>> _ = Path("a.bin").write_bytes(b"x" * 100)
    >>> read_contents(Path("."), ["a.bin"], {"a.bin": (zlib.crc32(b"x" * 100), 100)})
    {'a.bin': 'crc32:5e0e5d8f'}
    """
    known, missing = {}, []
    for name in names:
        if name in crcs and crcs[name][1] <= WHOLE_FILE:
            known[name] = f"crc32:{crcs[name][0]:08x}"
        else:
            missing.append(name)
    read = file_contents(folder, [(name, None) for name in missing])
    known.update(zip(missing, read, strict=True))
    return known


def input_signature(path: Path, contents: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What identifies a movie's content: every file's name, size, mtime and content hash.

    Parameters
    ----------
    path : Path
        An image-sequence folder (every visible regular file in it counts) or a single file.
    contents : mapping, optional
        File name → :func:`file_contents` of the files whose content hash is already known;
        the others are read here.

    Returns
    -------
    dict
        ``files`` (count), ``bytes`` (total) and ``digest``: a SHA-256 over the sorted list
        of (name, size, mtime in ns, :func:`file_digest`) of each file (a file that cannot be
        read counts as ``unreadable:<errno>``).
    """
    folder, items = signature_files(path)
    known = contents or {}
    missing = [(name, stat.st_size) for name, stat in items if name not in known]
    found = dict(zip((name for name, _ in missing), file_contents(folder, missing)))
    digest = hashlib.sha256()
    for name, stat in items:
        content = known[name] if name in known else found[name]
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{content}\n".encode())
    return {
        "files": len(items),
        "bytes": sum(stat.st_size for _, stat in items),
        "digest": digest.hexdigest(),
    }


def make_marker(
    entry_path: Path,
    params_hash: str,
    background: Path | None,
    workflow: str,
    contents: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What identifies a finished result: inputs (``contents``: see :func:`input_signature`),
    parameters, background, version."""
    return {
        "workflow": workflow,
        "params": params_hash,
        "background": _full_hash(background),
        "input": input_signature(entry_path, contents),
        "version": __version__,
    }


def edits_hash(folder: Path) -> str | None:
    """Hash of the folder's edit log ``edits.toml``, None if it has none."""
    path = folder / EDITS
    return _full_hash(path) if path.is_file() else None


def record_outputs(
    marker: dict[str, Any], folder: Path, names: Iterable[str]
) -> dict[str, Any]:
    """``marker`` with the size and content hash of each output file ``folder / name`` (added
    to those the marker's ``outputs`` already lists, e.g. a file beside the folder)."""
    outputs = dict(marker.get("outputs") or {})  # outputs outside the folder, already recorded
    for name in sorted(names):
        if not (folder / name).is_file():
            continue  # a folder of results: not checked
        size = (folder / name).stat().st_size
        outputs[name] = {"bytes": size, "digest": file_digest(folder / name, size)}
    return {**marker, "outputs": outputs}


def outputs_intact(saved: dict[str, Any], folder: Path) -> bool:
    """True if every output file a saved marker lists is in ``folder`` unchanged."""
    outputs = saved.get("outputs")
    if not isinstance(outputs, dict):
        return False  # a marker of an older version: its outputs cannot be proven complete
    try:
        for name, record in outputs.items():
            path = folder / name
            size = path.stat().st_size
            if size != record["bytes"] or file_digest(path, size) != record["digest"]:
                return False
    except (OSError, KeyError, TypeError):
        return False
    return True


#: Keys of a saved marker that say how it was made, not from what: its output files, the
#: run that wrote it and what that run reported (see :func:`read_marker`).
_NOT_COMPARED = ("outputs", "run", "result")


def read_marker(marker_file: Path) -> dict[str, Any] | None:
    """A saved marker, or None if it is missing or unreadable.

    Besides what :func:`make_marker` records, a marker may hold ``run`` (the token of the batch
    run that wrote it) and ``result`` (what the task reported): a task that a cluster runs a
    second time within one run (its worker died after publishing) finds its own result there
    and reports it again, instead of Skipped.
    """
    try:
        saved = json.loads(marker_file.read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def run_report(saved: dict[str, Any] | None, run: str) -> dict[str, Any] | None:
    """What the task reported in a saved marker (:func:`read_marker`) written by batch run
    ``run``; None if another run (or none) wrote it, or it holds no report."""
    if not run or saved is None or saved.get("run") != run:
        return None
    report = saved.get("result")
    return dict(report) if isinstance(report, dict) else None


def marker_matches(
    marker_file: Path,
    marker: dict[str, Any],
    outputs_dir: Path | None = None,
    *,
    saved: dict[str, Any] | None = None,
) -> bool:
    """True if ``marker_file`` records a complete result made from exactly these inputs.

    A corrected result records the hash of its edit log under ``edits``; it matches only while
    the log beside it is the one its tables were saved with.

    Parameters
    ----------
    marker_file : Path
        The saved marker.
    marker : dict
        The marker of the current inputs (:func:`make_marker`).
    outputs_dir : Path, optional
        Where the outputs the marker lists are (default: the marker's folder).
    saved : dict, optional
        ``marker_file`` as already read (:func:`read_marker`), to read it once.
    """
    saved = dict(saved) if saved is not None else read_marker(marker_file)
    if saved is None:
        return False
    edits = saved.pop("edits", None)
    recorded = {key: value for key, value in saved.items() if key not in _NOT_COMPARED}
    if recorded != marker or edits != edits_hash(marker_file.parent):
        return False
    return outputs_intact(saved, marker_file.parent if outputs_dir is None else outputs_dir)


def write_marker(marker_file: Path, marker: dict[str, Any]) -> None:
    """Save a marker (sorted keys, so that equal markers give equal files)."""
    marker_file.write_text(json.dumps(marker, indent=1, sort_keys=True))
