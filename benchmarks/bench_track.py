"""Tracking speed and memory for one movie: ms/frame, frames/s, peak RSS.

Cases (each run in its own process, so that peak RSS and start-up are real):

a. the zebrafish-100 frames looped to 2000 frames (symbolic links), with its background;
b. a synthetic 1024×1024 movie of 50 fish, 2000 frames, as PGM frames;
c. the same movie as an MJPG video.

For each: the tracking time inside the process (``track_movie``), the whole command
(``batchtrack track``, interpreter start-up included, comparable to the C++ FastTrack's
1.43 s for case a), and the same movie split into frame chunks over every core
(``run_stack``, local processes). ``--memory`` compares peak RSS at 2000 and 20000 frames.
``--profile`` prints where the time goes for case a.

Usage::

    python benchmarks/bench_track.py [--frames 2000] [--memory] [--profile] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZEBRAFISH = ROOT.parent / "shared" / "data" / "zebrafish-100"
ZEBRAFISH_PARAMS = dict(
    thresh=60,
    lightBack=0,
    minArea=50,
    maxArea=170,
    morph=8,
    nBack=20,
    methBack=1,
    spot=0,
    normDist=20,
    normAngle=118,
    normArea=0,
    normPerim=0,
    maxDist=195,
    maxTime=40,
)


def looped_zebrafish(out: Path, n_frames: int) -> Path:
    """A folder of ``n_frames`` links cycling over the 100 zebrafish frames."""
    folder = out / f"zebrafish-{n_frames}"
    if folder.is_dir() and len(list(folder.glob("frame_*.pgm"))) == n_frames:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = sorted((ZEBRAFISH / "images").glob("frame_*.pgm"))
    for k in range(n_frames):
        (folder / f"frame_{k:06d}.pgm").symlink_to(sources[k % len(sources)])
    return folder


def synthetic(out: Path, n_frames: int) -> tuple[Path, Path]:
    """The 1024×1024, 50-fish movie as a sequence and as a video (generated once)."""
    from batchtrack.synth import make_movie, write_sequence, write_video

    folder, video = out / f"synth-{n_frames}", out / f"synth-{n_frames}.avi"
    if not (folder / "ground_truth.txt").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        write_sequence(make_movie(n_frames, 50, shape=(1024, 1024), seed=0), folder)
    if not video.is_file():
        write_video(make_movie(n_frames, 50, shape=(1024, 1024), seed=0), video)
    return folder, video


def synthetic_params() -> dict:
    from batchtrack.cli.demo import DEMO_PARAMETERS

    return dict(DEMO_PARAMETERS)


# -- measurements, each in a child process -------------------------------------------------------
CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from batchtrack.movie import track_movie
from batchtrack.params import Parameters
path, params, background, output = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
t1 = time.perf_counter()
summary, _ = track_movie(path, Parameters(**params), background=background or None, output=output)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "track_s": t2 - t1, "frames": summary.n_frames,
                  "rows": summary.n_rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHUNKED = r"""
import json, sys, time
from batchtrack.batch.run import run_stack
from batchtrack.batch.stack import Stack
from batchtrack.params import Parameters
if __name__ == "__main__":
    path, params, background, output, workers = sys.argv[1:6]
    stack = Stack(Parameters(**json.loads(params)), output=output)
    stack.add([path])
    if background:
        stack.set_unique_background(background)
    t = time.perf_counter()
    summary = run_stack(stack, backend="local", workers=int(workers), chunk_size=250, force=True)
    print(json.dumps({"wall_s": time.perf_counter() - t, "frames": summary.frames,
                      "status": [str(e.status) for e in stack]}))
