"""Wall time of ``batchtrack measure`` against a plain scikit-image loop over the same images.

Generates N 16-bit 512×512 ImageJ TIFF images (about 25 ellipses each) in a temporary
folder. The plain loop is what the NEUBIAS *Batch processing* module's script does per image
(read, Otsu, label, ``regionprops_table(label, area, centroid)``, save the label image and
the table); batchtrack runs with the same segmentation (no hole filling, no size filter) and
the same columns (``--columns area,centroid``), on 1 and 2 workers, locally and on Dask
(executors started beforehand, as a running cluster is), including the batch tables written
after the run. Runs alternate and the table shows medians. Usage::

    python benchmarks/bench_measure.py                 # 200 images, 3 rounds
    python benchmarks/bench_measure.py --n 50 --rounds 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from skimage import filters, measure

from batchtrack.batch.run import after_batch, open_executor, run_stack
from batchtrack.batch.stack import Stack
from batchtrack.workflows.measure import MeasureParameters, synthetic_image

#: The reference script's segmentation and columns, and batchtrack's rich default.
MATCHED = MeasureParameters(fill_holes=False, min_size=0, columns="area,centroid",
                            overlay=False)  # fmt: skip
WITH_OVERLAY = MATCHED.model_copy(update={"overlay": True})
RICH = MeasureParameters()


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


def plain_loop(images: list[Path], out: Path) -> int:
    """The reference script: scikit-image on each image in turn; returns the objects found."""
    out.mkdir(parents=True, exist_ok=True)
    objects = 0
    for path in images:
        image = tifffile.imread(path)
        labels = measure.label(image > filters.threshold_otsu(image))
        tifffile.imwrite(out / f"{path.stem}_labels.tif", labels.astype(np.uint16))
        props = measure.regionprops_table(labels, properties=("label", "area", "centroid"))
        table = pd.DataFrame(props)
        table.to_csv(out / f"{path.stem}.csv", index=False)
        objects += len(table)
    return objects


def batchtrack_run(images: list[Path], out: Path, executor, workers: int,
                   params: MeasureParameters) -> int:  # fmt: skip
    """``batchtrack measure`` through the batch layer, batch tables included."""
    stack = Stack(params, workflow="measure", output=out)
    stack.add(images)
    summary = run_stack(stack, executor=executor, workers=workers, force=True)
    if summary.failed:
        raise SystemExit(f"{summary.failed} images failed: {summary.entries[:3]}")
    after_batch(stack)
    return sum(int(e.message.split()[0]) for e in stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="images (default 200)")
    parser.add_argument("--size", type=int, default=512, help="image side [px] (default 512)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--rich", action="store_true", help="also time the default columns")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        root = Path(tmp)
        images = make_images(root / "images", args.n, size=args.size)
        opened = contextlib.ExitStack()
        executors = {(b, w): opened.enter_context(open_executor(b, workers=w))
                     for b in ("local", "dask") for w in (1, 2)}  # fmt: skip
        # the workflow alone, in this process: no process round trip per image
        executors = {("inprocess", 1): opened.enter_context(open_executor("inprocess")),
                     **executors}  # fmt: skip
        runs: dict[str, Callable[[Path], int]] = {"plain scikit-image loop": lambda out:
                                                  plain_loop(images, out)}  # fmt: skip
        for (backend, workers), executor in executors.items():
            batchtrack_run(images[:4], root / f"warm-up-{backend}-{workers}", executor, workers,
                           MATCHED)
            runs[f"batchtrack {backend} {workers}"] = (
                lambda out, e=executor, w=workers: batchtrack_run(images, out, e, w, MATCHED))
        for workers in (1, 2):
            executor = executors[("local", workers)]
            runs[f"  + overlays, local {workers}"] = (
                lambda out, e=executor, w=workers: batchtrack_run(images, out, e, w,
                                                                   WITH_OVERLAY))  # fmt: skip
            if args.rich:
                runs[f"  every column, local {workers}"] = (
                    lambda out, e=executor, w=workers: batchtrack_run(images, out, e, w, RICH))
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        load_before = os.getloadavg()[0]
        objects: dict[str, int] = {}
        try:
            for round_ in range(args.rounds):
                for k, (name, run) in enumerate(runs.items()):
                    started = time.perf_counter()
                    objects[name] = run(root / f"out-{round_}-{k}")
                    seconds[name].append(time.perf_counter() - started)
        finally:
            opened.close()
        base = statistics.median(seconds["plain scikit-image loop"])
        load = os.getloadavg()[0]
        print(f"{args.n} images of {args.size}×{args.size} px, median of {args.rounds} "
              f"alternated rounds; load average {load_before:.1f} before, {load:.1f} after, "
              f"{os.cpu_count()} cores")  # fmt: skip
        print(f"| {'run':<30} | {'seconds':>8} | {'× plain':>7} | {'images/s':>8} | objects |")
        print(f"|{'-' * 32}|{'-' * 10}|{'-' * 9}|{'-' * 10}|---------|")
        for name, times in seconds.items():
            median = statistics.median(times)
            print(f"| {name:<30} | {median:>8.2f} | {median / base:>7.2f} | "
                  f"{args.n / median:>8.1f} | {objects[name]:>7} |")  # fmt: skip


if __name__ == "__main__":
    main()
