"""The main window's layout: what it is made of and where each part sits.

The central stack (the start page, or the canvas over the frame bar), the docks (Frames, History,
People on the left; Model, Person, Heatmaps on the right; the Timeline under the canvas), the
status bar's permanent widgets and the toolbar with the confidence threshold. The builders set the
parts as attributes of the window (``window.view``, ``window.frame_list``, ``window.model_dock``...),
which the controllers and tests use by those names.

:class:`EditorLayout` keeps the one rule about them: the start page gets the whole window, so the
editor's docks are hidden there and come back as the user left them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app.canvas.view import PoseView
from app.controllers import actions as actions_table
from app.widgets.frame_bar import FrameBar
from app.widgets.frame_list import FrameListWidget
from app.widgets.heatmap_dock import HeatmapDockWidget
from app.widgets.model_panel import ModelPanelWidget
from app.widgets.people_list import PeopleListWidget
from app.widgets.person_panel import PersonPanelWidget
from app.widgets.run_progress import RunProgress
from app.widgets.start_view import StartWidget
from app.widgets.timeline import TimelineWidget

LEFT, RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea


def build_central(win: QMainWindow) -> None:
    """The start page and the editor (canvas + frame bar) in one stack."""
    win.view = PoseView()
    win.view.setMinimumSize(320, 240)
    win.frame_bar = FrameBar()
    editor = QWidget()
    lay = QVBoxLayout(editor)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(0)
    lay.addWidget(win.view, 1)
    lay.addWidget(win.frame_bar)
    win.start_view = StartWidget()
    win.stack = QStackedWidget()
    win.stack.addWidget(win.start_view)
    win.stack.addWidget(editor)
    win.setCentralWidget(win.stack)
    win.view.set_document(win.document)


def _add_dock(win: QMainWindow, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, win)
    dock.setObjectName(name)  # saveState() / restoreState() find the dock by this name
    dock.setWidget(widget)
    win.addDockWidget(area, dock)
    return dock


def build_docks(win: QMainWindow) -> None:
    win.frame_list = FrameListWidget()
    win.frame_list.set_document(win.document)
    win.frames_dock = _add_dock(win, "Frames", "frames_dock", win.frame_list, LEFT)
    win.model_panel = ModelPanelWidget()
    win.model_dock = _add_dock(win, "Model", "model_dock", win.model_panel, RIGHT)
    win.person_panel = PersonPanelWidget()
    win.person_dock = _add_dock(win, "Person", "person_dock", win.person_panel, RIGHT)
    win.tabifyDockWidget(win.model_dock, win.person_dock)
    win.model_dock.raise_()
    win.heatmap_panel = HeatmapDockWidget(win.settings.heatmap_colormap(), win.settings.heatmap_opacity())
    win.heatmap_dock = _add_dock(win, "Heatmaps", "heatmap_dock", win.heatmap_panel, RIGHT)
    win.undo_view = QUndoView(win.document.undo_stack)
    win.undo_view.setEmptyLabel("<opened>")
    win.people_list = PeopleListWidget()
    win.people_dock = _add_dock(win, "People", "people_dock", win.people_list, LEFT)
    win.splitDockWidget(win.frames_dock, win.people_dock, Qt.Orientation.Vertical)  # below Frames
    win.history_dock = _add_dock(win, "History", "history_dock", win.undo_view, LEFT)
    win.tabifyDockWidget(win.frames_dock, win.history_dock)
    win.frames_dock.raise_()
    win.timeline = TimelineWidget()
    win.timeline.set_document(win.document)
    win.timeline_dock = _add_dock(win, "Timeline", "timeline_dock", win.timeline,
                                  Qt.DockWidgetArea.BottomDockWidgetArea)
    win.timeline_dock.hide()
    # the side docks run the full height: the timeline sits under the canvas only, so the heatmap
    # grid and the People list keep their room when it shows
    win.setCorner(Qt.Corner.BottomLeftCorner, LEFT)
    win.setCorner(Qt.Corner.BottomRightCorner, RIGHT)


def build_status_bar(win: QMainWindow) -> None:
    """Permanent widgets: run progress (with its cancel), selection, zoom, model and device."""
    win.run_progress = RunProgress()
    win.zoom_label = QLabel("")
    win.device_label = QLabel("no model")
    win.device_label.setToolTip("Pose model and device in use")
    win.selection_label = QLabel("")
    for w in (win.run_progress, win.selection_label, win.zoom_label, win.device_label):
        win.statusBar().addPermanentWidget(w)


def build_menus_and_toolbar(win: QMainWindow, docks: tuple[QDockWidget, ...]) -> None:
    """Menus and toolbar from the actions table, the confidence threshold and the canvas's menu."""
    acts = win.actions_by_name
    win.recent_menu = actions_table.build_menus(win, acts, docks)["recent"]
    tb = actions_table.build_toolbar(win, acts)
    tb.addSeparator()
    tb.addWidget(QLabel(" Confidence ≥ "))
    win.threshold_spin = QDoubleSpinBox()
    win.threshold_spin.setRange(0.0, 1.0)
    win.threshold_spin.setSingleStep(0.05)
    win.threshold_spin.setDecimals(2)
    win.threshold_spin.setValue(win.settings.confidence_threshold())
    win.threshold_spin.setToolTip("Joints below this confidence are drawn dotted; frames below it are "
                                  "'low confidence' in the frame filter")
    tb.addWidget(win.threshold_spin)
    win.addToolBar(tb)
    win.toolbar = tb
    win.view.context_actions = actions_table.context_actions(acts)


