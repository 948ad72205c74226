"""Batch throughput: 8 entries of 2000 frames (zebrafish frames looped), tracked as one stack.

Configurations: 1 local worker, every core, and a local Dask cluster of 2 worker processes.
The wall time includes starting the workers. The C++ FastTrack takes about 1.43 s per such
entry, one after another (≈ 11.4 s for 8) on the project's 2-core machines.

``--configs`` picks configurations (``local1``, ``local2``, ``dask2``); ``--src`` runs another
source tree (e.g. a base commit's worktree, for side-by-side runs); ``--repeat`` runs each
configuration that many times and prints every run and the median.

Usage::

    python benchmarks/bench_batch.py [--entries 8] [--frames 2000] [--chunk-size 500]
    python benchmarks/bench_batch.py --entries 1000 --frames 50 --configs local2,dask2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_track import ROOT, ZEBRAFISH, ZEBRAFISH_PARAMS, looped_zebrafish

RUN = r"""
import json, sys, time
from batchtrack.batch.run import open_executor, run_stack
from batchtrack.batch.stack import Stack
from batchtrack.params import Parameters
if __name__ == "__main__":
    folders, params, background, backend, workers, chunk = json.loads(sys.argv[1])
    started = time.perf_counter()
    stack = Stack(Parameters(**params))
    stack.add(folders)
    stack.set_unique_background(background)
    with open_executor(backend, workers=workers) as executor:
        ready = time.perf_counter()
        summary = run_stack(stack, executor=executor, workers=workers, chunk_size=chunk,
                            force=True)
    print(json.dumps({"wall": time.perf_counter() - started, "startup": ready - started,
                      "frames": summary.frames, "counts": summary.counts}))
"""


def movies(out: Path, entries: int, frames: int) -> list[str]:
    """``entries`` folders, each a looped zebrafish sequence of ``frames`` frames."""
    source = looped_zebrafish(out, frames)
    folders = []
    for i in range(entries):
        folder = out / f"batch-{frames}" / f"Run{i + 1}" / "images"
        if not folder.is_dir():
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
            for frame in sorted(source.iterdir()):
                if frame.suffix == ".pgm":
                    (folder / frame.name).symlink_to(frame.resolve())
        folders.append(str(folder))
    return folders


def run(
    folders: list[str], backend: str, workers: int, chunk: int, out: Path, src: Path | None = None
) -> dict:
    script = out / "bench_batch_run.py"
    script.write_text(RUN)
    argument = json.dumps(
        [folders, ZEBRAFISH_PARAMS, str(ZEBRAFISH / "background.pgm"), backend, workers, chunk]
    )
    env = dict(os.environ, PYTHONPATH=str(src)) if src else dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as for an installed package
    result = subprocess.run(
        [sys.executable, str(script), argument], capture_output=True, text=True, check=True,
        env=env,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=8)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--configs", default="local1,local2,dask2")
    parser.add_argument("--src", type=Path, help="source tree to run (its src folder)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folders = movies(args.out, args.entries, args.frames)
    cores = os.cpu_count() or 1
    print(
        f"{cores} cores, load {os.getloadavg()[0]:.1f}; {args.entries} entries × {args.frames} "
        f"frames, chunks of {args.chunk_size} frames; {args.src or 'this tree'}"
    )
    configurations = {
        "local1": ("local, 1 worker", "local", 1),
        "local2": ("local, 2 workers", "local", 2),
        "dask2": ("Dask local cluster, 2 workers", "dask", 2),
    }
    for key in args.configs.split(","):
        label, backend, workers = configurations[key]
        runs = [
            run(folders, backend, workers, args.chunk_size, args.out, args.src)
            for _ in range(args.repeat)
        ]
        for r in runs:
            per_entry = r["wall"] / args.entries
            print(
                f"  {label:32s} {r['wall']:6.2f} s wall ({r['startup']:.2f} s start-up), "
                f"{r['frames'] / r['wall']:6.0f} frames/s, {per_entry:.3f} s/entry  "
                f"{ {k: v for k, v in r['counts'].items() if v} }"
            )
        if args.repeat > 1:
            wall = statistics.median(r["wall"] for r in runs)
            print(f"  {label:32s} median {wall:6.2f} s, {runs[0]['frames'] / wall:6.0f} frames/s")


if __name__ == "__main__":
    main()
