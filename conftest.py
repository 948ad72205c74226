"""Doctests of the package (``--doctest-modules src/batchtrack``) run in a temporary folder
holding two small synthetic movies, ``exp/Run1/images`` and ``exp/Run2/images``, so that every
docstring example runs for real."""

from __future__ import annotations

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctest_movies(request: pytest.FixtureRequest, tmp_path_factory, monkeypatch) -> None:
    if not isinstance(request.node, DoctestItem):
        return
    from batchtrack.synth import make_movie, write_sequence

    folder = tmp_path_factory.mktemp("doctest")
    for run in ("Run1", "Run2"):
        write_sequence(make_movie(20, 3, shape=(96, 128), seed=1), folder / "exp" / run / "images")
    monkeypatch.chdir(folder)
