"""Several arenas in one video: each tracked on its own, ids unique, results per arena."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

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


def _plate(root: Path, vanish: int | None = None) -> tuple[Path, Parameters, Path]:
    """A synthetic plate of 3×4 circular wells, one animal circling in each (that of well
    ``vanish`` gone from frame 20 on)."""
    rows, cols, pitch = 3, 4, 100
    height, width = rows * pitch + 40, cols * pitch + 40
    rng = np.random.default_rng(3)
    plate = np.full((height, width), 200, np.uint8)
    centres = [(70 + pitch * c, 70 + pitch * r) for r in range(rows) for c in range(cols)]
    for centre in centres:
        cv2.circle(plate, centre, 40, 90, 4)
        cv2.circle(plate, centre, 38, 225, -1)
    folder = root / "plate" / "images"
    folder.mkdir(parents=True)
    angles = rng.uniform(0, 2 * np.pi, len(centres))
    for t in range(40):
        frame = plate.copy()
        for well, ((cx, cy), phase) in enumerate(zip(centres, angles, strict=True), start=1):
            if well == vanish and t >= 20:
                continue
            a = phase + 0.08 * t
            x, y = cx + 18 * np.cos(a), cy + 18 * np.sin(a)
            cv2.ellipse(frame, (round(x), round(y)), (9, 4), np.degrees(a) + 90, 0, 360, 60, -1)
        noise = rng.normal(0, 2, frame.shape)
        cv2.imwrite(str(folder / f"f{t:03d}.pgm"), np.clip(frame + noise, 0, 255).astype(np.uint8))
    params = Parameters(thresh=50, lightBack=0, methBack=1, minArea=40, maxArea=400, maxDist=30,
                        normDist=10, maxTime=5, animals=12, nBack=20)  # fmt: skip
    cv2.imwrite(str(root / "plate" / "background.pgm"), plate)
    return folder, params, root / "plate" / "background.pgm"


def test_a_plate_of_twelve_wells_found_automatically_with_one_animal_each(tmp_path) -> None:
    import json

    import pyarrow.parquet as pq
    import xarray as xr
    from movement.validators.datasets import ValidPosesInputs

    folder, params, background = _plate(tmp_path)
    summary, table = track_movie(folder, params, background=background, arenas="auto",
                                 collect=True)  # fmt: skip
    listing = pd.read_csv(summary.folder / "arenas.csv")
    assert len(listing) == 12 and listing["animals"].tolist() == [1] * 12
    assert table["id"].nunique() == 12
    assert (table.groupby("imageNumber")["id"].nunique() == 12).all()
    assert [len(str(ids).split()) for ids in listing["ids"]] == [1] * 12
    # every analysis file says which arena each row and animal is in
    arena_of_id = {int(i): int(a) for a, i in zip(listing["arena"], listing["ids"], strict=True)}
    tracks = pq.read_table(summary.folder / "tracking.parquet").to_pandas()
    assert tracks.columns[-1] == "arena"
    assert (tracks["arena"] == tracks["id"].map(arena_of_id)).all()
    animals = pd.read_csv(summary.folder / "animals.csv")
    assert animals.columns[:2].tolist() == ["id", "arena"]
    assert (animals["arena"] == animals["id"].map(arena_of_id)).all()
    dataset = xr.load_dataset(summary.folder / "tracking.nc")
    ValidPosesInputs.validate(dataset)  # movement still takes it
    names = [int(n.removeprefix("id_")) for n in dataset["individuals"].values]
    assert dataset["arena"].values.tolist() == [arena_of_id[i] for i in names]
    assert dataset.sel(individuals=dataset.arena == 3).sizes["individuals"] == 1
    quality = json.loads((summary.folder / "quality.json").read_text())
    assert [a["arena"] for a in quality["arenas"]] == list(range(1, 13))
    assert {a["verdict"] for a in quality["arenas"]} == {"ok"}


def test_an_arena_whose_animal_is_lost_is_the_one_to_check(tmp_path) -> None:
    import json

    from batchtrack.report import entries_from_folders, write_report

    folder, params, background = _plate(tmp_path, vanish=5)
    summary, _ = track_movie(folder, params, background=background, arenas="auto")
    quality = json.loads((summary.folder / "quality.json").read_text())
    verdicts = {a["arena"]: a["verdict"] for a in quality["arenas"]}
    assert verdicts.pop(5) == "check" and set(verdicts.values()) == {"ok"}
    assert quality["verdict"] == "check"
    assert any(r.startswith("arena 5: expected count (1) in only 50%") for r in quality["reasons"])
    page = write_report(entries_from_folders([summary.folder]), tmp_path / "report.html")
    assert "12 (1 to check)" in page["html"].read_text()


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
