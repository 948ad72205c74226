"""Quality measures and verdicts on small tables with known defects (batchtrack.quality)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from batchtrack.quality import THRESHOLDS, assess


def tracks(n_frames: int = 100, n_ids: int = 3, area: float = 50.0) -> pd.DataFrame:
    """``n_ids`` animals seen in every frame, moving 1 px/frame, of constant area."""
    frames = np.repeat(np.arange(n_frames), n_ids)
    ids = np.tile(np.arange(n_ids), n_frames)
    x = frames + 30.0 * ids
    return pd.DataFrame({
        "imageNumber": frames, "id": ids, "xHead": x, "yHead": 10.0 * ids, "xBody": x,
        "yBody": 10.0 * ids, "areaBody": area,
    })  # fmt: skip


def test_a_clean_result_is_ok() -> None:
    quality = assess(tracks(), n_frames=100, animals=3, max_dist=20)
    assert quality.verdict == "ok" and quality.reasons == []
    assert (quality.ids, quality.fragments, quality.longest_gap) == (3, 3, 0)
    assert quality.expected_count_fraction == 1.0 and quality.as_dict()["thresholds"]


def test_each_defect_gives_its_reason() -> None:
    table = tracks()
    merged = table.copy()
    merged.loc[(merged.id == 0) & (merged.imageNumber % 20 == 10), "areaBody"] = 100.0
    assert "merges" in " ".join(assess(merged, n_frames=100, max_dist=20).reasons)
    drifting = table.assign(areaBody=50.0 + table.imageNumber * 0.5)
    assert "drifts by +" in " ".join(assess(drifting, n_frames=100, max_dist=20).reasons)
    lost = assess(table[table.imageNumber != 50], n_frames=100, skipped=[50], max_dist=20)
    assert lost.skipped_frames == 1 and "frames lost" in " ".join(lost.reasons)
    jumping = table.copy()
    jumping.loc[jumping.id == 1, "xHead"] += np.where(jumping.imageNumber % 2, 19.0, 0.0)[
        jumping.id == 1
    ]
    assert "jump close to maxDist" in " ".join(assess(jumping, n_frames=100, max_dist=20).reasons)
    extra = pd.concat([table, tracks(10).assign(id=7)])
    assert "4 ids for 3 animals" in assess(extra, n_frames=100, animals=3, max_dist=20).reasons
    fewer = table[~((table.id == 2) & (table.imageNumber > 50))]
    q = assess(fewer, n_frames=100, animals=3, max_dist=20)
    assert q.expected_count_fraction < THRESHOLDS["expected_count_fraction"]


def test_dropped_frames_from_timestamps() -> None:
    times = np.arange(100) * 0.04
    quality = assess(tracks(), n_frames=100, max_dist=20, times=times)
    assert quality.dropped_frames == 0
    times[50:] += 0.04
    assert assess(tracks(), n_frames=100, max_dist=20, times=times).dropped_frames == 1
