"""Motion prediction for linking: a constant-velocity model over the tracked spot.

Used when the number of animals is known (``animals > 0``): each remembered object carries a
velocity, smoothed over its past steps; the linking cost then measures the distance from where
the object is *predicted* to be, not from where it was last seen, so two animals that cross
keep their ids. With ``animals = 0`` linking uses FastTrack's cost (no prediction).

The model is two pure functions on arrays, used by :class:`batchtrack.link.Linker`:
:func:`predict` moves the remembered states, :func:`update_velocity` learns from a new match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConstantVelocity", "predict", "update_velocity"]


@dataclass(frozen=True)
class ConstantVelocity:
    """Constant-velocity prediction.

    Attributes
    ----------
    spot : int
        Spot whose motion is followed (0 head, 1 tail, 2 body).
    smoothing : float
        Weight of the newest step in the velocity estimate (exponential smoothing), in (0, 1].
    horizon : int
        A lost object is extrapolated for at most this many frames, then held still.
    """

    spot: int = 2
    smoothing: float = 0.6
    horizon: int = 5


def predict(
    state: np.ndarray, velocity: np.ndarray, lost: np.ndarray, model: ConstantVelocity
) -> np.ndarray:
    """Where remembered objects should be in the next frame.

    Parameters
    ----------
    state : ndarray, shape (N, 21)
        Last known features.
    velocity : ndarray, shape (N, 2)
        Velocity (px per frame) of each object.
    lost : ndarray of int, shape (N,)
        Frames since each object was last seen (0 = seen in the previous frame).
    model : ConstantVelocity

    Returns
    -------
    ndarray, shape (N, 21)
        ``state`` with every spot moved by ``velocity × min(lost + 1, horizon)``.

    Examples
    --------
    >>> state = np.zeros((1, 21)); state[0, 6:8] = 10, 20
    >>> predict(state, np.array([[2.0, -1.0]]), np.array([0]), ConstantVelocity())[0, 6:8]
    array([12., 19.])
    """
    steps = np.minimum(lost + 1, model.horizon).astype(np.float64)[:, None]
    out = state.copy()
    spots = out[:, :9].reshape(-1, 3, 3)  # (x, y, angle) of head, tail and body: a view
    spots[:, :, :2] += (velocity * steps)[:, None, :]
    return out


def update_velocity(
    before: np.ndarray,
    after: np.ndarray,
    velocity: np.ndarray,
    lost: np.ndarray,
    model: ConstantVelocity,
) -> np.ndarray:
    """Velocity after matching objects last seen at ``before`` to new features ``after``.

    Parameters
    ----------
    before, after : ndarray, shape (K, 21)
        Last known and new features of the matched objects.
    velocity : ndarray, shape (K, 2)
        Their velocity so far.
    lost : ndarray of int, shape (K,)
        Frames they had been unseen before this match.
    model : ConstantVelocity

    Returns
    -------
    ndarray, shape (K, 2)
    """
    x = 3 * model.spot
    step = after[:, x : x + 2] - before[:, x : x + 2]
    step /= (lost + 1).astype(np.float64)[:, None]
    return model.smoothing * step + (1.0 - model.smoothing) * velocity
