"""FastTrack compatibility on real data: the zebrafish sample and its reference results."""

from __future__ import annotations

import numpy as np
import pytest

from batchtrack import track
from batchtrack.io.results import read_tracking
from batchtrack.metrics import identity_score
from batchtrack.schema import TRACKING_COLUMNS

ANGLES = ["tHead", "tTail", "tBody"]


@pytest.fixture(scope="module")
def result(tmp_path_factory, zebrafish_dir, zebrafish_params):
    import shutil

    movie = tmp_path_factory.mktemp("zf") / "images"
    shutil.copytree(zebrafish_dir / "images", movie)
    table = track(movie, zebrafish_params, background=zebrafish_dir / "background.pgm")
    return movie, table


def paired(ours, reference):
    """Our rows in the reference's order, paired by frame and body position."""
    out = []
    for k, ref_k in reference.groupby("imageNumber", sort=True):
        our_k = ours[ours.imageNumber == k]
        d = np.hypot(
            ref_k.xBody.to_numpy()[:, None] - our_k.xBody.to_numpy()[None, :],
            ref_k.yBody.to_numpy()[:, None] - our_k.yBody.to_numpy()[None, :],
        )
        out.append(our_k.iloc[d.argmin(axis=1)])
    import pandas as pd

    return pd.concat(out)


def close(ours, reference, columns):
    a, b = ours[columns].to_numpy(), reference[columns].to_numpy()
    diff = np.abs(a - b)
    for i, c in enumerate(columns):
        if c in ANGLES:
            diff[:, i] = np.minimum(diff[:, i], 2 * np.pi - diff[:, i])
    # The reference holds 6 significant digits: allow their rounding on top of 1e-3.
    return diff <= 1e-3 + 5e-6 * np.abs(b)


def test_body_columns_match_the_verified_reference(result, zebrafish_dir) -> None:
    _, table = result
    reference = read_tracking(zebrafish_dir / "reference_tracking.txt")
    columns = ["xBody", "yBody", "tBody", "areaBody", "perimeterBody"]
    ok = close(paired(table, reference), reference, columns).all(axis=1)
    assert ok.mean() >= 0.995, f"only {ok.mean():.2%} of objects match the reference"


def test_every_column_matches_fasttrack_output(result, zebrafish_dir) -> None:
    _, table = result
    reference = read_tracking(zebrafish_dir / "fasttrack_output.txt")
    assert len(table) == len(reference)
    ok = close(paired(table, reference), reference, list(TRACKING_COLUMNS[:21]))
    assert ok.mean(axis=0).min() >= 0.99
    assert ok.all(axis=1).mean() >= 0.99
    # Identities too: FastTrack's own linking, row for row.
    assert (table.id.to_numpy() == reference.id.to_numpy()).mean() >= 0.99


def test_identity_switches_against_the_verified_reference(result, zebrafish_dir) -> None:
    _, table = result
    score = identity_score(table, read_tracking(zebrafish_dir / "reference_tracking.txt"))
    print(f"zebrafish-100 vs reference: {score}")
    assert score.switches <= 10  # what FastTrack itself gets there
    assert score.idf1 >= 0.92


def test_result_folder_matches_the_returned_table(result) -> None:
    movie, table = result
    folder = movie / "Tracking_Result"
    assert {p.name for p in folder.iterdir()} >= {
        "tracking.txt", "tracking.db", "background.pgm", "cfg.toml", "log",
    }  # fmt: skip
    written = read_tracking(folder)
    np.testing.assert_allclose(written.to_numpy(), table.to_numpy(), rtol=1e-5, atol=1e-9)
