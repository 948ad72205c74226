"""Linking: give each detected object the identity of an object of the previous frames.

FastTrack's rule (see ``docs/fasttrack-compatibility.md``): for previous objects ``i`` (lost
ones included, at their last known state) and current objects ``j``::

    cost = d/normDist + |Δθ|/normAngle + |Δarea|/normArea + |Δperimeter|/normPerim

with ``d`` the distance between the tracked spots and ``Δθ`` the smallest angle difference of
the spots' directions; a term whose normalisation is 0 is left out; pairs with
``d >= maxDist`` are forbidden. The assignment first maximises the number of allowed pairs,
then minimises their total cost. Unmatched previous objects stay lost (at most ``maxTime``
frames), unmatched current objects get new ids.

With a known number of animals the :class:`Linker` measures distances from each remembered
object's position predicted by :mod:`batchtrack.motion` (constant velocity) instead.

The three pieces are separate: :func:`cost_matrix` builds the costs, :func:`solve` is the pure
assignment, :class:`Linker` keeps the memory of objects between frames.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .motion import ConstantVelocity, predict, update_velocity
from .schema import AREA_BODY, N_FEATURES, PERIMETER_BODY, SPOT_COLUMNS

if TYPE_CHECKING:
    from .params import Parameters

__all__ = ["LinkWeights", "Linker", "cost_matrix", "linear_sum_assignment", "solve"]


@dataclass(frozen=True)
class LinkWeights:
    """Linking parameters in the units the cost uses (angles in radians)."""

    spot: int = 0
    norm_dist: float = 1.0
    norm_angle: float = 0.0
    norm_area: float = 0.0
    norm_perim: float = 0.0
    max_dist: float = 100.0
    max_time: int = 100

    @classmethod
    def from_params(cls, params: Parameters) -> LinkWeights:
        """Build from FastTrack-named parameters (``normAngle`` in degrees)."""
        return cls(
            spot=params.spot,
            norm_dist=params.normDist,
            norm_angle=np.deg2rad(params.normAngle),
            norm_area=params.normArea,
            norm_perim=params.normPerim,
            max_dist=params.maxDist,
            max_time=params.maxTime,
        )


def _angle_difference(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Smallest signed difference ``alpha - beta`` in (-π, π]."""
    return -(((alpha % (2 * np.pi)) - (beta % (2 * np.pi)) + np.pi) % (2 * np.pi) - np.pi)


