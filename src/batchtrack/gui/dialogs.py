"""File dialogs behind one small object (tests replace it), and the trajectory picture dialog."""

from __future__ import annotations

from pathlib import Path

import cv2
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFileSystemModel,
    QLabel,
    QListView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .image_view import ImageView

__all__ = ["Dialogs", "TrajectoryDialog"]

IMAGE_FILTER = "Images (*.pgm *.png *.tif *.tiff *.bmp *.jpg *.jpeg);;All files (*)"
CFG_FILTER = "Parameter files (*.toml);;All files (*)"
ARENA_FILTER = (
    "Arena files (*.toml *.png *.tif *.tiff *.pgm *.bmp);;TOML shapes (*.toml);;All files (*)"
)
ARENA_SAVE_FILTER = "TOML shapes (*.toml)"
STACK_FILTER = "Stack manifest (*.toml *.csv)"
VIDEO_FILTER = "Videos (*.avi *.mp4 *.mov *.mkv *.webm *.mpg *.mpeg *.wmv *.m4v);;All files (*)"


class Dialogs:
    """The questions the window asks the user; each returns paths, or nothing if cancelled.

    The window never opens a dialog elsewhere, so tests (and scripts) give it an object with
    the same methods that answers without a dialog.
    """

    def __init__(self) -> None:
        self.last_dir = str(Path.cwd())  # then the folder used last

    def folders(self, parent: QWidget, title: str) -> list[Path]:
        """Several folders at once (a multi-selection folder dialog)."""
        dialog = QFileDialog(parent, title, self.last_dir)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        for view in dialog.findChildren(QListView) + dialog.findChildren(QTreeView):
            if isinstance(view.model(), QFileSystemModel):
                view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        if not dialog.exec():
            return []
        paths = [Path(p) for p in dialog.selectedFiles()]
        if paths:
            self.last_dir = str(paths[0].parent)
        return paths

    def folder(self, parent: QWidget, title: str) -> Path | None:
        """One folder."""
        path = QFileDialog.getExistingDirectory(parent, title, self.last_dir)
        return self._remember(path)

    def open_file(self, parent: QWidget, title: str, filter: str) -> Path | None:
        """One existing file."""
        path, _ = QFileDialog.getOpenFileName(parent, title, self.last_dir, filter)
        return self._remember(path)

    def save_file(self, parent: QWidget, title: str, filter: str, name: str) -> Path | None:
        """A file to write."""
        path, _ = QFileDialog.getSaveFileName(
            parent, title, str(Path(self.last_dir) / name), filter
        )
        return self._remember(path)

    def _remember(self, path: str) -> Path | None:
        if not path:
            return None
        self.last_dir = str(Path(path).parent)
        return Path(path)


class TrajectoryDialog(QDialog):
    """Shows a trajectory picture (zoom with the wheel, double-click to fit)."""

    def __init__(self, png: Path, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Trajectories — {title}")
        self.png = png
        self.view = ImageView(self)
        image = cv2.imread(str(png), cv2.IMREAD_COLOR)
        self.view.set_image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        caption = QLabel(f"{png}")
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(caption)
        layout.addWidget(buttons)
        self.resize(900, 650)
