"""Tracking parameters: one validated model with FastTrack's names, and cfg.toml read/write.

The model, :class:`Parameters`, carries every FastTrack tracking parameter with FastTrack's
name, type, default (the initial values of FastTrack's interactive window) and range. Units,
descriptions and the labels of coded choices live in the field metadata, so a command line or
a window can build its help and widgets from :func:`describe_parameters`.

A ``cfg.toml`` as FastTrack writes it::

    title = "FastTrack cfg"

    [parameters]
    lightBack = 0
    maxArea = 170
    ...

FastTrack's files are not always valid TOML (unquoted ``path = /some/dir``, or the title line
``title = "FastTrack cfg""`` of older versions); :func:`load_cfg` then falls back to a line
parser. :func:`save_cfg` always writes valid TOML in FastTrack's layout.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from typing_extensions import Self

from batchtrack.errors import OutputError, ParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

__all__ = [
    "AUTO",
    "AUTO_NAMES",
    "EXTENSION_NAMES",
    "EXTRA_KEYS",
    "FASTTRACK_NAMES",
    "PARAMETER_NAMES",
    "CfgFile",
    "Parameters",
    "ValidatedModel",
    "describe_parameters",
    "load_cfg",
    "parameters_hash",
    "read_cfg",
    "save_cfg",
]

logger = logging.getLogger(__name__)

#: Keys FastTrack may write in cfg.toml that are not tracking parameters: the movie and the
#: background image given on its command line, and the cost weight of early versions.
EXTRA_KEYS = ("path", "backPath", "weight")
_SILENT_KEYS = frozenset({"title"})
_TITLE = 'title = "FastTrack cfg"\n\n[parameters]\n'

#: The value that asks for a parameter to be measured from the movie.
AUTO = "auto"
#: Parameters that accept ``"auto"`` (see :mod:`batchtrack.autoparams`), in measuring order.
AUTO_NAMES: tuple[str, ...] = (
    "lightBack", "methBack", "nBack", "thresh", "minArea", "maxArea", "maxDist",
)  # fmt: skip
#: What a length unit may be: 1 to 16 characters, no space, quote or backslash.
_UNIT_PATTERN = r"^[^\s\"'\\]{1,16}$"

_REGISTRATION = {0: "none", 1: "phase correlation", 2: "ECC", 3: "ORB features"}


def _param(
    default: Any,
    description: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    unit: str | None = None,
    choices: dict[int, str] | None = None,
    extension: bool = False,
    pattern: str | None = None,
    decimals: int | None = None,
) -> Any:
    extra: dict[str, Any] = {"unit": unit}
    if choices is not None:
        extra["choices"] = choices
    if extension:
        extra["extension"] = True
    if decimals is not None:
        extra["decimals"] = decimals
    return Field(
        default,
        ge=ge,
        gt=gt,
        le=le,
        pattern=pattern,
        description=description,
        json_schema_extra=extra,
    )


class ValidatedModel(BaseModel):
    """A frozen pydantic model whose invalid values raise :class:`ParameterError`.

    The parameter models of every workflow derive from it: a bad value or an unknown name is
    reported in one sentence naming the parameter, the value and what is allowed
    (:meth:`explain`), and :meth:`from_mapping` adds the file the values came from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    #: How :meth:`from_mapping` names a file with bad values (``{source}``, ``{error}``).
    _in_source: ClassVar[str] = "Invalid parameters in {source}: {error} Fix them there."

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ParameterError(self.explain(exc)) from exc

    @classmethod
    def explain(cls, error: ValidationError) -> str:
        """One sentence per invalid field: name, value, and the message of pydantic."""
        problems: dict[str, str] = {}  # one per field (a union reports each of its branches)
        known = list(cls.model_fields)
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "parameters"
            if name in problems:
                continue
            if item["type"] == "extra_forbidden":
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                problems[name] = f"unknown parameter {name!r} ({hint}known: {', '.join(known)})"
                continue
            field = cls.model_fields.get(name)
            hint = f" ({field.description})" if field is not None and field.description else ""
            problems[name] = f"{name} = {_shown(item.get('input'))} is invalid: {item['msg']}{hint}"
        return "; ".join(problems.values())

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str | None = None) -> Self:
        """Validate a name -> value mapping; missing names take the defaults.

        Parameters
        ----------
        values : mapping of str to int, float or str
            Parameter values by name.
        source : str, optional
            Where the values come from (a file path, "command line"), named in errors.

        Raises
        ------
        ParameterError
            On an unknown name or a value out of its range.
        """
        try:
            return cls(**values)
        except ParameterError as exc:
            if source is None:
                raise
            raise ParameterError(cls._in_source.format(source=source, error=exc)) from exc


