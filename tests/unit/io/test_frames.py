"""Tests of batchtrack.io.frames: image sequences, videos, find_movies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from batchtrack.errors import InputError, ParameterError
from batchtrack.io.frames import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameSource,
    ImageSequence,
    VideoFile,
    find_movies,
    open_frames,
)

H, W = 48, 64
N_VIDEO = 60


def scene(k: int, *, colour: bool = False) -> np.ndarray:
    """Frame `k` of a synthetic movie: moving shapes on a light background, shape (H, W[, 3])."""
    image = np.full((H, W, 3), 200, np.uint8)
    cv2.circle(image, (8 + k % 48, 24), 6, (20, 40, 60), -1)
    cv2.rectangle(image, (4, 2 + k % 30), (14, 10 + k % 30), (90, 150, 30), -1)
    image[0, 0] = k % 256  # makes every frame of a sequence unique
    return image if colour else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def write_sequence(folder: Path, n: int, *, name: str = "frame_{:06d}.pgm", first: int = 1) -> list:
    """Write frames ``scene(0..n-1)`` as files numbered from `first`; return the frames."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [scene(k) for k in range(n)]
    for k, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / name.format(first + k)), frame)
    return frames


def write_video(path: Path, fourcc: str, n: int = N_VIDEO) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (W, H), True)
    assert writer.isOpened()
    for k in range(n):
        writer.write(scene(k, colour=True))
    writer.release()
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Reference: every frame sequential decoding gives, BGR converted to grey."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    cap.release()
    return frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {
        "mjpg": write_video(folder / "fish.avi", "MJPG"),
        "mp4v": write_video(folder / "fish.mp4", "mp4v"),
    }


@pytest.fixture(params=["mjpg", "mp4v"])
def video(request: pytest.FixtureRequest, videos: dict[str, Path]) -> Iterator[Path]:
    yield videos[request.param]


def jpeg_offsets(data: bytes) -> list[int]:
    """Offsets of the JPEG start markers in an MJPG .avi: one per frame."""
    offsets, i = [], data.find(b"\xff\xd8\xff")
    while i >= 0:
        offsets.append(i)
        i = data.find(b"\xff\xd8\xff", i + 1)
    return offsets


# ---------------------------------------------------------------- image sequences


def test_sequence_reads_every_frame_in_order(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 12)
    with open_frames(tmp_path) as movie:
        assert isinstance(movie, ImageSequence)
        assert movie.n_frames == len(movie) == 12
        assert movie.shape == (H, W)
        got = list(movie.iter_frames())
        assert [k for k, _ in got] == list(range(12))
        for k, frame in got:
            assert frame.dtype == np.uint8 and frame.shape == (H, W)
            np.testing.assert_array_equal(frame, frames[k])
        np.testing.assert_array_equal(movie.read(7), frames[7])
        assert movie.skipped == []


@pytest.mark.parametrize("ext", ["pgm", "png", "tif", "tiff", "bmp", "dib", "webp", "sr", "ras"])
def test_lossless_grey_formats_read_exactly(tmp_path: Path, ext: str) -> None:
    frames = write_sequence(tmp_path, 3, name="img{:03d}." + ext)
    movie = open_frames(tmp_path)
    assert movie.n_frames == 3
    for k in range(3):
        np.testing.assert_array_equal(movie.read(k), frames[k])


