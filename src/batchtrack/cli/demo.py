"""``batchtrack demo``: generate a synthetic movie with ground truth, track it, score it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import BatchtrackError
from . import fail, main, setup_logging

#: Parameters that suit the synthetic fish (dark on light, 20-30 px long, ~2 px/frame).
DEMO_PARAMETERS = dict(
    thresh=40, lightBack=0, methBack=1, nBack=50, minArea=20, maxArea=400, spot=2,
    normDist=10, normAngle=60, maxDist=30, maxTime=10,
)  # fmt: skip


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("batchtrack-demo"),
    show_default=True,
    help="Folder for the generated movie and its results.",
)
@click.option("--frames", type=int, default=500, show_default=True, help="Number of frames.")
@click.option("--objects", type=int, default=15, show_default=True, help="Number of fish.")
@click.option("--size", type=int, default=512, show_default=True, help="Frame size (px).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--video", is_flag=True, help="Write an MJPG .avi instead of PGM frames.")
def demo(out: Path, frames: int, objects: int, size: int, seed: int, video: bool) -> None:
    """Generate a synthetic movie of swimming fish, track it and score it against its truth.

    Writes OUT/movie (frames or movie.avi), the ground truth, the Tracking_Result folder,
    and prints identity switches and IDF1 against the ground truth.
    """
    from ..metrics import identity_score
    from ..movie import track_movie
    from ..params import Parameters
    from ..synth import make_movie, write_sequence, write_video

    setup_logging(quiet=False)
    try:
        movie = make_movie(frames, objects, shape=(size, size), seed=seed)
        out.mkdir(parents=True, exist_ok=True)
        if video:
            path = write_video(movie, out / "movie.avi")
        else:
            path = write_sequence(movie, out / f"movie-{seed}")
        click.echo(f"generated {frames} frames of {objects} fish ({size}×{size} px) in {path}")
        summary, table = track_movie(path, Parameters(**DEMO_PARAMETERS), collect=True)
    except BatchtrackError as error:
        fail(error)
    score = identity_score(table, movie.ground_truth, max_distance=5.0)
    click.echo(
        f"tracked {summary.n_frames} frames in {summary.seconds:.2f} s "
        f"({summary.n_frames / summary.seconds:.0f} frames/s) -> {summary.folder}"
    )
    click.echo(f"against the ground truth: {score}")
