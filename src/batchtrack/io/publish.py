"""Publishing results atomically, and archiving what they replace (never deleting it).

Results are written into a hidden staging folder beside their destination
(``.<name>.partial-<pid>``) and moved into place only when complete, so a crash or a kill never
leaves a half-written result; staging folders of processes that no longer run are removed the
next time a result is written beside them. Two ways to publish share this staging:

* :func:`publish_folder`: a whole result folder (tracking's ``Tracking_Result``) replaces the
  previous one, which is renamed ``<folder>_Archive-dd-Mon-yyyy-hh-mm-ss``;
* :func:`publish_files`: the files of the staging folder join a shared output folder (the other
  workflows); a file they replace is first moved to ``<output>/archive-dd-Mon-yyyy-hh-mm-ss/``.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime
from pathlib import Path

__all__ = [
    "archive_name",
    "make_staging",
    "publish_files",
    "publish_folder",
    "remove_stale_partials",
    "staging_name",
]

log = logging.getLogger(__name__)

_PARTIAL = ".partial-"
_STAMP = "%d-%b-%Y-%H-%M-%S"


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
    """The hidden staging folder of this process for ``target``."""
    return target.with_name(f".{target.name}{_PARTIAL}{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(target: Path) -> None:
    """Delete hidden staging copies of ``target`` left by processes that no longer run."""
    for partial in target.parent.glob(f".{target.name}{_PARTIAL}*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


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


def publish_folder(staging: Path, folder: Path) -> Path:
    """Rename ``staging`` to ``folder``, archiving an existing ``folder`` first."""
    if folder.exists():
        target = archive_name(folder)
        folder.rename(target)
        log.info("previous result archived to %s", target)
    staging.rename(folder)
    return folder


def publish_files(staging: Path, output_dir: Path) -> list[Path]:
    """Move every file of ``staging`` into ``output_dir``, archiving files it replaces."""
    archive = None
    published = []
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
