"""Arenas: the tanks, dishes or wells of one video, each tracked on its own.

An arena is a region of the frame (a circle, a rectangle or a polygon, in pixel coordinates)
with an optional number of animals. A set of arenas becomes a *label image* the size of the
frames: 0 outside every arena, ``k`` inside arena ``k`` (1-based), which detection and
linking use to keep every object in its arena. Arenas come from:

* shapes (:func:`rasterize`), e.g. read from a TOML file by :mod:`batchtrack.io.arenas`;
* a regular grid (:func:`grid_arenas`), for multi-well plates (``grid:ROWSxCOLS``);
* the background itself (:func:`find_wells`): circular wells by a Hough transform on the
  background's edges, else rectangular ones from the outlines of its bright or dark regions.

Everything here works on arrays; nothing reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from .errors import ParameterError

__all__ = [
    "Arena",
    "ArenaSet",
    "arena_from_mapping",
    "arena_of",
    "arena_to_mapping",
    "check_labels",
    "draw_arenas",
    "find_wells",
    "grid_arenas",
    "is_file_spec",
    "label_polygons",
    "make_arena_set",
    "outline_arenas",
    "parse_grid",
    "rasterize",
]

Kind = Literal["circle", "rectangle", "polygon"]


@dataclass(frozen=True)
class Arena:
    """One arena.

    Attributes
    ----------
    kind : {"circle", "rectangle", "polygon"}
        Its shape.
    points : tuple of (float, float)
        Circle: its centre; rectangle: the top-left and bottom-right corners (exclusive);
        polygon: its vertices, in order. Pixel coordinates (x to the right, y down).
    radius : float
        Circle radius in pixels (0 for the other shapes).
    animals : int
        Animals in this arena; 0 = the movie's ``animals`` split evenly, or unknown.
    name : str
        How results name it (default ``arena_K``).
    """

    kind: Kind
    points: tuple[tuple[float, float], ...]
    radius: float = 0.0
    animals: int = 0
    name: str = field(default="")

    def __post_init__(self) -> None:
        if self.kind == "circle" and (len(self.points) != 1 or not self.radius > 0):
            raise ParameterError(
                f"a circle arena needs a centre and a radius > 0, got {self.points}, "
                f"radius {self.radius}"
            )
        if self.kind == "rectangle":
            (x0, y0), (x1, y1) = self.points if len(self.points) == 2 else ((0, 0), (0, 0))
            if len(self.points) != 2 or not (x1 > x0 and y1 > y0):
                raise ParameterError(
                    f"a rectangle arena needs its top-left corner and a size > 0, got "
                    f"{self.points}"
                )
        if self.kind == "polygon" and len(self.points) < 3:
            raise ParameterError(f"a polygon arena needs at least 3 points, got {self.points}")
        if self.animals < 0:
            raise ParameterError(f"an arena's animals must be ≥ 0, got {self.animals}")

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The arena's pixels in a frame of ``shape`` ``(height, width)``, as a bool array."""
        canvas = np.zeros(shape, np.uint8)
        if self.kind == "circle":
            (x, y), = self.points
            cv2.circle(canvas, (round(x), round(y)), round(self.radius), 1, -1)
        elif self.kind == "rectangle":
            (x0, y0), (x1, y1) = self.points
            canvas[max(round(y0), 0) : max(round(y1), 0), max(round(x0), 0) : max(round(x1), 0)] = 1
        else:
            polygon = np.round(np.asarray(self.points)).astype(np.int32)
            cv2.fillPoly(canvas, [polygon], 1)
        return canvas.astype(bool)

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the smallest box holding the arena."""
        if self.kind == "circle":
            (x, y), = self.points
            return x - self.radius, y - self.radius, x + self.radius, y + self.radius
        xs, ys = zip(*self.points, strict=True)
        return min(xs), min(ys), max(xs), max(ys)


def rasterize(arenas: Sequence[Arena], shape: tuple[int, int], *, source: str = "") -> np.ndarray:
    """The label image of ``arenas``: 0 outside, ``k`` inside the k-th arena (1-based).

    Parameters
    ----------
    arenas : sequence of Arena
        At least one; they must not overlap and must lie inside the frame.
    shape : (int, int)
        Frame size ``(height, width)``.
    source : str
        Where the arenas come from (a file), named in errors.

    Returns
    -------
    ndarray of int32, shape (H, W)

    Raises
    ------
    ParameterError
        No arena, an arena outside the frame or with no pixel, or two arenas that overlap.

    Examples
    --------
    >>> left = Arena("rectangle", ((0, 0), (4, 4)))
    >>> right = Arena("circle", ((8, 2),), radius=1)
    >>> rasterize([left, right], (4, 10))[2]
    array([1, 1, 1, 1, 0, 0, 0, 2, 2, 2], dtype=int32)
    """
    where = f" in {source}" if source else ""
    if not arenas:
        raise ParameterError(f"no arena{where}: give at least one shape")
    height, width = shape
    labels = np.zeros(shape, np.int32)
    for k, arena in enumerate(arenas, start=1):
        x0, y0, x1, y1 = arena.bounds()
        if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5:
            raise ParameterError(
                f"arena {k} ({arena.kind}){where} reaches ({x0:g}, {y0:g})-({x1:g}, {y1:g}), "
                f"outside the {width}×{height} px frame; move it inside the frame"
            )
        mask = arena.mask(shape)
        if not mask.any():
            raise ParameterError(f"arena {k} ({arena.kind}){where} covers no pixel; enlarge it")
        overlap = np.unique(labels[mask & (labels > 0)])
        if overlap.size:
            raise ParameterError(
                f"arena {k}{where} overlaps arena {int(overlap[0])}; arenas must not share "
                "pixels (shrink or move one)"
            )
        labels[mask] = k
    return labels


def check_labels(labels: np.ndarray, shape: tuple[int, int], *, source: str = "") -> np.ndarray:
    """Validate a label image (0 outside, 1…N arenas) against frames of ``shape``.

    Returns the labels renumbered 1…N in order of their values, as int32.

    Raises
    ------
    ParameterError
        A size other than the frames', a multi-channel image, negative values or no arena.

    Examples
    --------
    >>> check_labels(np.array([[0, 5], [9, 9]]), (2, 2)).tolist()
    [[0, 1], [2, 2]]
    """
    where = f" {source}" if source else ""
    if labels.ndim != 2:
        raise ParameterError(
            f"arena label image{where} has shape {labels.shape}; give a one-channel image "
            "(0 outside, 1, 2… for the arenas)"
        )
    if labels.shape != tuple(shape):
        raise ParameterError(
            f"arena label image{where} is {labels.shape[1]}×{labels.shape[0]} px but the frames "
            f"are {shape[1]}×{shape[0]} px; draw the arenas on an image of the frames' size"
        )
    if np.issubdtype(labels.dtype, np.signedinteger) and (labels < 0).any():
        raise ParameterError(f"arena label image{where} has negative values; use 0 outside")
    values = np.unique(labels)
    values = values[values != 0]
    if values.size == 0:
        raise ParameterError(f"arena label image{where} has no arena (every pixel is 0)")
    lookup = np.zeros(int(values.max()) + 1, np.int32)
    lookup[values.astype(np.int64)] = np.arange(1, values.size + 1, dtype=np.int32)
    return lookup[labels.astype(np.int64)]


def label_polygons(labels: np.ndarray) -> list[Arena]:
    """The arenas of a label image as polygons (each arena's outer boundary), in order.

    The vertices are boundary pixels (OpenCV's simple chain), so that :func:`rasterize`
    gives back the label image, up to the odd pixel of a concave outline; an arena in
    several pieces keeps its largest.

    Parameters
    ----------
    labels : ndarray of int, shape (H, W)
        0 outside, 1…N for the arenas (see :func:`check_labels`).

    Examples
    --------
    >>> labels = np.zeros((6, 8), np.int32)
    >>> labels[1:4, 2:7] = 1
    >>> (arena,) = label_polygons(labels)
    >>> arena.points
    ((2.0, 1.0), (2.0, 3.0), (6.0, 3.0), (6.0, 1.0))
    >>> bool((rasterize([arena], labels.shape) == labels).all())
    True
    """
    found = []
    for k in range(1, int(labels.max(initial=0)) + 1):
        mask = (labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            continue
        points = max(contours, key=cv2.contourArea).reshape(-1, 2)
        if len(points) < 3:  # a line of pixels: its box instead
            x, y, w, h = cv2.boundingRect(points)
            points = np.array([[x, y], [x + w - 1, y], [x + w - 1, y + h - 1], [x, y + h - 1]])
        found.append(Arena("polygon", tuple((float(x), float(y)) for x, y in points.tolist())))
    return found


def parse_grid(text: str) -> tuple[int, int]:
    """``"grid:3x4"`` or ``"3x4"`` -> ``(3, 4)`` (rows, columns).

    Examples
    --------
    >>> parse_grid("grid:2x3")
    (2, 3)
    """
    body = text.removeprefix("grid:")
    rows, sep, cols = body.lower().partition("x")
    if not (sep and rows.isdigit() and cols.isdigit() and int(rows) > 0 and int(cols) > 0):
        raise ParameterError(
            f"arena grid {text!r} must be grid:ROWSxCOLS with whole numbers ≥ 1 (e.g. grid:4x6)"
        )
    return int(rows), int(cols)


def grid_arenas(rows: int, cols: int, shape: tuple[int, int]) -> list[Arena]:
    """A regular grid of ``rows`` × ``cols`` rectangles covering the frame, row by row.

    Examples
    --------
    >>> [a.points for a in grid_arenas(1, 2, (10, 20))]
    [((0.0, 0.0), (10.0, 10.0)), ((10.0, 0.0), (20.0, 10.0))]
    """
    height, width = shape
    ys = np.linspace(0, height, rows + 1).round()
    xs = np.linspace(0, width, cols + 1).round()
    return [
        Arena("rectangle", ((float(xs[c]), float(ys[r])), (float(xs[c + 1]), float(ys[r + 1]))))
        for r in range(rows)
        for c in range(cols)
    ]


def find_wells(background: np.ndarray, *, min_wells: int = 1) -> list[Arena]:
    """Find circular wells (or rectangular tanks) in a movie's background.

    Method: circles first, by OpenCV's gradient Hough transform on the smoothed background,
    for radii between 1/40 and 1/2 of the frame's short side; circles are taken by decreasing
    votes, each one kept if it overlaps none kept before it, and the kept circles whose radius
    is within 20 % of their median are the wells (spurious small or large circles go). If
    fewer than ``min_wells`` circles are found, rectangles: the outlines of the regions that
    differ from the background's surroundings (Otsu threshold, both polarities), kept when
    their area is at least 1/400 of the frame and their bounding box is at least 85 % filled.
    Wells are returned row by row (top to bottom, then left to right), shrunk so that a
    well's rim is outside it (circles by 2 px and 5 %, rectangles by 2 px).

    Parameters
    ----------
    background : ndarray of uint8, shape (H, W)
    min_wells : int
        Fewer circles than this means "not circular wells".

    Returns
    -------
    list of Arena
        Empty when nothing convincing is found.
    """
    height, width = background.shape
    short = min(height, width)
    blurred = cv2.GaussianBlur(background, (0, 0), max(1.0, short / 300))
    circles = cv2.HoughCircles(
        blurred, cv2.HOUGH_GRADIENT, dp=1.2, minDist=max(short / 20, 8), param1=100,
        param2=30, minRadius=max(int(short / 40), 4), maxRadius=int(short / 2),
    )  # fmt: skip
    wells = _consistent_circles(circles, background.shape)
    if len(wells) < min_wells:
        wells = _rectangles(blurred)
    return _row_major(wells)


def _consistent_circles(circles: np.ndarray | None, shape: tuple[int, int]) -> list[Arena]:
    if circles is None:
        return []
    found = circles[0]
    height, width = shape
    inside = (
        (found[:, 0] - found[:, 2] >= -1)
        & (found[:, 1] - found[:, 2] >= -1)
        & (found[:, 0] + found[:, 2] <= width + 1)
        & (found[:, 1] + found[:, 2] <= height + 1)
    )
    found = found[inside]
    if len(found) == 0:
        return []
    # OpenCV returns the circles by decreasing votes: keep each one that overlaps no circle
    # kept before it, then those whose radius is within 20 % of the kept circles' median
    kept: list[np.ndarray] = []
    for circle in found:
        if all(math.dist(circle[:2], other[:2]) >= circle[2] + other[2] for other in kept):
            kept.append(circle)
    typical = float(np.median([circle[2] for circle in kept]))
    keep = [circle for circle in kept if abs(circle[2] - typical) <= 0.2 * typical]
    # the rim is not part of the well: shrink by 2 px and 5 % (the Hough radius varies)
    return [
        Arena("circle", ((float(x), float(y)),), radius=0.95 * float(r) - 2.0)
        for x, y, r in keep
        if r > 4
    ]


def _rectangles(blurred: np.ndarray) -> list[Arena]:
    height, width = blurred.shape
    found: list[Arena] = []
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for binary in (bright, 255 - bright):
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            area = cv2.contourArea(contour)
            if area < height * width / 400 or area < 0.85 * w * h:
                continue
            if w >= width - 2 and h >= height - 2:
                continue  # the whole frame: the surroundings, not a tank
            found.append(
                Arena("rectangle", ((x + 2.0, y + 2.0), (x + w - 2.0, y + h - 2.0)))
            )
        if found:
            break
    return found


def _row_major(arenas: list[Arena]) -> list[Arena]:
    """Sort arenas row by row: rows are groups whose centres are within half a size in y."""
    if not arenas:
        return []
    centres = [((a.bounds()[0] + a.bounds()[2]) / 2, (a.bounds()[1] + a.bounds()[3]) / 2)
               for a in arenas]  # fmt: skip
    sizes = [a.bounds()[3] - a.bounds()[1] for a in arenas]
    tolerance = float(np.median(sizes)) / 2
    order = sorted(range(len(arenas)), key=lambda i: centres[i][1])
    rows: list[list[int]] = []
    for i in order:
        if rows and abs(centres[i][1] - centres[rows[-1][0]][1]) <= tolerance:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [arenas[i] for row in rows for i in sorted(row, key=lambda j: centres[j][0])]


class ArenaSet:
    """The arenas of one movie: their label image and, when known, their shapes.

    Attributes
    ----------
    labels : ndarray of int32, shape (H, W)
        0 outside every arena, ``k`` inside arena ``k`` (1-based).
    arenas : list of Arena or None
        The shapes (None for a label image: its arenas have no simple shape).
    source : str
        The specification it was made from.
    """

    def __init__(self, labels: np.ndarray, arenas: list[Arena] | None, source: str) -> None:
        self.labels, self.arenas, self.source = labels, arenas, source

    @property
    def count(self) -> int:
        """Number of arenas."""
        return int(self.labels.max())

    def animals(self, total: int) -> list[int]:
        """Animals per arena: each arena's own count, else ``total`` split evenly (0 when
        unknown), e.g. ``animals = 12`` over 12 wells is 1 per well.

        Raises
        ------
        ParameterError
            When ``total`` is not a multiple of the number of arenas without their own count.
        """
        given = [a.animals for a in self.arenas] if self.arenas else [0] * self.count
        free = [i for i, n in enumerate(given) if n == 0]
        if total and free:
            rest = total - sum(given)
            if rest < 0 or rest % len(free):
                raise ParameterError(
                    f"animals = {total} cannot be split evenly over the {len(free)} arenas of "
                    f"{self.source} without their own count; give a count per arena in the "
                    "TOML file (animals = N), or a total that is a multiple"
                )
            for i in free:
                given[i] = rest // len(free)
        return given

    def areas(self) -> list[int]:
        """Pixels of each arena."""
        counts = np.bincount(self.labels.ravel(), minlength=self.count + 1)
        return [int(n) for n in counts[1:]]

    def rows(self, ids: Sequence[Sequence[int]], animals: Sequence[int]) -> list[dict[str, Any]]:
        """One row per arena for ``arenas.csv``: number, name, shape, pixels, animals, ids."""
        shapes: Sequence[Arena | None] = self.arenas or [None] * self.count
        return [
            {
                "arena": k,
                "name": (shape.name if shape is not None else "") or f"arena_{k}",
                "shape": shape.kind if shape is not None else "label image",
                "area_px": area,
                "animals": count,
                "ids": " ".join(map(str, found)),
            }
            for k, (shape, area, found, count) in enumerate(
                zip(shapes, self.areas(), ids, animals, strict=True), start=1
            )
        ]


def arena_from_mapping(item: Any, k: int, source: str) -> Arena:
    """Arena number ``k`` from a TOML-like table (``shape``, ``centre``/``radius``,
    ``corner``/``size`` or ``points``, optional ``animals`` and ``name``).

    Raises
    ------
    ParameterError
        Naming the arena, ``source`` and what is wrong.

    Examples
    --------
    >>> arena_from_mapping({"shape": "circle", "centre": [5, 5], "radius": 3}, 1, "x").radius
    3.0
    """
    where = f"arena {k} of {source}"
    if not isinstance(item, dict) or item.get("shape") not in _SHAPES:
        raise ParameterError(f"{where}: shape must be one of {', '.join(_SHAPES)}")
    try:
        animals = int(item.get("animals", 0))
        name = str(item.get("name", ""))
        if item["shape"] == "circle":
            x, y = _pair(item["centre"] if "centre" in item else item["center"])
            return Arena("circle", ((x, y),), radius=float(item["radius"]), animals=animals,
                         name=name)  # fmt: skip
        if item["shape"] == "rectangle":
            x, y = _pair(item["corner"])
            w, h = _pair(item["size"])
            return Arena("rectangle", ((x, y), (x + w, y + h)), animals=animals, name=name)
        points = tuple(_pair(p) for p in item["points"])
        return Arena("polygon", points, animals=animals, name=name)
    except KeyError as error:
        raise ParameterError(f"{where}: missing {error.args[0]!r}") from None
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{where}: {error}") from None


def arena_to_mapping(arena: Arena) -> dict[str, Any]:
    """The TOML-like table of ``arena``: what :func:`arena_from_mapping` reads back.

    ``animals`` and ``name`` are written only when set.

    Examples
    --------
    >>> arena_to_mapping(Arena("rectangle", ((10, 20), (40, 30))))
    {'shape': 'rectangle', 'corner': [10.0, 20.0], 'size': [30.0, 10.0]}
    >>> arena = Arena("circle", ((5, 5),), radius=3, animals=2)
    >>> arena_from_mapping(arena_to_mapping(arena), 1, "x") == arena
    True
    """
    item: dict[str, Any] = {"shape": arena.kind}
    if arena.kind == "circle":
        (x, y), = arena.points
        item.update(centre=[float(x), float(y)], radius=float(arena.radius))
    elif arena.kind == "rectangle":
        (x0, y0), (x1, y1) = arena.points
        item.update(corner=[float(x0), float(y0)], size=[float(x1 - x0), float(y1 - y0)])
    else:
        item["points"] = [[float(x), float(y)] for x, y in arena.points]
    if arena.animals:
        item["animals"] = int(arena.animals)
    if arena.name:
        item["name"] = arena.name
    return item


def _pair(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"expected two numbers [x, y], got {value!r}")
    return float(value[0]), float(value[1])


def is_file_spec(spec: str) -> bool:
    """True if an ``--arenas`` value names a file (not ``grid:…`` nor ``auto``)."""
    return not (spec.startswith("grid:") or spec == "auto")


def make_arena_set(
    spec: str,
    shape: tuple[int, int],
    *,
    background: np.ndarray | None = None,
    content: Sequence[Any] | np.ndarray | None = None,
) -> ArenaSet:
    """The arenas of a movie whose frames have ``shape``, from an ``--arenas`` value.

    Parameters
    ----------
    spec : str
        ``grid:ROWSxCOLS``, ``auto`` (wells found on ``background``) or a file name, whose
        ``content`` (:func:`batchtrack.io.arenas.read_arena_file`: the ``[[arena]]`` tables
        or a label image) is given.
    shape : (int, int)
        The frames' size ``(height, width)``.

    Raises
    ------
    ParameterError
        One line naming the source and the fix.

    Examples
    --------
    >>> make_arena_set("grid:2x2", (40, 60)).count
    4
    """
    if spec.startswith("grid:"):
        arenas = grid_arenas(*parse_grid(spec), shape)
        return ArenaSet(rasterize(arenas, shape, source=spec), arenas, spec)
    if spec == "auto":
        if background is None:
            raise ParameterError("--arenas auto needs the movie's background")
        arenas = find_wells(background)
        if not arenas:
            raise ParameterError(
                "--arenas auto found no circular well or rectangular tank on the background; "
                "give the arenas as a TOML file of shapes, a label image or grid:ROWSxCOLS"
            )
        return ArenaSet(rasterize(arenas, shape, source="auto"), arenas, "auto")
    if isinstance(content, np.ndarray):
        return ArenaSet(check_labels(content, shape, source=spec), None, spec)
    if content is None:
        raise ParameterError(f"arena file {spec}: its content was not read")
    arenas = [arena_from_mapping(item, k, spec) for k, item in enumerate(content, start=1)]
    return ArenaSet(rasterize(arenas, shape, source=spec), arenas, spec)


_SHAPES = ("circle", "rectangle", "polygon")


def arena_of(labels: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The arena (1-based; 0 = outside every arena) of each point ``(x, y)``.

    Examples
    --------
    >>> labels = np.array([[1, 1, 2, 2]], np.int32)
    >>> arena_of(labels, np.array([0.4, 2.6, 9.0]), np.array([0.0, 0.2, 0.0])).tolist()
    [1, 2, 0]
    """
    height, width = labels.shape
    col = np.floor(np.asarray(x, float) + 0.5).astype(np.int64)
    row = np.floor(np.asarray(y, float) + 0.5).astype(np.int64)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    out = np.zeros(col.shape, np.int32)
    out[inside] = labels[row[inside], col[inside]]
    return out


def draw_arenas(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Draw each arena's outline and number over a grey or BGR ``image`` (a new BGR image)."""
    picture = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    scale = max(0.4, min(labels.shape) / 800)
    for k in range(1, int(labels.max()) + 1):
        mask = (labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, (0, 160, 255), max(1, round(2 * scale)))
        ys, xs = np.nonzero(mask)
        if len(xs):
            at = (int(xs.mean()) - 8, int(ys.mean()) + 6)
            cv2.putText(picture, str(k), at, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 255),
                        max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
    return picture


def outline_arenas(picture: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Draw the arenas' outlines over a BGR ``picture`` of the frame, at any scale (in place)."""
    height, width = picture.shape[:2]
    scaled = cv2.resize(labels.astype(np.uint16), (width, height),
                        interpolation=cv2.INTER_NEAREST)  # fmt: skip
    thickness = max(1, round(width / 800))
    for k in range(1, int(labels.max()) + 1):
        mask = (scaled == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, (0, 160, 255), thickness, cv2.LINE_AA)
    return picture
