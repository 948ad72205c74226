"""Fuzzing the cfg.toml reader and the manifest loader: whatever the file holds, they raise
only batchtrack's own errors (never a traceback of TypeError, RecursionError, OSError...).

CI runs a bounded number of examples; set ``BATCHTRACK_FUZZ_EXAMPLES`` for a longer run::

    BATCHTRACK_FUZZ_EXAMPLES=2500 python -m pytest -q tests/unit/test_fuzz.py   # 4 x 2500
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchtrack.batch.manifest import load_manifest
from batchtrack.errors import BatchtrackError
from batchtrack.params import PARAMETER_NAMES, read_cfg

EXAMPLES = int(os.environ.get("BATCHTRACK_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)

scalars = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from((*PARAMETER_NAMES, "path", "backPath", "title")), st.text())
# Workflow names from a fixed list: a random module name could import anything (antigravity
# opens a web browser).
workflows = st.sampled_from(
    ["track", "measure", "nope", ":", "..x:f", "a:", ":b", "nosuch.module:f", "batchdata:nope"]
)
entries = st.dictionaries(
    st.sampled_from(["path", "background", "workflow", "output", "parameters", "extra"]),
    st.one_of(values, workflows, st.dictionaries(keys, values, max_size=5)),
    max_size=5,
)
manifests = st.dictionaries(
    st.sampled_from(
        ["title", "workflow", "autoload", "output", "unique_background", "parameters", "entry",
         "stray"]
    ),
    st.one_of(values, workflows, st.lists(entries, max_size=3),
              st.dictionaries(keys, values, max_size=6)),
    max_size=6,
)  # fmt: skip


def _toml(document: dict) -> str | None:
    """``document`` as TOML, or None if it cannot be written (None values, NaN keys…)."""
    try:
        return tomli_w.dumps(document)
    except (TypeError, ValueError):
        return None


def _only_our_errors(load, name: str, content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        try:
            load(path)
        except BatchtrackError as error:
            assert str(error)  # a message, whatever the file


@FUZZ
@given(st.dictionaries(keys, values, max_size=12), st.booleans())
def test_cfg_reader_on_any_toml(table: dict, sectioned: bool) -> None:
    text = _toml({"parameters": table} if sectioned else table)
    if text is not None:
        _only_our_errors(read_cfg, "cfg.toml", text)


@FUZZ
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_cfg_reader_on_any_text(content: str | bytes) -> None:
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    _only_our_errors(read_cfg, "cfg.toml", content)


@FUZZ
@given(manifests)
def test_manifest_loader_on_any_toml(document: dict) -> None:
    text = _toml(document)
    if text is not None:
        _only_our_errors(load_manifest, "stack.toml", text)


@FUZZ
@given(
    st.lists(st.sampled_from(["path", "background", "cfg", "thresh", "maxArea", "x"]), max_size=4),
    st.lists(st.lists(st.text(max_size=12), max_size=5), max_size=4),
    st.binary(max_size=40),
)
def test_manifest_loader_on_any_csv(header: list[str], rows: list[list[str]], junk: bytes) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    content = buffer.getvalue().encode("utf-8", "surrogatepass") + junk
    _only_our_errors(load_manifest, "stack.csv", content)
