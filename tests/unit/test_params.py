"""Tests of batchtrack.params: the parameter model and cfg.toml reading/writing."""

from __future__ import annotations

import logging
import math

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from batchtrack.errors import OutputError, ParameterError
from batchtrack.params import (
    PARAMETER_NAMES,
    Parameters,
    describe_parameters,
    load_cfg,
    parameters_hash,
    read_cfg,
    save_cfg,
)

FASTTRACK_NAMES = (
    "thresh lightBack nBack methBack regBack reg morph morphSize morphType xTop yTop xBottom "
    "yBottom minArea maxArea spot normDist normAngle normArea normPerim maxDist maxTime"
).split()

# FastTrack's own test configuration, as FastTrack wrote it (stray quote on the title line).
FASTTRACK_CFG = """title = "FastTrack cfg""

[parameters]
lightBack = 0
maxArea = 170
maxDist = 200
maxTime = 100
methBack = 1
minArea = 50
morph = 8
morphSize = 2
morphType = 0
nBack = 20
normAngle = 90
normArea = 0
normDist = 100
normPerim = 0
reg = 0
regBack = 0
spot = 0
thresh = 60
xBottom = 0
xTop = 0
yBottom = 0
yTop = 0
"""

ZEBRAFISH = {
    "thresh": 60,
    "lightBack": 0,
    "minArea": 50,
    "maxArea": 170,
    "morph": 8,
    "nBack": 20,
    "methBack": 1,
    "spot": 0,
    "normDist": 20,
    "normAngle": 118,
    "normArea": 0,
    "normPerim": 0,
    "maxDist": 195,
    "maxTime": 40,
}


