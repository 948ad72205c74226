"""Small synthetic movies for the batch tests: a few dark blobs moving on a light background.

Importable from every test module (pytest puts ``tests/`` on ``sys.path`` for the rootdir
``conftest.py``). Movies are deterministic: the same ``seed`` gives the same frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from batchtrack.params import Parameters

SHAPE = (120, 160)  # (height, width)
N_FRAMES = 60

#: Parameters that track the blobs (3 ids, one row per blob per frame).
BLOB_PARAMS = Parameters(
    thresh=60, lightBack=0, minArea=20, maxArea=400, nBack=10, methBack=1,
    maxDist=40, normDist=10, normAngle=90, normArea=0, normPerim=0, maxTime=5,
)  # fmt: skip

#: What a finished tracking result folder written by the batch runner holds.
RESULT_FILES = {
    "tracking.txt",
    "tracking.db",
    "background.pgm",
    "cfg.toml",
    "log",
    "trajectories.png",
    # batchtrack's analysis files, beside FastTrack's
    "tracking.parquet",
    "tracking.nc",
    "animals.csv",
    "quality.json",
}


def _bounce(p: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold positions into [low, high] (a triangle wave: the blob bounces off the walls)."""
    span = high - low
    q = np.mod(p - low, 2 * span)
    return low + np.where(q > span, 2 * span - q, q)


def blob_frames(
    n_frames: int = N_FRAMES, *, shape: tuple[int, int] = SHAPE, seed: int = 0, n_blobs: int = 3
) -> Iterator[np.ndarray]:
    """Yield ``n_frames`` uint8 frames, shape ``shape``: ``n_blobs`` dark ellipses moving."""
    rng = np.random.default_rng(seed)
    height, width = shape
    start = rng.uniform((15, 15), (width - 15, height - 15), size=(n_blobs, 2))
    velocity = rng.uniform(1.0, 2.0, size=(n_blobs, 2)) * rng.choice((-1, 1), size=(n_blobs, 2))
    tilt = rng.uniform(0, 180, n_blobs)
    for k in range(n_frames):
        frame = np.full(shape, 200, np.uint8)
        x = _bounce(start[:, 0] + velocity[:, 0] * k, 12, width - 12)
        y = _bounce(start[:, 1] + velocity[:, 1] * k, 12, height - 12)
        for i in range(n_blobs):
            centre = (round(float(x[i])), round(float(y[i])))
            cv2.ellipse(frame, centre, (9, 4), float(tilt[i] + 3 * k), 0, 360, 40, -1)
        yield frame


def write_blob_sequence(folder: Path, n_frames: int = N_FRAMES, *, seed: int = 0) -> Path:
    """Write an image sequence ``frame_0000.pgm``... into ``folder`` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(blob_frames(n_frames, seed=seed)):
        assert cv2.imwrite(str(folder / f"frame_{k:04d}.pgm"), frame)
    return folder


def write_blob_video(path: Path, n_frames: int = N_FRAMES, *, seed: int = 0) -> Path:
    """Write an MJPG ``.avi`` video of the blobs at ``path`` (folder created); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = SHAPE
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, 25.0, (width, height), isColor=False)
    assert writer.isOpened(), f"cannot write {path}"
    for frame in blob_frames(n_frames, seed=seed):
        writer.write(frame)
    writer.release()
    return path


def write_background(path: Path, value: int = 200, *, shape: tuple[int, int] = SHAPE) -> Path:
    """Write a uniform background image (8-bit PGM) of ``shape``; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


def count_files(input_path: Path, output_dir: Path, params, progress=None) -> dict:
    """A user workflow (``batchdata:count_files``): note the input's size and the parameters."""
    size = input_path.stat().st_size
    if size == 0:
        raise ValueError(f"{input_path.name} is empty")
    (output_dir / f"{input_path.name}.size.txt").write_text(f"{size}\n{params.model_dump()}\n")
    return {"frames": 1, "message": f"{size} bytes"}


def slow_files(input_path: Path, output_dir: Path, params, progress=None) -> dict:
    """A user workflow (``batchdata:slow_files``) whose ``*.slow`` inputs take a minute.

    Such an input first writes the worker's process id to ``<input>.pid`` (so that a test can
    kill that worker while it runs); the others behave as :func:`count_files`.
    """
    import os
    import time

    if input_path.suffix == ".slow" and not os.environ.get("BATCHDATA_NO_SLEEP"):
        input_path.with_suffix(".pid").write_text(str(os.getpid()))
        time.sleep(60)
    return count_files(input_path, output_dir, params, progress)


def slow_once_files(input_path: Path, output_dir: Path, params, progress=None) -> dict:
    """A user workflow (``batchdata:slow_once_files``): :func:`slow_files`, whose ``*.slow``
    inputs take a minute only the first time (when ``<input>.pid`` does not exist yet), so
    that a task run again after its worker was killed ends at once."""
    if input_path.suffix == ".slow" and input_path.with_suffix(".pid").exists():
        return count_files(input_path, output_dir, params, progress)
    return slow_files(input_path, output_dir, params, progress)
