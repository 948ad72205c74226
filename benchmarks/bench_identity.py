"""Identities: the compatible mode (``animals = 0``) against a known number of animals.

Datasets:

- zebrafish-100 with its background and the sample parameters, scored against
  ``reference_tracking.txt`` (10 px gate);
- synthetic movies, 512×512, 300 frames, seed 1, 10 / 25 / 50 fish (demo parameters), scored
  against their ground truth (5 px gate, as ``tests/integration/test_synthetic_accuracy.py``);
- zebrafish8 ``test_A.avi`` and ``test_B.avi`` (8 fish, no ground truth; hand-tuned
  parameters of ``tests/integration/test_identity.py``): number of ids, the smallest share of
  frames an id is present in (coverage), the largest one-frame step of an id;
- the wall time of both modes on the zebrafish-100 frames looped to 2000 frames
  (``--frames``): in this process, and as the whole ``batchtrack track`` command with its
  default options (medians of 7 alternated runs);
- with ``--memory``, the peak RSS of the known-animals mode at 2000 and 20000 frames (each in
  its own process).

Usage::

    python benchmarks/bench_identity.py [--out bench-out] [--frames 2000] [--skip-videos]
                                        [--memory]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_track import ZEBRAFISH, ZEBRAFISH_PARAMS, looped_zebrafish

from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.io.frames import open_frames
from batchtrack.io.results import read_tracking
from batchtrack.metrics import identity_score, judged_rows
from batchtrack.movie import compute_background, detect_range, track, track_movie, write_result
from batchtrack.params import Parameters
from batchtrack.synth import make_movie, write_sequence

DATA = ZEBRAFISH.parent
ZEBRAFISH8_PARAMS = dict(
    lightBack=0, methBack=1, nBack=50, thresh=30, minArea=250, maxArea=2000, maxDist=80,
    maxTime=30, spot=2, normDist=20, normAngle=90,
)  # fmt: skip
HEADER = (
    f"{'dataset':<22} {'mode':<11} {'IDF1':>7} {'switch':>6} {'frag':>5} {'MOTA':>7} "
    f"{'MT/PT/ML':>10} {'ids':>4} {'coverage':>8} {'step':>6} {'s':>6}"
)


def coverage(table: pd.DataFrame, n_frames: int) -> float:
    """Smallest share of the frames in which one id is present."""
    return float((table.groupby("id").imageNumber.nunique() / n_frames).min())


def largest_step(table: pd.DataFrame) -> float:
    table = table.sort_values(["id", "imageNumber"])
    same = (table.id.diff() == 0) & (table.imageNumber.diff() == 1)
    return float(np.hypot(table.xBody.diff(), table.yBody.diff())[same].max())


def line(dataset: str, mode: str, table: pd.DataFrame, n_frames: int, seconds: float,
         score=None) -> str:  # fmt: skip
    if score is None:
        scores = f"{'':>7} {'':>6} {'':>5} {'':>7} {'':>10}"
    else:
        mt = f"{score.mostly_tracked}/{score.partially_tracked}/{score.mostly_lost}"
        scores = (f"{score.idf1:7.4f} {score.switches:6d} {score.fragmentations:5d} "
                  f"{score.mota:7.4f} {mt:>10}")  # fmt: skip
    return (
        f"{dataset:<22} {mode:<11} {scores} {table.id.nunique():4d} "
        f"{coverage(table, n_frames):8.4f} {largest_step(table):6.1f} {seconds:6.1f}"
    )


def modes(animals: int) -> list[tuple[str, int]]:
    return [("compatible", 0), (f"animals={animals}", animals)]


def zebrafish(out: Path) -> None:
    movie = out / "zebrafish-100" / "images"
    if not movie.is_dir():
        shutil.copytree(ZEBRAFISH / "images", movie)
    reference = read_tracking(ZEBRAFISH / "reference_tracking.txt")
    for mode, animals in modes(14):
        started = time.perf_counter()
        params = Parameters(**ZEBRAFISH_PARAMS, animals=animals)
        table = track(movie, params, background=ZEBRAFISH / "background.pgm")
        seconds = time.perf_counter() - started
        score = identity_score(table, reference)
        print(line("zebrafish-100", mode, table, 100, seconds, score), flush=True)
        # the rows the reference can judge: none where it misses a fish FastTrack missed
        judged = judged_rows(table, reference, animals=14)
        score = identity_score(judged, reference)
        print(line("  judged rows", mode, judged, 100, seconds, score), flush=True)


def synthetic(out: Path, sizes: tuple[int, ...] = (10, 25, 50)) -> None:
    for n in sizes:
        movie = make_movie(300, n, shape=(512, 512), seed=1)
        folder = out / f"synthetic-{n}"
        if not (folder / "background.pgm").is_file():
            write_sequence(movie, folder)
        for mode, animals in modes(n):
            started = time.perf_counter()
            params = Parameters(**DEMO_PARAMETERS, animals=animals)
            table = track(folder, params, background=folder / "background.pgm")
            seconds = time.perf_counter() - started
            score = identity_score(table, movie.ground_truth, max_distance=5.0)
            print(line(f"synthetic {n}", mode, table, 300, seconds, score), flush=True)


def videos(out: Path) -> None:
    for name in ("test_A", "test_B"):
        for mode, animals in modes(8):
            started = time.perf_counter()
            params = Parameters(**ZEBRAFISH8_PARAMS, animals=animals)
            with open_frames(DATA / "zebrafish8" / f"{name}.avi") as source:
                background = compute_background(source, params)
                n_frames = source.n_frames
                chunks = [detect_range(source, background, params)]
            _, table = write_result(
                chunks, params, background, out / f"{name}-{animals}", collect=True
            )
            seconds = time.perf_counter() - started
            assert table is not None
            print(line(f"zebrafish8 {name}", mode, table, n_frames, seconds), flush=True)


def overhead(out: Path, n_frames: int) -> None:
    movie = looped_zebrafish(out, n_frames)
    times = {}
    for mode, animals in modes(14):
        params = Parameters(**ZEBRAFISH_PARAMS, animals=animals)
        best = np.inf
        for _ in range(2):
            started = time.perf_counter()
            track_movie(movie, params, background=ZEBRAFISH / "background.pgm")
            best = min(best, time.perf_counter() - started)
        times[mode] = best
        print(f"wall time, zebrafish-100 looped to {n_frames} frames, {mode}: {best:.2f} s")
    compatible, known = times.values()
    print(f"overhead of the known-animals mode: {100 * (known / compatible - 1):+.0f} %")


def command_overhead(out: Path, n_frames: int, runs: int = 7) -> None:
    """The same, as a user runs it: the whole ``batchtrack track`` command with its default
    options (chunks on every core), the two modes alternated, medians of ``runs``."""
    movie = looped_zebrafish(out, n_frames)
    flags = [f"--{name}={value}" for name, value in ZEBRAFISH_PARAMS.items()]
    code = "import sys; from batchtrack.cli import run; sys.argv[0] = 'batchtrack'; run()"
    # as an installed command runs: bytecode cached (this environment may forbid writing it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    seconds: dict[int, list[float]] = {0: [], 14: []}
    for _ in range(runs):
        for animals in seconds:
            command = [sys.executable, "-c", code, "track", str(movie), "--background",
                       str(ZEBRAFISH / "background.pgm"), "--animals", str(animals), "-q",
                       *flags]  # fmt: skip
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            seconds[animals].append(time.perf_counter() - started)
    compatible, known = (float(np.median(times)) for times in seconds.values())
    print(f"whole command, {n_frames} frames, medians of {runs}: compatible {compatible:.2f} s, "
          f"animals=14 {known:.2f} s, overhead {100 * (known / compatible - 1):+.0f} %")


_PEAK = """
import resource, sys
from batchtrack.movie import track_movie
from batchtrack.params import Parameters
params = Parameters(**{params!r})
track_movie({movie!r}, params, background={background!r})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def memory(out: Path) -> None:
    """Peak RSS (MB) of one known-animals run, at 2000 and 20000 frames."""
    for n_frames in (2000, 20000):
        movie = looped_zebrafish(out, n_frames)
        code = _PEAK.format(
            params={**ZEBRAFISH_PARAMS, "animals": 14},
            movie=str(movie),
            background=str(ZEBRAFISH / "background.pgm"),
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        peak = done.stdout.strip().splitlines()[-1]
        print(f"peak RSS, animals=14, {n_frames} frames: {peak} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--skip-videos", action="store_true")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.memory:
        memory(args.out)
        return
    print(HEADER)
    zebrafish(args.out)
    synthetic(args.out)
    if not args.skip_videos:
        videos(args.out)
    overhead(args.out, args.frames)
    command_overhead(args.out, args.frames)


if __name__ == "__main__":
    sys.exit(main())