class Parameters(ValidatedModel):
    """Every FastTrack tracking parameter, validated, immutable.

    Construct with keyword arguments (missing ones take FastTrack's defaults); any invalid
    value or unknown name raises :class:`~batchtrack.errors.ParameterError`.

    The parameters of :data:`AUTO_NAMES` also accept ``"auto"``: the value is then measured
    from the movie before tracking (:func:`batchtrack.movie.resolve_parameters`); until then
    the field holds its default and its name is in :attr:`auto`. ``methBack``, when not given
    at all, follows ``lightBack`` at that step (maximum projection for dark objects, minimum
    for light ones); a value given (in a cfg.toml, on the command line) is kept.

    Examples
    --------
    >>> p = Parameters(thresh=60, minArea=50, maxArea=170)
    >>> p.with_updates(maxTime=40).maxTime
    40
    >>> sorted(Parameters(thresh="auto", minArea=20).auto)
    ['thresh']
    """

    _auto: frozenset[str] = PrivateAttr(default=frozenset())

    # Background and binarisation
    thresh: int = _param(
        126,
        "Binary threshold: after background subtraction, pixels whose difference exceeds it "
        "are object pixels.",
        ge=0,
        le=255,
        unit="grey level",
    )
    lightBack: int = _param(
        0,
        "Background type; sets the sign of the background subtraction.",
        ge=0,
        le=1,
        choices={0: "light background, dark objects", 1: "dark background, light objects"},
    )
    nBack: int = _param(
        20,
        "Number of frames, sampled evenly over the movie, projected into the background.",
        ge=1,
        unit="frames",
    )
    methBack: int = _param(
        0,
        "Projection of the background frames.",
        ge=0,
        le=2,
        choices={0: "minimum", 1: "maximum", 2: "average"},
    )
    regBack: int = _param(
        0,
        "Registration of the background frames onto the first one.",
        ge=0,
        le=3,
        choices=_REGISTRATION,
    )
    reg: int = _param(
        0,
        "Registration of each frame onto the background before subtraction.",
        ge=0,
        le=3,
        choices=_REGISTRATION,
    )
    # Morphology
    morph: int = _param(
        8,
        "Morphological operation on the binary image (OpenCV codes); 8 = none.",
        ge=0,
        le=8,
        choices={
            0: "erode",
            1: "dilate",
            2: "open",
            3: "close",
            4: "gradient",
            5: "top hat",
            6: "black hat",
            7: "hit-or-miss",
            8: "none",
        },
    )
    morphSize: int = _param(
        0,
        "Half size of the morphological kernel, which is (2*size+1) pixels wide; 0 = no operation.",
        ge=0,
        unit="px",
    )
    morphType: int = _param(
        2,
        "Shape of the morphological kernel.",
        ge=0,
        le=2,
        choices={0: "rectangle", 1: "cross", 2: "ellipse"},
    )
    # Region of interest (all 0 = whole image)
    xTop: int = _param(
        0, "Region of interest: left edge; all four 0 = whole image.", ge=0, unit="px"
    )
    yTop: int = _param(
        0, "Region of interest: top edge; all four 0 = whole image.", ge=0, unit="px"
    )
    xBottom: int = _param(
        0, "Region of interest: right edge; all four 0 = whole image.", ge=0, unit="px"
    )
    yBottom: int = _param(
        0, "Region of interest: bottom edge; all four 0 = whole image.", ge=0, unit="px"
    )
    # Detection
    minArea: int = _param(
        5, "Objects are kept when minArea < contour area < maxArea.", ge=0, unit="px²"
    )
    maxArea: int = _param(
        5000, "Objects are kept when minArea < contour area < maxArea.", ge=0, unit="px²"
    )
    # Linking
    spot: int = _param(
        0,
        "Point of the object used to link it between frames.",
        ge=0,
        le=2,
        choices={0: "head", 1: "tail", 2: "body"},
    )
    normDist: float = _param(
        100.0, "Distance normalisation of the cost; 0 removes the term.", ge=0, unit="px"
    )
    normAngle: float = _param(
        90.0, "Angle normalisation of the cost; 0 removes the term.", ge=0, le=360, unit="deg"
    )
    normArea: float = _param(
        0.0, "Area normalisation of the cost; 0 removes the term.", ge=0, unit="px²"
    )
    normPerim: float = _param(
        0.0, "Perimeter normalisation of the cost; 0 removes the term.", ge=0, unit="px"
    )
    maxDist: int = _param(
        200, "Objects farther apart than this (at the spot) are never linked.", ge=0, unit="px"
    )
    maxTime: int = _param(
        10,
        "Frames an object may stay unseen before its identity is dropped.",
        ge=0,
        unit="frames",
    )
    # batchtrack's own parameters (not FastTrack's): written to cfg.toml, the database and
    # the resume hash only when they differ from their default, so that a run at the
    # defaults gives FastTrack's files byte for byte.
    animals: int = _param(
        0,
        "Number of animals in the movie; 0 = unknown (FastTrack's behaviour). With N > 0 "
        "exactly N identities are produced.",
        ge=0,
        unit="animals",
        extension=True,
    )
    # Calibration and time (analysis files: tracking.parquet, tracking.nc, animals.csv).
    pixelSize: float = _param(
        1.0,
        "Length of one pixel in `unit`: positions, lengths, areas (squared) and speeds of the "
        "analysis files are multiplied by it; tracking.txt stays in pixels. 1 with unit px = "
        "uncalibrated.",
        gt=0,
        unit="unit/px",
        extension=True,
        decimals=6,
    )
    unit: str = _param(
        "px",
        "Length unit of pixelSize (e.g. mm, cm, um); px = uncalibrated.",
        extension=True,
        pattern=_UNIT_PATTERN,
    )
    fps: float = _param(
        0.0,
        "Frames per second of the movie, for the time column; 0 = the movie's own: a video's "
        "frame timestamps (s), an image sequence's frame numbers (time in frames).",
        ge=0,
        unit="frames/s",
        extension=True,
    )

    @classmethod
    def explain(cls, error: ValidationError) -> str:
        return _explain(error)

    @model_validator(mode="wrap")
    @classmethod
    def _take_auto(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Parameters:
        """Leave ``"auto"`` values out (the fields keep their defaults), remember their names."""
        auto: frozenset[str] = frozenset()
        if isinstance(data, Mapping):
            auto = frozenset(name for name in AUTO_NAMES if _is_auto(data.get(name)))
            data = {k: v for k, v in data.items() if k not in auto}
        model = handler(data)
        model._auto = auto
        if not auto & {"minArea", "maxArea"} and model.minArea >= model.maxArea:
            raise ValueError(
                f"minArea ({model.minArea}) must be smaller than maxArea ({model.maxArea})"
            )
        return model

    @model_serializer(mode="wrap")
    def _dump_auto(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``model_dump()`` gives ``"auto"`` for the values still to measure, so that a
        stack's manifest keeps them (and ``Parameters(**p.model_dump()) == p``)."""
        data: dict[str, Any] = handler(self)
        for name in self._auto.intersection(data):
            data[name] = AUTO
        return data

    @property
    def auto(self) -> frozenset[str]:
        """Names of the parameters to measure from the movie (given as ``"auto"``)."""
        return self._auto

    def given(self) -> dict[str, Any]:
        """The values given explicitly (``"auto"`` for the auto ones); the others are defaults.

        Examples
        --------
        >>> Parameters(thresh=60, maxDist="auto").given()
        {'thresh': 60, 'maxDist': 'auto'}
        """
        values = {name: getattr(self, name) for name in self.model_fields_set}
        values.update(dict.fromkeys(self._auto, AUTO))
        return {name: values[name] for name in PARAMETER_NAMES if name in values}

    @model_validator(mode="after")
    def _check_consistency(self) -> Parameters:
        corners = (self.xTop, self.yTop, self.xBottom, self.yBottom)
        if self.unit == "px" and self.pixelSize != 1.0:
            raise ValueError(
                f"pixelSize = {self.pixelSize:g} needs the unit it is in: set unit (e.g. "
                "unit = mm, or --unit mm)"
            )
        if any(corners) and not (self.xTop < self.xBottom and self.yTop < self.yBottom):
            raise ValueError(
                f"the region of interest xTop={self.xTop}, yTop={self.yTop}, "
                f"xBottom={self.xBottom}, yBottom={self.yBottom} must be all 0 (whole image) "
                "or have xTop < xBottom and yTop < yBottom"
            )
        return self

    def with_updates(
        self, changes: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Parameters:
        """Return a copy with some values replaced, validated again.

        Values that are ``None`` mean "not given" and are skipped, so unset command-line
        options can be passed straight through. Precedence defaults < file < flags reads
        ``load_cfg(path).with_updates(flags)``. Values not given before stay not given (so
        ``methBack`` keeps following ``lightBack``), and ``"auto"`` ones stay auto unless
        replaced.

        Parameters
        ----------
        changes : mapping of str to value, optional
            New values by FastTrack name.
        **kwargs
            More new values; they win over `changes`.

        Returns
        -------
        Parameters

        Raises
        ------
        ParameterError
            On an unknown name or a value out of its range.

        Examples
        --------
        >>> Parameters().with_updates({"thresh": 60, "nBack": None}).thresh
        60
        """
        updates = {k: v for k, v in {**(changes or {}), **kwargs}.items() if v is not None}
        return type(self).from_mapping({**self.given(), **updates})

    def warnings(self) -> dict[str, str]:
        """Valid values that are probably a mistake: parameter name -> what and the fix.

        Examples
        --------
        >>> doubtful = Parameters(lightBack=0, methBack=0).warnings()
        >>> print(doubtful["methBack"])  # doctest: +NORMALIZE_WHITESPACE
        methBack=0 keeps the dark objects in the background (lightBack=0); methBack=1 or 2 is
        usually right
        >>> Parameters(lightBack=0, methBack=1).warnings()
        {}
        >>> Parameters(lightBack=0).warnings()  # methBack will follow lightBack
        {}
        """
        found = {}
        # A methBack not given, or auto, follows lightBack when measured: nothing to warn.
        follows = "methBack" not in self.model_fields_set or self._auto & {"methBack", "lightBack"}
        if self.methBack == self.lightBack and not follows:
            kept, better = ("dark", 1) if self.lightBack == 0 else ("light", 0)
            found["methBack"] = (
                f"methBack={self.methBack} keeps the {kept} objects in the background "
                f"(lightBack={self.lightBack}); methBack={better} or 2 is usually right"
            )
        return found

    def saved_values(self) -> dict[str, Any]:
        """The values to save (cfg.toml, tracking.db, resume hash): every FastTrack parameter,
        and batchtrack's own ones only where they differ from their default; ``"auto"`` for
        the parameters still to measure (a result always saves measured numbers).

        Examples
        --------
        >>> "animals" in Parameters().saved_values()
        False
        >>> Parameters(animals=3).saved_values()["animals"]
        3
        """
        values = self.model_dump()  # "auto" for the values still to measure
        fields = type(self).model_fields
        return {
            name: value
            for name, value in values.items()
            if name not in EXTENSION_NAMES or value != fields[name].default
        }

    @property
    def roi(self) -> tuple[int, int, int, int] | None:
        """``(xTop, yTop, xBottom, yBottom)`` in pixels, or None for the whole image."""
        corners = (self.xTop, self.yTop, self.xBottom, self.yBottom)
        return corners if any(corners) else None


PARAMETER_NAMES: tuple[str, ...] = tuple(Parameters.model_fields)
#: batchtrack's own parameters, beyond FastTrack's (see :meth:`Parameters.saved_values`).
EXTENSION_NAMES: tuple[str, ...] = tuple(
    name
    for name, info in Parameters.model_fields.items()
    if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("extension")
)
#: FastTrack's own tracking parameters.
FASTTRACK_NAMES: tuple[str, ...] = tuple(n for n in PARAMETER_NAMES if n not in EXTENSION_NAMES)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO


def _bounds(name: str) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in Parameters.model_fields[name].metadata:
        lo = getattr(meta, "ge", lo)
        lo = getattr(meta, "gt", lo)
        hi = getattr(meta, "le", hi)
    return lo, hi


def _exclusive_min(name: str) -> bool:
    return any(getattr(m, "gt", None) is not None for m in Parameters.model_fields[name].metadata)


def describe_parameters() -> list[dict[str, Any]]:
    """Describe every parameter, for command-line help and for building widgets.

    Returns
    -------
    list of dict
        One dict per parameter in declaration order, with keys ``name``, ``type`` ("int",
        "float" or "str"), ``default``, ``min``, ``max`` (None when unbounded or text),
        ``min_exclusive`` (True when the value must be above ``min``, not equal), ``unit``
        (None when dimensionless), ``description``, ``choices`` (``{code: label}`` or None)
        and ``decimals`` (digits worth showing after the point, for floats).

    Examples
    --------
    >>> info = {d["name"]: d for d in describe_parameters()}
    >>> info["thresh"]["max"], info["methBack"]["choices"][1]
    (255, 'maximum')
    """
    rows = []
    for name, info in Parameters.model_fields.items():
        extra = _extra(name)
        lo, hi = _bounds(name)
        rows.append(
            {
                "name": name,
                "type": info.annotation.__name__ if info.annotation else "int",
                "default": info.default,
                "min": lo,
                "max": hi,
                "unit": extra.get("unit"),
                "description": info.description,
                "choices": dict(extra["choices"]) if "choices" in extra else None,
                "min_exclusive": _exclusive_min(name),
                "decimals": extra.get("decimals", 2),
            }
        )
    return rows


def _extra(name: str) -> dict[str, Any]:
    """The ``json_schema_extra`` of field ``name`` (unit, choices), as set by `_param`."""
    extra = Parameters.model_fields[name].json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _allowed(name: str) -> str:
    info = Parameters.model_fields[name]
    extra = _extra(name)
    if "choices" in extra:
        auto = f", or {AUTO!r}" if name in AUTO_NAMES else ""
        return "one of " + ", ".join(f"{k} ({v})" for k, v in extra["choices"].items()) + auto
    if info.annotation is str:
        return "a short text without spaces or quotes (1 to 16 characters, e.g. mm)"
    kind = "an integer" if info.annotation is int else "a number"
    lo, hi = _bounds(name)
    span = f" from {lo} to {hi}" if hi is not None else f" >= {lo}"
    if _exclusive_min(name):
        span = f" > {lo}"
    unit = f" ({extra['unit']})" if extra.get("unit") else ""
    auto = f" or {AUTO!r}" if name in AUTO_NAMES else ""
    return kind + span + unit + auto


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, shortened to ``limit`` characters (a 400-digit integer, a deep list)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # nesting too deep, an integer too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def _explain(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        if not err["loc"]:  # a model-level check
            problems.append(str(err.get("ctx", {}).get("error", err["msg"])))
            continue
        name = str(err["loc"][0])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(name, PARAMETER_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(PARAMETER_NAMES)
            problems.append(f"unknown parameter {name!r} ({hint}known: {known})")
        else:
            problems.append(f"{name} = {_shown(err['input'])} is invalid: must be {_allowed(name)}")
    return "; ".join(problems) + "."


@dataclass(frozen=True)
class CfgFile:
    """What a cfg.toml holds: the parameters, FastTrack's extra keys and unknown keys."""

    parameters: Parameters
    extras: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, Any] = field(default_factory=dict)


def _scalar(text: str) -> Any:
    text = text.strip()
    if text[:1] in ('"', "'"):
        return text.strip(text[0])
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_lines(text: str, source: str) -> tuple[dict[str, Any], bool]:
    """Read ``name = value`` lines the way FastTrack does, tolerating its unquoted strings."""
    entries: dict[str, Any] = {}
    lines: dict[str, int] = {}
    has_section = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            has_section |= line[1:-1].strip() == "parameters"
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ParameterError(
                f"{source} is not a FastTrack cfg.toml: line {number} ({raw!r}) is not "
                "'name = value'. Fix that line, or save the parameters again."
            )
        name = name.strip()
        if name in lines:
            raise ParameterError(
                f"{source}: {name!r} is given twice (lines {lines[name]} and {number}). Fix: "
                "keep the line with the value you mean."
            )
        lines[name] = number
        entries[name] = _scalar(value)
    return entries, has_section


def read_cfg(
    path: str | os.PathLike[str], *, unknown: Literal["warn", "error", "ignore"] = "warn"
) -> CfgFile:
    """Read a FastTrack ``cfg.toml`` with its extra and unknown keys.

    Parameters
    ----------
    path : path-like
        The file. Valid TOML is read with tomllib; FastTrack's non-TOML files (unquoted
        paths, a stray quote on the title line) with a line parser.
    unknown : {"warn", "error", "ignore"}
        What to do with keys that are neither parameters nor FastTrack's extra keys
        (:data:`EXTRA_KEYS`): log a warning naming the key and the file, raise, or ignore.

    Returns
    -------
    CfgFile
        ``parameters`` (missing names take the defaults), ``extras`` (e.g. ``path``,
        ``backPath``) and ``unknown`` keys with their values.

    Raises
    ------
    ParameterError
        When the file is missing, unreadable or malformed, holds an invalid value, or holds
        an unknown key with ``unknown="error"``.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(
            f"Parameter file {source} does not exist. Fix: give the path of a cfg.toml "
            "(FastTrack writes one in each Tracking_Result folder)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(
            f"Cannot read parameter file {source} ({exc}). Fix: give the path of a "
            "readable UTF-8 cfg.toml."
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        logger.debug("%s is not valid TOML; reading it line by line", source)
        entries, has_section = _parse_lines(text, source)
    except RecursionError:
        raise ParameterError(
            f"{source} is not a FastTrack cfg.toml: its arrays or tables are nested too deep. "
            "Fix: give a cfg.toml written by FastTrack or batchtrack."
        ) from None
    else:
        table = data.get("parameters")
        has_section = isinstance(table, dict)
        entries = {k: v for k, v in data.items() if not (has_section and k == "parameters")}
        entries.update(table if has_section else {})
    values = {k: v for k, v in entries.items() if k in PARAMETER_NAMES}
    extras = {k: v for k, v in entries.items() if k in EXTRA_KEYS}
    strays = {
        k: v
        for k, v in entries.items()
        if k not in values and k not in extras and k not in _SILENT_KEYS
    }
    if not has_section and not values:
        raise ParameterError(
            f"{source} holds no FastTrack parameters (no [parameters] table, no known name). "
            "Fix: give a cfg.toml written by FastTrack or batchtrack."
        )
    if strays and unknown == "error":
        key = _shown(next(iter(strays)))
        raise ParameterError(
            f"Unknown key {key} in {source}. Fix: remove it, or correct its name to one "
            f"of: {', '.join(PARAMETER_NAMES)}."
        )
    if strays and unknown == "warn":
        names = ", ".join(_shown(key) for key in list(strays)[:5])
        more = f" and {len(strays) - 5} more" if len(strays) > 5 else ""
        logger.warning(
            "Unknown key%s %s%s in %s ignored (not FastTrack parameters)",
            "s" if len(strays) > 1 else "", names, more, source,
        )  # fmt: skip
    return CfgFile(Parameters.from_mapping(values, source=source), extras, strays)


def load_cfg(
    path: str | os.PathLike[str], *, unknown: Literal["warn", "error", "ignore"] = "warn"
) -> Parameters:
    """Load the tracking parameters of a FastTrack ``cfg.toml``.

    Parameters
    ----------
    path : path-like
        The file; see :func:`read_cfg` for what is accepted.
    unknown : {"warn", "error", "ignore"}
        What to do with unknown keys; see :func:`read_cfg`.

    Returns
    -------
    Parameters
        Missing names take the defaults; ``path`` and ``backPath`` are ignored.

    Raises
    ------
    ParameterError
        Naming the file, and the parameter, value and allowed range when a value is bad.

    Examples
    --------
    >>> save_cfg(Parameters(thresh=40), "cfg.toml")
    >>> load_cfg("cfg.toml").thresh
    40
    >>> load_cfg("cfg.toml").with_updates(thresh=60).thresh  # file < flags
    60
    """
    return read_cfg(path, unknown=unknown).parameters


def save_cfg(
    params: Parameters,
    path: str | os.PathLike[str],
    *,
    extras: Mapping[str, str] | None = None,
) -> None:
    """Write parameters as FastTrack's ``cfg.toml``, in valid TOML.

    The layout is FastTrack's: the title line, a blank line, ``[parameters]``, then one
    ``name = value`` line per key in sorted order; integers and whole numbers are written
    without a decimal point, so FastTrack reads the file back.

    Parameters
    ----------
    params : Parameters
        The values to write.
    path : path-like
        Destination file, overwritten.
    extras : mapping of str to str, optional
        FastTrack's extra keys to write too (e.g. ``{"path": ..., "backPath": ...}``),
        quoted as TOML strings.

    Raises
    ------
    ParameterError
        If an extra key is a parameter name or its value is not a string.
    OutputError
        If the file cannot be written.
    """
    body: dict[str, Any] = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in params.saved_values().items()
    }
    for key, value in (extras or {}).items():
        if key in body or not isinstance(value, str):
            raise ParameterError(
                f"Extra cfg.toml key {key!r} = {value!r} is invalid: extras must be string "
                "values under names that are not parameters (e.g. 'path', 'backPath')."
            )
        body[key] = value
    text = _TITLE + tomli_w.dumps(dict(sorted(body.items())))
    target = os.fspath(path)
    try:
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        raise OutputError(
            f"Cannot write parameter file {target} ({exc}). Fix: choose a writable folder."
        ) from exc


def parameters_hash(params: BaseModel) -> str:
    """Stable SHA-256 hex digest of the parameter values (for resume markers).

    Equal parameters give equal digests across runs, platforms and Python versions.

    Parameters
    ----------
    params : Parameters or another workflow's pydantic model

    Returns
    -------
    str
        64 hexadecimal characters.
    """
    values = params.saved_values() if isinstance(params, Parameters) else params.model_dump()
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
