"""The parameter table: every tracking parameter with its unit, range, help and a fitting editor."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ..errors import ParameterError
from ..params import Parameters, describe_parameters

__all__ = ["ParameterTable"]

_MAX = 2_000_000_000
_INVALID = "background-color: #f8d0d0;"
_WARNING = "#fde9c4"


# Type checkers see the mixin as a widget (hasFocus, wheelEvent); at run time it is a plain class.
if TYPE_CHECKING:
    _Widget = QWidget
else:
    _Widget = object


class _NoWheel(_Widget):
    """Editors inside a scrolling table change only when focused (scrolling never edits)."""

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _SpinBox(_NoWheel, QSpinBox):
    pass


class _DoubleSpinBox(_NoWheel, QDoubleSpinBox):
    pass


class _ComboBox(_NoWheel, QComboBox):
    pass


_Editor: TypeAlias = "QSpinBox | QDoubleSpinBox | QComboBox | QLineEdit"


def _range_text(info: dict) -> str:
    lo, hi = info["min"], info["max"]
    if info["choices"]:
        return f"{min(info['choices'])}–{max(info['choices'])}"
    if info["type"] == "str":
        return "text"
    if info["min_exclusive"] and hi is None:
        return f"> {lo:g}"
    if hi is None:
        return f"≥ {lo:g}" if lo is not None else ""
    return f"{lo:g}–{hi:g}"


def _tooltip(info: dict) -> str:
    lines = [f"<b>{info['name']}</b>: {info['description']}"]
    if info["choices"]:
        lines += [f"{code}: {label}" for code, label in info["choices"].items()]
    default = info["default"]
    shown = f"{default:g}" if isinstance(default, (int, float)) else str(default)
    lines.append(f"Default: {shown}" + (f" {info['unit']}" if info["unit"] else ""))
    return "<br>".join(lines)


class ParameterTable(QTableWidget):
    """Every FastTrack parameter on one row: name, value editor, unit, allowed range.

    Coded choices get a combo box, numbers a spin box bounded by the parameter's range; the
    description is the tooltip of the row. An edit that makes the set invalid (e.g. minArea ≥
    maxArea) turns the edited value red and keeps the last valid parameters.

    Signals
    -------
    paramsChanged(Parameters)
        After every edit that gives valid parameters.
    invalid(str)
        After an edit that gives invalid parameters, with the reason.
    warned(str)
        After an edit that gives valid but doubtful parameters (e.g. a background projection
        that keeps the objects), with the warning and its fix; the row is marked too.
    warningsChanged(str)
        The warnings of the values shown changed (:meth:`notice_text`).
    """

    paramsChanged = Signal(object)
    invalid = Signal(str)
    warned = Signal(str)
    warningsChanged = Signal(str)

    def __init__(self, params: Parameters | None = None, parent: QWidget | None = None) -> None:
        self._infos = describe_parameters()
        super().__init__(len(self._infos), 4, parent)
        self._params = params or Parameters()
        self._editors: dict[str, _Editor] = {}
        self._loading = False
        self._warnings: dict[str, str] = {}
        self.error = ""
        self.setHorizontalHeaderLabels(["Parameter", "Value", "Unit", "Range"])
        self.verticalHeader().setVisible(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(26)
        for row, info in enumerate(self._infos):
            self._add_row(row, info)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.set_params(self._params)

    # -- building ----------------------------------------------------------------------------
    def _add_row(self, row: int, info: dict) -> None:
        tip = _tooltip(info)
        for column, text in ((0, info["name"]), (2, info["unit"] or ""), (3, _range_text(info))):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            if column == 3:
                item.setForeground(QColor("#666666"))
            self.setItem(row, column, item)
        editor = self._make_editor(info)
        editor.setToolTip(tip)
        editor.setObjectName(info["name"])
        self._editors[info["name"]] = editor
        self.setCellWidget(row, 1, editor)

    def _make_editor(self, info: dict) -> _Editor:
        name = info["name"]
        if info["choices"]:
            combo = _ComboBox()
            for code, label in info["choices"].items():
                combo.addItem(f"{code}: {label}", code)
            combo.currentIndexChanged.connect(lambda _=None, n=name: self._edited(n))
            editor: _Editor = combo
        elif info["type"] == "str":
            line = QLineEdit()
            line.setMaxLength(16)
            line.editingFinished.connect(lambda n=name: self._edited(n))
            editor = line
        else:
            spin = _SpinBox() if info["type"] == "int" else _DoubleSpinBox()
            if isinstance(spin, QDoubleSpinBox):
                spin.setDecimals(int(info.get("decimals", 2)))
            lo, hi = info["min"], info["max"]
            spin.setRange(lo if lo is not None else -_MAX, hi if hi is not None else _MAX)
            spin.setKeyboardTracking(True)
            spin.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows)
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            spin.valueChanged.connect(lambda _=None, n=name: self._edited(n))
            editor = spin
        editor.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return editor

    # -- values ------------------------------------------------------------------------------
    def params(self) -> Parameters:
        """The last valid parameters."""
        return self._params

    def editor(self, name: str) -> QWidget:
        """The value editor of parameter ``name`` (a QSpinBox, QDoubleSpinBox or QComboBox)."""
        return self._editors[name]

    def value(self, name: str) -> int | float | str:
        """The value shown for ``name`` (possibly not valid yet)."""
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            return int(editor.currentData())
        if isinstance(editor, QLineEdit):
            return editor.text().strip()
        return editor.value()

    def set_value(self, name: str, value: int | float | str) -> None:
        """Edit one value as a user would (validates, then emits ``paramsChanged``)."""
        editor = self._editors[name]
        if isinstance(editor, QLineEdit):
            editor.setText(str(value))
            self._edited(name)
        elif isinstance(editor, QComboBox):
            editor.setCurrentIndex(editor.findData(int(float(value))))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(float(value)))  # truncates, as QSpinBox.setValue(float) does
        else:
            editor.setValue(float(value))

    def set_params(self, params: Parameters, *, emit: bool = False) -> None:
        """Show ``params``; emit ``paramsChanged`` only if ``emit``.

        A ``methBack`` not given follows ``lightBack`` (as tracking does), and is shown so."""
        if "methBack" not in params.model_fields_set | params.auto:
            params = params.with_updates(methBack=1 - params.lightBack)
        self._loading = True
        try:
            for name in type(params).model_fields:  # numbers (an "auto" value: its default)
                self.set_value(name, getattr(params, name))
        finally:
            self._loading = False
        self._params = params
        self._mark(None, "")
        self._show_warnings()
        if emit:
            self.paramsChanged.emit(params)

    def _edited(self, name: str) -> None:
        if self._loading:
            return
        values = {info["name"]: self.value(info["name"]) for info in self._infos}
        try:
            params = Parameters.from_mapping(values)
        except ParameterError as error:
            self._mark(name, str(error))
            self.invalid.emit(str(error))
            return
        self._mark(None, "")
        if params != self._params:
            self._params = params
            self._show_warnings()
            self.paramsChanged.emit(params)

    def warning(self, name: str) -> str:
        """The warning shown on parameter ``name``'s row ("" if none)."""
        return self._warnings.get(name, "")

    def _show_warnings(self) -> None:
        """Mark the rows of doubtful values: a ⚠ before the name, the warning as tooltip."""
        self._warnings = self._params.warnings()
        for row, info in enumerate(self._infos):
            item = cast(QTableWidgetItem, self.item(row, 0))
            message = self._warnings.get(info["name"])
            item.setText(f"⚠ {info['name']}" if message else info["name"])
            item.setToolTip(f"<b>Warning:</b> {message}" if message else _tooltip(info))
            item.setBackground(QColor(_WARNING) if message else QColor(0, 0, 0, 0))
        self.warningsChanged.emit(self.notice_text())
        for message in self._warnings.values():
            self.warned.emit(message)

    def notice_text(self) -> str:
        """Every warning, one per line ("" when there is none)."""
        return "\n".join(f"⚠ {message}" for message in self._warnings.values())

    def make_notice(self) -> QLabel:
        """A label that shows the warnings in words (hidden when there are none), for the
        panel to place under the table."""
        label = QLabel(self.notice_text())
        label.setWordWrap(True)
        label.setStyleSheet(f"background: {_WARNING}; padding: 4px;")
        label.setVisible(bool(self._warnings))

        def show(text: str) -> None:
            label.setText(text)
            label.setVisible(bool(text))

        self.warningsChanged.connect(show)
        return label

    def _mark(self, name: str | None, error: str) -> None:
        self.error = error
        for other, editor in self._editors.items():
            bad = other == name
            editor.setStyleSheet(_INVALID if bad else "")
            if bad:
                editor.setToolTip(f"<b>Not applied:</b> {error}")
            elif editor.toolTip().startswith("<b>Not applied"):
                row = next(i for i, info in enumerate(self._infos) if info["name"] == other)
                editor.setToolTip(_tooltip(self._infos[row]))