def cost_matrix(
    previous: np.ndarray, current: np.ndarray, weights: LinkWeights
) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise linking costs and the pairs allowed by the distance gate.

    Parameters
    ----------
    previous : ndarray, shape (N, 21)
        Features of the previous objects (lost ones at their last known state).
    current : ndarray, shape (M, 21)
        Features of the current objects.
    weights : LinkWeights
        Normalisations, tracked spot and distance gate.

    Returns
    -------
    cost : ndarray of float64, shape (N, M)
    allowed : ndarray of bool, shape (N, M)
        ``distance < max_dist``.
    """
    xc, yc, tc = SPOT_COLUMNS[weights.spot]
    dx = previous[:, None, xc] - current[None, :, xc]
    dy = previous[:, None, yc] - current[None, :, yc]
    distance = np.sqrt(dx * dx + dy * dy)
    cost = np.zeros_like(distance)
    terms = (
        (distance, weights.norm_dist),
        (lambda: np.abs(_angle_difference(previous[:, None, tc], current[None, :, tc])),
         weights.norm_angle),
        (lambda: np.abs(previous[:, None, AREA_BODY] - current[None, :, AREA_BODY]),
         weights.norm_area),
        (lambda: np.abs(previous[:, None, PERIMETER_BODY] - current[None, :, PERIMETER_BODY]),
         weights.norm_perim),
    )  # fmt: skip
    for term, norm in terms:
        if norm != 0:
            cost += (term() if callable(term) else term) / norm
    return cost, distance < weights.max_dist


def solve(cost: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment: most allowed pairs first, then least total cost.

    Parameters
    ----------
    cost : ndarray, shape (N, M)
        Pair costs (non-negative).
    allowed : ndarray of bool, shape (N, M)
        Pairs that may be linked.

    Returns
    -------
    rows, cols : ndarray of intp
        Matched pairs, forbidden pairs removed.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 2.0], [2.0, 1.0]])
    >>> solve(cost, np.ones((2, 2), bool))
    (array([0, 1]), array([0, 1]))
    """
    if cost.size == 0 or not allowed.any():
        empty = np.empty(0, np.intp)
        return empty, empty
    linear_sum_assignment = _linear_sum_assignment()
    # A forbidden pair costs more than every allowed pair together, so the solver only uses
    # one where no allowed pair is left; such pairs are then dropped.
    big = float(cost[allowed].sum()) + 1.0
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SciPy's ``linear_sum_assignment(cost)`` (least total cost), without importing
    ``scipy.optimize`` (see :func:`_linear_sum_assignment`).

    Examples
    --------
    >>> linear_sum_assignment(np.array([[1.0, 0.0], [0.0, 1.0]]))
    (array([0, 1]), array([1, 0]))
    """
    return _linear_sum_assignment()(cost)


@functools.cache
def _linear_sum_assignment() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """SciPy's ``linear_sum_assignment``, loaded without the rest of ``scipy.optimize``.

    The function is SciPy's compiled ``scipy.optimize._lsap`` module (what
    ``scipy.optimize.linear_sum_assignment`` is). Importing ``scipy.optimize`` to reach it
    takes 0.3 s on a quiet machine and over 1 s on a loaded one, more than linking a
    2000-frame movie; loading the one extension module takes 10 ms. Any surprise (another
    SciPy layout) falls back to the ordinary import.
    """
    import importlib.machinery
    import importlib.util

    name = "scipy.optimize._lsap"
    module = sys.modules.get(name)
    if module is None:
        try:
            spec = importlib.util.find_spec("scipy")
            assert spec is not None and spec.origin is not None
            (path,) = (Path(spec.origin).parent / "optimize").glob("_lsap.*")
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            found = importlib.util.spec_from_loader(name, loader)
            assert found is not None
            module = importlib.util.module_from_spec(found)
            loader.exec_module(module)
        except (AssertionError, ValueError, ImportError, OSError, AttributeError):
            from scipy.optimize import linear_sum_assignment

            return linear_sum_assignment
    function: Callable[..., tuple[np.ndarray, np.ndarray]] = module.linear_sum_assignment
    return function


class Linker:
    """Frame-by-frame identity assignment with a memory of lost objects.

    Parameters
    ----------
    weights : LinkWeights
        Linking parameters.
    motion : ConstantVelocity, optional
        Measure distances from each remembered object's predicted position
        (:mod:`batchtrack.motion`); None (FastTrack's rule) from its last known one.

    Examples
    --------
    >>> import numpy as np
    >>> linker = Linker(LinkWeights(spot=2, max_dist=10))
    >>> from batchtrack.schema import X_BODY
    >>> frame = np.zeros((2, 21)); frame[:, X_BODY] = [0, 50]
    >>> linker.step(frame)
    (array([0, 1]), array([0, 1]))
    >>> frame[:, X_BODY] = [52, 1]
    >>> linker.step(frame)
    (array([1, 0]), array([0, 1]))
    """

    def __init__(self, weights: LinkWeights, *, motion: ConstantVelocity | None = None) -> None:
        self.weights = weights
        self.motion = motion
        self._velocity = np.empty((0, 2))
        self._state = np.empty((0, N_FEATURES))  # last known features per remembered object
        self._ids = np.empty(0, np.int64)
        self._lost = np.empty(0, np.int64)
        self._groups = np.empty(0, np.int64)
        self._next_id = 0

    def step(
        self, features: np.ndarray, groups: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Link one frame's objects to the remembered ones.

        Parameters
        ----------
        features : ndarray, shape (M, 21)
            The frame's objects, in detection order.
        groups : ndarray of int, shape (M,), optional
            The group of each object (its arena): an object is only linked to remembered
            objects of its own group, as if each group had a linker of its own.

        Returns
        -------
        order : ndarray of intp, shape (M,)
            Row indices into ``features`` sorted by id (the order rows are written in).
        ids : ndarray of int64, shape (M,)
            The id of each row of ``features[order]``, increasing.
        """
        m = len(features)
        ids = np.full(m, -1, np.int64)
        matched_prev = np.zeros(len(self._ids), bool)
        if len(self._ids) and m:
            previous = self._state
            if self.motion is not None:
                previous = predict(self._state, self._velocity, self._lost, self.motion)
            cost, allowed = cost_matrix(previous, features, self.weights)
            if groups is not None:
                allowed &= self._groups[:, None] == groups[None, :]
            rows, cols = solve(cost, allowed)
            ids[cols] = self._ids[rows]
            matched_prev[rows] = True
            if self.motion is not None:
                self._velocity[rows] = update_velocity(
                    self._state[rows], features[cols], self._velocity[rows], self._lost[rows],
                    self.motion,
                )  # fmt: skip
            self._state[rows] = features[cols]
        new = np.flatnonzero(ids < 0)
        ids[new] = np.arange(self._next_id, self._next_id + new.size)
        self._next_id += new.size

        lost = np.where(matched_prev, 0, self._lost + 1)
        keep = lost <= self.weights.max_time
        self._state = np.concatenate([self._state[keep], features[new]])
        self._ids = np.concatenate([self._ids[keep], ids[new]])
        self._lost = np.concatenate([lost[keep], np.zeros(new.size, np.int64)])
        self._velocity = np.concatenate([self._velocity[keep], np.zeros((new.size, 2))])
        if groups is not None:
            self._groups = np.concatenate([self._groups[keep], np.asarray(groups)[new]])
        order = np.argsort(ids, kind="stable")
        return order, ids[order]
