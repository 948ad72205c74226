"""Reading images and finding them in folders.

TIFF files are read with tifffile (with the pixel size of their ImageJ metadata or TIFF
resolution), the other formats with OpenCV. A file is recognised by its first bytes, not
its name: a JPEG or PNG named ``.tif`` is read as what it is, and the result says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError

__all__ = ["IMAGE_SUFFIXES", "Picture", "find_inputs", "read_image", "read_picture",
           "subfolders"]  # fmt: skip

log = logging.getLogger(__name__)

#: File name endings read as images when a folder is given.
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".webp")
#: Files this workflow writes, never taken as inputs.
_OUTPUT_ENDINGS = ("_labels", "_overlay", "contact_sheet")

#: Length units of TIFF/ImageJ metadata, in micrometres.
_MICROMETRES = {
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "um": 1.0, "µm": 1.0, "μm": 1.0, "\\u00b5m": 1.0, "micron": 1.0, "microns": 1.0,
    "micrometer": 1.0, "micrometre": 1.0,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4,
    "m": 1e6, "meter": 1e6, "metre": 1e6,
    "inch": 25400.0, "in": 25400.0,
}  # fmt: skip
_SIGNATURES = {
    b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"II+\x00": "TIFF", b"MM\x00+": "TIFF",
    b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"BM": "BMP", b"RIFF": "WebP",
}  # fmt: skip


@dataclass(frozen=True)
class Picture:
    """An image as read: its channels, pixel size and what the file really is.

    Attributes
    ----------
    channels : ndarray, shape (C, H, W)
        One plane per channel (C = 1 for a grey image; RGB colour: C = 3, red first).
    pixel_size : float or None
        Micrometres per pixel, None when the file does not say.
    format : str
        ``TIFF``, ``JPEG``, ``PNG``… as found in the file's first bytes.
    colour : bool
        The channels are the samples of an RGB(A) image (converted to grey by default).
    note : str
        Something the user should know (a JPEG named .tif), or empty.
    """

    channels: np.ndarray
    pixel_size: float | None
    format: str
    colour: bool = False
    note: str = ""

    def grey(self, path: Path | str = "the image") -> np.ndarray:
        """One grey plane: the only channel, or colour converted to grey (OpenCV weights)."""
        if len(self.channels) == 1:
            return self.channels[0]
        if not self.colour:
            raise InputError(
                f"{path} has {len(self.channels)} channels; choose the one to segment with "
                "--channel K (parameter channel; 0 = first), the others are measured too"
            )
        import cv2

        rgb = np.ascontiguousarray(np.moveaxis(self.channels[:3], 0, -1))
        if rgb.dtype not in (np.uint8, np.uint16, np.float32):
            rgb = rgb.astype(np.float32)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def read_image(path: str | Path) -> tuple[np.ndarray, float | None]:
    """Read a 2D image as grey levels, with its pixel size when the file records one.

    TIFF files are read with tifffile; the pixel size comes from ImageJ metadata (resolution
    and ``unit``) or from a TIFF resolution in cm, mm or µm (an inch resolution is taken as a
    display setting, not a calibration). Other formats are read with OpenCV. Colour images
    are converted to grey; 8- and 16-bit grey levels are kept as they are.

    Parameters
    ----------
    path : str or Path
        Image file (TIFF, PNG, JPEG, BMP, PGM, WebP).

    Returns
    -------
    image : ndarray, shape (H, W)
        Grey levels, in the file's data type.
    pixel_size : float or None
        Micrometres per pixel, or None when the file does not say.

    Raises
    ------
    InputError
        The file is missing, unreadable, not an image, or a stack rather than a 2D image.
    """
    picture = read_picture(path)
    return picture.grey(path), picture.pixel_size


def read_picture(path: str | Path) -> Picture:
    """Read an image file with all its channels (see :func:`read_image`)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    with open(path, "rb") as file:
        head = file.read(8)
    kind = next((name for sig, name in _SIGNATURES.items() if head.startswith(sig)), "")
    named_tiff = path.suffix.lower() in (".tif", ".tiff")
    try:
        if kind == "TIFF" or (named_tiff and not kind):
            picture = _read_tiff(path)
        else:
            picture = _read_other(path, kind or path.suffix.lstrip(".").upper())
    except InputError:
        raise
    except Exception as error:  # any reader failure is this file's fault
        raise InputError(
            f"{path} cannot be read as an image ({type(error).__name__}: {error}); "
            "check that the file is a complete TIFF, PNG or JPEG image"
        ) from error
    if named_tiff and kind and kind != "TIFF":
        note = f"a {kind} file named {path.suffix}, read as {kind}"
        log.warning("%s is %s", path, note)
        picture = Picture(picture.channels, None, kind, picture.colour, note)
    return picture