def write(tmp_path, text, name="cfg.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the model -------------------------------------------------------------------------


def test_model_has_exactly_fasttrack_parameters_plus_extensions():
    import batchtrack.params as params

    assert sorted(params.FASTTRACK_NAMES) == sorted(FASTTRACK_NAMES)
    assert set(PARAMETER_NAMES) == set(FASTTRACK_NAMES) | set(params.EXTENSION_NAMES)
    assert "animals" in params.EXTENSION_NAMES
    assert [d["name"] for d in describe_parameters()] == list(PARAMETER_NAMES)


def test_extensions_at_default_are_not_saved(tmp_path):
    save_cfg(Parameters(), tmp_path / "default.toml")
    assert "animals" not in (tmp_path / "default.toml").read_text()
    save_cfg(Parameters(animals=8), tmp_path / "eight.toml")
    assert "animals = 8" in (tmp_path / "eight.toml").read_text()
    assert load_cfg(tmp_path / "eight.toml").animals == 8
    assert parameters_hash(Parameters()) != parameters_hash(Parameters(animals=8))


def test_defaults_are_valid_and_fasttrack_values():
    p = Parameters()
    assert (p.thresh, p.lightBack, p.methBack, p.morph, p.morphType) == (126, 0, 0, 8, 2)
    assert (p.minArea, p.maxArea, p.spot, p.maxDist, p.maxTime) == (5, 5000, 0, 200, 10)
    assert (p.normDist, p.normAngle, p.normArea, p.normPerim) == (100.0, 90.0, 0.0, 0.0)
    assert p.roi is None
    for row in describe_parameters():
        assert getattr(p, row["name"]) == row["default"]


def test_describe_parameters_gives_ranges_units_and_choices():
    info = {d["name"]: d for d in describe_parameters()}
    assert (info["thresh"]["min"], info["thresh"]["max"], info["thresh"]["type"]) == (0, 255, "int")
    assert info["nBack"]["min"] == 1 and info["nBack"]["max"] is None
    assert info["normAngle"]["unit"] == "deg" and info["normAngle"]["type"] == "float"
    assert info["methBack"]["choices"] == {0: "minimum", 1: "maximum", 2: "average"}
    assert info["morph"]["choices"][8] == "none"
    assert info["regBack"]["choices"][1] == "phase correlation"
    for name in ("methBack", "regBack", "reg", "morph", "morphType", "spot", "lightBack"):
        choices = info[name]["choices"]
        assert sorted(choices) == list(range(info[name]["min"], info[name]["max"] + 1))
    assert all(d["description"] for d in info.values())
    schema = Parameters.model_json_schema()["properties"]["spot"]
    assert schema["choices"] == {"0": "head", "1": "tail", "2": "body"}  # JSON keys


def _out_of_range_values():
    for row in describe_parameters():
        if row["type"] == "str":
            continue  # text: see test_unit_must_be_a_short_word
        step = 1 if row["type"] == "int" else 0.5
        yield row["name"], row["min"] - step, row
        if row["min_exclusive"]:
            yield row["name"], row["min"], row
        if row["max"] is not None:
            yield row["name"], row["max"] + step, row


@pytest.mark.parametrize(("name", "bad", "row"), list(_out_of_range_values()))
def test_each_range_is_enforced_with_a_helpful_message(name, bad, row):
    with pytest.raises(ParameterError) as info:
        Parameters(**{name: bad})
    message = str(info.value)
    assert f"{name} = {bad!r}" in message
    if row["choices"]:
        assert "one of" in message and f"{row['max']} ({row['choices'][row['max']]})" in message
    elif row["min_exclusive"]:
        assert f"> {row['min']}" in message
    elif row["max"] is None:
        assert f">= {row['min']}" in message
    else:
        assert f"from {row['min']} to {row['max']}" in message


@pytest.mark.parametrize(
    ("name", "bad"),
    [("thresh", 2.5), ("maxTime", "ten"), ("normDist", math.inf), ("normAngle", math.nan)],
)
def test_wrong_types_and_non_finite_numbers_are_rejected(name, bad):
    with pytest.raises(ParameterError, match=f"{name} = "):
        Parameters(**{name: bad})


def test_whole_floats_and_numeric_strings_are_accepted():
    p = Parameters(thresh=60.0, maxTime="40", normDist=20)
    assert (p.thresh, p.maxTime, p.normDist) == (60, 40, 20.0)
    assert isinstance(p.normDist, float)


def test_unknown_name_is_rejected_with_a_suggestion():
    with pytest.raises(ParameterError, match=r"unknown parameter 'threshold'.*'thresh'"):
        Parameters(threshold=60)


@pytest.mark.parametrize(("min_area", "max_area"), [(170, 170), (200, 100)])
def test_min_area_must_be_below_max_area(min_area, max_area):
    with pytest.raises(ParameterError, match=f"minArea \\({min_area}\\) must be smaller"):
        Parameters(minArea=min_area, maxArea=max_area)


@pytest.mark.parametrize(
    "roi",
    [(10, 0, 0, 0), (0, 0, 100, 0), (50, 10, 40, 80), (10, 80, 50, 80)],
)
def test_roi_must_be_all_zero_or_ordered(roi):
    names = ("xTop", "yTop", "xBottom", "yBottom")
    with pytest.raises(ParameterError, match="region of interest"):
        Parameters(**dict(zip(names, roi, strict=True)))


def test_valid_roi_is_exposed():
    p = Parameters(xTop=10, yTop=20, xBottom=300, yBottom=200)
    assert p.roi == (10, 20, 300, 200)


def test_model_is_frozen_and_hashable():
    p = Parameters()
    with pytest.raises(ValueError, match="frozen"):
        p.thresh = 3
    assert hash(p) == hash(Parameters())


def test_with_updates_applies_precedence_and_validates():
    from_file = Parameters(thresh=60, maxTime=40)
    flags = {"thresh": 80, "maxTime": None, "nBack": None}
    merged = from_file.with_updates(flags, spot=2)
    assert (merged.thresh, merged.maxTime, merged.spot, merged.nBack) == (80, 40, 2, 20)
    assert from_file.thresh == 60
    with pytest.raises(ParameterError, match="thresh = 999"):
        from_file.with_updates(thresh=999)
    with pytest.raises(ParameterError, match=r"unknown parameter 'maxArae'.*'maxArea'"):
        from_file.with_updates(maxArae=100)
    with pytest.raises(ParameterError, match="minArea"):
        from_file.with_updates(minArea=6000)


# --- saving and loading ----------------------------------------------------------------


def test_save_writes_fasttrack_layout_as_valid_toml(tmp_path):
    params = load_cfg(write(tmp_path, FASTTRACK_CFG, "in.toml"))
    out = tmp_path / "cfg.toml"
    save_cfg(params, out)
    text = out.read_text(encoding="utf-8")
    assert text == FASTTRACK_CFG.replace('cfg""', 'cfg"')
    data = tomllib.loads(text)
    assert data["title"] == "FastTrack cfg"
    assert data["parameters"] == params.saved_values()


def test_round_trip_keeps_every_value(tmp_path):
    params = Parameters(
        thresh=42, lightBack=1, nBack=7, methBack=2, regBack=3, reg=1, morph=2, morphSize=3,
        morphType=1, xTop=1, yTop=2, xBottom=300, yBottom=200, minArea=10, maxArea=900,
        spot=2, normDist=20.5, normAngle=118.25, normArea=3, normPerim=0.125, maxDist=195,
        maxTime=40,
    )  # fmt: skip
    path = tmp_path / "cfg.toml"
    save_cfg(params, path)
    assert load_cfg(path) == params
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "normDist = 20.5" in lines and "normArea = 3" in lines and "thresh = 42" in lines


def test_extras_are_written_quoted_and_returned_separately(tmp_path, caplog):
    path = tmp_path / "cfg.toml"
    extras = {"path": "/data/run 1/frame_000001.pgm", "backPath": 'C:\\bg "x".pgm'}
    save_cfg(Parameters(), path, extras=extras)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["parameters"]["path"] == extras["path"]
    with caplog.at_level(logging.WARNING):
        cfg = read_cfg(path)
    assert cfg.extras == extras and cfg.unknown == {} and cfg.parameters == Parameters()
    assert caplog.records == []


@pytest.mark.parametrize("extras", [{"thresh": "1"}, {"path": 3}])
def test_bad_extras_are_rejected(tmp_path, extras):
    with pytest.raises(ParameterError, match=r"Extra cfg\.toml key"):
        save_cfg(Parameters(), tmp_path / "cfg.toml", extras=extras)


def test_save_to_missing_folder_raises_output_error(tmp_path):
    target = tmp_path / "nowhere" / "cfg.toml"
    with pytest.raises(OutputError, match="nowhere"):
        save_cfg(Parameters(), target)


def test_fasttrack_unquoted_paths_load(tmp_path, caplog):
    text = (
        'title = "FastTrack cfg"\n\n[parameters]\n'
        "backPath = /home/lab/movies/Tracking_Result/background.pgm\n"
        "maxArea = 170\nminArea = 50\nnormDist = 20.5\n"
        "path = /home/lab/my movies/frame_000001.pgm\nthresh = 60\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    with caplog.at_level(logging.WARNING):
        cfg = read_cfg(path)
    assert caplog.records == []
    assert cfg.extras == {
        "backPath": "/home/lab/movies/Tracking_Result/background.pgm",
        "path": "/home/lab/my movies/frame_000001.pgm",
    }
    p = cfg.parameters
    assert (p.thresh, p.minArea, p.maxArea, p.normDist) == (60, 50, 170, 20.5)
    assert p.maxTime == Parameters().maxTime  # missing keys take the defaults


def test_fasttrack_stray_quote_title_loads(tmp_path):
    p = load_cfg(write(tmp_path, FASTTRACK_CFG))
    assert (p.thresh, p.methBack, p.maxTime, p.morphSize, p.morphType) == (60, 1, 100, 2, 0)
    assert p.roi is None


def test_zebrafish_sample_parameters_load(tmp_path):
    lines = [f"{name} = {value}" for name, value in ZEBRAFISH.items()]
    text = "\n".join(
        ['title = "FastTrack cfg"', "", "[parameters]", *lines, "path = /data/zebrafish-100/images"]
    )
    p = load_cfg(write(tmp_path, text + "\n"))
    assert {name: getattr(p, name) for name in ZEBRAFISH} == ZEBRAFISH
    assert p.roi is None and (p.reg, p.regBack) == (0, 0)


@pytest.mark.parametrize("valid_toml", [True, False])
def test_unknown_key_is_warned_with_key_and_file(tmp_path, caplog, valid_toml):
    tail = "" if valid_toml else "path = /unquoted/path\n"
    path = write(tmp_path, f"[parameters]\nthresh = 60\nthreshold = 70\n{tail}")
    with caplog.at_level(logging.WARNING, logger="batchtrack.params"):
        cfg = read_cfg(path)
    assert cfg.unknown == {"threshold": 70} and cfg.parameters.thresh == 60
    [record] = caplog.records
    assert "'threshold'" in record.getMessage() and str(path) in record.getMessage()


def test_unknown_key_can_be_an_error_or_ignored(tmp_path, caplog):
    path = write(tmp_path, "[parameters]\nthresh = 60\nfoo = 1\n")
    with pytest.raises(ParameterError, match="'foo'") as info:
        load_cfg(path, unknown="error")
    assert str(path) in str(info.value)
    with caplog.at_level(logging.WARNING):
        assert load_cfg(path, unknown="ignore").thresh == 60
    assert caplog.records == []


def test_bad_value_names_parameter_value_range_and_file(tmp_path):
    path = write(tmp_path, "[parameters]\nthresh = 300\nminArea = 50\nmaxArea = 170\n")
    with pytest.raises(ParameterError) as info:
        load_cfg(path)
    message = str(info.value)
    assert "thresh = 300" in message
    assert "from 0 to 255" in message
    assert str(path) in message


def test_inconsistent_file_names_the_file(tmp_path):
    path = write(tmp_path, "[parameters]\nminArea = 500\nmaxArea = 170\n")
    with pytest.raises(ParameterError, match="minArea") as info:
        load_cfg(path)
    assert str(path) in str(info.value)


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "Tracking_Result" / "cfg.toml"
    with pytest.raises(ParameterError, match="does not exist") as info:
        load_cfg(path)
    assert str(path) in str(info.value) and "Fix" in str(info.value)


def test_malformed_file_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "xHead\tyHead\ttHead\n1.0\t2.0\t3.0\n", "tracking.txt")
    with pytest.raises(ParameterError, match="line 1") as info:
        load_cfg(path)
    assert str(path) in str(info.value)


def test_toml_without_parameters_is_rejected(tmp_path):
    path = write(tmp_path, 'name = "something else"\n')
    with pytest.raises(ParameterError, match="holds no FastTrack parameters") as info:
        load_cfg(path)
    assert str(path) in str(info.value)


def test_binary_file_is_rejected(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(ParameterError, match="Cannot read") as info:
        load_cfg(path)
    assert str(path) in str(info.value)


def test_parameters_section_with_no_values_gives_defaults(tmp_path):
    assert load_cfg(write(tmp_path, 'title = "FastTrack cfg"\n\n[parameters]\n')) == Parameters()


# --- hashing ---------------------------------------------------------------------------


def test_parameters_hash_is_stable_and_value_sensitive(tmp_path):
    a = Parameters(normDist=20, thresh=60)
    digest = parameters_hash(a)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert parameters_hash(Parameters(thresh=60, normDist=20.0)) == digest
    assert parameters_hash(a.with_updates(thresh=61)) != digest
    save_cfg(a, tmp_path / "cfg.toml")
    assert parameters_hash(load_cfg(tmp_path / "cfg.toml")) == digest
    assert parameters_hash(Parameters()) == parameters_hash(Parameters())
