"""``batchtrack demo``: a batch of synthetic movies with ground truth, tracked and scored."""

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


def _generate(
    folder: Path, *, frames: int, objects: int, size: int, seed: int, video: bool
) -> tuple[Path, Path]:
    """Write one synthetic movie (unless already there); return it and its ground truth."""
    from ..synth import make_movie, write_sequence, write_video

    movie = folder / ("movie.avi" if video else "images")
    truth = folder / "movie_ground_truth.txt" if video else movie / "ground_truth.txt"
    if not truth.is_file():
        synthetic = make_movie(frames, objects, shape=(size, size), seed=seed)
        if video:
            write_video(synthetic, movie)
        else:
            write_sequence(synthetic, movie)
            # Keep the background out of the sequence folder (it is not a frame).
            (movie / "background.pgm").replace(folder / "background.pgm")
    return movie, truth


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("batchtrack-demo"),
    show_default=True,
    help="Folder for the generated movies and their results.",
)
@click.option("--movies", type=int, default=4, show_default=True, help="Number of movies.")
@click.option("--frames", type=int, default=500, show_default=True, help="Frames per movie.")
@click.option("--objects", type=int, default=15, show_default=True, help="Fish per movie.")
@click.option("--size", type=int, default=512, show_default=True, help="Frame size (px).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first movie.")
@click.option(
    "--images",
    "sequences",
    is_flag=True,
    help="Write PGM image sequences (256 KB a frame at 512 px) instead of MJPG videos.",
)
@click.option(
    "--animals",
    type=int,
    help="Known number of animals given to the tracker (default: the fish per movie, as a "
    "scientist who counted them would; 0: FastTrack's compatible mode).",
)
@click.option("--workers", type=int, help="Worker processes (default: all cores).")
def demo(
    out: Path,
    movies: int,
    frames: int,
    objects: int,
    size: int,
    seed: int,
    sequences: bool,
    animals: int | None,
    workers: int | None,
) -> None:
    """Generate synthetic movies of swimming fish, track them as a batch, score each one.

    Writes OUT/<settings>/RunN/ (movie.avi, or the frames with --images, and the ground
    truth) and each movie's Tracking_Result, then prints the batch summary and, per movie,
    identity switches and IDF1 against the ground truth. The tracker is told the number of
    fish (``--animals``, as when the animals were counted); ``--animals 0`` tracks as
    FastTrack does. Running it again reuses the generated movies (and archives the previous
    results).
    """
    from rich.console import Console
    from rich.table import Table

    from ..batch.run import run_stack
    from ..batch.stack import Stack, Status
    from ..io.results import read_tracking
    from ..metrics import identity_score
    from ..params import Parameters
    from .batch import _display, _summary_table

    setup_logging(quiet=False)
    video = not sequences
    root = out / f"{frames}frames-{objects}fish-{size}px-seed{seed}{'' if video else '-images'}"
    try:
        generated = [
            _generate(
                root / f"Run{i + 1}",
                frames=frames,
                objects=objects,
                size=size,
                seed=seed + i,
                video=video,
            )
            for i in range(movies)
        ]
        size_mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6
        click.echo(
            f"{movies} movies of {frames} frames, {objects} fish, {size}×{size} px in {root} "
            f"({size_mb:.1f} MB on disk)"
        )
        known = objects if animals is None else animals
        stack = Stack(Parameters.from_mapping({**DEMO_PARAMETERS, "animals": known}))
        stack.add([movie for movie, _ in generated])
        display = _display(stack, quiet=False)
        if display is not None:
            display.start()
        try:
            summary = run_stack(stack, workers=workers, force=True)
        finally:
            if display is not None:
                display.stop()
    except BatchtrackError as error:
        fail(error)
    _summary_table(summary, stack)
    scores = Table(title="against the ground truth (match gate 5 px)", title_justify="left")
    for column in ("movie", "IDF1", "switches", "misses", "false positives"):
        scores.add_column(column)
    for entry, (_, truth) in zip(stack, generated):
        if entry.status is Status.DONE:
            score = identity_score(
                read_tracking(entry.result_dir), read_tracking(truth), max_distance=5.0
            )
            scores.add_row(
                entry.path.parent.name,
                f"{score.idf1:.4f}",
                str(score.switches),
                str(score.misses),
                str(score.false_positives),
            )
    Console().print(scores)
    if summary.failed:
        raise SystemExit(1)
