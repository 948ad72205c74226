"""Screenshots of the batchtrack window for the documentation, on generated movies.

Runs the real window (a generated batch mid-run and after the run, the interactive panel
with its overlays, arenas over a movie of six tanks and their review, a trajectory picture)
and writes PNGs to ``docs/screenshots/``::

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshots.py
    # or, without Xvfb:
    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py

Needs the ``gui`` extra (PySide6).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Parameters that suit the generated movies.
PARAMS = dict(
    thresh=40, lightBack=0, nBack=20, methBack=1, minArea=40, maxArea=1500, maxDist=60,
    normDist=20, normAngle=90, maxTime=5,
)  # fmt: skip


def make_experiment(root: Path, *, movies: int, frames: int) -> list[Path]:
    """``root/Fish01/images`` … : image sequences of ten swimming fish each."""
    from batchtrack.synth import make_movie, write_sequence

    folders = []
    for i in range(movies):
        movie = make_movie(frames, 10, shape=(400, 520), seed=10 + i, length=(22, 32))
        folder = write_sequence(movie, root / f"Fish{i + 1:02d}" / "images")
        shutil.move(folder / "background.pgm", folder.parent / "background.pgm")
        (folder / "ground_truth.txt").unlink()
        folders.append(folder.parent)
    return folders


def wait_until(app, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Run the event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not reach the state to capture")
        app.processEvents()
        time.sleep(0.005)


def save(widget, path: Path) -> None:
    widget.grab().save(str(path))
    logging.info("wrote %s", path)


def interactive_shots(app, window, movie: Path, out: Path) -> None:
    from batchtrack.params import Parameters

    panel = window.interactive
    window.tabs.setCurrentWidget(panel)
    panel.set_params(Parameters(**PARAMS))
    panel.open_movie(movie)
    wait_until(app, lambda: panel.layers is not None and panel.is_idle())
    panel.track_from.setValue(0)
    panel.track_to.setValue(150)
    panel.preview_tracking(0, 150)
    wait_until(app, lambda: panel.tracks is not None and panel.is_idle())
    panel.set_frame(150)
    wait_until(app, lambda: panel.layers.index == 150 and panel.is_idle())
    save(window, out / "interactive.png")
    features = panel.layers.features
    height, width = panel.layers.frame.shape
    x, y = features[:, 6], features[:, 7]
    inside = np.minimum(np.minimum(x, width - x), np.minimum(y, height - y))
    alone = features[:, 10] < 1.3 * np.median(features[:, 10])  # not two fish touching
    x, y = features[np.argmax(np.where(alone, inside, -1)), 6:8]
    panel.view.zoom(4.0, (x, y))
    app.processEvents()
    save(panel.view, out / "interactive-zoom.png")
    panel.view.fit()
    panel.show_combo.setCurrentText("Binary")
    panel.trails_check.setChecked(False)
    app.processEvents()
    save(window, out / "interactive-binary.png")
    panel.show_combo.setCurrentText("Frame")
    panel.trails_check.setChecked(True)


def make_tanks(folder: Path, *, frames: int) -> Path:
    """An image sequence of six tanks (2 × 3, dark walls between them), 1 to 3 fish each."""
    import cv2

    from batchtrack.synth import make_movie

    fish = (1, 2, 3, 2, 1, 3)
    tanks = [make_movie(frames, n, shape=(180, 220), seed=40 + k, length=(22, 30))
             for k, n in enumerate(fish)]  # fmt: skip
    streams = [tank.frames() for tank in tanks]
    wall = 24
    folder.mkdir(parents=True)
    for t in range(frames):
        frame = np.full((2 * 180 + 3 * wall, 3 * 220 + 4 * wall), 35, np.uint8)
        for k, stream in enumerate(streams):
            row, col = divmod(k, 3)
            y, x = wall + row * (180 + wall), wall + col * (220 + wall)
            frame[y : y + 180, x : x + 220] = next(stream)
        cv2.imwrite(str(folder / f"frame_{t:06d}.pgm"), frame)
    return folder


def arena_shots(app, window, movie: Path, out: Path) -> None:
    """The interactive panel with the tanks found (Auto) and one drawn by hand, and the
    review window of the result tracked in them."""
    from batchtrack.arenas import Arena
    from batchtrack.gui.review import ReviewWindow
    from batchtrack.movie import track_movie
    from batchtrack.params import Parameters

    panel = window.interactive
    window.tabs.setCurrentWidget(panel)
    panel.set_params(Parameters(**PARAMS))
    panel.open_movie(movie)
    wait_until(app, lambda: panel.layers is not None and panel.is_idle())
    panel.set_frame(40)
    panel.find_wells()
    wait_until(app, lambda: len(panel.arenas.items()) == 6 and panel.is_idle())
    found = panel.arenas.arenas()
    x0, y0, x1, y1 = found[4].bounds()  # the middle bottom tank: a polygon drawn instead
    cx = (x0 + x1) / 2
    polygon = Arena("polygon", ((x0, y0), (x1, y0), (x1, y1), (cx, y1 - 30), (x0, y1)))
    panel.arenas.set_arenas([*found[:4], polygon, found[5]])
    panel.arenas.select(4)
    wait_until(app, lambda: panel.layers.arenas is not None and panel.is_idle())
    app.processEvents()
    save(window, out / "interactive-arenas.png")
    panel.arenas.clear()
    wait_until(app, panel.is_idle)

    summary, _ = track_movie(movie, Parameters(**PARAMS), arenas="auto")
    review = ReviewWindow(summary.folder)
    review.resize(1400, 860)
    review.show()
    review.set_frame(40)
    wait_until(app, review.isVisible)
    app.processEvents()
    save(review, out / "review-arenas.png")
    review.close()


def batch_shots(app, window, folders: list[Path], out: Path) -> None:
    from batchtrack.params import Parameters

    panel = window.batch
    window.tabs.setCurrentWidget(panel)
    panel.set_table_params(Parameters(**PARAMS))
    panel.suffix_edit.setText("images")
    panel.add_folders(folders)
    panel.add_folders([folders[0].parent / "Notes"])  # no movie there: an Error entry
    panel.override_background(panel.entries()[2], folders[2] / "background.pgm")
    panel.workers_spin.setValue(2)
    panel.chunk_size = 40
    app.processEvents()
    save(window, out / "batch-ready.png")
    panel.params_table.set_value("methBack", 0)  # a doubtful value: marked on its row
    app.processEvents()
    row = [panel.params_table.item(r, 0).text() for r in range(panel.params_table.rowCount())]
    panel.params_table.scrollToItem(panel.params_table.item(row.index("⚠ methBack"), 0))
    table_box = panel.params_table.parentWidget()
    save(table_box, out / "parameter-warning.png")
    panel.params_table.set_value("methBack", PARAMS["methBack"])

    def mid_run() -> bool:
        """What the table shows: some Done, some part-way, some Waiting."""
        shown = [panel.status_item(e).text() for e in panel.entries()]
        bars = [panel.progress_bar(e) for e in panel.entries()]
        partway = any(0 < bar.value() < bar.maximum() for bar in bars)
        return "Done" in shown and "Waiting" in shown and partway

    window.statusBar().clearMessage()
    panel.start()
    wait_until(app, mid_run)
    save(window, out / "batch-running.png")
    wait_until(app, lambda: not panel.runner.running and panel.summary is not None)
    app.processEvents()
    save(window, out / "batch-finished.png")
    dialog = panel.show_trajectories(panel.entries()[0])
    dialog.resize(900, 760)
    wait_until(app, dialog.isVisible)
    app.processEvents()
    save(dialog, out / "trajectories.png")
    dialog.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--movies", type=int, default=12)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument(
        "--only", action="append", choices=("interactive", "arenas", "batch"),
        help="take these shots only (repeatable; default: all)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("batchtrack").setLevel(logging.ERROR)
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from batchtrack.gui.window import MainWindow

    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    with tempfile.TemporaryDirectory(prefix="batchtrack-shots-") as tmp:
        root = Path(tmp) / "experiment"
        folders = make_experiment(root, movies=args.movies, frames=args.frames)
        (root / "Notes").mkdir()
        window = MainWindow()
        window.resize(1400, 860)
        window.show()
        only = set(args.only or ("interactive", "arenas", "batch"))
        try:
            if "interactive" in only:
                interactive_shots(app, window, folders[0] / "images", args.out)
            if "arenas" in only:
                tanks = make_tanks(Path(tmp) / "tanks" / "images", frames=80)
                arena_shots(app, window, tanks, args.out)
            if "batch" in only:
                batch_shots(app, window, folders, args.out)
        finally:
            window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