class EditorLayout:
    """Start page or editor, and the editor's docks: hidden on the start page, restored as the user
    left them; sized once on the first show when no saved layout exists; the Timeline shown (once
    sized to a strip) when a project with video frames opens."""

    def __init__(self, win: QMainWindow) -> None:
        self.win = win
        self.docks: tuple[QDockWidget, ...] = (win.frames_dock, win.history_dock, win.people_dock, win.model_dock,
                                               win.person_dock, win.heatmap_dock, win.timeline_dock)
        self._visibility: dict[QDockWidget, bool] = {}  # the editor's docks, hidden on the start page
        self._docks_sized = False
        self._timeline_sized = False

    def show_start(self) -> None:
        win = self.win
        if win.stack.currentIndex() == 1 or not self._visibility:
            self._visibility = {d: not d.isHidden() for d in self.docks}
        win.stack.setCurrentIndex(0)
        win.start_view.set_recent(win.settings.recent_files())
        for dock in self.docks:
            dock.hide()

    def show_editor(self) -> None:
        win = self.win
        if win.stack.currentIndex() != 1:
            self.restore_docks()
        win.stack.setCurrentIndex(1)
        win.view.setFocus()

    def restore_docks(self) -> None:
        """The editor's docks as the user left them (also before the layout is saved on close)."""
        for dock, visible in self._visibility.items():
            dock.setVisible(visible)

    def size_docks_once(self) -> None:
        """The first show without a saved layout: proportions that fit the canvas and the panels."""
        win = self.win
        if not self._docks_sized and win.settings.window_state()[1] is None:
            self._docks_sized = True
            win.resizeDocks([win.frames_dock, win.model_dock], [220, 380], Qt.Orientation.Horizontal)
            win.resizeDocks([win.model_dock, win.heatmap_dock], [330, 470], Qt.Orientation.Vertical)
            win.resizeDocks([win.frames_dock, win.people_dock], [560, 240], Qt.Orientation.Vertical)

    def show_timeline(self) -> None:
        """(Hidden for still images until asked for in the View menu.) The first time, a strip under
        the canvas, not half the window."""
        win = self.win
        first = win.timeline_dock.isHidden() and not self._timeline_sized
        win.timeline_dock.show()
        if first:
            self._timeline_sized = True
            win.resizeDocks([win.timeline_dock], [150], Qt.Orientation.Vertical)
