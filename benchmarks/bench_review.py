"""Replay speed of the review window: ms per frame stepping through a 1024×1024, 50-fish video.

Generates a synthetic MJPG video (``batchtrack.synth.make_movie`` / ``write_video``), tracks
it, opens the real :class:`~batchtrack.gui.review.ReviewWindow` and steps frame after frame
the way the → key and the player do (``set_frame``), then lets Qt paint it (one paint per
frame) before the next. Prints mean, median and 95th percentile ms/frame, and the share of
reading the frame, with ids, head/tail, and 2-second trails drawn; then the same with the
whole track of one selected id drawn too, and the export drawing (``overlay.draw_frame``).

Usage::

    python benchmarks/bench_review.py [--frames 300] [--out bench-out]
    xvfb-run -s "-screen 0 1600x1000x24" python benchmarks/bench_review.py   # a real X server
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path


def make_result(out: Path, n_frames: int) -> Path:
    from batchtrack.movie import track_movie
    from batchtrack.params import Parameters
    from batchtrack.synth import make_movie, write_video

    video = out / f"review-{n_frames}f-50fish-1024.avi"
    result = video.parent / f"Tracking_Result_{video.stem}"
    if not (result / "tracking.txt").is_file():
        movie = make_movie(n_frames, 50, shape=(1024, 1024), seed=7, length=(24, 34))
        write_video(movie, video)
        params = Parameters(
            thresh=40, lightBack=0, nBack=20, methBack=1, minArea=40, maxArea=1500,
            maxDist=60, normDist=20, normAngle=90, maxTime=5,
        )  # fmt: skip
        track_movie(video, params)
    return result


def timings(step, n: int) -> tuple[list[float], float]:
    """Wall ms of each call, and the process's CPU ms per call (every thread: the reader too),
    which a machine shared with other jobs inflates much less than the wall time."""
    times = []
    cpu = time.process_time()
    for k in range(n):
        started = time.perf_counter()
        step(k)
        times.append((time.perf_counter() - started) * 1000)
    return times, (time.process_time() - cpu) * 1000 / n


def report(name: str, measured: tuple[list[float], float]) -> None:
    times, cpu = measured
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(
        f"{name:44s} mean {statistics.fmean(times):6.2f}  median {statistics.median(times):6.2f}"
        f"  p95 {p95:6.2f}  CPU {cpu:6.2f} ms/frame"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    args.out.mkdir(parents=True, exist_ok=True)
    result = make_result(args.out, args.frames)

    from PySide6.QtWidgets import QApplication

    from batchtrack.gui.review import ReviewWindow
    from batchtrack.io.results import read_tracking
    from batchtrack.overlay import Replay, draw_frame

    app = QApplication.instance() or QApplication([])
    window = ReviewWindow(result)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    table = read_tracking(result)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"{result}: {window.n_frames} frames 1024×1024, {table['id'].nunique()} ids, "
        f"{len(table) / window.n_frames:.1f} objects/frame, trail {window.trail_spin.value()} "
        f"frames, platform {app.platformName()}"
    )
    n = window.n_frames

    def step(k: int) -> None:  # one paint per frame (counted: a Paint event each)
        window.set_frame(k)
        app.processEvents()

    window.set_frame(0)
    source = window.source
    assert source is not None
    report("read frame only (sequential, no read-ahead)", timings(source.read, n))
    report("step: read + draw + paint", timings(step, n))
    window.select(int(table["id"].iloc[0]))
    report("step with one id's whole track selected", timings(step, n))

    replay = Replay(table, trail=window.trail_spin.value())
    frames = [window._frame_image(k) for k in range(min(n, 50))]
    report(
        "export drawing (draw_frame, frame in memory)",
        timings(lambda k: draw_frame(frames[k % len(frames)], replay, k), n),
    )
    window.close()


if __name__ == "__main__":
    main()
