"""apply_edits on its own: each operation, orders of operations, edits that cannot apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from batchtrack.edits import Edit, EditError, Operation, apply_edits
from batchtrack.schema import TRACKING_COLUMNS


def table(frames: int = 6, ids: tuple[int, ...] = (0, 1, 2)) -> pd.DataFrame:
    """Every id in every frame; xBody = 100·id + frame, so each row says where it came from."""
    rows = []
    for k in range(frames):
        for i in ids:
            row = dict.fromkeys(TRACKING_COLUMNS, 0.0)
            row.update(imageNumber=k, id=i, xBody=100.0 * i + k, yBody=float(k))
            rows.append(row)
    return pd.DataFrame(rows).astype({"imageNumber": np.int64, "id": np.int64})


def origin(result: pd.DataFrame, track_id: int) -> list[int]:
    """The original id of each row of ``track_id``, frame after frame."""
    rows = result[result["id"] == track_id].sort_values("imageNumber")
    return (rows["xBody"] // 100).astype(int).tolist()


def test_no_edit_gives_the_table_back_unchanged():
    original = table()
    result = apply_edits(original, [])
    pd.testing.assert_frame_equal(result, original)
    assert result is not original


def test_swap_from_a_frame_on():
    result = apply_edits(table(), [Edit("swap", (0, 1), first=3)])
    assert origin(result, 0) == [0, 0, 0, 1, 1, 1]
    assert origin(result, 1) == [1, 1, 1, 0, 0, 0]
    assert origin(result, 2) == [2] * 6
    assert list(result.columns) == list(TRACKING_COLUMNS)


def test_swap_over_a_range_and_rows_stay_ordered_by_frame_then_id():
    result = apply_edits(table(), [Edit("swap", (0, 2), first=1, last=2)])
    assert origin(result, 0) == [0, 2, 2, 0, 0, 0]
    keys = list(zip(result["imageNumber"], result["id"]))
    assert keys == sorted(keys)
    assert result.index.tolist() == list(range(len(result)))


def test_rename_over_a_range_to_a_new_id():
    result = apply_edits(table(), [Edit("rename", (1, 7), first=2, last=3)])
    assert result[result["id"] == 7]["imageNumber"].tolist() == [2, 3]
    assert result[result["id"] == 1]["imageNumber"].tolist() == [0, 1, 4, 5]


def test_rename_from_a_frame_joins_a_broken_track():
    broken = table(ids=(0,))
    broken.loc[broken["imageNumber"] >= 3, "id"] = 5  # the tracker gave a new id at frame 3
    result = apply_edits(broken, [Edit("rename", (5, 0), first=3)])
    assert result["id"].tolist() == [0] * 6


def test_rename_onto_an_id_present_in_those_frames_is_refused():
    with pytest.raises(EditError, match=r"id 2 already has an object in frame\(s\) 4, 5"):
        apply_edits(table(), [Edit("rename", (1, 2), first=4)])


def test_merge_keeps_the_destination_where_both_exist():
    fragments = table(ids=(0, 1))
    fragments = fragments[~((fragments["id"] == 0) & (fragments["imageNumber"] < 2))]
    fragments = fragments[~((fragments["id"] == 1) & (fragments["imageNumber"] > 3))]
    # id 1: frames 0-3; id 0: frames 2-5; both in 2 and 3
    result = apply_edits(fragments, [Edit("merge", (0, 1))])
    assert result["id"].unique().tolist() == [1]
    assert result["imageNumber"].tolist() == [0, 1, 2, 3, 4, 5]
    assert origin(result, 1) == [1, 1, 1, 1, 0, 0]


def test_delete_a_range_and_a_single_object():
    result = apply_edits(table(), [Edit("delete", (2,), first=1, last=3)])
    assert result[result["id"] == 2]["imageNumber"].tolist() == [0, 4, 5]
    single = apply_edits(table(), [Edit("delete", (0,), first=4, last=4)])
    assert len(single) == len(table()) - 1
    assert 4 not in single[single["id"] == 0]["imageNumber"].tolist()


def test_edits_apply_in_order():
    swap_then_delete = [Edit("swap", (0, 1), first=3), Edit("delete", (0,), first=3)]
    delete_then_swap = [Edit("delete", (0,), first=3), Edit("swap", (0, 1), first=3)]
    first = apply_edits(table(), swap_then_delete)
    second = apply_edits(table(), delete_then_swap)
    assert origin(first, 0) == [0, 0, 0] and origin(first, 1) == [1, 1, 1, 0, 0, 0]
    assert origin(second, 0) == [0, 0, 0, 1, 1, 1] and origin(second, 1) == [1, 1, 1]
    assert len(first) == len(second) == len(table()) - 3


def test_applying_in_two_steps_equals_applying_at_once():
    edits = [
        Edit("swap", (0, 1), first=2), Edit("rename", (2, 9), first=1, last=4),
        Edit("merge", (9, 2)), Edit("delete", (1,), first=5),
    ]  # fmt: skip
    once = apply_edits(table(), edits)
    twice = apply_edits(apply_edits(table(), edits[:2]), edits[2:])
    pd.testing.assert_frame_equal(once, twice)


def test_swap_twice_is_the_identity():
    edits = [Edit("swap", (0, 1), first=2), Edit("swap", (0, 1), first=2)]
    pd.testing.assert_frame_equal(apply_edits(table(), edits), table())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (Edit("swap", (0, 9), first=0), None),  # one of two ids is enough for a swap
        (Edit("swap", (8, 9)), "neither id 8 nor id 9 has an object from frame 0"),
        (Edit("rename", (7, 1)), "id 7 has no object from frame 0"),
        (Edit("merge", (0, 7)), "id 7 has no object in all frames"),
        (Edit("delete", (4,), first=2, last=3), "delete 4 frames 2–3: id 4 has no object in"),
        (Edit("delete", (0,), first=10), "id 0 has no object from frame 10"),
    ],
)
def test_an_id_without_objects_is_a_clear_error_and_the_table_is_unchanged(edit, message):
    original = table()
    before = original.copy()
    if message is None:
        apply_edits(original, [edit])
    else:
        with pytest.raises(EditError, match=message):
            apply_edits(original, [Edit("swap", (0, 1), first=1), edit])
    pd.testing.assert_frame_equal(original, before)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("split", (1, 2)), {}, "unknown edit 'split'; use one of swap, rename, merge, delete"),
        (("swap", (1,)), {}, "swap takes 2 id"),
        (("delete", (1, 2)), {}, "delete takes 1 id"),
        (("swap", (3, 3)), {}, "two different ids"),
        (("rename", (1, 2)), {"first": 5, "last": 4}, "empty"),
        (("merge", (1, 2)), {"first": 5}, "merge covers the whole movie"),
        (("delete", (-1,)), {}, "≥ 0"),
    ],
)
def test_invalid_edits_are_refused_when_made(args, kwargs, message):
    with pytest.raises(EditError, match=message):
        Edit(*args, **kwargs)


def test_records_round_trip_and_describe():
    edit = Edit("rename", (7, 2), first=40, last=90, when="2026-01-01T00:00:00+00:00")
    assert Edit.from_record(edit.to_record()) == edit
    assert edit.describe() == "rename 7 2 frames 40–90"
    assert Edit("swap", (3, 5), first=120).describe() == "swap 3 5 from frame 120"
    assert edit.operation is Operation.RENAME
    with pytest.raises(EditError, match="unknown key"):
        Edit.from_record({**edit.to_record(), "colour": "red"})
    with pytest.raises(EditError, match="lacks 'ids'"):
        Edit.from_record({"what": "swap"})
