"""Tests of the trajectory pictures (batchtrack.plots)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from batchtrack.errors import InputError, OutputError
from batchtrack.plots import draw_tracks, id_colour, plot_trajectories
from batchtrack.schema import TRACKING_COLUMNS


def write_result(folder: Path, *, background: bool = True) -> pd.DataFrame:
    """A result folder with two ids moving along horizontal lines of a 100×200 image."""
    folder.mkdir(parents=True)
    rows = []
    for k in range(20):
        rows.append({"xBody": 20 + 5 * k, "yBody": 30.0, "imageNumber": k, "id": 0})
        rows.append({"xBody": 20 + 5 * k, "yBody": 70.0, "imageNumber": k, "id": 1})
    table = pd.DataFrame(rows).reindex(columns=TRACKING_COLUMNS, fill_value=0.0)
    table.to_csv(folder / "tracking.txt", sep="\t", index=False)
    if background:
        cv2.imwrite(str(folder / "background.pgm"), np.full((100, 200), 200, np.uint8))
    return table


def test_id_colours_differ_between_neighbouring_ids() -> None:
    colours = [id_colour(i) for i in range(30)]
    assert len(set(colours)) == 30
    for a, b in itertools.pairwise(colours):
        assert max(abs(x - y) for x, y in zip(a, b)) > 60
    assert all(0 <= c <= 255 for colour in colours for c in colour)


def test_plot_draws_each_id_in_its_colour(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    write_result(folder)
    png = plot_trajectories(folder)
    assert png == folder / "trajectories.png"
    picture = cv2.imread(str(png))
    factor = 5  # 200 px long side enlarged to at least 1000 px
    assert picture.shape == (100 * factor, 200 * factor, 3)
    for track_id, y in ((0, 30), (1, 70)):
        row = picture[round((y + 0.5) * factor), factor * 40 : factor * 100]
        colour = np.array(id_colour(track_id))
        assert (np.abs(row.astype(int) - colour).max(axis=1) < 40).mean() > 0.9
    background = picture[5, 5]
    assert background.min() == background.max() > 200  # lightened grey, not a track


def test_plot_without_background_uses_a_white_canvas(tmp_path: Path) -> None:
    folder = tmp_path / "Tracking_Result"
    write_result(folder, background=False)
    out = plot_trajectories(folder, tmp_path / "tracks.png")
    picture = cv2.imread(str(out))
    assert picture is not None
    assert picture[2, 2].tolist() == [255, 255, 255]


def test_plot_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"tracking\.txt"):
        plot_trajectories(tmp_path)
    folder = tmp_path / "Tracking_Result"
    write_result(folder)
    with pytest.raises(OutputError, match="missing"):
        plot_trajectories(folder, tmp_path / "missing" / "x.png")


def test_draw_tracks_upto_leaves_later_frames_out() -> None:
    table = pd.DataFrame(
        {"xBody": [10.0, 50.0, 90.0], "yBody": [20.0] * 3, "imageNumber": [0, 1, 2], "id": [3] * 3}
    )
    image = np.zeros((40, 100, 3), np.uint8)
    draw_tracks(image, table, upto=1, labels=False)
    assert image[20, 30].any()
    assert not image[20, 70:].any()


def test_canvas_leaves_out_short_tracks_jumps_and_labels_of_many_ids() -> None:
    from batchtrack.plots import MAX_LABELS, TrajectoryCanvas

    background = np.full((100, 100), 255, np.uint8)
    canvas = TrajectoryCanvas(background, max_jump=20, min_length=5)
    scale = canvas.scale
    frames = np.arange(12)
    # id 0: long, with a jump of 60 px between frames 5 and 6; id 1: 3 positions only
    x0 = np.where(frames < 6, 10 + frames, 70 + frames).astype(float)
    for k in frames:
        ids = np.array([0, 1]) if k < 3 else np.array([0])
        xs = np.array([x0[k], 40.0])[: len(ids)]
        ys = np.array([20.0, 80.0])[: len(ids)]
        canvas.add(xs, ys, ids)
    picture = canvas.finish()
    plain = TrajectoryCanvas(background).image

    def drawn(x: float, y: float) -> bool:
        px, py = round((x + 0.5) * scale), round((y + 0.5) * scale)
        return bool((picture[py, px] != plain[py, px]).any())

    assert drawn(12, 20) and drawn(78, 20)  # both pieces of id 0
    assert not drawn(45, 20)  # the jump is not a line
    assert not drawn(40, 80)  # id 1 is too short to draw
    many = TrajectoryCanvas(background, min_length=1)
    for k in range(3):
        many.add(np.arange(MAX_LABELS + 1.0), np.full(MAX_LABELS + 1, 5.0 + k),
                 np.arange(MAX_LABELS + 1))  # fmt: skip
    assert (many.finish() == many.image).all()  # no label drawn past MAX_LABELS ids
