"""One movie on several processes (batchtrack.batch.chunked): the one process's result, byte
for byte, for image sequences and for videos split at their key frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from batchtrack.batch.chunked import track_chunked
from batchtrack.cli.demo import DEMO_PARAMETERS
from batchtrack.movie import track_movie
from batchtrack.params import Parameters
from batchtrack.synth import make_movie, write_sequence, write_video

PARAMS = Parameters(**DEMO_PARAMETERS)
N = 150


def write_h264(movie_frames: list[np.ndarray], path: Path) -> Path:
    """h264 with B-frames and a key frame every 40 frames (frames grey, stored as colour)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"bf": "3", "g": "40"})
        stream.height, stream.width = movie_frames[0].shape
        stream.pix_fmt = "yuv420p"
        for frame in movie_frames:
            image = av.VideoFrame.from_ndarray(np.dstack([frame] * 3), format="bgr24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def movies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("chunked")
    movie = make_movie(N, 5, shape=(160, 192), seed=11)
    return {
        "sequence": write_sequence(movie, folder / "sequence"),
        "mjpg": write_video(movie, folder / "mjpg.avi"),
        "mp4v": write_video(movie, folder / "mp4v.mp4", codec="mp4v"),
        "h264": write_h264(list(movie.frames()), folder / "h264.mp4"),
    }


@pytest.mark.parametrize("kind", ["sequence", "mjpg", "mp4v", "h264"])
def test_chunked_equals_one_process(kind: str, movies: dict[str, Path], tmp_path: Path) -> None:
    one, _ = track_movie(movies[kind], PARAMS, output=tmp_path / "one")
    assert one.n_frames == N and one.n_rows > 0
    seen: list[tuple[int, int]] = []
    many = track_chunked(
        movies[kind], PARAMS, workers=2, output=tmp_path / "many", chunk_size=20,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert (many.n_frames, many.n_rows, many.n_ids) == (one.n_frames, one.n_rows, one.n_ids)
    for name in ("tracking.txt", "background.pgm", "cfg.toml"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert (tmp_path / "many" / "batchtrack.json").is_file()
    assert seen[-1] == (N, N) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) >= 3  # linked chunk after chunk


def test_bad_parameters_fail_before_any_result(tmp_path: Path) -> None:
    movie = write_sequence(make_movie(60, 3, shape=(120, 120), seed=4), tmp_path / "movie")
    (movie / "background.pgm").unlink()
    roi = Parameters(**{**DEMO_PARAMETERS, "xBottom": 500, "yBottom": 500})
    with pytest.raises(Exception, match="ROI"):
        track_chunked(movie, roi, workers=2, output=tmp_path / "out", chunk_size=20)
    assert not (tmp_path / "out").exists()


def test_chunked_with_auto_parameters_and_known_animals(
    movies: dict[str, Path], tmp_path: Path
) -> None:
    from batchtrack.autoparams import AUTO_NAMES

    wanted = Parameters(animals=5).with_updates(dict.fromkeys(AUTO_NAMES, "auto"))
    one, _ = track_movie(movies["mp4v"], wanted, output=tmp_path / "one")
    many = track_chunked(movies["mp4v"], wanted, workers=2, output=tmp_path / "many", chunk_size=20)
    assert many.auto.measurements == one.auto.measurements
    for name in ("tracking.txt", "cfg.toml"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


@pytest.mark.parametrize("animals", [0, 6])  # 6: 3 in each arena
def test_chunked_with_arenas(movies: dict[str, Path], tmp_path: Path, animals: int) -> None:
    # with known animals, rows are written after stitching, their text formatted on the
    # idle workers (write_result's spare) for the movie's file and each arena's
    params = PARAMS.with_updates({"animals": animals})
    track_movie(movies["sequence"], params, output=tmp_path / "one", arenas="grid:1x2")
    track_chunked(
        movies["sequence"], params, workers=2, output=tmp_path / "many", chunk_size=20,
        arenas="grid:1x2",
    )  # fmt: skip
    texts = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.txt"))
    assert len(texts) >= 3  # the whole movie's and each arena's tracking.txt
    for name in [*texts, Path("arenas.csv")]:
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


@pytest.mark.parametrize("kind", ["mp4v", "h264"])
def test_a_worker_decodes_on_one_thread_the_same_frames(
    kind: str, movies: dict[str, Path]
) -> None:
    import cv2

    from batchtrack.io.frames import open_frames

    before = cv2.getNumThreads()
    decoded = []
    try:
        for threads in (4, 1):  # 1: a worker's decoder is held to one thread
            cv2.setNumThreads(threads)
            with open_frames(movies[kind]) as source:
                decoded.append(np.stack([frame for _, frame in source.iter_frames()]))
    finally:
        cv2.setNumThreads(before)
    assert decoded[0].shape == (N, 160, 192)
    assert np.array_equal(decoded[0], decoded[1])
