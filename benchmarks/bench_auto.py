"""Cost of measuring the "auto" parameters on a long, large movie (2000 frames of 1024×1024).

Measuring reads a fixed sample (20 frames spread over the movie, each with its neighbour), so
its cost does not grow with the movie's length. The movie here lives in memory (60 rendered
frames of 40 synthetic fish, looped to 2000 frames), so that the times are the measurement's
and not the disk's or the decoder's. Printed: the measurements alone on the sampled arrays
(:mod:`batchtrack.autoparams`), and :func:`batchtrack.movie.resolve_parameters` as tracking
calls it (sampling, measurements and the background projection, from the same frames).
Usage::

    python benchmarks/bench_auto.py
    python benchmarks/bench_auto.py --frames 2000 --size 1024 --repeat 5
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from batchtrack import autoparams
from batchtrack.io.frames import FrameSource
from batchtrack.movie import resolve_parameters
from batchtrack.params import AUTO_NAMES, Parameters
from batchtrack.synth import make_movie


class LoopedMovie(FrameSource):
    """``n_frames`` frames in memory: the rendered frames played in a loop."""

    def __init__(self, rendered: list[np.ndarray], n_frames: int) -> None:
        self.path = Path("in-memory")
        self.shape = rendered[0].shape
        self.skipped = []
        self._rendered = rendered
        self._n = n_frames

    @property
    def n_frames(self) -> int:
        return self._n

    @property
    def result_dir(self) -> Path:
        return self.path / "Tracking_Result"

    def read(self, k: int) -> np.ndarray:
        return self._rendered[k % len(self._rendered)].copy()

    def iter_frames(self, start: int = 0, stop: int | None = None
                    ) -> Iterator[tuple[int, np.ndarray]]:  # fmt: skip
        for k in range(start, min(stop or self._n, self._n)):
            yield k, self.read(k)


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    movie = make_movie(60, 40, shape=(args.size, args.size), seed=1, length=(30, 40),
                       width=(6, 8), speed=8)  # fmt: skip
    source = LoopedMovie(list(movie.frames()), args.frames)
    wanted = Parameters().with_updates(dict.fromkeys(AUTO_NAMES, "auto"))

    positions = autoparams.sample_positions(source.n_frames)
    frames = np.stack([source.read(k) for k in positions])
    following = np.stack([source.read(k + 1) for k in positions[:-1]] + [source.read(1)])
    background = np.max(frames, axis=0)

    def measure() -> None:
        found = autoparams.measure_polarity(frames)
        autoparams.measure_detection(
            frames, following, background, light_back=found.value,
            names=["thresh", "minArea", "maxArea", "maxDist"], thresh=0, min_area=0,
            max_area=1,
        )  # fmt: skip

    seconds = best_of(args.repeat, measure)
    total = best_of(args.repeat, lambda: resolve_parameters(source, wanted))
    _, _, report = resolve_parameters(source, wanted)
    print(f"{args.frames} frames of {args.size}×{args.size}, {len(positions)} sampled:")
    print(f"  measurements on the sample:                 {seconds:.3f} s")
    print(f"  resolve_parameters (sample + background):   {total:.3f} s")
    for line in report.lines():
        print(f"    {line}")


if __name__ == "__main__":
    main()
