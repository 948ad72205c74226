"""Side by side: the whole ``batchtrack track`` command of two source trees, runs alternated.

Absolute times differ between these machines and with their load, so a speed-up only means
something against a base measured in the same run. Each case runs ``--runs`` times per tree,
the order of the two trees swapped every run; the medians of wall time and CPU time (the
command and its worker processes) are printed with the largest peak RSS of one process
(``psutil``, sampled every 20 ms), and every run's ``tracking.txt`` is compared with the base's.

Cases: ``a`` (the zebrafish frames looped to ``--frames``, PGM), ``mp4v`` and ``h264`` (the same
frames as one video; h264 with libx264's defaults: B-frames, a key frame every 250 frames).

Usage::

    git worktree add /tmp/base <base commit>
    python benchmarks/bench_compare.py --base /tmp/base/src --runs 3 --cases a,mp4v,h264
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_track import ROOT, ZEBRAFISH, ZEBRAFISH_PARAMS, looped_zebrafish

#: The console script: ``batchtrack.cli.run`` where the tree has it (its quick exit), else
#: ``main``.
COMMAND = (
    "import sys; from batchtrack import cli; sys.argv[0] = 'batchtrack'; "
    "getattr(cli, 'run', cli.main)()"
)


def zebrafish_video(out: Path, n_frames: int, codec: str) -> Path:
    """The looped zebrafish frames as one colour video (``mp4v`` .mp4 or ``h264`` .mp4)."""
    import cv2
    import numpy as np

    path = out / f"zebrafish-{n_frames}-{codec}.mp4"
    if path.is_file():
        return path
    folder = looped_zebrafish(out, n_frames)
    frames = (cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in sorted(folder.iterdir()))
    partial = path.with_suffix(".part.mp4")
    if codec == "mp4v":
        first = cv2.imread(str(next(iter(sorted(folder.iterdir())))), cv2.IMREAD_GRAYSCALE)
        h, w = first.shape
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
    else:
        import av

        with av.open(str(partial), "w") as container:
            stream = None
            for frame in frames:
                if stream is None:
                    stream = container.add_stream("libx264", rate=25)
                    stream.height, stream.width = frame.shape
                    stream.pix_fmt = "yuv420p"
                image = av.VideoFrame.from_ndarray(np.dstack([frame] * 3), format="bgr24")
                container.mux(stream.encode(image))
            assert stream is not None
            container.mux(stream.encode())
    partial.rename(path)
    return path


def run_once(src: Path, movie: Path, out: Path, extra: list[str]) -> dict:
    """One whole command: wall and CPU seconds, the largest RSS of one of its processes."""
    command = [sys.executable, "-c", COMMAND, "track", str(movie), "--quiet"]
    command += ["--output", str(out), "--background", str(ZEBRAFISH / "background.pgm")]
    command += [f"--{k}={v}" for k, v in ZEBRAFISH_PARAMS.items()] + extra
    env = dict(os.environ, PYTHONPATH=str(src))
    # bytecode cached, as for an installed package (some machines set this variable)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    peaks: dict[int, int] = {}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env)
    watched = psutil.Process(process.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                for p in [watched, *watched.children(recursive=True)]:
                    peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
            except psutil.Error:
                pass
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, f"{command} failed"
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": max(peaks.values(), default=0) / 2**20,
        "processes": len(peaks),
        "result": (out / "tracking.txt").read_bytes(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the base tree's src folder")
    parser.add_argument("--new", type=Path, default=ROOT / "src", help="this tree's src folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--cases", default="a,mp4v,h264")
    parser.add_argument("--new-args", default="", help="extra options for the new tree")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    movies = {"a": looped_zebrafish(args.out, args.frames)}
    for codec in ("mp4v", "h264"):
        if codec in args.cases.split(","):
            movies[codec] = zebrafish_video(args.out, args.frames, codec)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {args.runs} runs alternated")
    trees = {"base": (args.base, []), "new": (args.new, args.new_args.split())}
    for case in args.cases.split(","):
        results: dict[str, list[dict]] = {"base": [], "new": []}
        for run in range(args.runs):
            order = ["base", "new"] if run % 2 == 0 else ["new", "base"]
            for name in order:
                src, extra = trees[name]
                out = args.out / f"compare-{name}"
                results[name].append(run_once(src, movies[case], out, extra))
        reference = results["base"][0]["result"]
        same = all(r["result"] == reference for rs in results.values() for r in rs)
        medians = {
            name: {key: statistics.median(r[key] for r in rs) for key in ("wall", "cpu")}
            for name, rs in results.items()
        }
        walls = {name: ", ".join(f"{r['wall']:.2f}" for r in rs) for name, rs in results.items()}
        print(f"case {case} ({args.frames} frames): tracking.txt identical: {same}")
        for name, rs in results.items():
            print(
                f"  {name:4s}: wall median {medians[name]['wall']:.2f} s ({walls[name]}), CPU "
                f"{medians[name]['cpu']:.2f} s, peak RSS/process {max(r['rss_mb'] for r in rs):.0f}"
                f" MB, {rs[0]['processes']} processes"
            )
        print(f"  ratio new/base wall: {medians['new']['wall'] / medians['base']['wall']:.2f}")


if __name__ == "__main__":
    main()
