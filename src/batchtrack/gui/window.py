"""The main window: the interactive panel and the batch panel, as in FastTrack."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QTabWidget

from .. import __version__
from ..params import Parameters
from .batch_panel import BatchPanel
from .dialogs import Dialogs
from .interactive import InteractivePanel

__all__ = ["MainWindow"]

STATUS_MS = 8000


class MainWindow(QMainWindow):
    """Two tabs: *Interactive* (tune on one movie) and *Batch* (process many).

    Parameters
    ----------
    dialogs : Dialogs, optional
        What asks the user for paths; both panels share it (tests give their own).
    """

    def __init__(self, *, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"batchtrack {__version__}")
        self.dialogs = dialogs or Dialogs()
        self.interactive = InteractivePanel(dialogs=self.dialogs)
        self.batch = BatchPanel(dialogs=self.dialogs)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.interactive, "Interactive")
        self.tabs.addTab(self.batch, "Batch")
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.interactive.message.connect(self.show_message)
        self.batch.message.connect(self.show_message)
        self.interactive.sendToBatch.connect(self._send_to_batch)
        self.interactive.arenasToBatch.connect(self._send_arenas)
        self.statusBar()
        self.resize(1280, 800)

    def show_message(self, text: str) -> None:
        """Show a line in the status bar for a few seconds."""
        self.statusBar().showMessage(text, STATUS_MS)

    def _send_to_batch(self, params: Parameters) -> None:
        self.batch.set_table_params(params)
        self.tabs.setCurrentWidget(self.batch)
        self.show_message("The batch parameter table now holds the interactive panel's values")

    def _send_arenas(self, spec: str | None) -> None:
        self.batch.set_arenas(spec)
        if spec is not None:
            self.show_message(
                f"The batch parameter table now holds the interactive panel's values; movies "
                f"added next are tracked in the arenas {spec}"
            )

    def open(self, *, movie: str | Path | None = None, stack: str | Path | None = None) -> None:
        """Open a movie in the interactive panel and/or a manifest in the batch panel."""
        if stack is not None:
            self.batch.load_stack(stack)
            self.tabs.setCurrentWidget(self.batch)
        if movie is not None:
            self.interactive.open_movie(movie)
            self.tabs.setCurrentWidget(self.interactive)

    def closeEvent(self, event) -> None:
        if self.batch.runner.running:
            self.show_message("Stopping the run before closing…")
        self.batch.shutdown()
        self.interactive.shutdown()
        super().closeEvent(event)
