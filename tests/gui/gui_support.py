"""Helpers of the GUI tests: small synthetic movies, and a stand-in for the file dialogs."""

from __future__ import annotations

import shutil
from pathlib import Path

from batchtrack.params import Parameters
from batchtrack.synth import make_movie, write_sequence

#: Parameters that track the synthetic movies below.
SYNTH_PARAMS = Parameters(
    thresh=40, lightBack=0, minArea=20, maxArea=1000, nBack=10, methBack=1, maxDist=60,
    normDist=20, maxTime=5,
)  # fmt: skip


def write_movie(folder: Path, *, frames: int = 40, objects: int = 3, seed: int = 0) -> Path:
    """A small image sequence of dark fish on a light background in ``folder``.

    The generator's clean background is moved to ``folder.parent / "background.pgm"`` so
    that the folder holds only the sequence (and the ground truth).
    """
    movie = make_movie(frames, objects, shape=(120, 160), seed=seed, length=(18, 24))
    write_sequence(movie, folder)
    shutil.move(folder / "background.pgm", folder.parent / "background.pgm")
    return folder


class FakeDialogs:
    """Answers the window's questions with prepared paths (no dialog opens)."""

    def __init__(self) -> None:
        self.answers: list = []
        self.asked: list[str] = []

    def _next(self, title: str):
        self.asked.append(title)
        return self.answers.pop(0) if self.answers else None

    def folders(self, parent, title):
        return self._next(title) or []

    def folder(self, parent, title):
        return self._next(title)

    def open_file(self, parent, title, filter):
        return self._next(title)

    def save_file(self, parent, title, filter, name):
        return self._next(title)


def write_tanks(folder: Path, *, fish: tuple[int, ...] = (1, 2), frames: int = 30) -> Path:
    """Tanks side by side in one image sequence: tank ``k`` (120×160 px) holds ``fish[k]``
    fish, and a dark wall 10 px wide separates two tanks (tank ``k`` starts at x = 170 k).
    """
    import cv2
    import numpy as np

    tanks = [
        make_movie(frames, n, shape=(120, 160), seed=20 + k, length=(18, 24))
        for k, n in enumerate(fish)
    ]
    wall = np.full((120, 10), 30, np.uint8)
    folder.mkdir(parents=True)
    streams = [tank.frames() for tank in tanks]
    for t in range(frames):
        parts = []
        for k, stream in enumerate(streams):
            parts.extend([wall] if k else [])
            parts.append(next(stream))
        cv2.imwrite(str(folder / f"frame_{t:06d}.pgm"), np.hstack(parts))
    return folder
