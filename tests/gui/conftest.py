"""GUI tests run offscreen (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import pytest
from gui_support import FakeDialogs, write_movie


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    """``exp/Run0``…``exp/Run2``, each holding its sequence in ``images/``."""
    root = tmp_path / "exp"
    for i in range(3):
        write_movie(root / f"Run{i}" / "images", seed=i)
    return root


@pytest.fixture
def dialogs() -> FakeDialogs:
    return FakeDialogs()
