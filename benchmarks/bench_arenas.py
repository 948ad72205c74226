"""Cost of arenas: 12 wells of one animal each, tracked with ``--arenas`` vs without.

    python benchmarks/bench_arenas.py [--runs 5] [--frames 1000]

The same movie (a 3×4 plate of wells, one animal swimming in each) is tracked both ways in one
process, alternating, and the median wall times are compared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from batchtrack.movie import track_movie
from batchtrack.params import Parameters

PARAMS = Parameters(thresh=50, lightBack=0, methBack=1, minArea=40, maxArea=400, maxDist=30,
                    normDist=10, maxTime=5, nBack=20)  # fmt: skip


def plate_movie(folder: Path, frames: int) -> Path:
    rng = np.random.default_rng(3)
    plate = np.full((340, 440), 200, np.uint8)
    centres = [(70 + 100 * c, 70 + 100 * r) for r in range(3) for c in range(4)]
    for centre in centres:
        cv2.circle(plate, centre, 40, 90, 4)
        cv2.circle(plate, centre, 38, 225, -1)
    folder.mkdir(parents=True)
    phases = rng.uniform(0, 2 * np.pi, len(centres))
    for t in range(frames):
        frame = plate.copy()
        for (cx, cy), phase in zip(centres, phases, strict=True):
            a = phase + 0.08 * t
            x, y = cx + 18 * np.cos(a), cy + 18 * np.sin(a)
            cv2.ellipse(frame, (round(x), round(y)), (9, 4), np.degrees(a) + 90, 0, 360, 60, -1)
        noisy = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"f{t:05d}.pgm"), noisy)
    cv2.imwrite(str(folder.parent / "background.pgm"), plate)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        movie = plate_movie(Path(tmp) / "plate" / "images", args.frames)
        background = movie.parent / "background.pgm"
        times: dict[str, list[float]] = {"without arenas": [], "12 arenas (auto)": []}
        for _ in range(args.runs):
            for name, arenas in (("without arenas", None), ("12 arenas (auto)", "auto")):
                start = time.perf_counter()
                track_movie(movie, PARAMS, background=background, arenas=arenas)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["without arenas"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:18s} median {median:6.2f} s over {args.runs} runs "
                  f"({args.frames} frames, {median / base:.2f}× without arenas)")  # fmt: skip


if __name__ == "__main__":
    main()
