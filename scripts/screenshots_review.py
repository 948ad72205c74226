"""Screenshots of the review window for the README, on FastTrack's zebrafish sample.

Tracks a copy of ``../shared/data/zebrafish-100`` (14 fish, 100 frames), opens the real review
window, goes to an event, selects an id by clicking it, swaps it with another, and writes
PNGs to ``docs/screenshots/``::

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshots_review.py

Needs the ``gui`` extra (PySide6).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZEBRAFISH = ROOT.parent / "shared" / "data" / "zebrafish-100"
PARAMS = dict(
    thresh=60, lightBack=0, minArea=50, maxArea=170, morph=8, nBack=20, methBack=1, spot=0,
    normDist=20, normAngle=118, normArea=0, normPerim=0, maxDist=195, maxTime=40, animals=14,
)  # fmt: skip


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def save(widget, path: Path) -> None:
    widget.grab().save(str(path))
    logging.info("wrote %s", path)


def click(app, window, track_id: int, *, shift: bool = False) -> None:
    """Click an object in the view as a user does (press and release on its position)."""
    import numpy as np
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    found = window.replay.objects(window.frame)
    (i,) = np.flatnonzero(found.ids == track_id)
    x, y = found.body[i]
    point = window.view.mapFromScene(QPointF(x + 0.5, y + 0.5))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, modifier, point)
    settle(app, 0.1)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from PySide6.QtWidgets import QApplication

    from batchtrack.gui.review import ReviewWindow
    from batchtrack.movie import track
    from batchtrack.params import Parameters

    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        movie = Path(tmp) / "zebrafish" / "images"
        shutil.copytree(ZEBRAFISH / "images", movie)
        track(movie, Parameters(**PARAMS), background=ZEBRAFISH / "background.pgm")
        window = ReviewWindow(movie / "Tracking_Result")
        window.resize(1500, 900)
        window.show()
        settle(app)
        window.set_frame(40)
        window.next_event()  # the first event after frame 40
        settle(app)
        ids = window.replay.objects(window.frame).ids.tolist()
        click(app, window, ids[0])
        click(app, window, ids[1], shift=True)
        save(window, out / "review.png")
        body = window.replay.objects(window.frame).body[0]
        window.view.zoom(3.0, (float(body[0]), float(body[1])))
        settle(app)
        save(window.view, out / "review-zoom.png")
        window.view.fit()
        window.swap_button.click()
        settle(app)
        save(window, out / "review-swapped.png")
        window.ask_unsaved = lambda: "discard"  # type: ignore[method-assign]
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
