"""batchtrack: FastTrack-compatible tracking of many movies at once.

The public API is imported lazily, so that ``import batchtrack`` (and the command line's
start-up) stays fast::

    import batchtrack
    table = batchtrack.track("Run1/images", batchtrack.Parameters(thresh=60))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "track": "movie",
    "track_movie": "movie",
    "track_recording": "recording",
    "Parameters": "params",
    "load_cfg": "params",
    "save_cfg": "params",
    "open_frames": "io.frames",
    "read_tracking": "io.results",
    "identity_score": "metrics",
    "make_movie": "synth",
    "write_sequence": "synth",
    "write_video": "synth",
    "Stack": "batch.stack",
    "Status": "batch.stack",
    "run_stack": "batch.run",
    "load_manifest": "batch.manifest",
    "save_manifest": "batch.manifest",
    "InputError": "errors",
    "ParameterError": "errors",
    "OutputError": "errors",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'batchtrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
