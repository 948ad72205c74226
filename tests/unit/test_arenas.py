from __future__ import annotations

import cv2
import numpy as np
import pytest

from batchtrack.arenas import (
    Arena,
    arena_from_mapping,
    arena_of,
    arena_to_mapping,
    check_labels,
    draw_arenas,
    find_wells,
    grid_arenas,
    parse_grid,
    rasterize,
)
from batchtrack.errors import ParameterError
from batchtrack.io.arenas import read_arena_file, write_arena_file


def plate(rows: int = 3, cols: int = 4, *, radius: int = 38, seed: int = 0) -> np.ndarray:
    """A light plate with dark-rimmed circular wells, as a camera sees a multi-well plate."""
    rng = np.random.default_rng(seed)
    image = np.full((rows * 100 + 40, cols * 100 + 40), 200, np.uint8)
    for r in range(rows):
        for c in range(cols):
            centre = (70 + 100 * c, 70 + 100 * r)
            cv2.circle(image, centre, radius, 90, 4)
            cv2.circle(image, centre, radius - 2, 230, -1)
    noise = rng.normal(0, 3, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_shapes_rasterize_in_order_and_points_fall_in_their_arena() -> None:
    arenas = [
        Arena("rectangle", ((0, 0), (50, 40))),
        Arena("circle", ((80, 20),), radius=15),
        Arena("polygon", ((10, 50), (60, 50), (35, 79))),
    ]
    labels = rasterize(arenas, (80, 100))
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert (labels == 1).sum() == 50 * 40
    assert arena_of(labels, np.array([5, 80, 35, 99]), np.array([5, 20, 60, 79])).tolist() == [
        1, 2, 3, 0,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("arenas", "message"),
    [
        ([], "no arena"),
        ([Arena("circle", ((10, 10),), radius=20)], "outside the 100×80 px frame"),
        ([Arena("rectangle", ((0, 0), (50, 50))), Arena("circle", ((40, 40),), radius=5)],
         "arena 2 in arenas.toml overlaps arena 1"),
    ],
)  # fmt: skip
def test_bad_shapes_are_refused_with_a_reason(arenas, message) -> None:
    with pytest.raises(ParameterError, match=message):
        rasterize(arenas, (80, 100), source="arenas.toml")


def test_invalid_shapes_say_what_they_need() -> None:
    with pytest.raises(ParameterError, match="radius > 0"):
        Arena("circle", ((1, 1),), radius=0)
    with pytest.raises(ParameterError, match="size > 0"):
        Arena("rectangle", ((5, 5), (5, 9)))
    with pytest.raises(ParameterError, match="at least 3 points"):
        Arena("polygon", ((0, 0), (1, 1)))


def test_label_images_are_checked_and_renumbered() -> None:
    labels = np.zeros((20, 30), np.uint16)
    labels[:, :10], labels[:, 20:] = 7, 3
    assert np.unique(check_labels(labels, (20, 30))).tolist() == [0, 1, 2]
    with pytest.raises(ParameterError, match=r"is 30×20 px but the frames are 40×20 px"):
        check_labels(labels, (20, 40), source="wells.png")
    with pytest.raises(ParameterError, match="has no arena"):
        check_labels(np.zeros((20, 30), np.uint8), (20, 30))


def test_grid_covers_the_frame_row_by_row() -> None:
    assert parse_grid("grid:2x3") == (2, 3)
    with pytest.raises(ParameterError, match="grid:ROWSxCOLS"):
        parse_grid("grid:2x")
    labels = rasterize(grid_arenas(2, 2, (100, 120)), (100, 120))
    assert (labels > 0).all()
    assert [labels[0, 0], labels[0, -1], labels[-1, 0], labels[-1, -1]] == [1, 2, 3, 4]


def test_find_wells_finds_the_twelve_wells_of_a_plate_in_row_order() -> None:
    background = plate(3, 4)
    wells = find_wells(background)
    assert len(wells) == 12
    centres = np.array([w.points[0] for w in wells])
    expected = np.array([(70 + 100 * c, 70 + 100 * r) for r in range(3) for c in range(4)])
    assert np.abs(centres - expected).max() <= 3
    assert all(30 <= w.radius <= 38 for w in wells)
    labels = rasterize(wells, background.shape)
    assert np.unique(labels).size == 13
    picture = draw_arenas(background, labels)
    assert picture.shape == (*background.shape, 3)


def test_find_wells_falls_back_to_rectangular_tanks() -> None:
    background = np.full((300, 400), 60, np.uint8)
    background[20:140, 20:190] = 210
    background[20:140, 210:380] = 210
    background[160:280, 20:190] = 210
    tanks = find_wells(background)
    assert len(tanks) == 3 and all(t.kind == "rectangle" for t in tanks)
    assert tanks[0].points[0] == (22.0, 22.0)


def test_a_uniform_background_has_no_well() -> None:
    assert find_wells(np.full((200, 200), 128, np.uint8)) == []


def test_arenas_that_touch_nowhere_are_searched_at_once_with_the_same_objects() -> None:
    from batchtrack.arena_tracking import arena_regions
    from batchtrack.detect import find_in_regions

    rng = np.random.default_rng(7)
    labels = np.zeros((240, 320), np.int32)
    for k, (cx, cy) in enumerate([(60, 60), (160, 60), (260, 60), (60, 180), (160, 180)]):
        cv2.circle(labels, (cx, cy), 45, k + 1, -1)
    binary = np.where(rng.random(labels.shape) < 0.08, 255, 0).astype(np.uint8)
    binary = cv2.dilate(binary, np.ones((3, 3), np.uint8))  # blobs, many crossing the edges
    regions = arena_regions(labels)
    assert regions.labels is not None  # separated: one search
    highs = [50.0, 80.0, 1e9, 30.0, 200.0]
    at_once = find_in_regions(binary, regions, min_area=2, max_areas=highs)
    alone = find_in_regions(binary, list(regions), min_area=2, max_areas=highs)
    assert sum(len(c) for c, _ in at_once) > 50
    for (got, got_areas), (want, want_areas) in zip(at_once, alone, strict=True):
        np.testing.assert_array_equal(got_areas, want_areas)
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    touching = labels.copy()
    touching[55:65, 100:120] = 1  # arena 1 now touches arena 2
    assert arena_regions(touching).labels is None


def test_written_shapes_read_back_to_the_same_arenas(tmp_path) -> None:
    arenas = [
        Arena("circle", ((40, 50),), radius=30, animals=2, name="left dish"),
        Arena("rectangle", ((100, 10), (180, 90))),
        Arena("polygon", ((10, 100), (60, 100), (35, 140))),
    ]
    path = write_arena_file(tmp_path / "arenas.toml", [arena_to_mapping(a) for a in arenas])
    back = [arena_from_mapping(item, k, str(path))
            for k, item in enumerate(read_arena_file(path), 1)]  # fmt: skip
    assert back == arenas


def test_writing_no_arena_or_not_toml_is_refused(tmp_path) -> None:
    with pytest.raises(ParameterError, match="no arena"):
        write_arena_file(tmp_path / "a.toml", [])
    with pytest.raises(ParameterError, match=r"must end in \.toml"):
        write_arena_file(tmp_path / "a.txt", [{"shape": "circle", "centre": [5, 5], "radius": 2}])
