from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from batchtrack.arenas import make_arena_set
from batchtrack.errors import ParameterError
from batchtrack.io.arenas import read_arena_file, write_arenas_csv

SHAPES = """
[[arena]]
shape = "circle"
centre = [50, 50]
radius = 40
animals = 2

[[arena]]
shape = "rectangle"
corner = [110, 10]
size = [80, 80]
name = "tank B"

[[arena]]
shape = "polygon"
points = [[10, 110], [90, 110], [50, 190]]
"""


def test_a_toml_file_of_shapes_gives_the_arenas_and_their_counts(tmp_path: Path) -> None:
    path = tmp_path / "arenas.toml"
    path.write_text(SHAPES)
    arenas = make_arena_set(str(path), (200, 200), content=read_arena_file(path))
    assert arenas.count == 3 and [a.kind for a in arenas.arenas] == [
        "circle", "rectangle", "polygon",
    ]  # fmt: skip
    assert arenas.animals(4) == [2, 1, 1]
    with pytest.raises(ParameterError, match="cannot be split evenly over the 2 arenas"):
        arenas.animals(5)
    rows = arenas.rows([[0, 1], [2], [3]], arenas.animals(4))
    write_arenas_csv(tmp_path / "arenas.csv", rows)
    text = (tmp_path / "arenas.csv").read_text().splitlines()
    assert text[0] == "arena,name,shape,area_px,animals,ids"
    assert text[1].startswith("1,arena_1,circle,") and text[1].endswith(",2,0 1")
    assert text[2].startswith("2,tank B,rectangle,6400,1,2")


def test_a_label_image_file_gives_its_arenas(tmp_path: Path) -> None:
    labels = np.zeros((60, 80), np.uint8)
    labels[:, :30], labels[:, 50:] = 1, 2
    cv2.imwrite(str(tmp_path / "wells.png"), labels)
    content = read_arena_file(tmp_path / "wells.png")
    assert make_arena_set(str(tmp_path / "wells.png"), (60, 80), content=content).count == 2
    with pytest.raises(ParameterError, match=r"wells.png is 80×60 px but the frames are 90×60"):
        make_arena_set(str(tmp_path / "wells.png"), (60, 90), content=content)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = 'x'", "has no \\[\\[arena\\]\\] table"),
        ("[[arena]]\nshape = 'star'", "arena 1 of .*: shape must be one of circle, rectangle"),
        ("[[arena]]\nshape = 'circle'\ncentre = [5, 5]", "arena 1 of .*: missing 'radius'"),
        ("[[arena]]\nshape = 'rectangle'\ncorner = [5]\nsize = [2, 2]", "two numbers"),
        ("[[arena", "is not valid TOML"),
        ("[[arena]]\nshape = 'rectangle'\ncorner = [150, 150]\nsize = [100, 100]",
         "outside the 200×200 px frame"),
        ("[[arena]]\nshape = 'circle'\ncentre = [50, 50]\nradius = 30\n"
         "[[arena]]\nshape = 'circle'\ncentre = [70, 50]\nradius = 30", "overlaps arena 1"),
    ],
)  # fmt: skip
def test_bad_arena_files_say_which_arena_and_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=message):
        make_arena_set(str(path), (200, 200), content=read_arena_file(path))


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist; give a TOML file of shapes"):
        read_arena_file(tmp_path / "nope.toml")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ParameterError, match="neither a TOML file of shapes nor a readable"):
        read_arena_file(tmp_path / "notes.txt")


def test_auto_on_a_uniform_background_says_what_to_give_instead() -> None:
    with pytest.raises(ParameterError, match="found no circular well or rectangular tank"):
        make_arena_set("auto", (50, 50), background=np.full((50, 50), 9, np.uint8))
