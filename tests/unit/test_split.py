"""Tests of batchtrack.split: touching animals split, fragments of one animal merged."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from batchtrack.detect import find_objects, object_features
from batchtrack.schema import AREA_BODY, X_BODY, Y_BODY
from batchtrack.split import (
    FRAGMENT,
    merge_fragments,
    split_blobs,
    split_objects,
    typical_area,
)


def blobs(*boxes: tuple[int, int, int, int], shape: tuple[int, int] = (120, 200)):
    """Contours and areas of the filled rectangles (x0, y0, x1, y1), as detection finds them."""
    image = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in boxes:
        cv2.rectangle(image, (x0, y0), (x1, y1), 255, -1)
    return find_objects(image, min_area=0, max_area=1e9)


def centres(contours, areas) -> np.ndarray:
    features = object_features(contours, areas)
    return features[np.argsort(features[:, X_BODY]), :][:, [X_BODY, Y_BODY]]


def test_typical_area_is_the_median() -> None:
    assert typical_area(np.array([90.0, 100.0, 400.0])) == 100.0
    assert typical_area(np.empty(0)) == 0.0


def test_two_touching_animals_are_split_at_their_junction() -> None:
    # Two 40×10 animals end to end: one 80×10 blob.
    contours, areas = blobs((10, 50, 49, 59), (50, 50, 89, 59))
    assert len(contours) == 1
    pieces, piece_areas, split = split_blobs(contours, areas, typical=400.0, expected=2)
    assert len(pieces) == 2 and split.tolist() == [True, True]
    np.testing.assert_allclose(centres(pieces, piece_areas), [[29.5, 54.5], [69.5, 54.5]], atol=1)
    # The pieces' features are those of any object of that shape.
    single, single_area = blobs((10, 50, 49, 59))
    np.testing.assert_allclose(
        object_features(pieces, piece_areas)[:, AREA_BODY].max(),
        object_features(single, single_area)[0, AREA_BODY],
        rtol=0.1,
    )


def test_a_blob_three_times_the_typical_area_holds_three_animals() -> None:
    contours, areas = blobs((10, 50, 129, 59))
    pieces, _, split = split_blobs(contours, areas, typical=areas[0] / 3)
    assert len(pieces) == 3 and split.all()


def test_a_large_animal_is_not_split_when_the_frame_already_holds_n() -> None:
    contours, areas = blobs((10, 10, 69, 19), (10, 60, 39, 69))  # 1.9 and 1 typical areas
    typical = areas.min()
    kept, _, split = split_blobs(contours, areas, typical=typical, expected=2)
    assert len(kept) == 2 and not split.any()
    # With one animal missing, the large blob is the one that holds two.
    kept, kept_areas, split = split_blobs(contours, areas, typical=typical, expected=3)
    assert len(kept) == 3 and split.sum() == 2
    assert kept_areas[split].max() == pytest.approx(areas.max() / 2, rel=0.2)


def test_nothing_is_split_without_a_typical_area() -> None:
    contours, areas = blobs((10, 50, 129, 59))
    kept, _, split = split_blobs(contours, areas, typical=0.0, expected=5)
    assert len(kept) == 1 and not split.any()


def test_close_fragments_of_one_animal_are_merged_far_ones_are_not() -> None:
    # An animal cut in two by a 2 px gap, and a fragment-sized object far away.
    contours, areas = blobs((10, 50, 29, 59), (32, 50, 49, 59), (150, 10, 165, 19))
    typical = 400.0
    assert (areas < FRAGMENT * typical).all()
    merged, merged_areas = merge_fragments(contours, areas, typical=typical)
    assert len(merged) == 2
    assert merged_areas.max() == pytest.approx(areas[:2].sum(), rel=0.15)


def test_fragments_larger_than_one_animal_together_stay_apart() -> None:
    contours, areas = blobs((10, 50, 29, 59), (32, 50, 49, 59))
    merged, _ = merge_fragments(contours, areas, typical=float(areas.sum()) / 1.5)
    assert len(merged) == 2


def test_small_leftovers_are_dropped_and_the_split_is_deterministic() -> None:
    contours, areas = blobs((10, 50, 89, 59), (150, 10, 152, 12))
    first = split_objects(contours, areas, typical=400.0, expected=2, min_area=20)
    again = split_objects(contours, areas, typical=400.0, expected=2, min_area=20)
    assert len(first[0]) == 2 and first[2].all()
    for a, b in zip(first[0], again[0], strict=True):
        np.testing.assert_array_equal(a, b)
