"""Track one movie: background → detection (any frame range) → linking → result folder.

Detection of a frame depends only on that frame and the background, so it can run on chunks of
frames in parallel (:func:`detect_range`); linking then runs once, in frame order, over the
chunks' detections (:func:`link_detections`). :func:`track_movie` does both in one process.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autoparams
from .analysis import SpeedStream
from .analysis_files import ANALYSIS_INPUTS, analysis_files_task, write_analysis_files
from .arena_tracking import ArenaResult, ArenaTexts, arena_regions, arena_rows
from .arenas import ArenaSet, draw_arenas, is_file_spec, make_arena_set, outline_arenas
from .autoparams import AutoReport
from .background import (
    load_background,
    match_brightness,
    median_level,
    project,
    register,
    sample_indices,
)
from .calibration import Calibration
from .detect import Region, find_in_regions, object_features, roi_binary, roi_offset, segment
from .errors import InputError, ParameterError
from .io.arenas import LABELS_FILE, read_arena_file, write_arenas_csv
from .io.frames import FrameSource, open_frames
from .io.messages import IN_RESULT, collect_messages
from .io.results import ResultWriter, format_prefixes
from .io.resume import make_marker
from .link import Linker, LinkWeights
from .motion import ConstantVelocity
from .params import Parameters, parameters_hash
from .plots import TrajectoryCanvas
from .schema import (
    ID,
    IMAGE_NUMBER,
    N_FEATURES,
    TRACKING_COLUMNS,
    X_BODY,
    Y_BODY,
    tracking_table,
)
from .split import split_objects, typical_area
from .stitch import (
    StitchRules,
    Tracklets,
    assign_identities,
    close_gaps,
    keep_within_capacity,
    relabel,
    trim,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AnimalScale",
    "Detections",
    "ResultSink",
    "TrackSummary",
    "arena_detection_regions",
    "check_roi",
    "compute_background",
    "detect_range",
    "link_detections",
    "linked_blocks",
    "measure_animals",
    "resolve_arenas",
    "resolve_background",
    "resolve_parameters",
    "track",
    "track_movie",
    "write_result",
]

log = logging.getLogger(__name__)

#: Objects whose features are computed in one vectorised call.
_FEATURE_BATCH = 512

#: ``progress(frames_done, frames_total)``, called from the thread doing the work.
Progress = Callable[[int, int], None]
#: ``offload(function, *args)``: start a picklable function elsewhere; return what gives its
#: result when called (waiting for it), so that the caller can work meanwhile.
Offload = Callable[..., Callable[[], Any]]


@dataclass
class Detections:
    """Objects detected in a range of frames, ready to be linked.

    Attributes
    ----------
    frames : ndarray of int64, shape (F,)
        Indices of the frames read (unreadable frames are absent).
    counts : ndarray of int64, shape (F,)
        Number of objects in each of those frames.
    features : ndarray of float64, shape (sum(counts), 21)
        Features of all objects, frame after frame, in detection order.
    skipped : list of (int, str)
        Unreadable frames and why.
    pieces : ndarray of bool, shape (sum(counts),), optional
        Objects that are pieces of a blob split into several animals (``animals > 0``).
    groups : ndarray of int, shape (sum(counts),), optional
        The arena of each object: objects are only linked within their arena.
    notes : list of str
        Warnings logged while detecting, and what the decoders said (for the result's
        ``log``, however far from the result's writer the chunk was detected).
    scale : AnimalScale, optional
        The typical animal the chunk was detected with (``animals > 0``; the same for every
        chunk of a movie).
    """

    frames: np.ndarray
    counts: np.ndarray
    features: np.ndarray
    skipped: list[tuple[int, str]] = field(default_factory=list)
    pieces: np.ndarray | None = None
    groups: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    scale: AnimalScale | None = None


@dataclass(frozen=True)
class TrackSummary:
    """What a tracking run did (``params``: the parameters used, measured ones included;
    ``auto``: what was measured, empty when nothing was)."""

    folder: Path | None
    n_frames: int
    n_rows: int
    n_ids: int
    skipped: list[tuple[int, str]]
    seconds: float
    params: Parameters | None = None
    auto: AutoReport = field(default_factory=AutoReport)


def require_measured(params: Parameters, names: Iterable[str]) -> None:
    """Raise ParameterError if one of ``names`` is still ``"auto"`` in ``params``."""
    pending = sorted(params.auto.intersection(names))
    if pending:
        raise ParameterError(
            f"{', '.join(pending)} {'is' if len(pending) == 1 else 'are'} still 'auto': "
            "measure them first with resolve_parameters() (track_movie does it)"
        )


def check_roi(params: Parameters, shape: tuple[int, int]) -> None:
    """Raise ParameterError if the region of interest does not fit frames of ``shape``, or if
    ``animals`` of at least ``minArea`` px² each cannot fit in it."""
    height, width = shape
    if params.roi is not None and (params.xBottom > width or params.yBottom > height):
        raise ParameterError(
            f"ROI ({params.xTop}, {params.yTop})-({params.xBottom}, {params.yBottom}) lies outside "
            f"the {width}×{height} px frames; set xBottom ≤ {width} and yBottom ≤ {height}"
        )
    if params.roi is not None:
        width, height = params.xBottom - params.xTop, params.yBottom - params.yTop
    if params.animals * params.minArea >= width * height:
        raise ParameterError(
            f"animals = {params.animals} cannot fit: {params.animals} animals of more than "
            f"minArea = {params.minArea:g} px² exceed the {width}×{height} px tracked area; "
            "check animals (the number of animals) and minArea"
        )


def compute_background(
    source: FrameSource, params: Parameters, *, cache: Mapping[int, np.ndarray] | None = None
) -> np.ndarray:
    """Background of a movie from ``nBack`` evenly sampled frames (``methBack``, ``regBack``).

    Frames found in ``cache`` (index → frame already read) are not read again. Unreadable
    sampled frames are left out (and logged). A projection that keeps the objects
    in the background (the minimum of dark objects on a light background, the maximum of light
    objects on a dark one) is logged as a warning: it hides the objects where they passed.
    """
    require_measured(params, ("nBack", "methBack", "lightBack"))
    for message in params.warnings().values():
        log.warning("%s", message)
    reference: list[np.ndarray] = []

    def frames() -> Iterator[np.ndarray]:
        for k in sample_indices(source.n_frames, params.nBack):
            try:
                frame = cache[k] if cache is not None and k in cache else source.read(k)
            except InputError as error:
                log.warning("background: frame %d left out: %s", k, error)
                continue
            if params.regBack and reference:
                frame = register(reference[0], frame, params.regBack)
            reference.append(frame) if not reference else None
            yield frame

    return project(frames(), method=params.methBack)


def detect_range(
    source: FrameSource,
    background: np.ndarray,
    params: Parameters,
    *,
    start: int = 0,
    stop: int | None = None,
    progress: Callable[[int], None] | None = None,
    scale: AnimalScale | None = None,
    regions: Sequence[Region] | None = None,
) -> Detections:
    """Detect the objects of frames ``start`` to ``stop`` (exclusive).

    With ``params.animals > 0`` each frame's brightness is first matched to the background's,
    fragments are merged and touching animals split (:mod:`batchtrack.split`).

    Parameters
    ----------
    source : FrameSource
        The movie.
    background : ndarray of uint8, shape (H, W)
        Its background.
    params : Parameters
        Tracking parameters.
    start, stop : int
        Frame range; ``stop=None`` means the end of the movie.
    progress : callable, optional
        Called with the number of frames done in this range, every few frames.
    scale : AnimalScale, optional
        Typical area and brightness (``animals > 0`` only); measured from the movie
        (:func:`measure_animals`) if omitted. Give every chunk of a movie the same value.
    regions : sequence of Region, optional
        Look for objects inside these regions only (arenas,
        :func:`batchtrack.arena_tracking.arena_regions`).
    """
    with collect_messages() as notes:
        found = _detect(source, background, params, start, stop, progress, scale, regions)
    found.notes.extend(notes)
    return found


def _detect(
    source: FrameSource,
    background: np.ndarray,
    params: Parameters,
    start: int,
    stop: int | None,
    progress: Callable[[int], None] | None,
    scale: AnimalScale | None,
    regions: Sequence[Region] | None,
) -> Detections:
    """:func:`detect_range`, without collecting its messages."""
    require_measured(params, params.auto)
    frames, counts, contours, areas, pieces = [], [], [], [], []
    skipped_before = len(source.skipped)
    if params.animals and scale is None:
        scale = measure_animals(source, background, params)
    for k, frame in source.iter_frames(start, stop):
        if params.reg:
            frame = register(background, frame, params.reg)
        if scale is not None and params.animals:
            found, found_areas, found_pieces = _segment_animals(
                match_brightness(frame, scale.brightness), background, params, scale.area,
                regions,
            )  # fmt: skip
            pieces.append(found_pieces)
        else:
            found, found_areas = segment(frame, background, params, regions=regions)
        frames.append(k)
        counts.append(len(found))
        contours.extend(found)
        areas.append(found_areas)
        if progress is not None and len(frames) % 25 == 0:
            progress(len(frames))
    if progress is not None:
        progress(len(frames))
    # Features of many frames' objects at once: the vectorised kernel's fixed cost per call
    # is then shared by hundreds of objects.
    all_areas = np.concatenate(areas) if areas else np.empty(0)
    blocks = [
        object_features(contours[i : i + _FEATURE_BATCH], all_areas[i : i + _FEATURE_BATCH],
                        offset=roi_offset(params))
        for i in range(0, len(contours), _FEATURE_BATCH)
    ]  # fmt: skip
    features = np.concatenate(blocks) if blocks else np.empty((0, N_FEATURES))
    return Detections(
        np.asarray(frames, np.int64),
        np.asarray(counts, np.int64),
        features,
        list(source.skipped[skipped_before:]),
        (np.concatenate(pieces) if pieces else np.zeros(0, bool)) if params.animals else None,
        scale=scale if params.animals else None,
    )


#: Known animals: pieces down to this fraction of ``minArea`` are found (fragments to merge),
#: blobs up to ``animals × maxArea`` are kept (touching animals to split).
_FRAGMENT_OF_MIN_AREA = 0.25


def _segment_animals(
    frame: np.ndarray,
    background: np.ndarray,
    params: Parameters,
    typical: float,
    regions: Sequence[Region] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """One frame's objects when the number of animals is known (see :mod:`batchtrack.split`);
    with arenas, each arena's with its own count."""
    if regions is None:
        bounds = (params.minArea * _FRAGMENT_OF_MIN_AREA, params.maxArea * max(params.animals, 1))
        contours, areas = segment(frame, background, params, area_bounds=bounds)
        return split_objects(
            contours, areas, typical=typical, expected=params.animals, min_area=params.minArea
        )
    found: list[np.ndarray] = []
    found_areas, found_pieces = [], []
    binary = roi_binary(frame, background, params)  # once for every arena
    highs = [params.maxArea * max(region.animals, 1) for region in regions]
    low = params.minArea * _FRAGMENT_OF_MIN_AREA
    each = find_in_regions(binary, regions, min_area=low, max_areas=highs)
    for region, (contours, areas) in zip(regions, each, strict=True):
        kept, kept_areas, pieces = split_objects(
            contours, areas, typical=typical, expected=region.animals, min_area=params.minArea
        )
        found.extend(kept)
        found_areas.append(kept_areas)
        found_pieces.append(pieces)
    return found, np.concatenate(found_areas), np.concatenate(found_pieces)


@dataclass(frozen=True)
class AnimalScale:
    """What detection with a known number of animals needs to know of a movie beforehand.

    Attributes
    ----------
    area : float
        Typical area of one animal (px²), 0 if none was found.
    brightness : float
        Typical median grey level of a frame; every frame is scaled to it before subtraction.
    """

    area: float
    brightness: float


def measure_animals(
    source: FrameSource, background: np.ndarray, params: Parameters, *, samples: int = 20
) -> AnimalScale:
    """Typical area and brightness from evenly sampled frames (unreadable ones left out).

    The brightness is the median of the frames' median grey levels; the area, the median area
    of the objects found as FastTrack would (``minArea`` < area < ``maxArea``) once each frame
    is scaled to that brightness.
    """
    frames = []
    for k in sample_indices(source.n_frames, samples):
        try:
            frame = source.read(k)
        except InputError:
            continue
        frames.append(register(background, frame, params.reg) if params.reg else frame)
    if not frames:
        return AnimalScale(0.0, median_level(background))
    level = float(np.median([median_level(frame) for frame in frames]))
    found = [segment(match_brightness(f, level), background, params)[1] for f in frames]
    return AnimalScale(typical_area(np.concatenate(found)), level)


def link_detections(chunks: Iterable[Detections], params: Parameters) -> Iterator[np.ndarray]:
    """Link detections in frame order; yield one block of result rows per chunk.

    Parameters
    ----------
    chunks : iterable of Detections
        Consecutive frame ranges, in order.
    params : Parameters
        Linking parameters (``spot``, ``norm*``, ``maxDist``, ``maxTime``).

    Yields
    ------
    ndarray of float64, shape (K, 23)
        Rows as :data:`batchtrack.schema.TRACKING_COLUMNS`, ordered by frame then id. With
        ``params.animals > 0`` the ids are tracklets', with motion prediction, and the
        pieces of split blobs come along with id -1 (see :func:`stitched`).
    """
    require_measured(params, params.auto)
    weights = LinkWeights.from_params(params)
    if not params.animals:
        linker = Linker(weights)
        for chunk in chunks:
            yield _link_chunk(linker, chunk.frames, chunk.counts, chunk.features, chunk.groups)
        return
    # Pieces of split blobs are not linked: who is who inside a blob is not known, so an
    # animal's tracklet pauses where it touches another, and stitching joins it across.
    motion_linker: Linker | None = None
    for chunk in chunks:
        if motion_linker is None:
            motion_linker = Linker(_known_animals_weights(weights, chunk.scale),
                            motion=ConstantVelocity(spot=params.spot))  # fmt: skip
        counts, features = chunk.counts, chunk.features
        pieces = chunk.pieces if chunk.pieces is not None else np.zeros(len(features), bool)
        frame_of = np.repeat(np.arange(len(counts)), counts)
        whole = np.bincount(frame_of[~pieces], minlength=len(counts))
        groups = None if chunk.groups is None else chunk.groups[~pieces]
        rows = _link_chunk(motion_linker, chunk.frames, whole, features[~pieces], groups)
        if pieces.any():  # pieces go along with id -1
            extra = np.empty((int(pieces.sum()), len(TRACKING_COLUMNS)))
            extra[:, :N_FEATURES] = features[pieces]
            extra[:, IMAGE_NUMBER] = chunk.frames[frame_of[pieces]]
            extra[:, ID] = -1
            rows = np.concatenate([rows, extra])
            rows = rows[np.lexsort((rows[:, ID], rows[:, IMAGE_NUMBER]))]
        yield rows


#: With a known number of animals and no ``normArea``, an area differing from the one last
#: seen by this fraction of the typical animal's area costs as much as a step of ``normDist``.
AREA_COST_FRACTION = 0.15


def _known_animals_weights(weights: LinkWeights, scale: AnimalScale | None) -> LinkWeights:
    """The linking weights of the known-animals mode: FastTrack's, plus an area term when
    ``normArea`` is 0 (size tells touching animals apart when they separate)."""
    if weights.norm_area or scale is None or scale.area <= 0:
        return weights
    return replace(weights, norm_area=AREA_COST_FRACTION * scale.area)


def _link_chunk(
    linker: Linker,
    frames: np.ndarray,
    counts: np.ndarray,
    features: np.ndarray,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of one chunk's objects (``counts`` per frame), linked frame after frame (each
    object within its group, when given)."""
    rows = np.empty((len(features), len(TRACKING_COLUMNS)))
    offset = 0
    for k, count in zip(frames.tolist(), counts.tolist(), strict=True):
        found = features[offset : offset + count]
        group = None if groups is None else groups[offset : offset + count]
        order, ids = linker.step(found, group)
        block = rows[offset : offset + count]
        block[:, :N_FEATURES] = found[order]
        block[:, IMAGE_NUMBER] = k
        block[:, ID] = ids
        offset += count
    return rows


def _open(path: str | Path | FrameSource) -> FrameSource:
    return path if isinstance(path, FrameSource) else open_frames(path)


def resolve_background(
    source: FrameSource, params: Parameters, background: str | Path | np.ndarray | None
) -> np.ndarray:
    """The background to use: computed from the movie (None), an image file, or an array,
    checked against the frames' size."""
    if background is None:
        return compute_background(source, params)
    if isinstance(background, np.ndarray):
        if background.shape != source.shape:
            raise InputError(
                f"background is {background.shape[1]}×{background.shape[0]} px but the frames of "
                f"{source.path} are {source.shape[1]}×{source.shape[0]} px"
            )
        return background
    return load_background(background, source.shape)


def _crop(image: np.ndarray, params: Parameters) -> np.ndarray:
    if params.roi is None:
        return image
    x0, y0, x1, y1 = params.roi
    return image[..., y0:y1, x0:x1]


def _read_sample(
    source: FrameSource, positions: list[int]
) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """Frames at ``positions`` (by index), the same stacked, and the neighbour of each (the
    next frame, or the previous one for the last frame; none for a 1-frame movie).
    Unreadable frames are left out."""
    read: dict[int, np.ndarray] = {}
    frames, neighbours = [], []
    for k in positions:
        other = k + 1 if k + 1 < source.n_frames else k - 1
        try:
            frame = read[k] if k in read else source.read(k)
            after = None if other < 0 else source.read(other)
        except InputError as error:
            log.warning("measuring: frame %d left out: %s", k, error)
            continue
        read[k] = frame
        frames.append(frame)
        if after is not None:
            neighbours.append(after)
    if not frames:
        raise InputError(f"no readable frame in {source.path} to measure the parameters on")
    empty = np.empty((0, *frames[0].shape), np.uint8)
    pairs = np.stack(neighbours) if len(neighbours) == len(frames) else empty
    return read, np.stack(frames), pairs


def resolve_parameters(
    source: FrameSource,
    params: Parameters,
    background: str | Path | np.ndarray | None = None,
) -> tuple[Parameters, np.ndarray, AutoReport]:
    """Measure the ``"auto"`` parameters on the movie, and get its background.

    Reads :data:`batchtrack.autoparams.SAMPLE_SIZE` frames spread over the movie (each with
    the frame after it), measures ``lightBack`` on them (so ``methBack`` and ``nBack`` can
    follow), computes the background (unless given), then measures ``thresh``, the area
    bounds and ``maxDist`` (see :mod:`batchtrack.autoparams`). ``methBack``, when not given
    at all, follows ``lightBack`` even with no auto value. Explicit values are kept.

    Parameters
    ----------
    source : FrameSource
        The movie.
    params : Parameters
        Parameters, some possibly ``"auto"``.
    background : path or ndarray, optional
        Use this background instead of computing one.

    Returns
    -------
    params : Parameters
        Every value a number (nothing left ``"auto"``): what tracking uses and saves.
    background : ndarray of uint8, shape (H, W)
    report : AutoReport
        What was measured and why (empty when nothing was ``"auto"``).

    Raises
    ------
    AutoParameterError
        When a value cannot be measured (a static, uniform or 1-frame movie), saying why.
    """
    check_roi(params, source.shape)
    auto = params.auto
    detection = [n for n in ("thresh", "minArea", "maxArea", "maxDist") if n in auto]
    supplied = None if background is None else resolve_background(source, params, background)
    frames = following = None
    cache: dict[int, np.ndarray] = {}
    if "lightBack" in auto or detection:
        positions = autoparams.sample_positions(source.n_frames)
        cache, frames, following = _read_sample(source, positions)
        frames, following = _crop(frames, params), _crop(following, params)
    report, updates = AutoReport(), {}
    if "lightBack" in auto:
        assert frames is not None
        found = autoparams.measure_polarity(
            frames, None if supplied is None else _crop(supplied, params)
        )
        report += AutoReport((found,))
        updates["lightBack"] = found.value
    if "methBack" in auto or "methBack" not in params.model_fields_set:
        light_back = updates.get("lightBack", params.lightBack)
        updates["methBack"] = 1 - light_back
        if "methBack" in auto:
            report += AutoReport((autoparams.background_method(light_back),))
    if "nBack" in auto:
        found = autoparams.background_frames(source.n_frames)
        report += AutoReport((found,))
        updates["nBack"] = found.value
    params = params.with_updates(updates)
    if supplied is None:
        result = compute_background(source, params, cache=cache)
    else:
        result = supplied
    if detection:
        assert frames is not None and following is not None
        measured = autoparams.measure_detection(
            frames, following, _crop(result, params), light_back=params.lightBack,
            names=detection, thresh=params.thresh, min_area=params.minArea,
            max_area=params.maxArea, animals=params.animals,
        )  # fmt: skip
        for warning in measured.warnings:
            log.warning("%s: %s", source.path, warning)
        report += measured
        params = params.with_updates(measured.values())
    return params, result, report


def arena_detection_regions(arena_set: ArenaSet, params: Parameters) -> list[Region]:
    """Where detection looks for each arena's objects (in ROI coordinates), with its count."""
    animals = arena_set.animals(params.animals)
    if params.roi is None:
        return arena_regions(arena_set.labels, animals=animals)
    x0, y0, x1, y1 = params.roi
    return arena_regions(arena_set.labels, (x0, y0), (y1 - y0, x1 - x0), animals)


def resolve_arenas(spec: str, shape: tuple[int, int], background: np.ndarray) -> ArenaSet:
    """The arenas of a movie from an ``--arenas`` value (a file is read here)."""
    content = read_arena_file(spec) if is_file_spec(spec) else None
    return make_arena_set(spec, shape, background=background, content=content)


def track_movie(
    path: str | Path | FrameSource,
    params: Parameters | None = None,
    *,
    background: str | Path | np.ndarray | None = None,
    output: str | Path | None = None,
    progress: Progress | None = None,
    collect: bool = False,
    chunk_size: int = 500,
    arenas: str | Path | None = None,
) -> tuple[TrackSummary, pd.DataFrame | None]:
    """Track one movie and write its result folder; memory stays bounded (frames streamed).

    Parameters
    ----------
    path : path or FrameSource
        Image-sequence folder or video file.
    params : Parameters, optional
        Defaults if omitted.
    background : path or ndarray, optional
        Use this background instead of computing one.
    output : path, optional
        Result folder; by default FastTrack's (``Tracking_Result`` or
        ``Tracking_Result_<video>`` beside the movie).
    progress : callable, optional
        ``progress(frames_done, frames_total)``.
    collect : bool
        Also return the whole result table (it then lives in memory).
    chunk_size : int
        Frames detected between two writes of result rows.
    arenas : str or Path, optional
        Track each arena on its own: a TOML file of shapes, a label image, ``grid:RxC`` or
        ``auto`` (see :mod:`batchtrack.io.arenas` and :mod:`batchtrack.arena_tracking`).

    Returns
    -------
    summary : TrackSummary
    table : DataFrame or None
        The result table when ``collect`` is true.
    """
    started = time.perf_counter()
    wanted = params or Parameters()
    # what is logged before the result's folder is open, for its log
    with collect_messages() as early, _open(path) as source:
        params, bg, measured = resolve_parameters(source, wanted, background)
        scale = measure_animals(source, bg, params) if params.animals else None
        total = source.n_frames
        arena_set = None if arenas is None else resolve_arenas(str(arenas), source.shape, bg)
        regions = None if arena_set is None else arena_detection_regions(arena_set, params)

        def chunks() -> Iterator[Detections]:
            for start in range(0, total, chunk_size):
                report = None
                if progress is not None:
                    report = lambda n, start=start: progress(start + n, total)  # noqa: E731
                stop = min(start + chunk_size, total)
                yield detect_range(
                    source, bg, params, start=start, stop=stop, progress=report, scale=scale,
                    regions=regions,
                )

        marker = None
        if not isinstance(background, np.ndarray):  # a file or computed: a rerun can match it
            given = None if background is None else Path(background)
            # The parameters as given ("auto" included), as the batch's prepare task hashes them.
            marker = make_marker(Path(source.path), parameters_hash(wanted), given, "track")
        return write_result(
            chunks(), params, bg, output or source.result_dir, collect=collect, marker=marker,
            arena_set=arena_set, started=started, label=str(source.path), auto=measured,
            timestamps=source.timestamps, notes=early,
        )  # fmt: skip


def write_result(
    chunks: Iterable[Detections],
    params: Parameters,
    background: np.ndarray,
    folder: str | Path,
    *,
    collect: bool = False,
    marker: dict | None = None,
    started: float | None = None,
    label: str = "",
    auto: AutoReport | None = None,
    arena_set: ArenaSet | None = None,
    timestamps: np.ndarray | None = None,
    notes: Sequence[str] = (),
    offload: Offload | None = None,
    spare: Offload | None = None,
) -> tuple[TrackSummary, pd.DataFrame | None]:
    """Link detections in order and publish the result folder atomically, with the analysis
    files (see :mod:`batchtrack.analysis_files`) beside FastTrack's.

    Every warning logged meanwhile in this thread (and what the decoders print) is also
    written to the result's ``log`` (:func:`batchtrack.io.messages.collect_messages`).

    Parameters
    ----------
    chunks : iterable of Detections
        Consecutive frame ranges of one movie, in order (consumed lazily).
    params : Parameters
        Tracking parameters (saved as ``cfg.toml``).
    background : ndarray of uint8
        Background used (saved as ``background.pgm``).
    folder : path
        Result folder to publish (an existing one is archived).
    collect : bool
        Also return the whole table.
    marker : dict, optional
        Resume marker saved as ``batchtrack.json`` in the folder.
    auto : AutoReport, optional
        What was measured from the movie: one line of the result's ``log`` per value.
    arena_set : ArenaSet, optional
        Link (and stitch) each arena on its own; the folder also gets ``arenas.csv``,
        ``arenas.png``, ``arena_labels.png`` (their label image) and
        ``arenas/arena_K/tracking.txt`` (each arena as FastTrack would write it alone).
    timestamps : ndarray, optional
        The movie's frame timestamps (s), for the ``time`` of the analysis files when the
        ``fps`` parameter is 0 (see :mod:`batchtrack.calibration`).
    notes : sequence of str
        Messages of the steps before (opening the movie, measuring, the background), written
        first to the result's ``log``.
    offload : callable, optional
        ``offload(function, *args)`` starts a picklable function elsewhere (e.g. in a worker
        process) and returns a callable that waits for its result: the analysis files are
        then written there, from ``tracking.parquet``, while this process draws the pictures
        and needs neither pandas nor their time.
    spare : callable, optional
        Like ``offload``, on processes idle once every chunk is in (e.g. the detection
        workers'): with a known number of animals, every row is written after stitching,
        and the text of ``tracking.txt`` is then formatted there, a few blocks ahead of this
        process, which relabels and writes.
    """
    require_measured(params, params.auto)
    auto = auto or AutoReport()
    started = time.perf_counter() if started is None else started
    calibration = Calibration.from_params(params, timestamps)
    with (
        ResultWriter(
            folder, calibration=calibration, speeds=SpeedStream(), arenas=arena_set is not None
        ) as writer,
        collect_messages(writer.log),
    ):
        for note in notes:
            writer.log(note)
        sink = ResultSink(
            writer, params, background, calibration, label or str(folder), arena_set,
            offload=offload,
        )  # fmt: skip
        for line in auto.lines():
            writer.log(f"measured {line}")
        scratch = writer.partial
        blocks = linked_blocks(sink.record(chunks), params, scratch, arena_set, sink.arena_result)
        if spare is not None and params.animals:
            for rows, interpolated, prefixes in _formatted_ahead(blocks, spare):
                sink.add(rows, interpolated, collect=collect, prefixes=prefixes)
        else:
            for rows, interpolated in blocks:
                sink.add(rows, interpolated, collect=collect)
        published = sink.finish(marker=marker)
    summary = TrackSummary(
        published, sink.n_frames, writer.n_rows, sink.n_ids, sink.skipped,
        time.perf_counter() - started, params, auto,
    )  # fmt: skip
    return summary, tracking_table(sink.blocks) if collect else None


#: Blocks of rows whose text is being formatted elsewhere while this process goes on.
_FORMATTED_AHEAD = 4


def _formatted_ahead(
    blocks: Iterable[tuple[np.ndarray, np.ndarray | None]], spare: Offload
) -> Iterator[tuple[np.ndarray, np.ndarray | None, list[str]]]:
    """``blocks`` with the text of their rows (:func:`batchtrack.io.results.format_prefixes`),
    formatted by ``spare`` a few blocks ahead."""
    pending: collections.deque[tuple[np.ndarray, np.ndarray | None, Callable[[], Any]]]
    pending = collections.deque()
    for rows, interpolated in blocks:
        pending.append((rows, interpolated, spare(format_prefixes, rows)))
        if len(pending) > _FORMATTED_AHEAD:
            rows, interpolated, waiting = pending.popleft()
            yield rows, interpolated, waiting()
    while pending:
        rows, interpolated, waiting = pending.popleft()
        yield rows, interpolated, waiting()


def linked_blocks(
    chunks: Iterable[Detections],
    params: Parameters,
    scratch: Path,
    arena_set: ArenaSet | None = None,
    arena_result: ArenaResult | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Detections → result rows: linked, stitched when the number of animals is known, each
    arena on its own when there are arenas.

    Parameters
    ----------
    chunks : iterable of Detections
        Consecutive frame ranges, in order (consumed lazily).
    params : Parameters
        Tracking parameters.
    scratch : Path
        A folder for the rows spilled while stitching (files removed at the end).
    arena_set, arena_result : optional
        The arenas, and where the ids of each arena are recorded.

    Yields
    ------
    rows : ndarray, shape (K, 23)
        Ordered by frame, then id.
    interpolated : ndarray of bool, shape (K,), or None
        Rows filled over a gap (``animals > 0``).
    """
    if arena_set is not None:
        assert arena_result is not None
        yield from arena_rows(
            chunks, params, arena_set, scratch / ".arena-rows.tmp", arena_result,
            link=link_detections, stitch=stitched,
        )  # fmt: skip
    elif params.animals:
        yield from stitched(link_detections(chunks, params), params, scratch / ".linked-rows.tmp")
    else:
        yield from ((rows, None) for rows in link_detections(chunks, params))


class ResultSink:
    """The files of one result folder, fed with result rows in frame order.

    :meth:`record` passes the detections through on their way to the linker (counting the
    frames read, logging the skipped ones); :meth:`add` writes rows (FastTrack's files, the
    analysis tables, the trajectories picture, the per-arena files); :meth:`finish` writes the
    rest and publishes the folder.

    Parameters
    ----------
    writer : ResultWriter
        The open result folder.
    params : Parameters
        Tracking parameters.
    background : ndarray of uint8
        The background (saved, and under the trajectories).
    calibration : Calibration
        Units and clock of the analysis files.
    label : str
        The movie, for messages.
    arena_set : ArenaSet, optional
        The movie's arenas.
    arena_result : ArenaResult, optional
        Where the linking records each arena's ids (shared by the files of a recording); a
        new one by default.
    offload : callable, optional
        Where the analysis files are written (see :func:`write_result`); in this process by
        default.
    """

    def __init__(
        self,
        writer: ResultWriter,
        params: Parameters,
        background: np.ndarray,
        calibration: Calibration,
        label: str,
        arena_set: ArenaSet | None = None,
        *,
        arena_result: ArenaResult | None = None,
        offload: Offload | None = None,
    ) -> None:
        self.writer, self.params, self.background = writer, params, background
        self.offload = offload
        self.calibration = calibration
        self.label, self.arena_set = label, arena_set
        self.n_ids = self.n_frames = 0
        self.skipped: list[tuple[int, str]] = []
        self.frames: list[np.ndarray] = []  # frames read (for the known-animals warning)
        self.blocks: list[np.ndarray] = []
        self.per_frame = np.zeros(0, np.int64)
        self.canvas = TrajectoryCanvas(background, max_jump=params.maxDist)
        self.arena_result = arena_result
        if arena_set is not None:
            if self.arena_result is None:
                self.arena_result = ArenaResult(arena_set.animals(params.animals))
            self.arena_texts = ArenaTexts(writer.partial / "arenas", arena_set.count)

    def record(self, chunks: Iterable[Detections]) -> Iterator[Detections]:
        """The chunks, unchanged, noted on their way (frames read, frames skipped)."""
        for chunk in chunks:
            self.note(chunk.frames, chunk.skipped, chunk.notes)
            yield chunk

    def note(
        self, frames: np.ndarray, skipped: list[tuple[int, str]], notes: Sequence[str] = ()
    ) -> None:
        """Note frames read and frames skipped, and the chunk's messages (logged in the
        result's ``log``)."""
        self.n_frames += len(frames)
        self.frames.append(frames)
        self.skipped.extend(skipped)
        for note in notes:
            self.writer.log(note)
        for k, reason in skipped:
            self.writer.log(f"frame {k} skipped: {reason}")

    def add(
        self,
        rows: np.ndarray,
        interpolated: np.ndarray | None,
        collect: bool = False,
        prefixes: list[str] | None = None,
    ) -> None:
        """Write result rows (ordered by frame, then id; after those already added), with
        their ``tracking.txt`` lines without the id (:func:`format_prefixes`) if formatted."""
        arena = None
        if self.arena_result is not None:
            arena = self.arena_result.arena_of(rows[:, ID])
            if prefixes is None:
                prefixes = format_prefixes(rows)  # once for the movie's file and the arenas'
        self.writer.write_rows(rows, interpolated=interpolated, arena=arena, prefixes=prefixes)
        if self.arena_result is not None:
            self.arena_texts.add(rows, self.arena_result, prefixes)
        self.canvas.add(rows[:, X_BODY], rows[:, Y_BODY], rows[:, ID])
        if len(rows):
            self.n_ids = max(self.n_ids, int(rows[:, ID].max()) + 1)
        if collect:
            self.blocks.append(rows)
        if self.params.animals and len(rows):
            self.per_frame = _count_per_frame(self.per_frame, rows)

    def finish(
        self, *, marker: dict | None = None, before_publish: Callable[[], dict] | None = None
    ) -> Path:
        """Write the pictures, the per-arena and the analysis files; publish the folder.

        Parameters
        ----------
        marker : dict, optional
            Resume marker (``batchtrack.json``).
        before_publish : callable, optional
            Called once the folder's files are complete, before it is published; what it
            returns is added to the marker's outputs (:func:`batchtrack.io.resume.record_outputs`).

        Returns
        -------
        Path
            The published folder.
        """
        writer, params, label = self.writer, self.params, self.label
        if params.animals:
            _warn_missing_animals(self.per_frame, self.frames, params.animals, writer, label)
        if writer.n_rows == 0:
            message = (
                "no object detected in any frame; check thresh, lightBack and "
                "minArea/maxArea (try the preview)"
            )
            log.warning("%s: %s", label, message, extra=IN_RESULT)
            writer.log(message)
        arena_set, arena_result = self.arena_set, self.arena_result
        if arena_set is not None and arena_result is not None:
            self.arena_texts.close()
        n_frames, skipped = self.n_frames + len(self.skipped), [k for k, _ in self.skipped]
        arena_animals = None if arena_result is None else arena_result.animals
        waiting = None
        if self.offload is not None:
            # started first: the other process writes them while this one draws the pictures
            writer.close_tables()
            waiting = self.offload(
                analysis_files_task, writer.partial, params, self.calibration, n_frames,
                skipped, arena_animals,
            )  # fmt: skip
        picture = self.canvas.finish()
        if arena_set is not None and arena_result is not None:
            picture = outline_arenas(picture, arena_set.labels)
            writer.write_image("arenas.png", draw_arenas(self.background, arena_set.labels))
            writer.write_image(LABELS_FILE, arena_set.labels.astype(np.uint16))
            rows = arena_set.rows(arena_result.ids, arena_result.animals)
            write_arenas_csv(writer.partial / "arenas.csv", rows)
        writer.write_image("trajectories.png", picture)
        if waiting is not None:
            for message in waiting():
                writer.log(message)
        else:
            write_analysis_files(
                writer.partial, params, self.calibration, n_frames=n_frames, skipped=skipped,
                note=writer.log, arena_animals=arena_animals,
                table=writer.close_tables(keep=ANALYSIS_INPUTS),
            )  # fmt: skip
        if before_publish is not None:
            extra = before_publish()
            marker = {**(marker or {}), "outputs": extra}
        return writer.finish(self.background, params, marker=marker)


def stitched(
    blocks: Iterable[np.ndarray], params: Parameters, scratch: Path
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Linked tracklets → at most ``params.animals`` identities, with short gaps filled.

    The linked rows are spilled to ``scratch`` (a raw float64 file, deleted at the end) while
    only tracklet summaries stay in memory; after stitching (:mod:`batchtrack.stitch`) the
    rows are read back block by block, relabelled, and the interpolated rows inserted.

    Yields
    ------
    rows : ndarray, shape (K, 23)
        Ordered by frame, then id.
    interpolated : ndarray of bool, shape (K,)
    """
    tracklets, sizes = Tracklets(), []
    with open(scratch, "wb") as spill:
        for rows in blocks:
            tracklets.add(rows)
            np.ascontiguousarray(rows, np.float64).tofile(spill)
            sizes.append(len(rows))
    try:
        total = int(sum(sizes))
        shape = (total, len(TRACKING_COLUMNS))
        linked = np.memmap(scratch, np.float64, "r", shape=shape) if total else None

        rules = stitch_rules(params)
        following = close_gaps(tracklets, rules)
        spans = keep_within_capacity(tracklets, following, params.animals)
        kept = Tracklets()
        for rows in _reread(linked, sizes):
            kept.add(trim(rows, spans))
        kept.extend(len(tracklets))
        identities = assign_identities(kept, following, params.animals, rules)
        log.info(
            "%d tracklets, %d joined over gaps, %d dropped, %d gaps",
            len(tracklets), int((following >= 0).sum()),
            int((identities.identity < 0).sum()), len(identities.gaps),
        )  # fmt: skip
        after = -1
        for n, rows in enumerate(_reread(linked, sizes)):
            rows = trim(rows, spans)
            if len(rows) == 0:
                continue
            last = n == len(sizes) - 1
            until = np.iinfo(np.int64).max if last else int(rows[:, IMAGE_NUMBER].max()) + 1
            yield relabel(rows, identities, after + 1, until, max_dist=rules.max_dist)
            after = until - 1
        del linked
    finally:
        scratch.unlink(missing_ok=True)


def stitch_rules(params: Parameters) -> StitchRules:
    """Stitching gates from the tracking parameters: an animal moves less than ``maxDist``
    px a frame; gaps up to ``2 × maxTime`` frames are joined and filled."""
    gap = max(2 * params.maxTime, 1)
    return StitchRules(max_dist=float(params.maxDist), max_gap=gap, max_fill=gap)


def _reread(linked: np.ndarray | None, sizes: list[int]) -> Iterator[np.ndarray]:
    """The spilled blocks again, one after another (in memory one at a time)."""
    offset = 0
    for size in sizes:
        if size == 0 or linked is None:
            yield np.empty((0, len(TRACKING_COLUMNS)))
        else:
            yield np.array(linked[offset : offset + size])
        offset += size


def _count_per_frame(counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    frames = rows[:, IMAGE_NUMBER].astype(np.int64)
    if frames.max() >= len(counts):
        counts = np.concatenate([counts, np.zeros(int(frames.max()) + 1 - len(counts), np.int64)])
    np.add.at(counts, frames, 1)
    return counts


def _ranges(frames: np.ndarray, limit: int = 10) -> str:
    """``"3-7, 12, 40-41"`` for sorted frame numbers (the first ``limit`` runs)."""
    if len(frames) == 0:
        return ""
    breaks = np.flatnonzero(np.diff(frames) != 1)
    starts = np.r_[frames[0], frames[breaks + 1]]
    stops = np.r_[frames[breaks], frames[-1]]
    runs = [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, stops, strict=True)]
    return ", ".join(runs[:limit]) + (f" and {len(runs) - limit} more" if len(runs) > limit else "")


def _warn_missing_animals(
    per_frame: np.ndarray, frames: list[np.ndarray], animals: int, writer: ResultWriter,
    label: str,
) -> None:  # fmt: skip
    """Log the frames read where fewer than ``animals`` identities were found."""
    read = np.concatenate(frames) if frames else np.empty(0, np.int64)
    counts = np.zeros(len(read), np.int64)
    inside = read < len(per_frame)
    counts[inside] = per_frame[read[inside]]
    lacking = read[counts < animals]
    if len(lacking):
        message = (
            f"animals = {animals}, but fewer were found in {len(lacking)} frame(s): "
            f"{_ranges(lacking)}"
        )
        log.warning("%s: %s", label, message, extra=IN_RESULT)
        writer.log(message)


def track(
    path: str | Path,
    params: Parameters | None = None,
    *,
    background: str | Path | np.ndarray | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Track one image sequence or video and write its ``Tracking_Result`` folder.

    Parameters
    ----------
    path : path
        Folder of an image sequence, or a video file.
    params : Parameters, optional
        Tracking parameters (FastTrack's names); defaults if omitted.
    background : path or ndarray, optional
        Background image to use instead of computing one.
    progress : callable, optional
        ``progress(frames_done, frames_total)``.

    Returns
    -------
    DataFrame
        The result table, FastTrack's 23 columns, one row per object per frame.

    Examples
    --------
    >>> from batchtrack import track, Parameters
    >>> table = track("exp/Run1/images", Parameters(thresh=60, methBack=1, maxArea=400))
    >>> table["id"].nunique()
    3
    >>> import os; os.path.isfile("exp/Run1/images/Tracking_Result/tracking.txt")
    True
    """
    _, table = track_movie(path, params, background=background, progress=progress, collect=True)
    return table
