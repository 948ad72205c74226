"""Synthetic images of known objects, for tests, benchmarks and demonstrations."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["synthetic_image"]


def synthetic_image(
    shape: tuple[int, int],
    ellipses: Iterable[tuple[float, float, float, float, float]],
    *,
    dtype: str = "uint8",
    background: float = 20.0,
    foreground: float = 200.0,
    noise: float = 5.0,
    seed: int = 0,
) -> np.ndarray:
    """An image of bright ellipses of known size on a dark background, with Gaussian noise.

    Parameters
    ----------
    shape : (H, W)
        Image size.
    ellipses : iterable of (x, y, a, b, angle)
        Centre (column, row) [px], semi-axes along and across the major axis [px], angle of
        the major axis counter-clockwise from the x axis [deg] (the ``orientation`` column).
        True area: π·a·b.
    dtype : {"uint8", "uint16", "float32"}
        Data type; 16-bit images use 256 times the 8-bit grey levels.
    background, foreground, noise : float
        Grey levels (8-bit scale) and noise standard deviation.
    seed : int
        Seed of the noise.

    Returns
    -------
    ndarray, shape (H, W)

    Examples
    --------
    >>> image = synthetic_image((64, 64), [(32, 32, 12, 6, 30)], dtype="uint16")
    >>> image.dtype, image.shape
    (dtype('uint16'), (64, 64))
    """
    from skimage.draw import ellipse

    image = np.full(shape, background, np.float32)
    for x, y, a, b, angle in ellipses:
        rows, cols = ellipse(y, x, b, a, shape=shape, rotation=math.radians(angle))
        image[rows, cols] = foreground
    image += np.random.default_rng(seed).normal(0.0, noise, shape).astype(np.float32)
    scale = 256.0 if dtype == "uint16" else 1.0
    top = {"uint8": 255.0, "uint16": 65535.0}.get(dtype, np.inf)
    return np.clip(image * scale, 0, top).astype(dtype)