"""


def in_process(path: Path, params: dict, background: Path | None, out: Path) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(path),
            json.dumps(params),
            str(background or ""),
            str(out / "result"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def whole_command(path: Path, params: dict, background: Path | None, out: Path) -> float:
    command = ["batchtrack", "track", str(path), "--quiet", "--output", str(out / "result")]
    command += [f"--{k}={v}" for k, v in params.items()]
    if background:
        command += ["--background", str(background)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def chunked(path: Path, params: dict, background: Path | None, out: Path, workers: int) -> dict:
    script = out / "chunked.py"
    script.write_text(CHUNKED)
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            str(path),
            json.dumps(params),
            str(background or ""),
            str(out / "result"),
            str(workers),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(name: str, path: Path, params: dict, background: Path | None, out: Path) -> None:
    cores = os.cpu_count() or 1
    m = in_process(path, params, background, out)
    wall = whole_command(path, params, background, out)
    par = chunked(path, params, background, out, cores)
    n = m["frames"]
    print(f"{name}")
    print(
        f"  track_movie, 1 process : {1000 * m['track_s'] / n:6.3f} ms/frame  "
        f"{n / m['track_s']:7.0f} frames/s  peak RSS {m['peak_rss_mb']:.0f} MB  "
        f"({n} frames, {m['rows']} rows; imports {m['import_s']:.2f} s)"
    )
    print(
        f"  batchtrack track (CLI) : {1000 * wall / n:6.3f} ms/frame  {n / wall:7.0f} frames/s  "
        f"({wall:.2f} s wall, start-up included)"
    )
    print(
        f"  chunked over {cores} workers: {1000 * par['wall_s'] / n:6.3f} ms/frame  "
        f"{n / par['wall_s']:7.0f} frames/s  ({par['wall_s']:.2f} s wall, pool start-up "
        f"included; {par['status'][0]})"
    )
    shutil.rmtree(out / "result", ignore_errors=True)


def memory(out: Path) -> None:
    background = ZEBRAFISH / "background.pgm"
    peaks = {}
    for n in (2000, 20000):
        m = in_process(looped_zebrafish(out, n), ZEBRAFISH_PARAMS, background, out)
        peaks[n] = m["peak_rss_mb"]
        print(
            f"  {n:6d} frames: peak RSS {m['peak_rss_mb']:.0f} MB, "
            f"{1000 * m['track_s'] / m['frames']:.3f} ms/frame"
        )
        shutil.rmtree(out / "result", ignore_errors=True)
    print(f"  ratio 20000/2000: {peaks[20000] / peaks[2000]:.2f} (bound: 1.3)")


def profile(out: Path) -> None:
    import cProfile
    import pstats

    from batchtrack.movie import track_movie
    from batchtrack.params import Parameters

    path = looped_zebrafish(out, 2000)
    profiler = cProfile.Profile()
    profiler.enable()
    track_movie(
        path,
        Parameters(**ZEBRAFISH_PARAMS),
        background=ZEBRAFISH / "background.pgm",
        output=out / "result",
    )
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    shutil.rmtree(out / "result", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--memory", action="store_true", help="peak RSS at 2000 vs 20000 frames")
    parser.add_argument("--profile", action="store_true", help="cProfile of case a")
    parser.add_argument("--cases", default="abc", help="which cases to run (a, b, c)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.profile:
        profile(args.out)
        return
    if args.memory:
        memory(args.out)
        return
    if "a" in args.cases:
        report(
            f"a. zebrafish 338×524, 14 fish, looped to {args.frames} frames",
            looped_zebrafish(args.out, args.frames),
            ZEBRAFISH_PARAMS,
            ZEBRAFISH / "background.pgm",
            args.out,
        )
    if "b" in args.cases or "c" in args.cases:
        folder, video = synthetic(args.out, args.frames)
        params = synthetic_params()
        if "b" in args.cases:
            report(
                f"b. synthetic 1024×1024, 50 fish, {args.frames} PGM frames",
                folder,
                params,
                folder / "background.pgm",
                args.out,
            )
        if "c" in args.cases:
            report(
                f"c. the same as an MJPG video ({video.stat().st_size >> 20} MB)",
                video,
                params,
                folder / "background.pgm",
                args.out,
            )


if __name__ == "__main__":
    main()
