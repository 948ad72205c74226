"""Several arenas in one video: each tracked on its own, ids unique, results per arena."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from batchtrack.io.arenas import read_result_arenas
from batchtrack.io.results import read_tracking
from batchtrack.movie import track_movie
from batchtrack.params import Parameters
from batchtrack.schema import TRACKING_COLUMNS

#: Four stretches of the zebrafish sample, tiled 2×2 (each tile is a full frame).
STRETCHES = (0, 25, 50, 75)
TILE_FRAMES = 25


def tiled_movie(zebrafish_dir: Path, folder: Path) -> tuple[Path, Path]:
    """A 2×2 tiling of four 25-frame stretches of zebrafish-100, and its tiled background."""
    frames = sorted((zebrafish_dir / "images").iterdir())
    folder.mkdir(parents=True)
    for t in range(TILE_FRAMES):
        tiles = [cv2.imread(str(frames[s + t]), cv2.IMREAD_GRAYSCALE) for s in STRETCHES]
        mosaic = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        cv2.imwrite(str(folder / f"frame_{t:04d}.pgm"), mosaic)
    background = cv2.imread(str(zebrafish_dir / "background.pgm"), cv2.IMREAD_GRAYSCALE)
    tiled = np.vstack([np.hstack([background] * 2)] * 2)
    cv2.imwrite(str(folder.parent / "background.pgm"), tiled)
    return folder, folder.parent / "background.pgm"


def tile_alone(zebrafish_dir: Path, folder: Path, start: int) -> Path:
    frames = sorted((zebrafish_dir / "images").iterdir())
    folder.mkdir(parents=True)
    for t in range(TILE_FRAMES):
        shutil.copy(frames[start + t], folder / f"frame_{t:04d}.pgm")
    return folder


def rectangles_toml(path: Path, height: int, width: int) -> Path:
    text = ""
    for row in range(2):
        for col in range(2):
            text += (
                f"[[arena]]\nshape = \"rectangle\"\ncorner = [{col * width}, {row * height}]\n"
                f"size = [{width}, {height}]\n\n"
            )
    path.write_text(text)
    return path


def normalised(table: pd.DataFrame, dx: float, dy: float) -> pd.DataFrame:
    """Positions shifted back by the tile offset, ids renumbered in order of appearance."""
    table = table.copy()
    for column in TRACKING_COLUMNS:
        if column.startswith("x"):
            table[column] -= dx
        elif column.startswith("y"):
            table[column] -= dy
    order = {old: new for new, old in enumerate(pd.unique(table["id"]))}
    table["id"] = table["id"].map(order)
    return table.sort_values(["imageNumber", "id"]).reset_index(drop=True)


@pytest.mark.parametrize("spec", ["shapes", "grid:2x2"])
def test_each_tile_is_tracked_as_if_alone(tmp_path, zebrafish_dir, zebrafish_params, spec):
    movie, background = tiled_movie(zebrafish_dir, tmp_path / "tiled" / "images")
    height, width = cv2.imread(str(background), cv2.IMREAD_GRAYSCALE).shape
    height, width = height // 2, width // 2
    arenas = rectangles_toml(tmp_path / "tanks.toml", height, width) if spec == "shapes" else spec
    summary, table = track_movie(
        movie, zebrafish_params, background=background, arenas=arenas, collect=True
    )
    result = summary.folder
    assert (result / "arenas.csv").is_file() and (result / "arenas.png").is_file()
    listing = pd.read_csv(result / "arenas.csv")
    assert listing["arena"].tolist() == [1, 2, 3, 4]
    labels = read_result_arenas(result)  # the arenas as tracked, for the review window
    assert labels is not None and labels.shape == (2 * height, 2 * width)
    assert labels[0, 0] == 1 and labels[0, -1] == 2 and labels[-1, 0] == 3 and labels[-1, -1] == 4
    owners = {}
    for k, start in enumerate(STRETCHES):
        alone_folder = tile_alone(zebrafish_dir, tmp_path / f"alone{k}" / "images", start)
        _, alone = track_movie(
            alone_folder, zebrafish_params, background=zebrafish_dir / "background.pgm",
            collect=True,
        )  # fmt: skip
        ids = [int(i) for i in str(listing["ids"][k]).split()]
        for i in ids:
            assert owners.setdefault(i, k) == k  # no id in two arenas
        mine = table[table["id"].isin(ids)]
        dx, dy = (k % 2) * width, (k // 2) * height
        got = normalised(mine, dx, dy)
        expected = normalised(alone, 0, 0)
        assert len(got) == len(expected)
        # FastTrack's curvature depends on where the object is in the frame (its centre is in
        # frame coordinates, the pixels in box coordinates): equal only for the first tile
        columns = [c for c in TRACKING_COLUMNS if c != "curvature" or k == 0]
        np.testing.assert_allclose(got[columns].to_numpy(), expected[columns].to_numpy(),
                                   atol=1e-9)  # fmt: skip
        per_arena = read_tracking(result / "arenas" / f"arena_{k + 1}" / "tracking.txt")
        assert len(per_arena) == len(expected)
        assert sorted(per_arena["id"].unique()) == list(range(len(ids)))


def test_a_plate_of_twelve_wells_found_automatically_with_one_animal_each(tmp_path) -> None:
    from batchtrack.synth import make_movie

    rows, cols, pitch = 3, 4, 100
    height, width = rows * pitch + 40, cols * pitch + 40
    rng = np.random.default_rng(3)
    plate = np.full((height, width), 200, np.uint8)
    centres = [(70 + pitch * c, 70 + pitch * r) for r in range(rows) for c in range(cols)]
    for centre in centres:
        cv2.circle(plate, centre, 40, 90, 4)
        cv2.circle(plate, centre, 38, 225, -1)
    folder = tmp_path / "plate" / "images"
    folder.mkdir(parents=True)
    angles = rng.uniform(0, 2 * np.pi, len(centres))
    for t in range(40):
        frame = plate.copy()
        for (cx, cy), phase in zip(centres, angles, strict=True):
            a = phase + 0.08 * t
            x, y = cx + 18 * np.cos(a), cy + 18 * np.sin(a)
            cv2.ellipse(frame, (round(x), round(y)), (9, 4), np.degrees(a) + 90, 0, 360, 60, -1)
        noise = rng.normal(0, 2, frame.shape)
        cv2.imwrite(str(folder / f"f{t:03d}.pgm"), np.clip(frame + noise, 0, 255).astype(np.uint8))
    params = Parameters(thresh=50, lightBack=0, methBack=1, minArea=40, maxArea=400, maxDist=30,
                        normDist=10, maxTime=5, animals=12, nBack=20)  # fmt: skip
    cv2.imwrite(str(tmp_path / "plate" / "background.pgm"), plate)
    summary, table = track_movie(
        folder, params, background=tmp_path / "plate" / "background.pgm", arenas="auto",
        collect=True,
    )  # fmt: skip
    listing = pd.read_csv(summary.folder / "arenas.csv")
    assert len(listing) == 12 and listing["animals"].tolist() == [1] * 12
    assert table["id"].nunique() == 12
    assert (table.groupby("imageNumber")["id"].nunique() == 12).all()
    assert [len(str(ids).split()) for ids in listing["ids"]] == [1] * 12
    del make_movie


def test_arenas_through_the_cli_and_the_batch_give_the_same_result(
    tmp_path, zebrafish_dir, zebrafish_params
):
    from click.testing import CliRunner

    from batchtrack.batch.manifest import load_manifest, save_manifest
    from batchtrack.batch.run import run_stack
    from batchtrack.batch.stack import Stack, Status
    from batchtrack.cli import main

    movie, background = tiled_movie(zebrafish_dir, tmp_path / "tiled" / "images")
    flags = [f"--{k}={v}" for k, v in zebrafish_params.model_dump().items()]
    one = CliRunner().invoke(
        main, ["track", str(movie), "--background", str(background), "--arenas", "grid:2x2",
               *flags, "-q"],
    )  # fmt: skip
    assert one.exit_code == 0, one.output
    expected = (movie / "Tracking_Result" / "tracking.txt").read_text()
    stack = Stack(zebrafish_params)
    stack.arenas = "grid:2x2"
    stack.add([movie])
    stack.set_unique_background(background)
    reloaded = load_manifest(save_manifest(stack, tmp_path / "stack.toml"))
    assert reloaded.entries[0].arenas == "grid:2x2"
    summary = run_stack(reloaded, backend="local", workers=2, chunk_size=7, force=True)
    assert summary.counts["Done"] == 1, reloaded.entries[0].message
    assert (movie / "Tracking_Result" / "tracking.txt").read_text() == expected
    again = run_stack(reloaded, backend="inprocess")
    assert [e.status for e in reloaded] == [Status.SKIPPED] and again.counts["Skipped"] == 1
    bad = CliRunner().invoke(main, ["track", str(movie), "--arenas", "grid:0x2", "-q"])
    assert bad.exit_code == 1 and "grid:ROWSxCOLS with whole numbers" in bad.stderr
