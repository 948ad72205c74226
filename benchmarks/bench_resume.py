"""Cost of the resume check: the input signature of 20000 frames and of a 2 GB video.

The signature (``batchtrack.io.resume.input_signature``) reads each file's name, size and
modification time plus a content hash (CRC-32 of the whole file up to 1 MiB, BLAKE2b of 16
sampled 64 KiB blocks beyond). Measured warm (files in the page cache) and cold (each file
evicted with ``posix_fadvise(DONTNEED)`` first), against the former stat-only signature and a
full SHA-256 of every byte.

Usage::

    python benchmarks/bench_resume.py [--frames 20000] [--video-gb 2] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_track import ZEBRAFISH

from batchtrack.io.resume import input_signature


def frames_folder(out: Path, n_frames: int) -> Path:
    """``n_frames`` real copies of the zebrafish frames (distinct files, 177 kB each)."""
    folder = out / f"frames-{n_frames}"
    if folder.is_dir() and len(os.listdir(folder)) == n_frames:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sources = [p.read_bytes() for p in sorted((ZEBRAFISH / "images").glob("frame_*.pgm"))]
    for k in range(n_frames):
        (folder / f"frame_{k:06d}.pgm").write_bytes(sources[k % len(sources)])
    return folder


def big_file(out: Path, gigabytes: float) -> Path:
    """A video-sized file of pseudo-random bytes (not sparse: every block is on disk)."""
    path = out / f"video-{gigabytes:g}GB.avi"
    size = int(gigabytes * (1 << 30))
    if path.is_file() and path.stat().st_size == size:
        return path
    block = os.urandom(64 << 20)
    with open(path, "wb") as stream:
        for _ in range(size // len(block)):
            stream.write(block)
        stream.write(block[: size % len(block)])
    return path


def evict(path: Path) -> None:
    """Drop a file (or a folder's files) from the page cache."""
    for item in [path] if path.is_file() else list(path.iterdir()):
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def stat_only(path: Path) -> dict:
    """The former signature: file count, total bytes, latest mtime."""
    stats = [e.stat() for e in os.scandir(path) if e.is_file()] if path.is_dir() else [path.stat()]
    return {"files": len(stats), "bytes": sum(s.st_size for s in stats)}


def full_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(path.iterdir()) if path.is_dir() else [path]:
        with open(item, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def timed(function, path: Path, cold: bool) -> float:
    if cold:
        evict(path)
    started = time.perf_counter()
    function(path)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--video-gb", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/batchtrack-bench-resume"))
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = {
        f"{args.frames} frames": frames_folder(args.out, args.frames),
        f"{args.video_gb:g} GB video": big_file(args.out, args.video_gb),
    }
    results = {}
    for name, path in inputs.items():
        row = {}
        for label, function in (
            ("stat only (before)", stat_only),
            ("signature (now)", input_signature),
            ("full SHA-256", full_hash),
        ):
            for cold in (True, False):
                row[f"{label}, {'cold' if cold else 'warm'}"] = round(
                    timed(function, path, cold), 3
                )
        results[name] = row
    print(json.dumps(results, indent=1))
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    main()
