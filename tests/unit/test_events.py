"""find_events: each kind of event on small tables made for it, and on the zebrafish sample."""

from __future__ import annotations

import numpy as np
import pandas as pd

from batchtrack.events import EVENT_KINDS, EventThresholds, find_events
from batchtrack.io.results import read_tracking
from batchtrack.params import Parameters


def tracks(rows: list[tuple[int, int, float, float, float]]) -> pd.DataFrame:
    """(frame, id, x, y, area) rows."""
    return pd.DataFrame(rows, columns=["imageNumber", "id", "xBody", "yBody", "areaBody"])


def steady(frames: int, track_id: int, x: float, area: float = 100.0) -> list:
    return [(k, track_id, x + k, 10.0, area) for k in range(frames)]


def kinds(events: pd.DataFrame) -> list[tuple[str, int, int, tuple[int, ...]]]:
    return list(events[["kind", "frame", "last", "ids"]].itertuples(index=False, name=None))


def test_a_clean_result_has_no_event():
    table = tracks(steady(20, 0, 0) + steady(20, 1, 100))
    assert find_events(table, Parameters(animals=2)).empty


def test_ids_starting_and_ending_mid_movie():
    table = tracks(steady(20, 0, 0) + [r for r in steady(20, 1, 100) if 5 <= r[0] <= 12])
    assert kinds(find_events(table)) == [("start", 5, 5, (1,)), ("end", 12, 12, (1,))]


def test_a_gap_spans_the_missing_frames():
    table = tracks([r for r in steady(20, 0, 0) if not 7 <= r[0] <= 9])
    (event,) = find_events(table).itertuples()
    assert (event.kind, event.frame, event.last, event.ids) == ("gap", 7, 9, (0,))
    assert event.detail == "id 0 missing for 3 frame(s)"


def test_a_jump_close_to_max_dist():
    rows = steady(10, 0, 0)
    rows[6] = (6, 0, 6 + 170.0, 10.0, 100.0)  # there and back: two moves of about 170 px
    events = find_events(tracks(rows), Parameters(maxDist=200))
    assert kinds(events) == [("jump", 6, 6, (0,)), ("jump", 7, 7, (0,))]
    assert find_events(tracks(rows), Parameters(maxDist=250)).empty  # 170 < 0.8 × 250


def test_merged_and_split_blobs_from_the_area():
    rows = steady(12, 0, 0)
    for k in (3, 4, 5):
        rows[k] = (k, 0, k, 10.0, 210.0)  # two fish in one blob
    rows[9] = (9, 0, 9, 10.0, 40.0)
    events = find_events(tracks(rows))
    assert kinds(events) == [("merge", 3, 5, (0,)), ("split", 9, 9, (0,))]
    assert find_events(tracks(rows), thresholds=EventThresholds(merged=2.5, split=0.3)).empty


def test_frames_with_too_few_or_too_many_objects():
    rows = steady(10, 0, 0) + steady(10, 1, 100)
    rows = [r for r in rows if not (r[1] == 1 and r[0] in (4, 5))]
    rows.append((8, 2, 50.0, 50.0, 100.0))
    table = tracks(rows)
    counts = find_events(table, Parameters(animals=2)).query("kind == 'count'")
    assert kinds(counts) == [("count", 4, 5, ()), ("count", 8, 8, ())]
    assert counts["detail"].tolist() == ["1 objects for 2 animals", "3 objects for 2 animals"]
    assert find_events(table, Parameters(animals=0)).query("kind == 'count'").empty


def test_frames_of_the_movie_beyond_the_table():
    table = tracks(steady(10, 0, 0))
    events = find_events(table, Parameters(animals=1), frames=(0, 14))
    assert kinds(events) == [("end", 9, 9, (0,)), ("count", 10, 14, ())]


def test_events_are_ordered_and_typed_on_the_zebrafish_sample(zebrafish_dir, zebrafish_params):
    table = read_tracking(zebrafish_dir / "fasttrack_output.txt")
    events = find_events(table, zebrafish_params.with_updates(animals=14))
    assert list(events.columns) == ["kind", "frame", "last", "ids", "detail"]
    assert set(events["kind"]) <= set(EVENT_KINDS) and {"gap", "count"} <= set(events["kind"])
    order = list(zip(events["frame"], events["kind"].map(EVENT_KINDS.index)))
    assert order == sorted(order)
    assert (events["last"] >= events["frame"]).all()
    assert events["frame"].dtype == np.int64
    ids = set(table["id"])
    assert all(set(i) <= ids for i in events["ids"])


def test_an_empty_table_has_no_event():
    assert find_events(tracks([]), Parameters(animals=3)).empty
