"""Tests of the container index of batchtrack.io.frames.VideoFile (PyAV demultiplexing).

Every codec and container a camera or a converter commonly writes, each read at random and in
chunks by fresh sources (as chunk workers do), must give exactly what OpenCV's sequential
decoding gives; an index that disagrees with decoding is dropped, never trusted.
"""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from batchtrack.io import frames
from batchtrack.io.frames import VideoFile, open_frames

H, W = 48, 64
N = 120
#: Frame durations (ms) of the variable-frame-rate file, cycled.
VFR_STEPS = (40, 33, 70, 20, 41)


def scene(k: int) -> np.ndarray:
    """Frame `k`: moving shapes on a light background, BGR, shape (H, W, 3)."""
    image = np.full((H, W, 3), 200, np.uint8)
    cv2.circle(image, (8 + k % 48, 24), 6, (20, 40, 60), -1)
    cv2.rectangle(image, (4, 2 + k % 30), (14, 10 + k % 30), (90, 150, 30), -1)
    image[0, 0] = k % 256
    return image


def write_opencv(path: Path, fourcc: str) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (W, H), True)
    assert writer.isOpened()
    for k in range(N):
        writer.write(scene(k))
    writer.release()
    return path


def write_pyav(path: Path, codec: str, options: dict[str, str], *, vfr: bool = False) -> Path:
    """Write with PyAV: B-frames (``bf``), key-frame interval (``g``), variable frame rate."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if vfr:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for k in range(N):
            frame = av.VideoFrame.from_ndarray(scene(k), format="bgr24")
            if vfr:
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                t += VFR_STEPS[k % len(VFR_STEPS)]
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("index-videos")
    return {
        "h264-bframes": write_pyav(folder / "h264.mp4", "libx264", {"bf": "3", "g": "30"}),
        "mp4v": write_opencv(folder / "mp4v.mp4", "mp4v"),
        "mjpg": write_opencv(folder / "mjpg.avi", "MJPG"),
        "ffv1": write_opencv(folder / "ffv1.avi", "FFV1"),
        "vfr-h264": write_pyav(folder / "vfr.mp4", "libx264", {"bf": "2", "g": "24"}, vfr=True),
        # MPEG-4 with B-frames in AVI: the container stores no presentation timestamps
        "avi-bframes": write_pyav(folder / "bframes.avi", "mpeg4", {"bf": "2", "g": "20"}),
    }


def sequential(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Reference: every frame OpenCV's sequential decoding gives (grey) and its timestamp."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    images, times = [], []
    while cap.grab():
        times.append(cap.get(cv2.CAP_PROP_POS_MSEC))
        images.append(cv2.cvtColor(cap.retrieve()[1], cv2.COLOR_BGR2GRAY))
    cap.release()
    return images, times


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    """Each test starts as a new process does: nothing indexed yet."""
    frames._PTS_INDEX.clear()
    frames._VIDEO_INDEX.clear()


EXACT = ["h264-bframes", "mp4v", "mjpg", "ffv1", "vfr-h264"]


@pytest.mark.parametrize("kind", EXACT)
def test_index_is_what_sequential_decoding_reports(kind: str, videos: dict[str, Path]) -> None:
    _, times = sequential(videos[kind])
    movie = open_frames(videos[kind])
    assert movie.index is not None and movie.index[0] == "pts"
    assert movie.n_frames == len(times) == N
    np.testing.assert_allclose(movie.index[1], times, rtol=0, atol=1e-6)
    keys = movie.index[2]
    assert keys[0] == 0 and np.all(np.diff(keys) > 0) and keys[-1] < N


def test_vfr_file_has_variable_steps(videos: dict[str, Path]) -> None:
    _, times = sequential(videos["vfr-h264"])
    assert len(set(np.round(np.diff(times), 6))) == len(VFR_STEPS)


def test_h264_file_has_b_frames(videos: dict[str, Path]) -> None:
    with av.open(str(videos["h264-bframes"])) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts) for p in container.demux(stream) if p.size]
    assert any(pts != dts for pts, dts in packets)  # decode order differs from presentation


@pytest.mark.parametrize("kind", [*EXACT, "avi-bframes"])
def test_random_access_equals_sequential(kind: str, videos: dict[str, Path]) -> None:
    reference, _ = sequential(videos[kind])
    movie = open_frames(videos[kind])
    rng = np.random.default_rng(1)
    for k in [*rng.integers(0, N, 25).tolist(), N - 1, 0, 61, 60, 59, 119, 1]:
        np.testing.assert_array_equal(movie.read(k), reference[k], err_msg=f"{kind} frame {k}")
    assert movie.n_frames == N


@pytest.mark.parametrize("kind", [*EXACT, "avi-bframes"])
def test_chunks_read_by_fresh_sources_equal_sequential(
    kind: str, videos: dict[str, Path]
) -> None:
    reference, _ = sequential(videos[kind])
    index = open_frames(videos[kind]).index
    got = []
    for start in range(0, N, 35):
        frames._PTS_INDEX.clear()  # each chunk in its own worker process
        with open_frames(videos[kind], index=index) as worker:
            stop = None if start + 35 >= N else start + 35
            got += list(worker.iter_frames(start, stop))
            if kind != "avi-bframes":
                assert worker.index is not None and worker.index[0] == "pts"  # never dropped
    assert [k for k, _ in got] == list(range(N))
    for k, image in got:
        np.testing.assert_array_equal(image, reference[k], err_msg=f"{kind} frame {k}")


def test_mismatching_index_is_dropped_not_trusted(
    videos: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # AVI keeps no presentation timestamps for B-frames: OpenCV's last frame has none, so the
    # index built from the packets disagrees with decoding there.
    path = videos["avi-bframes"]
    reference, times = sequential(path)
    assert times[-1] == 0.0
    movie = open_frames(path)
    assert movie.index is not None and movie.index[0] == "pts"
    with caplog.at_level(logging.INFO, logger="batchtrack.io.frames"):
        got = list(movie.iter_frames())
    assert "container index dropped" in caplog.text
    assert [k for k, _ in got] == list(range(N))
    for k, image in got:
        np.testing.assert_array_equal(image, reference[k])
    assert movie.index is None or movie.index[0] != "pts"
    assert open_frames(path).index[0] != "pts"  # this process no longer trusts it


@pytest.mark.parametrize("cut", [1, 7])
def test_stream_longer_than_the_index_is_read_to_its_end(
    cut: int, videos: dict[str, Path]
) -> None:
    path = videos["mp4v"]
    reference, _ = sequential(path)
    _, times, keys = open_frames(path).index
    frames._PTS_INDEX.clear()
    short = ("pts", times[:-cut], keys[keys < N - cut])
    movie = open_frames(path, index=short)
    assert movie.n_frames == N - cut  # trusted until the end is reached
    got = list(movie.iter_frames(N - cut - 10))
    assert [k for k, _ in got] == list(range(N - cut - 10, N))
    for k, image in got:
        np.testing.assert_array_equal(image, reference[k])
    assert movie.n_frames == N


def test_stream_shorter_than_the_index_ends_where_decoding_ends(
    videos: dict[str, Path],
) -> None:
    path = videos["mjpg"]
    reference, _ = sequential(path)
    _, times, keys = open_frames(path).index
    frames._PTS_INDEX.clear()
    extra = times[-1] + 40.0 * np.arange(1, 4)
    movie = open_frames(path, index=("pts", np.concatenate([times, extra]), keys))
    assert movie.n_frames == N + 3
    got = list(movie.iter_frames(100))
    assert [k for k, _ in got] == list(range(100, N))
    assert movie.n_frames == N
    np.testing.assert_array_equal(movie.read(N - 1), reference[N - 1])


def test_out_of_range_read_checks_the_end(videos: dict[str, Path]) -> None:
    movie = open_frames(videos["h264-bframes"])
    with pytest.raises(frames.InputError, match=rf"frame {N} is out of range"):
        movie.read(N)
    assert movie.index[0] == "pts"


def test_without_pyav_videos_are_counted_by_decoding(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    reference, _ = sequential(videos["h264-bframes"])
    movie = open_frames(videos["h264-bframes"])
    assert isinstance(movie, VideoFile) and movie.index is None
    assert movie.n_frames == N
    assert movie.index is not None and movie.index[0] == N
    for k in [90, 3, 45]:
        np.testing.assert_array_equal(movie.read(k), reference[k])
