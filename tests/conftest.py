"""Shared fixtures: the FastTrack sample data and its parameters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batchtrack.params import Parameters

ZEBRAFISH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "zebrafish-100"

#: Parameters that track the zebrafish sample well (docs/fasttrack-compatibility.md, sample data).
ZEBRAFISH_PARAMS = dict(
    thresh=60, lightBack=0, minArea=50, maxArea=170, morph=8, nBack=20, methBack=1, spot=0,
    normDist=20, normAngle=118, normArea=0, normPerim=0, maxDist=195, maxTime=40,
)  # fmt: skip


@pytest.fixture(scope="session")
def zebrafish_dir() -> Path:
    """The read-only sample folder (images, background, reference results)."""
    assert ZEBRAFISH.is_dir(), (
        f"sample data missing: {ZEBRAFISH}. These tests compare batchtrack with FastTrack on "
        "FastTrack's public zebrafish test sequence (100 frames, 14 fish, with FastTrack's "
        "own output and a hand-verified reference), kept in shared/data/zebrafish-100 beside "
        "this repository; put that folder there (CI clones shared/ beside main)"
    )
    return ZEBRAFISH


@pytest.fixture(scope="session")
def zebrafish_params() -> Parameters:
    return Parameters(**ZEBRAFISH_PARAMS)


@pytest.fixture
def zebrafish_copy(tmp_path: Path, zebrafish_dir: Path) -> Path:
    """A writable copy of the zebrafish image sequence."""
    target = tmp_path / "zebrafish"
    shutil.copytree(zebrafish_dir / "images", target)
    return target
