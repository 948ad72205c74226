"""Tracking accuracy against synthetic ground truth, frozen so that regressions fail.

Recorded values (300 frames, 512×512 px, seed 1, demo parameters, match gate 5 px):

=======  ======  ========
objects  IDF1    switches
=======  ======  ========
10       0.9785  9
25       0.8858  30
50       0.6608  154
=======  ======  ========

Misses and many switches at high density come from touching fish merging into one blob, as
in FastTrack (one contour, one object).
"""

from __future__ import annotations

import pytest

from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.metrics import identity_score
from batchtrack.movie import track
from batchtrack.params import Parameters
from batchtrack.synth import make_movie, write_sequence

RECORDED = {10: (0.9785, 9), 25: (0.8858, 30), 50: (0.6608, 154)}


@pytest.mark.parametrize("n_objects", sorted(RECORDED))
def test_accuracy_does_not_regress(tmp_path, n_objects: int) -> None:
    movie = make_movie(300, n_objects, shape=(512, 512), seed=1)
    folder = write_sequence(movie, tmp_path / "movie")
    table = track(folder, Parameters(**DEMO_PARAMETERS), background=folder / "background.pgm")
    score = identity_score(table, movie.ground_truth, max_distance=5.0)
    print(f"{n_objects} objects: {score}")
    idf1, switches = RECORDED[n_objects]
    assert score.idf1 >= idf1 - 0.005
    assert score.switches <= switches + 2
