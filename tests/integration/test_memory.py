"""Frames are streamed: peak memory does not grow with the length of the movie."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys
from batchtrack.movie import track_movie
from batchtrack.params import Parameters
summary, _ = track_movie(sys.argv[1], Parameters(**json.loads(sys.argv[2])),
                         background=sys.argv[3], output=sys.argv[4])
print(json.dumps({"rows": summary.n_rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def looped(folder: Path, sources: list[Path], n_frames: int) -> Path:
    folder.mkdir()
    for k in range(n_frames):
        (folder / f"frame_{k:06d}.pgm").symlink_to(sources[k % len(sources)])
    return folder


def peak(movie: Path, params: dict, background: Path, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(movie), json.dumps(params), str(background), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_peak_rss_does_not_grow_with_movie_length(tmp_path, zebrafish_dir, zebrafish_params):
    sources = sorted((zebrafish_dir / "images").glob("frame_*.pgm"))
    params = zebrafish_params.model_dump()
    background = zebrafish_dir / "background.pgm"
    short = peak(looped(tmp_path / "short", sources, 1000), params, background, tmp_path / "r1")
    long = peak(looped(tmp_path / "long", sources, 10000), params, background, tmp_path / "r2")
    assert long["rows"] > 9 * short["rows"]
    print(f"peak RSS: {short['peak_mb']:.0f} MB at 1000 frames, {long['peak_mb']:.0f} MB at 10000")
    assert long["peak_mb"] <= 1.3 * short["peak_mb"]
