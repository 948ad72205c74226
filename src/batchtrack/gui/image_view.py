"""A zoomable view of a grey or colour image with vector overlays (crisp at any zoom)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

__all__ = ["ImageView", "to_qimage"]

_Item = TypeVar("_Item", bound=QGraphicsItem)


def to_qimage(image: np.ndarray) -> QImage:
    """Copy a uint8 array, shape (H, W) grey or (H, W, 3) RGB, into a QImage."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    if image.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    elif image.ndim == 3 and image.shape[2] == 3:
        fmt = QImage.Format.Format_RGB888
    else:
        raise ValueError(f"expected a (H, W) or (H, W, 3) image, got shape {image.shape}")
    return QImage(image.data, width, height, image.strides[0], fmt).copy()


def _pen(colour: QColor | str, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(colour), width, style)
    pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


class ImageView(QGraphicsView):
    """Shows one image, fitted to the widget until the user zooms (wheel) or pans (drag).

    Double-click fits the image again. Overlays are graphics items on top of the image, in
    image pixel coordinates (pixel ``(x, y)`` covers ``[x, x+1) × [y, y+1)``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setBackgroundBrush(QBrush(QColor("#2b2b2b")))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self._pixmap)
        self._overlays: list[QGraphicsItem] = []
        self._fitted = True
        #: The array shown (None before the first image).
        self.image: np.ndarray | None = None
        self._placeholder = QGraphicsSimpleTextItem()
        self._placeholder.setBrush(QBrush(QColor("#bbbbbb")))
        self.scene().addItem(self._placeholder)

    # -- image -------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, *, scale: int = 1) -> None:
        """Show a uint8 image, shape (H, W) or (H, W, 3) RGB; keeps the zoom if same size.

        ``scale`` > 1: the image is an enlarged picture (``scale`` pixels per image pixel), shown
        at the size of the image, so that overlays keep image pixel coordinates.
        """
        self.image = image
        pixmap = QPixmap.fromImage(to_qimage(image))
        resized = pixmap.size() != self._pixmap.pixmap().size() or self._pixmap.scale() != 1 / scale
        self._pixmap.setPixmap(pixmap)
        self._pixmap.setScale(1 / scale)
        self._placeholder.setText("")
        self.scene().setSceneRect(QRectF(0, 0, pixmap.width() / scale, pixmap.height() / scale))
        if resized or self._fitted:
            self.fit()

    def set_placeholder(self, text: str) -> None:
        """Show a line of text instead of an image."""
        self._pixmap.setPixmap(QPixmap())
        self.image = None
        self.clear_overlays()
        self._placeholder.setText(text)
        font = QFont()
        font.setPointSize(12)
        self._placeholder.setFont(font)
        self.scene().setSceneRect(self._placeholder.boundingRect())
        self.resetTransform()

    def has_image(self) -> bool:
        return not self._pixmap.pixmap().isNull()

    def fit(self) -> None:
        """Fit the whole image in the view."""
        if self.has_image():
            self.fitInView(self._pixmap, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def zoom(self, factor: float, centre: tuple[float, float] | None = None) -> None:
        """Zoom by ``factor``, optionally centring image point ``centre`` (x, y)."""
        self.scale(factor, factor)
        if centre is not None:
            self.centerOn(QPointF(*centre))
        self._fitted = False

    # -- overlays ----------------------------------------------------------------------------
    def clear_overlays(self) -> None:
        for item in self._overlays:
            self.scene().removeItem(item)
        self._overlays.clear()

    def overlays(self) -> list[QGraphicsItem]:
        """The overlay items currently shown."""
        return list(self._overlays)

    def labels(self) -> list[str]:
        """The texts of the labels shown."""
        return [item.toolTip() for item in self._overlays if isinstance(item, QGraphicsRectItem)]

    def add_path(
        self,
        path: QPainterPath,
        colour: QColor | str,
        *,
        width: float = 1.5,
        fill: QColor | str | None = None,
        style: Qt.PenStyle = Qt.PenStyle.SolidLine,
    ) -> QGraphicsPathItem:
        """Draw a path (image pixel coordinates) with a cosmetic pen."""
        item = QGraphicsPathItem(path)
        item.setPen(_pen(colour, width, style))
        item.setBrush(QBrush(QColor(fill)) if fill is not None else QBrush())
        return self._add(item)

    def add_label(self, text: str, x: float, y: float, colour: QColor | str) -> QGraphicsItem:
        """A label of constant screen size, on a box of ``colour``, its corner at image (x, y)."""
        fill = QColor(colour)
        label = QGraphicsSimpleTextItem(text)
        font = QFont()
        font.setPointSizeF(8.5)
        font.setBold(True)
        label.setFont(font)
        light = 0.299 * fill.red() + 0.587 * fill.green() + 0.114 * fill.blue() > 140
        label.setBrush(QBrush(QColor("#000000" if light else "#ffffff")))
        box = QGraphicsRectItem(label.boundingRect().adjusted(-2, 0, 2, 0))
        box.setBrush(QBrush(fill))
        box.setPen(_pen("#000000", 1.0))
        label.setParentItem(box)
        box.setPos(QPointF(x, y))
        box.setOpacity(0.9)
        box.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        box.setToolTip(text)
        return self._add(box)

    def _add(self, item: _Item) -> _Item:
        item.setZValue(1 + len(self._overlays))
        self.scene().addItem(item)
        self._overlays.append(item)
        return item

    # -- interaction -------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        if not self.has_image():
            return
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
