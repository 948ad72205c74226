"""The desktop window (``batchtrack gui``): FastTrack's interactive and batch panels.

Needs the ``gui`` extra (PySide6). It calls only batchtrack's public API: the stack and its
runner for the batch panel, frame reading, background, detection and linking for the
interactive panel. Nothing else in batchtrack imports this package.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["run", "run_review"]


def run(*, movie: str | Path | None = None, stack: str | Path | None = None) -> int:
    """Open the window and run the event loop until it is closed.

    Parameters
    ----------
    movie : path, optional
        Image-sequence folder or video to open in the interactive panel.
    stack : path, optional
        Manifest (stack.toml / stack.csv) to load in the batch panel.

    Returns
    -------
    int
        The application's exit status.
    """
    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("batchtrack")
    window = MainWindow()
    window.open(movie=movie, stack=stack)
    window.show()
    return app.exec()


def run_review(result: str | Path) -> int:
    """Open the review window on a result (or a movie) and run the event loop until it closes.

    Parameters
    ----------
    result : path
        A ``Tracking_Result`` folder, or the movie it belongs to.

    Returns
    -------
    int
        The application's exit status.
    """
    from PySide6.QtWidgets import QApplication

    from .review import ReviewWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("batchtrack")
    window = ReviewWindow(result)
    window.show()
    return app.exec()
