"""Pictures to check a segmentation: an overlay per image and a contact sheet per batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["CONTACT_SHEET", "PALETTE", "contact_sheet", "outline_overlay", "overlay_indices",
           "write_contact_sheet", "write_overlay"]  # fmt: skip

#: File name of a batch's contact sheet (beside ``summary.csv``).
CONTACT_SHEET = "contact_sheet.png"
_OUTLINE = (255, 255, 0)  # yellow, RGB
_TEXT = (0, 255, 255)  # cyan


def _stretch(image: np.ndarray) -> np.ndarray:
    """8-bit display of ``image``: the 0.5 and 99.5 percentiles mapped to 0 and 255."""
    sample = image[:: max(1, image.shape[0] // 128), :: max(1, image.shape[1] // 128)]
    low, high = np.percentile(sample.astype(np.float64), (0.5, 99.5))
    if not high > low:
        low, high = float(image.min()), float(image.max())
    if not high > low:
        return np.zeros(image.shape, np.uint8)
    if image.dtype in (np.uint8, np.uint16):  # a look-up table: one pass over the image
        levels = np.arange(256 if image.dtype == np.uint8 else 65536, dtype=np.float64)
        table = np.clip((levels - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
        return table[image]
    scaled = (image.astype(np.float64) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


#: Colours of an overlay's palette: grey levels 0…253, then the outline and the numbers.
_GREYS = 254
PALETTE = np.concatenate([
    np.repeat(np.round(np.arange(_GREYS) * 255 / (_GREYS - 1)).astype(np.uint8)[:, None], 3, 1),
    np.array([_OUTLINE, _TEXT], np.uint8),
])  # fmt: skip


def overlay_indices(image: np.ndarray, labels: np.ndarray, *, numbers: bool = True) -> np.ndarray:
    """:func:`outline_overlay` as indices into :data:`PALETTE` (one byte per pixel).

    0…253 are grey levels of the contrast-stretched image, 254 the outlines, 255 the
    numbers (drawn over a black shadow).
    """
    import cv2

    picture = (_stretch(image).astype(np.uint16) * (_GREYS - 1) // 255).astype(np.uint8)
    padded = np.pad(labels, 1, mode="edge")
    border = labels != 0
    border &= (
        (padded[:-2, 1:-1] != labels) | (padded[2:, 1:-1] != labels)
        | (padded[1:-1, :-2] != labels) | (padded[1:-1, 2:] != labels)
    )  # fmt: skip
    picture[border] = _GREYS
    count = int(labels.max(initial=0))
    if numbers and 0 < count <= 1000:
        flat = labels.ravel()
        where = np.flatnonzero(flat)
        rows, cols = np.divmod(where, labels.shape[1])
        n = np.bincount(flat[where], minlength=count + 1)
        present = np.flatnonzero(n[1:]) + 1
        cy = np.bincount(flat[where], rows, minlength=count + 1)[present] / n[present]
        cx = np.bincount(flat[where], cols, minlength=count + 1)[present] / n[present]
        scale = max(0.3, min(labels.shape) / 1500)
        for label, x, y in zip(present.tolist(), cx.tolist(), cy.tolist()):
            text = str(label)
            (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            origin = (round(x - w / 2), round(y + h / 2))
            cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 2)
            cv2.putText(picture, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, _GREYS + 1, 1)
    return picture


def outline_overlay(image: np.ndarray, labels: np.ndarray, *, numbers: bool = True) -> np.ndarray:
    """The image, contrast-stretched, with each object's outline and number drawn over it.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey levels.
    labels : ndarray of int, shape (H, W)
        Objects (0 = background).
    numbers : bool
        Write each object's label at its centroid (skipped beyond 1000 objects).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        RGB picture: outlines in yellow (the objects' own border pixels), numbers in cyan.

    Examples
    --------
    >>> labels = np.zeros((20, 20), np.int32); labels[5:15, 5:15] = 1
    >>> picture = outline_overlay(labels * 100, labels)
    >>> picture.shape, picture[5, 10].tolist(), picture[0, 0].tolist()
    ((20, 20, 3), [255, 255, 0], [0, 0, 0])
    """
    return PALETTE[overlay_indices(image, labels, numbers=numbers)]


def write_overlay(path: Path, image: np.ndarray, labels: np.ndarray) -> Path:
    """Save :func:`outline_overlay` as a palette PNG (one byte per pixel, fast compression)."""
    from PIL import Image

    indices = overlay_indices(image, labels)
    picture = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    picture.putpalette(PALETTE.ravel().tolist())
    picture.save(path, format="PNG", compress_level=1)
    return path


def contact_sheet(
    pictures: Sequence[tuple[str, Path]], *, tile: int = 256, max_width: int = 4096
) -> np.ndarray | None:
    """One picture of many overlays in a grid, each with its caption below.

    Parameters
    ----------
    pictures : sequence of (caption, PNG path)
        The overlays, in the order to show them (missing files are left blank).
    tile : int
        Largest side of a thumbnail [px]; smaller when the sheet would exceed ``max_width``.
    max_width : int
        Width the grid keeps within [px].

    Returns
    -------
    ndarray of uint8, shape (H, W, 3) or None
        RGB sheet; None when there is no picture.
    """
    import cv2

    if not pictures:
        return None
    columns = math.ceil(math.sqrt(len(pictures)))
    tile = max(48, min(tile, max_width // columns))
    caption = 16 if tile >= 128 else 12
    rows = math.ceil(len(pictures) / columns)
    sheet = np.full((rows * (tile + caption + 4), columns * (tile + 4), 3), 32, np.uint8)
    for k, (text, path) in enumerate(pictures):
        top, left = (k // columns) * (tile + caption + 4) + 2, (k % columns) * (tile + 4) + 2
        picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if picture is not None:
            height, width = picture.shape[:2]
            ratio = tile / max(height, width)
            size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
            small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            sheet[top : top + size[1], left : left + size[0]] = small[:, :, ::-1]
        cv2.putText(sheet, text[: tile // 7], (left, top + tile + caption - 4),
                    cv2.FONT_HERSHEY_SIMPLEX, caption / 40, (230, 230, 230), 1,
                    cv2.LINE_AA)  # fmt: skip
    return sheet


def write_contact_sheet(
    pictures: Sequence[tuple[str, Path]], path: Path, *, tile: int = 256
) -> Path | None:
    """Save :func:`contact_sheet` as a PNG; None (nothing written) when there is no picture."""
    import cv2

    sheet = contact_sheet(pictures, tile=tile)
    if sheet is None:
        return None
    from ...io.results import image_options

    if not cv2.imwrite(str(path), sheet[:, :, ::-1], image_options(path)):
        raise OSError(f"OpenCV could not write {path}")
    return path