def _read_tiff(path: Path) -> Picture:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        planes = [n for n, axis in zip(series.shape, axes) if axis not in "SCYX" and n > 1]
        if planes:  # say so before reading a whole stack
            raise InputError(
                f"{path} is a stack (shape {series.shape}, axes {axes}); measure takes "
                "2D images: save each plane as its own file (Fiji: Image > Stacks > Stack to "
                "Images)"
            )
        image = series.asarray()
        pixel_size = _tiff_pixel_size(tif.pages[0], tif.imagej_metadata, path)
    colour = "S" in axes and series.shape[axes.index("S")] in (3, 4)
    return Picture(_channels_first(image, axes, path), pixel_size, "TIFF", colour)


def _channels_first(image: np.ndarray, axes: str, path: Path) -> np.ndarray:
    """(C, H, W) from an array with tifffile's axis letters (Y and X kept even when 1)."""
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"{path} has axes {axes}, not an image (no Y and X axes)")
    keep = [a for a in axes if a in "YXCS"]
    index = tuple(slice(None) if a in keep else 0 for a in axes)
    image, axes = image[index], "".join(keep)
    channel_axes = [a for a in axes if a in "CS"]
    if len(channel_axes) == 2:
        raise InputError(f"{path} has both channels and colour samples ({axes}); "
                         "save it as one grey plane per channel")  # fmt: skip
    if channel_axes:
        image = np.moveaxis(image, axes.index(channel_axes[0]), 0)
        axes = channel_axes[0] + axes.replace(channel_axes[0], "")
    else:
        image = image[np.newaxis]
        axes = "C" + axes
    if axes[1:] == "XY":
        image = np.swapaxes(image, 1, 2)
    if image.dtype == bool:
        image = image.astype(np.uint8)
    return image


def _tiff_pixel_size(page, imagej: dict | None, path: Path) -> float | None:
    import tifffile

    units = {tifffile.RESUNIT.CENTIMETER: 1e4, tifffile.RESUNIT.MILLIMETER: 1e3,
             tifffile.RESUNIT.MICROMETER: 1.0}  # fmt: skip
    if "XResolution" not in page.tags:
        return None
    x_res, y_res = page.get_resolution()
    if not x_res or not y_res:
        return None
    if imagej and "unit" in imagej:
        scale = _MICROMETRES.get(str(imagej["unit"]).strip().lower())
    else:
        scale = units.get(page.resolutionunit)
    if scale is None:
        return None
    x_size, y_size = scale / x_res, scale / y_res
    if not math.isclose(x_size, y_size, rel_tol=1e-3):
        log.warning(
            "%s: pixels are not square (%.4g × %.4g µm); using %.4g µm (same area)",
            path, x_size, y_size, math.sqrt(x_size * y_size),
        )  # fmt: skip
    return math.sqrt(x_size * y_size)


def _read_other(path: Path, kind: str) -> Picture:
    import cv2

    data = np.fromfile(path, np.uint8)  # works with any path (imread fails on some)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(
            f"{path} cannot be read as an image (unknown format or damaged file); "
            "use TIFF, PNG, JPEG, BMP, PGM or WebP"
        )
    if image.ndim == 2:
        return Picture(image[np.newaxis], None, kind)
    if image.shape[2] == 1:
        return Picture(np.moveaxis(image, 2, 0), None, kind)
    rgb = image[..., 2::-1] if image.shape[2] >= 3 else image  # OpenCV's BGR(A) to RGB
    return Picture(np.ascontiguousarray(np.moveaxis(rgb, 2, 0)), None, kind, colour=True)


# -- folders -----------------------------------------------------------------------------------
def _is_input(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and not path.stem.endswith(_OUTPUT_ENDINGS)
    )


def find_inputs(path: str | Path) -> list[Path]:
    """The images a path holds: a folder's image files (sorted), or the file itself.

    Hidden files and the images this workflow writes (``*_labels.tif``, ``*_overlay.png``,
    ``contact_sheet.png``) are left out; sub-folders are not entered (:func:`subfolders`
    lists those that hold images, for ``--recursive``).
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if _is_input(p))


def subfolders(path: str | Path) -> list[Path]:
    """The folders below ``path`` (at any depth) that hold images, sorted.

    Hidden folders and the ``Measurements`` folders this workflow writes are not entered.
    """
    found = []
    for folder in sorted(p for p in Path(path).iterdir() if p.is_dir()):
        if folder.name.startswith(".") or folder.name == "Measurements":
            continue
        if any(_is_input(p) for p in folder.iterdir()):
            found.append(folder)
        found.extend(subfolders(folder))
    return found
