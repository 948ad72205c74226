"""batchtrack.io.messages: what an entry's result log collects, and the native libraries'
lines kept off the terminal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from batchtrack.io.messages import IN_RESULT, collect_messages, native_output

log = logging.getLogger("batchtrack.test")


def test_blocks_nest_and_a_message_goes_to_the_innermost_of_its_thread() -> None:
    seen_elsewhere: list[str] = []

    def other_thread() -> None:
        with collect_messages() as mine:
            log.warning("from the other thread")
        seen_elsewhere.extend(mine)

    with collect_messages() as outer:
        log.warning("outer")
        with collect_messages() as inner:
            log.warning("inner")
            log.info("not a warning")
            log.warning("written to the log by other means", extra=IN_RESULT)
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outer == ["outer"] and inner == ["inner"]
    assert seen_elsewhere == ["from the other thread"]


def test_collecting_into_a_callable() -> None:
    got: list[str] = []
    with collect_messages(got.append) as lines:
        log.error("one")
    assert got == ["one"] and lines == []


def test_native_output_is_caught_and_not_on_the_terminal(capfd: pytest.CaptureFixture) -> None:
    with collect_messages() as lines:
        with native_output("frame_0001.png"):
            os.write(2, b"[ WARN:0] libpng says hello\n\n")
        with native_output("broken.png"):  # the real thing: OpenCV's decoder on a bad PNG
            image = cv2.imdecode(np.frombuffer(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, np.uint8), 0)
        os.write(2, b"after the block\n")
    assert image is None
    assert lines[0] == "frame_0001.png: [ WARN:0] libpng says hello"
    assert capfd.readouterr().err == "after the block\n"


def test_tifffile_records_are_collected_not_printed() -> None:
    with collect_messages() as lines:
        logging.getLogger("tifffile").warning("<tifffile.TiffFile 'a.tif'> failed to reshape")
    assert lines == ["tifffile: <tifffile.TiffFile 'a.tif'> failed to reshape"]
    assert logging.getLogger("tifffile").propagate is False


def test_an_unhandled_warning_is_still_printed_once_something_was_collected() -> None:
    # Python prints a warning no handler takes ("last resort"); the collectors' handler, on
    # the batchtrack logger for good once used, must not silence it (nor print it twice)
    code = (
        "import logging\n"
        "from batchtrack.io.messages import collect_messages\n"
        "with collect_messages(): pass\n"
        "logging.getLogger('batchtrack.movie').warning('seen')\n"
        "logging.getLogger('batchtrack.native').info('not seen')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stderr == "seen\n"
