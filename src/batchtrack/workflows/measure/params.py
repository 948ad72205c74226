"""The parameters of the ``measure`` workflow: one validated, immutable model."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from ...params import ValidatedModel

__all__ = ["METHODS", "MeasureParameters"]

#: Automatic threshold methods (scikit-image's ``threshold_<name>``).
METHODS = ("otsu", "li", "triangle", "yen", "mean")


class MeasureParameters(ValidatedModel):
    """Settings of the ``measure`` workflow, validated, immutable.

    The steps run in this order: filter (``filter`` with ``filter_radius``), threshold
    (``threshold``, ``inclusive``, ``dark_objects``), fill holes (``fill_holes``,
    ``max_hole_size``), label (``connectivity``), split touching objects (``watershed``,
    ``watershed_min_distance``), drop border objects (``clear_border``), drop small and large
    objects (``min_size``, ``max_size``), number the objects 1…N in raster order.

    Invalid values raise :class:`~batchtrack.errors.ParameterError` naming the field and the
    allowed range.

    Examples
    --------
    >>> MeasureParameters(threshold=120, min_size=30).threshold
    120.0
    >>> MeasureParameters(threshold="li", connectivity=4).connectivity
    4
    """

    _in_source: ClassVar[str] = "invalid measure parameters in {source}: {error}"

    threshold: Literal["otsu", "li", "triangle", "yen", "mean"] | float = Field(
        default="otsu",
        description="Automatic method (otsu, li, triangle, yen, mean) or a fixed grey level "
        "in the image's own units (0–255 for 8-bit, 0–65535 for 16-bit).",
    )
    inclusive: bool = Field(
        default=False,
        description="Object pixels are those >= the level (ImageJ's setThreshold(25, 255) "
        "includes 25); default: strictly > the level (scikit-image's image > threshold).",
    )
    dark_objects: bool = Field(
        default=False, description="Objects are darker than the background (default: brighter)."
    )
    filter: Literal["none", "gaussian", "mean", "median"] = Field(
        default="none",
        description="Filter before thresholding: gaussian (sigma = filter_radius), or ImageJ's "
        "circular mean or median of radius filter_radius.",
    )
    filter_radius: float = Field(
        default=0.0, ge=0, le=100, description="Radius (mean, median) or sigma (gaussian) [px]."
    )
    smooth: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Gaussian smoothing sigma before thresholding [px]; 0 = none (the same "
        "as filter = gaussian with filter_radius = sigma).",
    )
    fill_holes: bool = Field(default=True, description="Fill holes inside objects.")
    max_hole_size: int = Field(
        default=0,
        ge=0,
        description="Fill only holes smaller than this area [px]; 0 fills every hole.",
    )
    connectivity: Literal[4, 8] = Field(
        default=8,
        description="Pixels touching by an edge (4) or also by a corner (8) are one object.",
    )
    watershed: bool = Field(
        default=False,
        description="Split touching objects: watershed of the distance transform, one seed "
        "per distance maximum.",
    )
    watershed_min_distance: int = Field(
        default=5, ge=1, le=1000, description="Minimum distance between two seeds [px]."
    )
    clear_border: bool = Field(
        default=False, description="Remove objects touching the image border."
    )
    min_size: int = Field(
        default=10, ge=0, description="Remove objects smaller than this area [px]; 0 keeps all."
    )
    max_size: int = Field(
        default=0, ge=0, description="Remove objects larger than this area [px]; 0 keeps all."
    )
    channel: int = Field(
        default=-1,
        ge=-1,
        le=63,
        description="Channel to segment in a multichannel image (0 = first); the others are "
        "measured too (intensity columns with a _c<k> suffix). -1: colour is converted to "
        "grey.",
    )
    pixel_size: float = Field(
        default=0.0,
        ge=0,
        description="Pixel size [µm/px] for calibrated areas and lengths; 0 = read it from "
        "the file (TIFF/ImageJ metadata), 1 px when the file has none.",
    )
    columns: str = Field(
        default="default",
        description="Columns to compute: comma-separated column names or groups (basic, "
        "position, shape, intensity, all, default).",
    )
    overlay: bool = Field(
        default=True, description="Write <stem>_overlay.png (outlines and labels)."
    )

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: str) -> str:
        from .features import select_columns

        select_columns(value)  # raises ValueError naming the unknown column
        return value
