"""Throughput of the measure workflow: images per second, 1 worker vs every core, local and Dask.

Generates N 16-bit 512×512 ImageJ TIFF images (about 25 ellipses each) in a temporary
folder, then measures them with each backend (after a warm-up that starts the workers) and
prints a table. Usage::

    python benchmarks/bench_measure.py            # 1000 images
    python benchmarks/bench_measure.py --n 100    # quicker
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from batchtrack.batch.run import open_executor, run_stack
from batchtrack.batch.stack import Stack
from batchtrack.workflows.measure import MeasureParameters, synthetic_image


def make_images(folder: Path, n: int, *, size: int = 512, seed: int = 0) -> list[Path]:
    """Write ``n`` images of ellipses on a 5×5 grid (random size and angle)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    step = size // 5
    paths = []
    for i in range(n):
        ellipses = [
            (step * (c + 0.5), step * (r + 0.5), rng.uniform(12, 30), rng.uniform(8, 12),
             rng.uniform(0, 180))
            for r in range(5) for c in range(5)
        ]  # fmt: skip
        path = folder / f"img{i:05d}.tif"
        image = synthetic_image((size, size), ellipses, dtype="uint16", seed=i)
        tifffile.imwrite(path, image, imagej=True, resolution=(2.0, 2.0),
                         metadata={"unit": "micron"})  # fmt: skip
        paths.append(path)
    return paths


def run(images: list[Path], out: Path, backend: str, workers: int) -> tuple[float, int]:
    """Seconds to measure ``images`` with a warmed-up executor, and objects found."""
    with open_executor(backend, workers=workers) as executor:
        warm = Stack(MeasureParameters(), workflow="measure", output=out / "warm-up")
        warm.add(images[:workers])
        run_stack(warm, executor=executor, workers=workers, force=True)
        stack = Stack(MeasureParameters(), workflow="measure", output=out / "results")
        stack.add(images)
        started = time.perf_counter()
        summary = run_stack(stack, executor=executor, workers=workers, force=True)
        seconds = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"{summary.failed} images failed: {summary.entries[:3]}")
    objects = sum(int(e.message.split()[0]) for e in stack)
    return seconds, objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images (default 1000)")
    parser.add_argument("--size", type=int, default=512, help="image side [px] (default 512)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        started = time.perf_counter()
        images = make_images(Path(tmp) / "images", args.n, size=args.size)
        made = time.perf_counter() - started
        print(f"{args.n} images of {args.size}×{args.size} px written in {made:.1f} s; "
              f"{cores} cores")  # fmt: skip
        print(f"{'backend':<10}{'workers':>8}{'seconds':>10}{'images/s':>10}{'objects':>9}")
        for backend in ("local", "dask"):
            for workers in sorted({1, cores}):
                out = Path(tmp) / f"{backend}-{workers}"
                seconds, objects = run(images, out, backend, workers)
                print(f"{backend:<10}{workers:>8}{seconds:>10.2f}{args.n / seconds:>10.1f}"
                      f"{objects:>9}")  # fmt: skip


if __name__ == "__main__":
    main()