@pytest.mark.parametrize("ext", ["jpg", "jpeg", "jpe", "jp2"])
def test_lossy_formats_read_as_opencv_decodes_them(tmp_path: Path, ext: str) -> None:
    for k in range(3):
        assert cv2.imwrite(str(tmp_path / f"img{k}.{ext}"), scene(k, colour=True))
    movie = open_frames(tmp_path)
    for k in range(3):
        bgr = cv2.imread(str(tmp_path / f"img{k}.{ext}"), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(movie.read(k), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        assert np.abs(movie.read(k).astype(int) - scene(k)).mean() < 4  # close to the original


@pytest.mark.parametrize("ext", ["ppm", "png", "bmp", "tif"])
def test_colour_frames_become_grey_like_fasttrack(tmp_path: Path, ext: str) -> None:
    colour = [scene(k, colour=True) for k in range(3)]
    for k, image in enumerate(colour):
        assert cv2.imwrite(str(tmp_path / f"c_{k:03d}.{ext}"), image)
    movie = open_frames(tmp_path)
    assert movie.shape == (H, W)
    for k, frame in movie.iter_frames():
        assert frame.ndim == 2
        np.testing.assert_array_equal(frame, cv2.cvtColor(colour[k], cv2.COLOR_BGR2GRAY))


def test_bgra_png_ignores_alpha(tmp_path: Path) -> None:
    bgr = scene(1, colour=True)
    bgra = np.dstack([bgr, np.full((H, W), 77, np.uint8)])
    assert cv2.imwrite(str(tmp_path / "a_1.png"), bgra)
    np.testing.assert_array_equal(
        open_frames(tmp_path).read(0), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    )


def test_binary_pbm_reads_as_0_and_255(tmp_path: Path) -> None:
    mask = np.where(scene(2) < 128, 0, 255).astype(np.uint8)
    assert cv2.imwrite(str(tmp_path / "m_2.pbm"), mask)
    np.testing.assert_array_equal(open_frames(tmp_path).read(0), mask)


@pytest.mark.parametrize("ext", ["png", "tif", "pgm"])
def test_16_bit_frames_keep_the_high_byte(tmp_path: Path, ext: str) -> None:
    rng = np.random.default_rng(3)
    deep = [rng.integers(0, 65536, (H, W), dtype=np.uint16) for _ in range(2)]
    for k, image in enumerate(deep):
        assert cv2.imwrite(str(tmp_path / f"d{k:02d}.{ext}"), image)
    movie = open_frames(tmp_path)
    for k, frame in movie.iter_frames():
        assert frame.dtype == np.uint8
        np.testing.assert_array_equal(frame, (deep[k] >> 8).astype(np.uint8))
        # the same as OpenCV's (and FastTrack's) grey reading of a 16-bit file
        grey = cv2.imread(str(tmp_path / f"d{k:02d}.{ext}"), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(frame, grey)


def test_16_bit_tiff_written_by_tifffile(tmp_path: Path) -> None:
    import tifffile

    image = (np.arange(H * W, dtype=np.uint32).reshape(H, W) * 21).astype(np.uint16)
    tifffile.imwrite(tmp_path / "t_0001.tif", image, compression="zlib")
    np.testing.assert_array_equal(open_frames(tmp_path).read(0), (image >> 8).astype(np.uint8))


def test_natural_order_without_zero_padding(tmp_path: Path) -> None:
    for k in [1, 2, 10, 9, 11, 100, 3]:
        assert cv2.imwrite(str(tmp_path / f"img{k}.png"), scene(k))
    movie = open_frames(tmp_path)
    names = [Path(f).name for f in movie.files]  # type: ignore[attr-defined]
    assert names == [f"img{k}.png" for k in [1, 2, 3, 9, 10, 11, 100]]
    for k, number in enumerate([1, 2, 3, 9, 10, 11, 100]):
        np.testing.assert_array_equal(movie.read(k), scene(number))


def test_index_counts_from_zero_whatever_the_first_number(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 5, name="cam1_t{:04d}.tif", first=998)
    movie = open_frames(tmp_path)
    assert [k for k, _ in movie.iter_frames()] == [0, 1, 2, 3, 4]
    assert Path(movie.files[2]).name == "cam1_t1000.tif"  # type: ignore[attr-defined]
    np.testing.assert_array_equal(movie.read(2), frames[2])


def test_non_frames_are_ignored(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 4)
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "Tracking_Result").mkdir()
    assert cv2.imwrite(str(tmp_path / "Tracking_Result" / "frame_000009.pgm"), scene(9))
    (tmp_path / "._frame_000001.pgm").write_bytes(b"macOS resource fork")
    assert cv2.imwrite(str(tmp_path / "background.pgm"), scene(50))
    movie = open_frames(tmp_path)
    assert movie.n_frames == 4
    for k, frame in movie.iter_frames():
        np.testing.assert_array_equal(frame, frames[k])
    assert movie.skipped == []


def test_upper_case_extensions_are_frames(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 3, name="IMG_{:04d}.TIF")
    movie = open_frames(tmp_path)
    assert movie.n_frames == 3
    np.testing.assert_array_equal(movie.read(1), frames[1])


def test_largest_series_wins_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = write_sequence(tmp_path, 6)
    assert cv2.imwrite(str(tmp_path / "snapshot_1.png"), scene(40))
    with caplog.at_level(logging.WARNING, logger="batchtrack.io.frames"):
        movie = open_frames(tmp_path)
    assert movie.n_frames == 6
    np.testing.assert_array_equal(movie.read(0), frames[0])
    assert "1 other image files are ignored" in caplog.text


def test_two_series_of_the_same_length_are_ambiguous(tmp_path: Path) -> None:
    write_sequence(tmp_path, 3, name="cam1_{:03d}.png")
    write_sequence(tmp_path, 3, name="cam2_{:03d}.png")
    with pytest.raises(InputError, match="several image series"):
        open_frames(tmp_path)


def test_corrupt_frame_is_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = write_sequence(tmp_path, 8)
    (tmp_path / "frame_000004.pgm").write_bytes(b"\x00garbage" * 50)  # frame index 3
    movie = open_frames(tmp_path)
    with caplog.at_level(logging.WARNING, logger="batchtrack.io.frames"):
        got = list(movie.iter_frames())
    assert [k for k, _ in got] == [0, 1, 2, 4, 5, 6, 7]
    for k, frame in got:
        np.testing.assert_array_equal(frame, frames[k])
    assert len(movie.skipped) == 1
    index, reason = movie.skipped[0]
    assert index == 3 and "frame_000004.pgm" in reason
    assert "frame 3" in caplog.text and "frame_000004.pgm" in caplog.text
    with pytest.raises(InputError, match="frame 3"):
        movie.read(3)
    list(movie.iter_frames(2, 5))  # a frame is reported once, however often it is met
    assert len(movie.skipped) == 1


def test_empty_file_is_an_unreadable_frame(tmp_path: Path) -> None:
    write_sequence(tmp_path, 3)
    (tmp_path / "frame_000002.pgm").write_bytes(b"")
    movie = open_frames(tmp_path)
    assert [k for k, _ in movie.iter_frames()] == [0, 2]
    assert [k for k, _ in movie.skipped] == [1]


def test_shape_comes_from_the_first_readable_frame(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 4)
    (tmp_path / "frame_000001.pgm").write_bytes(b"garbage")
    movie = open_frames(tmp_path)
    assert movie.shape == (H, W)
    assert [k for k, _ in movie.iter_frames()] == [1, 2, 3]
    np.testing.assert_array_equal(movie.read(1), frames[1])


def test_frame_of_another_size_is_skipped(tmp_path: Path) -> None:
    write_sequence(tmp_path, 4)
    assert cv2.imwrite(str(tmp_path / "frame_000003.pgm"), np.zeros((H + 2, W), np.uint8))
    movie = open_frames(tmp_path)
    assert [k for k, _ in movie.iter_frames()] == [0, 1, 3]
    assert movie.skipped[0][0] == 2
    assert f"{W}x{H + 2}" in movie.skipped[0][1] and "frame_000003.pgm" in movie.skipped[0][1]
    with pytest.raises(InputError, match="differs from the movie"):
        movie.read(2)


def test_float_frame_is_skipped_as_unsupported(tmp_path: Path) -> None:
    write_sequence(tmp_path, 2, name="f{:02d}.tif")
    assert cv2.imwrite(str(tmp_path / "f03.tif"), np.zeros((H, W), np.float32))
    movie = open_frames(tmp_path)
    assert [k for k, _ in movie.iter_frames()] == [0, 1]
    assert "float32" in movie.skipped[0][1]


def test_frames_are_streamed_not_preloaded(tmp_path: Path) -> None:
    write_sequence(tmp_path, 5)
    movie = open_frames(tmp_path)
    stream = movie.iter_frames()
    assert next(stream)[0] == 0
    assert cv2.imwrite(str(tmp_path / "frame_000005.pgm"), scene(77))  # frame 4, not read yet
    last = list(stream)[-1]
    assert last[0] == 4
    np.testing.assert_array_equal(last[1], scene(77))


def test_sequence_iter_frames_range(tmp_path: Path) -> None:
    frames = write_sequence(tmp_path, 10)
    movie = open_frames(tmp_path)
    assert [k for k, _ in movie.iter_frames(3, 6)] == [3, 4, 5]
    assert [k for k, _ in movie.iter_frames(8, 50)] == [8, 9]
    assert list(movie.iter_frames(10)) == []
    assert list(movie.iter_frames(4, 4)) == []
    np.testing.assert_array_equal(dict(movie.iter_frames(5))[9], frames[9])
    with pytest.raises(ParameterError, match="start"):
        list(movie.iter_frames(-1))
    with pytest.raises(ParameterError, match="start"):
        list(movie.iter_frames(5, 2))


@pytest.mark.parametrize("k", [-1, 6, 100])
def test_sequence_read_out_of_range(tmp_path: Path, k: int) -> None:
    write_sequence(tmp_path, 6)
    with pytest.raises(InputError, match=rf"frame {k} is out of range.*0 to 5"):
        open_frames(tmp_path).read(k)


def test_sequence_result_dir(tmp_path: Path) -> None:
    write_sequence(tmp_path / "movie", 2)
    assert open_frames(tmp_path / "movie").result_dir == tmp_path / "movie" / "Tracking_Result"


# ---------------------------------------------------------------- errors on opening


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder") as info:
        open_frames(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder is empty") as info:
        open_frames(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.csv").write_text("x")
    with pytest.raises(InputError, match=r"no image sequence.*a\.txt.*pgm"):
        open_frames(tmp_path)


def test_folder_of_unnumbered_images(tmp_path: Path) -> None:
    assert cv2.imwrite(str(tmp_path / "background.pgm"), scene(0))
    with pytest.raises(InputError, match="no frame number"):
        open_frames(tmp_path)


def test_folder_of_videos_is_not_a_sequence(tmp_path: Path, videos: dict[str, Path]) -> None:
    (tmp_path / "fish.avi").write_bytes(videos["mjpg"].read_bytes())
    with pytest.raises(InputError, match=r"holds videos \(fish\.avi\)"):
        open_frames(tmp_path)


def test_folder_of_unreadable_images(tmp_path: Path) -> None:
    for k in range(3):
        (tmp_path / f"frame_{k}.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="none of its 3 image files can be read"):
        open_frames(tmp_path)


def test_single_image_file_points_to_its_folder(tmp_path: Path) -> None:
    write_sequence(tmp_path, 2)
    with pytest.raises(InputError, match="single image"):
        open_frames(tmp_path / "frame_000001.pgm")


@pytest.mark.parametrize("content", [b"", b"RIFF" + b"\x00" * 200, b"garbage" * 300])
def test_unopenable_video(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.avi"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"broken\.avi"):
        open_frames(path)


def test_video_without_decodable_frame(tmp_path: Path, videos: dict[str, Path]) -> None:
    data = videos["mjpg"].read_bytes()
    path = tmp_path / "header_only.avi"
    path.write_bytes(data[: jpeg_offsets(data)[0]])
    with pytest.raises(InputError, match=r"header_only\.avi.*no frame can be decoded"):
        open_frames(path)


def test_video_class_on_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such video file"):
        VideoFile(tmp_path / "nope.mp4")


def test_sequence_class_on_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        ImageSequence(tmp_path / "x.txt")


# ---------------------------------------------------------------- videos


def test_video_frames_are_grey_and_counted(video: Path) -> None:
    reference = decode_all(video)
    assert len(reference) == N_VIDEO
    with open_frames(video) as movie:
        assert isinstance(movie, VideoFile)
        assert movie.shape == (H, W)
        assert movie.n_frames == len(movie) == N_VIDEO
        got = list(movie.iter_frames())
    assert [k for k, _ in got] == list(range(N_VIDEO))
    for k, frame in got:
        assert frame.dtype == np.uint8 and frame.shape == (H, W)
        np.testing.assert_array_equal(frame, reference[k])
    assert movie.skipped == []


def test_video_frames_differ(video: Path) -> None:
    movie = open_frames(video)
    assert not np.array_equal(movie.read(10), movie.read(11))


def test_video_random_access_matches_sequential(video: Path) -> None:
    reference = decode_all(video)
    movie = open_frames(video)
    for k in [0, 1, 7, 30, 59, 45, 2, 58, 12, 0, 37, 36, 59, 5]:
        np.testing.assert_array_equal(movie.read(k), reference[k], err_msg=f"frame {k}")


def test_video_random_access_before_counting(video: Path) -> None:
    reference = decode_all(video)
    movie = open_frames(video)
    for k in [50, 3, 44, 45, 10]:  # backwards jumps before the file was decoded through
        np.testing.assert_array_equal(movie.read(k), reference[k], err_msg=f"frame {k}")


@pytest.mark.parametrize("start", [0, 1, 17, 40, 59])
def test_video_iter_frames_from_any_start(video: Path, start: int) -> None:
    reference = decode_all(video)
    fresh = open_frames(video)  # as in a worker that processes one chunk
    chunk = list(fresh.iter_frames(start, start + 10))
    assert [k for k, _ in chunk] == list(range(start, min(start + 10, N_VIDEO)))
    for k, frame in chunk:
        np.testing.assert_array_equal(frame, reference[k], err_msg=f"frame {k}")
    counted = open_frames(video)
    assert counted.n_frames == N_VIDEO  # now the source is at the end of the file
    for k, frame in counted.iter_frames(start, start + 10):
        np.testing.assert_array_equal(frame, reference[k], err_msg=f"frame {k}")


def test_video_reads_interleaved_with_iteration(video: Path) -> None:
    reference = decode_all(video)
    movie = open_frames(video)
    for k, frame in movie.iter_frames(20, 30):
        np.testing.assert_array_equal(movie.read(55 - k), reference[55 - k])
        np.testing.assert_array_equal(frame, reference[k])


@pytest.mark.parametrize("k", [-1, N_VIDEO, 500])
def test_video_read_out_of_range(video: Path, k: int) -> None:
    movie = open_frames(video)
    with pytest.raises(InputError, match=rf"frame {k} is out of range.*{N_VIDEO} frames"):
        movie.read(k)
    np.testing.assert_array_equal(movie.read(3), decode_all(video)[3])  # still usable


def test_video_count_does_not_trust_the_header(tmp_path: Path, videos: dict[str, Path]) -> None:
    data = videos["mjpg"].read_bytes()
    path = tmp_path / "truncated.avi"
    path.write_bytes(data[: len(data) // 2])
    header = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT)
    movie = open_frames(path)
    n = movie.n_frames
    assert 0 < n < N_VIDEO == header
    got = list(movie.iter_frames())
    assert [k for k, _ in got] == list(range(n))
    reference, full = decode_all(path), decode_all(videos["mjpg"])
    assert len(reference) == n
    for k, frame in got:
        np.testing.assert_array_equal(frame, reference[k])
        if k < n - 1:  # the last one may be cut in the middle
            np.testing.assert_array_equal(frame, full[k])
    np.testing.assert_array_equal(movie.read(n - 1), reference[n - 1])
    with pytest.raises(InputError, match="out of range"):
        movie.read(n)
    assert open_frames(path).n_frames == n  # the same count when opened again


def test_truncated_mp4_without_index_fails_cleanly(tmp_path: Path, videos: dict[str, Path]) -> None:
    data = videos["mp4v"].read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])  # its index (moov atom) is at the end: lost
    with pytest.raises(InputError, match=r"truncated\.mp4"):
        open_frames(path)


def test_damaged_video_frame_is_skipped_and_decoding_goes_on(
    tmp_path: Path, videos: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(videos["mjpg"].read_bytes())
    offsets = jpeg_offsets(bytes(data))
    assert len(offsets) == N_VIDEO
    data[offsets[30] : offsets[31] - 8] = bytes(offsets[31] - 8 - offsets[30])  # zero frame 30
    path = tmp_path / "damaged.avi"
    path.write_bytes(bytes(data))
    reference = decode_all(videos["mjpg"])
    movie = open_frames(path)
    with caplog.at_level(logging.WARNING, logger="batchtrack.io.frames"):
        got = dict(movie.iter_frames())
    assert sorted(got) == [k for k in range(N_VIDEO) if k != 30]
    for k, frame in got.items():
        np.testing.assert_array_equal(frame, reference[k], err_msg=f"frame {k}")
    assert [k for k, _ in movie.skipped] == [30]
    assert "damaged.avi" in movie.skipped[0][1] and "frame 30" in caplog.text
    assert movie.n_frames == N_VIDEO
    with pytest.raises(InputError, match="frame 30 cannot be read"):
        movie.read(30)
    # OpenCV's own seek in this file lands on the wrong frame: read() must not trust it
    for k in [45, 10, 31, 29, 59, 0]:
        np.testing.assert_array_equal(movie.read(k), reference[k], err_msg=f"frame {k}")


def test_video_close_and_reuse(video: Path) -> None:
    reference = decode_all(video)
    with open_frames(video) as movie:
        first = movie.read(4)
    np.testing.assert_array_equal(first, reference[4])
    np.testing.assert_array_equal(movie.read(9), reference[9])  # reopens by itself
    movie.close()
    movie.close()
    assert movie.n_frames == N_VIDEO


def test_video_result_dir(videos: dict[str, Path]) -> None:
    movie = open_frames(videos["mp4v"])
    assert movie.result_dir == videos["mp4v"].parent / "Tracking_Result_fish"


def test_video_with_any_extension(tmp_path: Path, videos: dict[str, Path]) -> None:
    path = tmp_path / "recording.data"
    path.write_bytes(videos["mjpg"].read_bytes())
    assert open_frames(path).n_frames == N_VIDEO


def test_frame_sources_share_the_interface(tmp_path: Path, videos: dict[str, Path]) -> None:
    write_sequence(tmp_path, 2)
    for movie in (open_frames(tmp_path), open_frames(videos["mjpg"])):
        assert isinstance(movie, FrameSource)
        assert isinstance(movie.path, Path)
        assert repr(movie).startswith(type(movie).__name__)


# ---------------------------------------------------------------- find_movies


def test_find_movies_sequence_folder(tmp_path: Path) -> None:
    write_sequence(tmp_path, 3)
    (tmp_path / "Tracking_Result").mkdir()
    assert find_movies(tmp_path) == [tmp_path]


def test_find_movies_folder_of_videos(tmp_path: Path, videos: dict[str, Path]) -> None:
    for name in ["trial10.avi", "trial2.MP4", "trial1.mkv"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "Tracking_Result_trial1").mkdir()
    assert find_movies(tmp_path) == [
        tmp_path / "trial1.mkv",
        tmp_path / "trial2.MP4",
        tmp_path / "trial10.avi",
    ]


def test_find_movies_video_file(videos: dict[str, Path]) -> None:
    assert find_movies(videos["mp4v"]) == [videos["mp4v"]]


def test_find_movies_nothing_trackable(tmp_path: Path) -> None:
    assert find_movies(tmp_path) == []
    (tmp_path / "notes.txt").write_text("x")
    assert cv2.imwrite(str(tmp_path / "background.pgm"), scene(0))
    assert find_movies(tmp_path) == []
    assert find_movies(tmp_path / "notes.txt") == []
    assert find_movies(tmp_path / "background.pgm") == []


def test_find_movies_sequence_and_videos(tmp_path: Path) -> None:
    write_sequence(tmp_path, 2)
    (tmp_path / "preview.mp4").write_bytes(b"x")
    assert find_movies(tmp_path) == [tmp_path, tmp_path / "preview.mp4"]


def test_find_movies_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        find_movies(tmp_path / "nope")


def test_extension_lists() -> None:
    assert {"pgm", "pbm", "ppm", "png", "jpg", "jpeg", "jpe", "jp2", "tif", "tiff"} <= (
        IMAGE_EXTENSIONS
    )
    assert {"bmp", "dib", "webp", "sr", "ras"} <= IMAGE_EXTENSIONS
    assert {"avi", "mp4", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv"} <= VIDEO_EXTENSIONS
    assert not IMAGE_EXTENSIONS & VIDEO_EXTENSIONS


def test_sequence_index_reopens_without_listing_the_folder(tmp_path) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    for k in range(5):
        cv2.imwrite(str(folder / f"img_{k}.pgm"), np.full((8, 8), 10 * k, np.uint8))
    first = open_frames(folder)
    index = first.index
    (folder / "img_5.pgm").write_bytes(b"added later, not in the index")
    again = open_frames(folder, index=index)
    assert again.files == first.files and again.n_frames == 5
    assert [int(f[0, 0]) for _, f in again.iter_frames(2, 4)] == [20, 30]


def test_pgm_fast_path_reads_what_opencv_reads(tmp_path, zebrafish_dir) -> None:
    from batchtrack.io.frames import _read_pgm

    for frame in sorted((zebrafish_dir / "images").glob("*.pgm"))[:5]:
        expected = cv2.imread(str(frame), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(_read_pgm(str(frame)), expected)
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, (7, 9)).astype(np.uint8)
    sixteen = rng.integers(0, 65536, (7, 9)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "e.pgm"), eight)
    cv2.imwrite(str(tmp_path / "s.pgm"), sixteen)
    np.testing.assert_array_equal(_read_pgm(str(tmp_path / "e.pgm")), eight)
    np.testing.assert_array_equal(_read_pgm(str(tmp_path / "s.pgm")), sixteen)
    # A comment in the header, as some cameras write.
    (tmp_path / "c.pgm").write_bytes(b"P5\n# camera 3\n9 7\n255\n" + eight.tobytes())
    np.testing.assert_array_equal(_read_pgm(str(tmp_path / "c.pgm")), eight)
    # Truncated or not binary PGM: left to OpenCV (None here).
    (tmp_path / "t.pgm").write_bytes(b"P5\n9 7\n255\n" + eight.tobytes()[:20])
    (tmp_path / "a.pgm").write_bytes(b"P2\n2 1\n255\n1 2\n")
    assert _read_pgm(str(tmp_path / "t.pgm")) is None
    assert _read_pgm(str(tmp_path / "a.pgm")) is None


def test_a_sequence_records_the_checksum_of_what_it_read(tmp_path: Path) -> None:
    """With ``read_crcs``, each PGM frame read is checksummed from the bytes it was decoded
    from: what ``file_digest`` computes by reading the file again."""
    from batchtrack.io.resume import file_digest, read_contents
    from batchtrack.synth import make_movie, write_sequence

    movie = write_sequence(make_movie(6, 2, shape=(40, 50), seed=3), tmp_path / "movie")
    with ImageSequence(movie) as source:
        source.read_crcs = {}
        frames = [frame for _, frame in source.iter_frames(1, 4)]
        recorded = dict(source.read_crcs)
        names = [Path(file).name for file in source.files]
    assert sorted(recorded) == names[1:4]
    assert all(frame.flags.writeable for frame in frames)
    contents = read_contents(movie, [*names, "ground_truth.txt", "gone.pgm"], recorded)
    for name in [*names, "ground_truth.txt"]:
        assert contents[name] == file_digest(movie / name)
    assert contents["gone.pgm"].startswith("unreadable:")
