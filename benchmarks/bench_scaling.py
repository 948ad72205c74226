"""Scaling of the whole ``batchtrack track`` command: 200, 2000, 20000 zebrafish frames on 1 and
2 workers: wall and CPU time, peak RSS of each process (the command's and each worker's).

Usage::

    python benchmarks/bench_scaling.py [--frames 200,2000,20000] [--workers 1,2] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_compare import run_once
from bench_track import ROOT, looped_zebrafish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="200,2000,20000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; medians of {args.runs} runs")
    print("frames  workers   wall s   CPU s  ms/frame  peak RSS/process MB  processes")
    rss: dict[tuple[int, int], float] = {}
    for n in (int(v) for v in args.frames.split(",")):
        movie = looped_zebrafish(args.out, n)
        for workers in (int(v) for v in args.workers.split(",")):
            runs = [
                run_once(args.src, movie, args.out / "scaling", ["--workers", str(workers)])
                for _ in range(args.runs)
            ]
            wall = statistics.median(r["wall"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            rss[n, workers] = max(r["rss_mb"] for r in runs)
            print(
                f"{n:6d}  {workers:7d}  {wall:7.2f}  {cpu:6.2f}  {1000 * wall / n:8.3f}  "
                f"{rss[n, workers]:19.0f}  {runs[0]['processes']:9d}"
            )
    for workers in (int(v) for v in args.workers.split(",")):
        if (2000, workers) in rss and (20000, workers) in rss:
            growth = rss[20000, workers] / rss[2000, workers]
            print(f"peak RSS 20000/2000 frames, {workers} workers: {growth:.2f} (bound 1.3)")


if __name__ == "__main__":
    main()
