"""Publishing results atomically, and archiving what they replace (never deleting it).

Results are written into a hidden staging folder beside their destination
(``.<name>.partial-<host>-<pid>``) and moved into place only when complete, so a crash or a kill
never leaves a half-written result. Leftover staging folders are removed by
:func:`remove_stale_partials`, which every run calls for every entry (skipped ones included):
those of this host whose process no longer runs, and those of any host (or of an older
version, without a host) untouched for :data:`STALE_AFTER` seconds.

Publishing and archiving hold a lock file beside the destination (``.<name>.lock``, with
``filelock``), so two runs publishing into the same place (a second run of a stack, two
processes of a cluster) take turns: each publish is atomic, and archive names are unique.
Two ways to publish share this staging:

* :func:`publish_folder`: a whole result folder (tracking's ``Tracking_Result``) replaces the
  previous one, which is renamed ``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss``;
* :func:`publish_files`: the files of the staging folder join a shared output folder (the other
  workflows); a file they replace is first moved to ``<output>/archive-dd-Mon-yyyy-hh-mm-ss/``.
  Their staging folders are kept in one hidden folder of the output folder,
  :data:`STAGING_FOLDER` (:func:`shared_staging`), so that finding the stale ones lists
  the few in flight rather than every result of a folder of thousands of images; the
  runner removes it when the run ends (:func:`remove_empty_staging`).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from ..errors import OutputError

__all__ = [
    "STAGING_FOLDER",
    "archive_name",
    "make_staging",
    "publish_files",
    "publish_folder",
    "publish_lock",
    "remove_empty_staging",
    "remove_staging",
    "remove_stale_partials",
    "shared_staging",
    "staging_name",
]

log = logging.getLogger(__name__)

_PARTIAL = ".partial-"
_STAMP = "%d-%b-%Y-%H-%M-%S"
_HOST = socket.gethostname().replace("/", "_") or "localhost"

#: A staging folder of another host (or without a host) untouched this long is stale (s).
STALE_AFTER = 6 * 3600
#: The hidden folder of a shared output folder that holds its entries' staging folders.
STAGING_FOLDER = ".batchtrack-staging"


def shared_staging(output_dir: Path, name: str) -> Path:
    """The target whose staging folder (:func:`make_staging`) holds the files of input
    ``name`` before :func:`publish_files` moves them into the shared ``output_dir``:
    ``<output_dir>/.batchtrack-staging/<name>``."""
    return output_dir / STAGING_FOLDER / name


def remove_empty_staging(output_dir: Path) -> None:
    """Remove ``output_dir``'s :data:`STAGING_FOLDER` if nothing is left in it (a run that
    still publishes there, or a stale folder of another host, keeps it)."""
    try:
        (output_dir / STAGING_FOLDER).rmdir()
    except OSError:
        pass


def _unused(path: Path) -> Path:
    """``path``, or ``path-1``, ``path-2``… if taken (two publishes within one second)."""
    target, n = path, 1
    while target.exists():
        target = path.with_name(f"{path.name}-{n}")
        n += 1
    return target


def archive_name(folder: Path, when: datetime | None = None) -> Path:
    """Where an existing result folder is moved: ``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss``.

    A numeric suffix is added if that name is taken (two runs within one second).
    """
    stamp = (when or datetime.now()).strftime(_STAMP)
    return _unused(folder.with_name(f"{folder.name}_Archive-{stamp}"))


def staging_name(target: Path) -> Path:
    """The hidden staging folder of this process for ``target``:
    ``.<name>.partial-<host>-<pid>``."""
    return target.with_name(f".{target.name}{_PARTIAL}{_HOST}-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_write(folder: Path) -> float:
    """The latest modification time of a folder and of the files in it."""
    latest = folder.stat().st_mtime
    for item in folder.iterdir():
        try:
            latest = max(latest, item.stat().st_mtime)
        except OSError:
            continue
    return latest


def _is_stale(partial: Path, now: float) -> bool:
    owner = partial.name.split(_PARTIAL, 1)[-1]
    host, _, pid = owner.rpartition("-")
    if host == _HOST and pid.isdigit():
        return not _pid_alive(int(pid))
    try:
        return now - _last_write(partial) > STALE_AFTER
    except OSError:
        return False


def remove_stale_partials(target: Path) -> None:
    """Delete hidden staging copies of ``target`` that no running process will finish.

    Those of this host whose process no longer runs; those of other hosts, or of an older
    batchtrack (``.partial-<pid>``), when nothing in them changed for :data:`STALE_AFTER`.
    """
    now = time.time()
    prefix = f".{target.name}{_PARTIAL}"
    try:
        with os.scandir(target.parent) as scan:
            partials = [Path(e.path) for e in scan if e.name.startswith(prefix) and e.is_dir()]
    except OSError:
        return
    for partial in partials:
        if _is_stale(partial, now):
            log.info("removing the stale staging folder %s", partial)
            shutil.rmtree(partial, ignore_errors=True)


@contextmanager
def publish_lock(target: Path, timeout: float = 600) -> Iterator[None]:
    """Hold the lock of ``target`` (``.<name>.lock`` beside it) while publishing into it.

    Raises
    ------
    OutputError
        If the lock cannot be taken within ``timeout`` seconds, or its file not created.
    """
    from filelock import Timeout

    # held for well under a millisecond per publish: poll often (filelock's default of 50 ms
    # made a worker that found it taken wait 100 times longer than needed)
    lock = FileLock(target.with_name(f".{target.name}.lock"), timeout=timeout,
                    poll_interval=0.001)  # fmt: skip
    try:
        with lock:
            yield
    except Timeout:
        raise OutputError(
            f"{target} is being published by another process for {timeout:.0f} s; check that "
            "no other run is stuck there, then run again"
        ) from None


def make_staging(target: Path) -> Path:
    """Create an empty staging folder for ``target`` (stale ones of dead processes removed).

    Raises
    ------
    OSError
        If the parent folder cannot be written.
    """
    remove_stale_partials(target)
    staging = staging_name(target)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def remove_staging(staging: Path) -> None:
    """Remove a staging folder: a plain ``rmdir`` once :func:`publish_files` has emptied it
    (the usual case, a third of :func:`shutil.rmtree`'s cost), else with what is left in it."""
    try:
        staging.rmdir()
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def publish_folder(staging: Path, folder: Path) -> Path:
    """Rename ``staging`` to ``folder``, archiving an existing ``folder`` first (under the
    folder's lock, so that concurrent publishes take turns)."""
    with publish_lock(folder):
        if folder.exists():
            target = archive_name(folder)
            folder.rename(target)
            log.info("previous result archived to %s", target)
        staging.rename(folder)
    return folder


def publish_files(staging: Path, output_dir: Path) -> list[Path]:
    """Move every file of ``staging`` into ``output_dir``, archiving files it replaces (under
    the output folder's lock)."""
    archive = None
    published = []
    with publish_lock(output_dir):
        for item in sorted(staging.iterdir()):
            target = output_dir / item.name
            if target.exists():
                if archive is None:
                    stamp = datetime.now().strftime(_STAMP)
                    archive = _unused(output_dir / f"archive-{stamp}")
                    archive.mkdir()
                shutil.move(str(target), archive / item.name)
            os.replace(item, target)
            published.append(target)
    return published
