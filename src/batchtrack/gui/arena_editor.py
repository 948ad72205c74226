"""Arenas drawn and edited over an :class:`~batchtrack.gui.image_view.ImageView`.

Each arena is a graphics item of the view's scene (:class:`ArenaItem`): select it with a
click, drag it to move it, drag its handles (a polygon's vertices, a rectangle's corners, a
circle's rim) to reshape it, Delete removes the selected ones. With a drawing tool on
(:meth:`ArenaEditor.set_tool`), a drag draws a circle (from its centre) or a rectangle (from
a corner), and clicks add a polygon's vertices (double-click, Enter, a right-click or a click
on the first vertex closes it; Escape gives it up).

The shapes are :class:`batchtrack.arenas.Arena` objects in the arenas' pixel coordinates,
snapped to whole pixels (what tracking rasterises). Rectangles cover ``[x0, x1) × [y0, y1)``
of the image; a circle's centre and a polygon's vertices are pixel indices, drawn through the
pixel centres. The editor knows no file: the interactive panel reads and writes them with
:mod:`batchtrack.io.arenas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsView,
    QStyle,
    QStyleOptionGraphicsItem,
)

from ..arenas import Arena
from .image_view import ImageView

__all__ = ["ARENA", "TOOLS", "ArenaEditor", "ArenaItem", "labels_outline"]

#: Outline colour of the arenas (the orange of ``arenas.png``).
ARENA = "#ffa000"
SELECTED = "#fff04d"
#: Drawing tools; None is "select and move".
TOOLS = ("circle", "rectangle", "polygon")
#: Screen pixels within which a click on a polygon's first vertex closes it.
CLOSE_RADIUS = 8
#: Z value of the arenas: above the image and the detection overlays.
Z_ARENAS = 10_000
_HANDLE = 4.0  # half size of a handle, screen pixels
_HANDLED = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick,
})  # fmt: skip


def _pen(colour: str, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(colour), width, style)
    pen.setCosmetic(True)
    return pen


def _offset(kind: str) -> float:
    """Scene position of arena coordinate 0: rectangles are pixel edges, the other shapes
    pixel centres."""
    return 0.0 if kind == "rectangle" else 0.5


def labels_outline(labels: np.ndarray) -> QPainterPath:
    """The outline of every arena of a label image, as one path in image coordinates.

    Parameters
    ----------
    labels : ndarray of int, shape (H, W)
        0 outside, ``k`` inside arena ``k``.

    Returns
    -------
    QPainterPath
        Each arena's outer boundary, through its boundary pixels' centres.
    """
    path = QPainterPath()
    for k in range(1, int(labels.max(initial=0)) + 1):
        mask = (labels == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            points = contour.reshape(-1, 2).tolist()
            path.addPolygon(QPolygonF([QPointF(x + 0.5, y + 0.5) for x, y in points]))
            path.closeSubpath()
    return path


class _Handle(QGraphicsRectItem):
    """A small square of constant screen size: drag it to reshape its arena."""

    def __init__(self, owner: ArenaItem, index: int) -> None:
        super().__init__(QRectF(-_HANDLE, -_HANDLE, 2 * _HANDLE, 2 * _HANDLE), owner)
        self.owner, self.index = owner, index
        self.setBrush(QBrush(QColor(SELECTED)))
        self.setPen(_pen("#000000", 1.0))
        # Dragged by hand, not ItemIsMovable: Qt would move the selected arena instead
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCursor(Qt.CursorShape.SizeAllCursor)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        kind = self.owner.kind
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            shift = _offset(kind)  # whole pixels, in the arena's coordinates
            return QPointF(round(value.x() - shift) + shift, round(value.y() - shift) + shift)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.owner.handle_moved(self.index, value)
        return super().itemChange(change, value)

    def mousePressEvent(self, event: Any) -> None:
        event.accept()  # the handle grabs the mouse until the release

    def mouseMoveEvent(self, event: Any) -> None:
        self.setPos(self.owner.mapFromScene(event.scenePos()))

    def mouseReleaseEvent(self, event: Any) -> None:
        self.owner.finished_edit()


class ArenaItem(QGraphicsPathItem):
    """One arena over the image: selectable, movable, with handles once selected.

    Parameters
    ----------
    arena : Arena
        Its shape; its ``animals`` and ``name`` are kept as they are.
    editor : ArenaEditor, optional
        Told when a move or a reshape ends.
    """

    def __init__(self, arena: Arena, editor: ArenaEditor | None = None) -> None:
        super().__init__()
        self.kind = arena.kind
        self.animals, self.name = arena.animals, arena.name
        self.editor = editor
        if arena.kind == "rectangle":
            (x0, y0), (x1, y1) = arena.points
            self.points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        else:
            self.points = [(float(x), float(y)) for x, y in arena.points]
        self.radius = float(arena.radius)
        self._syncing = False
        flags = QGraphicsItem.GraphicsItemFlag
        self.setFlag(flags.ItemIsSelectable)
        self.setFlag(flags.ItemIsMovable)
        self.setFlag(flags.ItemSendsGeometryChanges)
        self.setZValue(Z_ARENAS)
        self.handles = [_Handle(self, i) for i in range(self._n_handles())]
        self._place_handles()
        self._restyle(False)
        self._redraw()

    def _n_handles(self) -> int:
        return 1 if self.kind == "circle" else len(self.points)

    # -- geometry ----------------------------------------------------------------------------
    def arena(self) -> Arena:
        """The arena as drawn now (moves included), in whole pixels."""
        dx, dy = round(self.pos().x()), round(self.pos().y())
        points = [(float(round(x) + dx), float(round(y) + dy)) for x, y in self.points]
        if self.kind == "circle":
            return Arena("circle", (points[0],), radius=float(max(1, round(self.radius))),
                         animals=self.animals, name=self.name)  # fmt: skip
        if self.kind == "rectangle":
            xs, ys = [x for x, _ in points], [y for _, y in points]
            corners = ((min(xs), min(ys)), (max(max(xs), min(xs) + 1), max(max(ys), min(ys) + 1)))
            return Arena("rectangle", corners, animals=self.animals, name=self.name)
        return Arena("polygon", tuple(points), animals=self.animals, name=self.name)

    def _redraw(self) -> None:
        shift = _offset(self.kind)
        path = QPainterPath()
        if self.kind == "circle":
            (x, y), = self.points
            path.addEllipse(QPointF(x + shift, y + shift), self.radius, self.radius)
        else:
            path.addPolygon(QPolygonF([QPointF(x + shift, y + shift) for x, y in self.points]))
            path.closeSubpath()
        self.setPath(path)

    def _handle_points(self) -> list[tuple[float, float]]:
        if self.kind == "circle":
            (x, y), = self.points
            return [(x + self.radius, y)]
        return list(self.points)

    def _place_handles(self) -> None:
        shift = _offset(self.kind)
        self._syncing = True
        for handle, (x, y) in zip(self.handles, self._handle_points(), strict=True):
            handle.setPos(QPointF(x + shift, y + shift))
        self._syncing = False

    def handle_moved(self, index: int, at: QPointF) -> None:
        """A handle was dragged to ``at`` (item coordinates): reshape."""
        if self._syncing:
            return
        shift = _offset(self.kind)
        x, y = at.x() - shift, at.y() - shift
        if self.kind == "circle":
            (cx, cy), = self.points
            self.radius = max(1.0, float(round(math.hypot(x - cx, y - cy))))
        elif self.kind == "rectangle":  # the corner moves, its neighbours follow
            self.points[index] = (x, y)
            before, after = (index - 1) % 4, (index + 1) % 4
            if index % 2 == 0:  # corners 0 and 2 share y with the next one, x with the previous
                self.points[after] = (self.points[after][0], y)
                self.points[before] = (x, self.points[before][1])
            else:
                self.points[after] = (x, self.points[after][1])
                self.points[before] = (self.points[before][0], y)
            self._place_handles()
        else:
            self.points[index] = (x, y)
        self._redraw()

    def finished_edit(self) -> None:
        """A move or a reshape ended: tell the editor."""
        if self.editor is not None:
            self.editor.item_edited(self)

    # -- look and moves ----------------------------------------------------------------------
    def _restyle(self, selected: bool) -> None:
        self.setPen(_pen(SELECTED if selected else ARENA, 2.5 if selected else 2.0))
        self.setBrush(QBrush(QColor(255, 160, 0, 45)) if selected else QBrush())
        for handle in self.handles:
            handle.setVisible(selected)

    def paint(self, painter: Any, option: QStyleOptionGraphicsItem, widget: Any = None) -> None:
        plain = QStyleOptionGraphicsItem(option)  # selection shown by the colours and handles,
        plain.state &= ~QStyle.StateFlag.State_Selected  # not Qt's dashed box
        super().paint(painter, plain, widget)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            return QPointF(round(value.x()), round(value.y()))  # whole pixels
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._restyle(bool(value))
        return super().itemChange(change, value)

    def mousePressEvent(self, event: Any) -> None:
        self._pressed_at = self.pos()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:
        super().mouseReleaseEvent(event)
        if self.pos() != getattr(self, "_pressed_at", self.pos()):
            self.finished_edit()


class ArenaEditor(QObject):
    """The arenas drawn over an image view, and the tools that draw them.

    Parameters
    ----------
    view : ImageView
        The view whose scene holds the arenas; its mouse events are used while a tool is on.

    Signals
    -------
    changed()
        An arena was drawn, moved, reshaped or deleted, or the set was replaced.
    toolChanged(object)
        The drawing tool changed (a name of :data:`TOOLS`, or None).
    """

    changed = Signal()
    toolChanged = Signal(object)

    def __init__(self, view: ImageView) -> None:
        super().__init__(view)
        self.view = view
        self._items: list[ArenaItem] = []
        self.tool: str | None = None
        #: The ``--arenas`` value these arenas stand for while unedited (``grid:RxC``,
        #: ``auto``, a file), None once drawn or edited by hand.
        self.spec: str | None = None
        self._start: QPointF | None = None
        self._vertices: list[tuple[float, float]] = []
        self._rubber: QGraphicsPathItem | None = None
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)
        view.installEventFilter(self)

    # -- the arenas --------------------------------------------------------------------------
    def arenas(self) -> list[Arena]:
        """The arenas, in order (arena 1 first)."""
        return [item.arena() for item in self._items]

    def items(self) -> list[ArenaItem]:
        """The arenas' graphics items, in order."""
        return list(self._items)

    def set_arenas(self, arenas: Sequence[Arena], *, spec: str | None = None) -> None:
        """Replace every arena by ``arenas`` (``spec``: the ``--arenas`` value they come from)."""
        for item in self._items:
            self.view.scene().removeItem(item)
        self._items = [self._new_item(arena) for arena in arenas]
        self.spec = spec
        self.changed.emit()

    def add(self, arena: Arena) -> ArenaItem:
        """Add one arena (last in order)."""
        item = self._new_item(arena)
        self._items.append(item)
        self.spec = None
        self.changed.emit()
        return item

    def _new_item(self, arena: Arena) -> ArenaItem:
        item = ArenaItem(arena, self)
        self.view.scene().addItem(item)
        return item

    def select(self, index: int | None) -> None:
        """Select arena ``index`` (0-based) alone; None selects none."""
        for k, item in enumerate(self._items):
            item.setSelected(k == index)

    def selected(self) -> list[int]:
        """Indices of the selected arenas."""
        return [k for k, item in enumerate(self._items) if item.isSelected()]

    def delete_selected(self) -> int:
        """Remove the selected arenas; returns how many."""
        doomed = [item for item in self._items if item.isSelected()]
        for item in doomed:
            self.view.scene().removeItem(item)
            self._items.remove(item)
        if doomed:
            self.spec = None
            self.changed.emit()
        return len(doomed)

    def clear(self) -> None:
        """Remove every arena."""
        self.set_arenas([])

    def move(self, index: int, dx: float, dy: float) -> None:
        """Move arena ``index`` by ``(dx, dy)`` pixels (what dragging it does)."""
        item = self._items[index]
        item.setPos(item.pos() + QPointF(dx, dy))
        self.item_edited(item)

    def item_edited(self, item: ArenaItem) -> None:
        """An arena was moved or reshaped by hand."""
        self.spec = None
        self.changed.emit()

    # -- drawing tools -----------------------------------------------------------------------
    def set_tool(self, tool: str | None) -> None:
        """Draw circles, rectangles or polygons (a name of :data:`TOOLS`); None selects and
        moves (and pans the view)."""
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)} or None, got {tool!r}")
        self._cancel()
        self.tool = tool
        drag = QGraphicsView.DragMode
        self.view.setDragMode(drag.ScrollHandDrag if tool is None else drag.NoDrag)
        self.view.viewport().setCursor(
            Qt.CursorShape.OpenHandCursor if tool is None else Qt.CursorShape.CrossCursor
        )
        if tool is not None:
            self.select(None)
        self.toolChanged.emit(tool)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if self.tool is None or kind not in _HANDLED:  # (the view may be being deleted)
            return False
        if not self.view.has_image():
            return False
        if watched is self.view and kind == QEvent.Type.KeyPress:
            return self._key(event)  # type: ignore[arg-type]
        if watched is not self._viewport:
            return False
        if kind == QEvent.Type.MouseButtonPress:
            return self._press(event)  # type: ignore[arg-type]
        if kind == QEvent.Type.MouseMove:
            self._moved(event)  # type: ignore[arg-type]
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            return self._release(event)  # type: ignore[arg-type]
        if kind == QEvent.Type.MouseButtonDblClick:
            if self.tool == "polygon":
                self._close_polygon()
            return True
        return False

    def _scene(self, event: QMouseEvent) -> QPointF:
        return self.view.mapToScene(event.position().toPoint())

    def _press(self, event: QMouseEvent) -> bool:
        at = self._scene(event)
        if self.tool == "polygon":
            if event.button() == Qt.MouseButton.RightButton:
                self._close_polygon()
                return True
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            vertex = (float(round(at.x() - 0.5)), float(round(at.y() - 0.5)))
            if len(self._vertices) >= 3 and self._near_first(at):
                self._close_polygon()
            elif not self._vertices or vertex != self._vertices[-1]:
                self._vertices.append(vertex)
                self._draw_rubber(at)
            return True
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._start = at
        self._draw_rubber(at)
        return True

    def _near_first(self, at: QPointF) -> bool:
        x, y = self._vertices[0]
        first = self.view.mapFromScene(QPointF(x + 0.5, y + 0.5))
        here = self.view.mapFromScene(at)
        return (first - here).manhattanLength() <= CLOSE_RADIUS

    def _moved(self, event: QMouseEvent) -> None:
        if self._start is not None or self._vertices:
            self._draw_rubber(self._scene(event))

    def _release(self, event: QMouseEvent) -> bool:
        if self.tool == "polygon":
            return True
        if self._start is None or event.button() != Qt.MouseButton.LeftButton:
            return False
        arena = self._dragged_shape(self._start, self._scene(event))
        self._cancel()
        if arena is not None:
            self.add(arena)
        return True

    def _dragged_shape(self, start: QPointF, end: QPointF) -> Arena | None:
        """The circle (centre ``start``) or rectangle (corners) of a drag; None if tiny."""
        if self.tool == "circle":
            cx, cy = float(round(start.x() - 0.5)), float(round(start.y() - 0.5))
            radius = round(math.hypot(end.x() - 0.5 - cx, end.y() - 0.5 - cy))
            return Arena("circle", ((cx, cy),), radius=float(radius)) if radius >= 2 else None
        x0, x1 = sorted((round(start.x()), round(end.x())))
        y0, y1 = sorted((round(start.y()), round(end.y())))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return Arena("rectangle", ((float(x0), float(y0)), (float(x1), float(y1))))

    def _key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            self._cancel()
            return True
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.tool == "polygon":
            self._close_polygon()
            return True
        return False

    def _close_polygon(self) -> None:
        vertices = self._vertices
        self._cancel()
        if len(vertices) >= 3:
            self.add(Arena("polygon", tuple(vertices)))

    def _cancel(self) -> None:
        """Give up the shape being drawn."""
        self._start = None
        self._vertices = []
        if self._rubber is not None:
            self.view.scene().removeItem(self._rubber)
            self._rubber = None

    def _draw_rubber(self, at: QPointF) -> None:
        """The shape being drawn, dashed, up to the mouse."""
        path = QPainterPath()
        if self.tool == "polygon":
            points = [QPointF(x + 0.5, y + 0.5) for x, y in self._vertices] + [at]
            path.addPolygon(QPolygonF(points))
        elif self._start is not None:
            arena = self._dragged_shape(self._start, at)
            if arena is not None and arena.kind == "circle":
                (x, y), = arena.points
                path.addEllipse(QPointF(x + 0.5, y + 0.5), arena.radius, arena.radius)
            elif arena is not None:
                (x0, y0), (x1, y1) = arena.points
                path.addRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if self._rubber is None:
            self._rubber = QGraphicsPathItem()
            self._rubber.setPen(_pen(SELECTED, 1.5, Qt.PenStyle.DashLine))
            self._rubber.setZValue(Z_ARENAS + 1)
            self.view.scene().addItem(self._rubber)
        self._rubber.setPath(path)
