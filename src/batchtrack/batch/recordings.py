"""Recordings in the stack: entries that are files of one recording run as one unit.

The entries of a recording (those with the same :attr:`Entry.recording`) are tracked in stack
order as one movie (:mod:`batchtrack.recording`): one prepare task for all of them, detection
tasks for every file (in parallel), one finish task linking across the files and writing each
file's result. A shard takes a recording whole; a recording is resumed whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..io.recordings import recording_table_name
from ..workflows import get_workflow
from .stack import Entry, Stack, Status

__all__ = ["check_recordings", "group_units", "recording_table"]


def group_units(entries: Sequence[Entry]) -> list[list[Entry]]:
    """The entries as units to run: each recording's entries together (in stack order, at
    the place of its first entry), every other entry alone.

    Examples
    --------
    >>> from batchtrack.batch.stack import Entry
    >>> from batchtrack import Parameters
    >>> e = [Entry(Path(n), Parameters(), recording=r) for n, r in
    ...      [("a1", "a"), ("x", None), ("a2", "a"), ("b1", "b")]]
    >>> [[x.path.name for x in unit] for unit in group_units(e)]
    [['a1', 'a2'], ['x'], ['b1']]
    """
    units: list[list[Entry]] = []
    by_name: dict[str, list[Entry]] = {}
    for entry in entries:
        name = entry.recording
        if not name or not get_workflow(entry.workflow).chunked:
            units.append([entry])
        elif name in by_name:
            by_name[name].append(entry)
        else:
            by_name[name] = [entry]
            units.append(by_name[name])
    return units


def recording_table(entry: Entry) -> Path:
    """Where the recording of ``entry`` (its first file) writes ``<name>-tracks.parquet``:
    the stack's output folder when there is one, else the folder holding that file."""
    assert entry.recording
    folder = entry.output if entry.output is not None else entry.path.parent
    return folder / recording_table_name(entry.recording)


def check_recordings(stack: Stack, selected: Sequence[Entry]) -> None:
    """Put in Error the files of a recording that cannot be tracked as one movie.

    The files of one recording share their parameters, background and arenas (those of its
    first file); a recording with a file in Error, or one whose files differ in those, is
    refused whole, each entry naming the file and the fix.
    """
    chosen = {entry.id for entry in selected}
    for unit in group_units([e for e in stack.entries if e.id in chosen]):
        first = unit[0]
        if len(unit) == 1 and not first.recording:
            continue
        problem = ""
        broken = [e for e in unit if e.status is Status.ERROR]
        if broken:
            problem = f"its file {broken[0].path} is in error ({broken[0].message})"
        for entry in unit[1:]:
            if problem:
                break
            for what, mine, theirs in (
                ("parameters", entry.params, first.params),
                ("background", entry.background, first.background),
                ("arenas", entry.arenas, first.arenas),
            ):
                if mine != theirs:
                    problem = (
                        f"{entry.path} has other {what} than {first.path}, its first file; "
                        f"the files of one recording share their {what} (set the same, or "
                        "give the file another recording name)"
                    )
                    break
        if not problem:
            continue
        for entry in unit:
            if entry.status is not Status.ERROR:
                stack.set_status(
                    entry, Status.ERROR, f"recording {first.recording!r} not tracked: {problem}"
                )
