"""The main window: start view, canvas, docks, actions with shortcuts, inference, saving.

Wiring only: data lives in :class:`~app.document.AnnotationDocument`, every edit is a command of
:mod:`app.commands` pushed to it, pixels are decoded by :class:`~app.frame_loader.FrameLoader`,
inference runs on :class:`~app.workers.InferenceWorker`, and crash safety is
:class:`~app.autosave.AutosaveManager`. Dialogs that only report are non-blocking (``open()``),
so nothing here stalls the event loop, and tests can drive the window without modal loops.
"""

from __future__ import annotations

import copy
import logging
import shutil
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QStyle,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app import commands as C
from app import qt_fixes
from app.autosave import AutosaveManager, discard_recovery, find_recoveries
from app.canvas.heatmaps import HeatmapStore, xyxy_to_xywh
from app.canvas.view import PoseView
from app.document import AnnotationDocument
from app.model_manager import DEMO_WEIGHTS, HOW_TO_GET_WEIGHTS, ModelManager, ModelSpec, demo_spec, describe_error
from app.settings import AppSettings
from app.widgets.export_dialog import ExportDialog
from app.widgets.frame_list import FrameListWidget, person_confidence
from app.widgets.heatmap_dock import HeatmapDockWidget, colormap_lut
from app.widgets.help_dialog import ShortcutsDialog
from app.widgets.model_panel import ModelPanelWidget
from app.widgets.person_panel import PersonPanelWidget
from app.widgets.start_view import StartWidget
from app.workers import FunctionWorker, InferenceJob, InferenceWorker
from hrnet.annotations import Instance
from hrnet.errors import HRNetError

log = logging.getLogger(__name__)
qt_fixes.apply()  # PySide6 6.12 + CPython 3.11: emit() leaks refs of True (see app/qt_fixes.py)

APP_TITLE = "HRNet Pose Annotator"
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "resources" / "sample"
SAMPLE_PROJECT = "project.json"
OPEN_FILTER = ("Images, videos and projects (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.mp4 *.avi *.mov *.mkv "
               "*.m4v *.webm *.json);;Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp);;"
               "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm);;COCO JSON / project (*.json);;All files (*)")


class MainWindow(QMainWindow):
    """The annotation app's window."""

    inference_finished = Signal(str)  # mode: 'apply' | 'add' | 'heatmaps'
    export_finished = Signal(object)  # app.export.ExportResult
    error_shown = Signal(str, str)  # title, text

    def __init__(self, settings: AppSettings | None = None, recovery_dir: str | Path | None = None,
                 autosave_delay_ms: int = 3000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.document = AnnotationDocument(parent=self)
        self.model = ModelManager(self)
        self.heatmaps = HeatmapStore()
        self.recovery_dir = Path(recovery_dir) if recovery_dir is not None else None
        self.autosave = AutosaveManager(self.document, directory=recovery_dir, delay_ms=autosave_delay_ms,
                                        parent=self)
        self.autosave.failed.connect(lambda m: self.statusBar().showMessage(m, 10000))
        self.last_error: tuple[str, str] | None = None
        self._worker: InferenceWorker | None = None
        self._all_workers: set = set()  # every running QThread (kept referenced until finished)
        self._export_worker = None
        self._worker_mode = ""
        self._worker_results: dict[int, list] = {}
        self._worker_meta: dict = {}
        self._detector = None
        self._detector_key: tuple | None = None
        self._run_after_load: tuple[str, str] | None = None  # (scope, boxes) to predict once a model loads
        self._heatmap_requested: tuple[int, tuple] | None = None
        self._overlay_last_mode = "joint"
        self._help_dialog: ShortcutsDialog | None = None
        self._message_boxes: list[QMessageBox] = []
        self._train_dialog = None
        self._person_timer = QTimer(self)
        self._person_timer.setSingleShot(True)
        self._person_timer.setInterval(0)
        self._person_timer.timeout.connect(self._refresh_person_panel_now)

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._connect()
        self._restore_settings()
        self._update_title()
        self._update_actions()
        self.start_view.set_recent(self.settings.recent_files())
        self.show_start()
        self.check_recoveries()

    # ================================================================== UI construction
    def _build_central(self) -> None:
        self.view = PoseView()
        self.view.setMinimumSize(320, 240)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setRange(0, 0)
        self.frame_slider.setToolTip("Frame (N/P or arrow keys step, Shift+arrow jumps 10)")
        self.frame_spin = QSpinBox()
        self.frame_spin.setRange(1, 1)
        self.frame_spin.setKeyboardTracking(False)
        self.frame_spin.setToolTip("Go to frame (Ctrl+G)")
        self.frame_total = QLabel("/ 0")
        self.frame_name = QLabel("")
        self.frame_name.setStyleSheet("color: #aaa;")
        self.frame_name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.frame_spin)
        bar.addWidget(self.frame_total)
        bar.addWidget(self.frame_slider, 1)
        bar.addWidget(self.frame_name)
        editor = QWidget()
        lay = QVBoxLayout(editor)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.view, 1)
        lay.addLayout(bar)
        self.start_view = StartWidget()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_view)
        self.stack.addWidget(editor)
        self.setCentralWidget(self.stack)
        self.view.set_document(self.document)

    def _build_docks(self) -> None:
        self.frame_list = FrameListWidget()
        self.frame_list.set_document(self.document)
        self.frames_dock = QDockWidget("Frames", self)
        self.frames_dock.setObjectName("frames_dock")
        self.frames_dock.setWidget(self.frame_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.frames_dock)

        self.model_panel = ModelPanelWidget()
        self.model_dock = QDockWidget("Model", self)
        self.model_dock.setObjectName("model_dock")
        self.model_dock.setWidget(self.model_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.model_dock)

        self.person_panel = PersonPanelWidget()
        self.person_dock = QDockWidget("Person", self)
        self.person_dock.setObjectName("person_dock")
        self.person_dock.setWidget(self.person_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.person_dock)
        self.tabifyDockWidget(self.model_dock, self.person_dock)
        self.model_dock.raise_()

        self.heatmap_panel = HeatmapDockWidget(self.settings.heatmap_colormap(), self.settings.heatmap_opacity())
        self.heatmap_dock = QDockWidget("Heatmaps", self)
        self.heatmap_dock.setObjectName("heatmap_dock")
        self.heatmap_dock.setWidget(self.heatmap_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.heatmap_dock)

        self.undo_view = QUndoView(self.document.undo_stack)
        self.undo_view.setEmptyLabel("<opened>")
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.undo_view)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.tabifyDockWidget(self.frames_dock, self.history_dock)
        self.frames_dock.raise_()

        self.view.set_heatmap_lut(colormap_lut(self.heatmap_panel.colormap()))
        self.view.set_heatmap_opacity(self.heatmap_panel.opacity())

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_inference)
        self.zoom_label = QLabel("")
        self.device_label = QLabel("no model")
        self.device_label.setToolTip("Pose model and device in use")
        self.selection_label = QLabel("")
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.selection_label)
        sb.addPermanentWidget(self.zoom_label)
        sb.addPermanentWidget(self.device_label)

    def _action(self, text: str, slot, shortcuts: Sequence[str | QKeySequence.StandardKey] = (), group: str = "Other",
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        keys = []
        for s in shortcuts:
            keys.extend(QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)])
        if keys:
            action.setShortcuts(keys)
        action.setProperty("help_group", group)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '').rstrip('…')} ({keys[0].toString()})" if keys else tip)
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _build_actions(self) -> None:
        A = self._action
        F, N, E, V, M, R, H = "File", "Navigate", "Edit", "View", "Model", "Review", "Help"
        self.act_open = A("&Open images, video or project…", self.open_files_dialog, [QKeySequence.StandardKey.Open], F)
        self.act_open_folder = A("Open &folder…", self.open_folder_dialog, ["Ctrl+Shift+O"], F)
        self.act_open_video = A("Open &video…", self.open_video_dialog, [], F)
        self.act_open_project = A("Open &project / COCO JSON…", self.open_project_dialog, [], F)
        self.act_locate = A("&Locate image folder…", self.locate_images_dialog, [], F,
                            "Point the project at the folder that holds its images")
        self.act_sample = A("Open &sample project", self.open_sample, [], F)
        self.act_save = A("&Save", self.save, [QKeySequence.StandardKey.Save], F)
        self.act_save_as = A("Save &as…", self.save_as, ["Ctrl+Shift+S"], F)
        self.act_export = A("&Export for training…", self.export_dialog, ["Ctrl+E"], F,
                            "COCO keypoint JSON + images with a train/val split, as hrnet-train reads")
        self.act_recover = A("&Recover unsaved work…", self.recover_latest, [], F)
        self.act_close = A("&Close project", self.close_project, [QKeySequence.StandardKey.Close], F)
        self.act_quit = A("&Quit", self.close, [QKeySequence.StandardKey.Quit], F)

        stack = self.document.undo_stack
        self.act_undo = stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.act_undo.setProperty("help_group", E)
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setProperty("help_group", E)
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)

        self.act_next = A("Next frame", lambda: self.step_frame(1), ["Right", "N", "D"], N,
                          "Next frame (of the filtered list when a filter is on)")
        self.act_prev = A("Previous frame", lambda: self.step_frame(-1), ["Left", "P", "A"], N)
        self.act_next10 = A("10 frames forward", lambda: self.step_frame(10), ["Shift+Right"], N)
        self.act_prev10 = A("10 frames back", lambda: self.step_frame(-10), ["Shift+Left"], N)
        self.act_first = A("First frame", lambda: self.go_to_frame(0), ["Home"], N)
        self.act_last = A("Last frame", lambda: self.go_to_frame(self.document.num_frames() - 1), ["End"], N)
        self.act_goto = A("Go to frame…", self.focus_frame_spin, ["Ctrl+G"], N)
        self.act_next_person = A("Next person", lambda: self.view.select_next_person(1), ["Tab"], N,
                                 "While the canvas has the focus (elsewhere Tab moves the focus); ` works anywhere")
        self.act_prev_person = A("Previous person", lambda: self.view.select_next_person(-1), ["Shift+Tab"], N)
        for act in (self.act_next_person, self.act_prev_person):
            # Tab must keep moving the focus in forms: these fire only while the canvas has the focus...
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(act)
        # ... and the backtick works everywhere in the window
        for text, step, keys in (("Next person (`)", 1, "`"), ("Previous person (~)", -1, "~")):
            extra = QAction(text, self)
            extra.setShortcut(QKeySequence(keys))
            extra.setProperty("help_group", N)
            extra.triggered.connect(lambda _=False, st=step: self.view.select_next_person(st))
            self.addAction(extra)
        self.act_next_joint = A("Next joint", lambda: self.view.select_next_joint(1), ["]"], N)
        self.act_prev_joint = A("Previous joint", lambda: self.view.select_next_joint(-1), ["["], N)

        self.act_add_person = A("&Add person (draw a box)", self.add_person, ["B"], E,
                                "Drag a box; with a model the pose is predicted inside it, else click the joints")
        self.act_place = A("&Place missing joints", self.place_missing_joints, ["M"], E,
                           "Click the selected person's unlabelled joints one after another")
        self.act_vis_visible = A("Joint &visible", lambda: self.set_visibility(2), ["1"], E,
                                 "Hovered or selected joint: visible")
        self.act_vis_occluded = A("Joint &occluded", lambda: self.set_visibility(1), ["2"], E,
                                  "Hovered or selected joint: labelled but occluded")
        self.act_vis_none = A("Joint &not labelled", lambda: self.set_visibility(0), ["3"], E,
                              "Hovered or selected joint: not labelled")
        self.act_delete = A("&Delete joint / person", self.delete_selection, ["Delete", "Backspace"], E,
                            "The selected joint, or the selected person when no joint is selected")
        self.act_delete_person = A("Delete &person", self.delete_person, ["Shift+Delete"], E)
        self.act_swap = A("&Swap left/right", self.swap_left_right, ["S"], E,
                          "Swap the left and right joints of the selected person")
        self.act_copy_prev = A("&Copy people from previous frame", self.copy_from_previous, ["C"], E)
        self.act_reviewed = A("Mark frame &reviewed", self.toggle_reviewed, ["R"], R, "Toggle the reviewed mark")
        self.act_reviewed_next = A("Reviewed, next unreviewed", self.reviewed_and_next, ["Shift+R"], R,
                                   "Mark reviewed and jump to the next unreviewed frame")
        self.act_low_frame = A("Next low-confidence frame", self.next_low_confidence_frame, ["L"], R,
                               "The unreviewed frame whose weakest person has the lowest confidence")
        self.act_low_person = A("Next low-confidence person", self.next_low_confidence_person, ["Shift+L"], R,
                                "People of this frame, weakest first")
        self.act_cancel = A("Cancel / deselect", self.escape, ["Escape"], E)
        self.act_nudge = [
            A(f"Nudge joint {name}", lambda d=d: self.nudge_joint(*d), [f"Alt+{key}", f"Alt+Shift+{key}"], E,
              "Move the selected joint by one image pixel (Shift: 10)")
            for name, key, d in (("left", "Left", (-1, 0)), ("right", "Right", (1, 0)), ("up", "Up", (0, -1)),
                                 ("down", "Down", (0, 1)))
        ]

        self.act_fit = A("&Fit to window", self.view.fit, ["F"], V)
        self.act_actual = A("&Actual size (1:1)", self.view.actual_size, ["0", "Ctrl+0"], V)
        self.act_zoom_in = A("Zoom &in", lambda: self.view.zoom_by(1.25), ["+", "=", "Ctrl++"], V)
        self.act_zoom_out = A("Zoom &out", lambda: self.view.zoom_by(0.8), ["-", "Ctrl+-"], V)
        self.act_heatmap = A("&Heatmap overlay", self.toggle_heatmap_overlay, ["H"], V,
                             "Overlay the selected person's heatmap (selected joint, or max over joints)")
        self.act_heatmap_mode = A("Heatmap: joint / all joints", self.toggle_heatmap_mode, ["Shift+H"], V)
        self.act_annotations = A("Show &annotations", self.view.set_annotations_visible, ["V"], V,
                                 "Hide people to look at the image", checkable=True)
        self.act_annotations.setChecked(True)

        self.act_predict_frame = A("Predict this &frame", lambda: self.run_inference("current"), ["Ctrl+I"], M,
                                   "Detect people and estimate their poses on this frame")
        self.act_predict_unreviewed = A("Predict &unreviewed frames", lambda: self.run_inference("unreviewed"),
                                        ["Ctrl+Shift+I"], M)
        self.act_predict_all = A("Predict &all frames", lambda: self.run_inference("all"), [], M)
        self.act_predict_selected = A("Predict &selected frames", lambda: self.run_inference("selected"), [], M)
        self.act_cancel_run = A("&Cancel prediction", self.cancel_inference, [], M)
        self.act_choose_model = A("Choose &model…", self.show_model_panel, [], M)
        self.act_bundled_model = A("Load the &bundled demo model", self.load_bundled_model, [], M,
                                   "A small HRNet trained on synthetic people (it knows only the rendered figures)")
        self.act_demo_model = A("Load &random-weights demo model", self.load_demo_model, [], M,
                                "A tiny untrained HRNet: shows the loop, its predictions are meaningless")
        self.act_train = A("&Train model…", self.open_train_dialog, [], M,
                           "Fine-tune HRNet on the reviewed frames (hrnet-train in a separate process)")
        self.act_help = A("&Keyboard shortcuts", self.show_help, ["F1"], H)
        self.act_about = A("&About", self.show_about, [], H)

    def _build_menus_and_toolbar(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_open, self.act_open_folder, self.act_open_video, self.act_open_project, self.act_sample):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        for a in (self.act_save, self.act_save_as, self.act_export):
            m.addAction(a)
        m.addSeparator()
        for a in (self.act_locate, self.act_recover, self.act_close, self.act_quit):
            m.addAction(a)
        m = mb.addMenu("&Edit")
        for a in (self.act_undo, self.act_redo, None, self.act_add_person, self.act_place, None, self.act_vis_visible,
                  self.act_vis_occluded, self.act_vis_none, None, self.act_delete, self.act_delete_person,
                  self.act_swap, self.act_copy_prev, None, *self.act_nudge):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Review")
        for a in (self.act_reviewed, self.act_reviewed_next, None, self.act_low_frame, self.act_low_person):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Navigate")
        for a in (self.act_next, self.act_prev, self.act_next10, self.act_prev10, self.act_first, self.act_last,
                  self.act_goto, None, self.act_next_person, self.act_prev_person, self.act_next_joint,
                  self.act_prev_joint):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out, None, self.act_heatmap,
                  self.act_heatmap_mode, self.act_annotations, None):
            m.addSeparator() if a is None else m.addAction(a)
        for dock in (self.frames_dock, self.history_dock, self.model_dock, self.person_dock, self.heatmap_dock):
            m.addAction(dock.toggleViewAction())
        m = mb.addMenu("&Model")
        for a in (self.act_choose_model, self.act_demo_model, None, self.act_predict_frame,
                  self.act_predict_selected, self.act_predict_unreviewed, self.act_predict_all,
                  self.act_cancel_run, None, self.act_train):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Help")
        m.addAction(self.act_help)
        m.addAction(self.act_about)

        style = self.style()
        SP = QStyle.StandardPixmap
        for action, short, icon in (
            (self.act_open, "Open", SP.SP_DialogOpenButton), (self.act_save, "Save", SP.SP_DialogSaveButton),
            (self.act_undo, "Undo", SP.SP_ArrowBack), (self.act_redo, "Redo", SP.SP_ArrowForward),
            (self.act_add_person, "Add person", None), (self.act_predict_frame, "Predict", SP.SP_MediaPlay),
            (self.act_reviewed, "Reviewed", SP.SP_DialogApplyButton), (self.act_low_frame, "Weakest", None),
            (self.act_fit, "Fit", None), (self.act_heatmap, "Heatmap", None),
        ):
            action.setIconText(short)
            if icon is not None:
                action.setIcon(style.standardIcon(icon))
        tb = QToolBar("Main")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        for a in (self.act_open, self.act_save, None, self.act_undo, self.act_redo, None, self.act_add_person,
                  self.act_predict_frame, None, self.act_reviewed, self.act_low_frame, None, self.act_fit,
                  self.act_heatmap):
            tb.addSeparator() if a is None else tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QLabel(" Confidence ≥ "))
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(self.settings.confidence_threshold())
        self.threshold_spin.setToolTip("Joints below this confidence are drawn dotted; frames below it are "
                                       "'low confidence' in the frame filter")
        tb.addWidget(self.threshold_spin)
        self.addToolBar(tb)
        self.toolbar = tb

        self.view.context_actions = [self.act_vis_visible, self.act_vis_occluded, self.act_vis_none, None,
                                     self.act_delete, self.act_delete_person, self.act_swap, None,
                                     self.act_place, self.act_add_person, None, self.act_reviewed]
        self._rebuild_recent_menu()

    def _connect(self) -> None:
        d = self.document
        d.frame_changed.connect(self._on_frame_changed)
        d.frames_changed.connect(self._on_frames_changed)
        d.dirty_changed.connect(lambda _: self._update_title())
        d.path_changed.connect(lambda _: self._update_title())
        d.instances_changed.connect(self._on_people_changed)
        d.instance_changed.connect(lambda f, _i: self._on_people_changed(f))
        d.reviewed_changed.connect(lambda _f: self._update_actions())

        self.view.selection_changed.connect(self._on_selection_changed)
        self.view.hover_changed.connect(self._on_hover_text)
        self.view.placement_changed.connect(self._on_placement_prompt)
        self.view.box_drawn.connect(self._on_box_drawn)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.view.frame_failed.connect(self._on_frame_failed)

        self.frame_slider.valueChanged.connect(self.go_to_frame)
        self.frame_spin.valueChanged.connect(lambda v: self.go_to_frame(v - 1))
        self.frame_list.frame_activated.connect(self.go_to_frame)
        self.threshold_spin.valueChanged.connect(self._on_threshold_changed)

        self.model_panel.load_requested.connect(self.load_model)
        self.model_panel.run_requested.connect(self.run_inference)
        self.model_panel.detector_changed.connect(self.settings.set_detector)
        self.model_panel.help_requested.connect(lambda: self.show_info("How to get weights", HOW_TO_GET_WEIGHTS))
        self.model.loading_started.connect(self._on_model_loading)
        self.model.model_loaded.connect(self._on_model_loaded)
        self.model.model_failed.connect(self._on_model_failed)

        pp = self.person_panel
        pp.joint_selected.connect(lambda j: self.view.select(self.view.selected_person, j))
        pp.visibility_requested.connect(self._on_panel_visibility)
        pp.place_requested.connect(self._on_panel_place)
        pp.swap_requested.connect(self.swap_left_right)
        pp.delete_requested.connect(self.delete_person)

        self.heatmap_panel.joint_clicked.connect(self._on_heatmap_joint_clicked)
        self.heatmap_panel.overlay_mode_changed.connect(lambda _m: self.refresh_heatmaps())
        self.heatmap_panel.colormap_changed.connect(self._on_colormap_changed)
        self.heatmap_panel.opacity_changed.connect(self._on_opacity_changed)

        sv = self.start_view
        sv.sample_requested.connect(self.open_sample)
        sv.open_files_requested.connect(self.open_files_dialog)
        sv.open_folder_requested.connect(self.open_folder_dialog)
        sv.open_video_requested.connect(self.open_video_dialog)
        sv.open_project_requested.connect(self.open_project_dialog)
        sv.recent_requested.connect(lambda p: self.open_paths([p]))
        sv.recover_requested.connect(self.recover_latest)
        sv.discard_recovery_requested.connect(self.discard_recoveries)

    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.view.set_threshold(self.threshold_spin.value())
        self.frame_list.set_threshold(self.threshold_spin.value())
        self.model_panel.set_detector(self.settings.detector())
        spec = self.settings.model_spec()
        if spec:
            try:
                self.model_panel.set_spec(ModelSpec.from_dict(spec))
            except (KeyError, TypeError, ValueError):
                pass

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_docks_sized", False) and self.settings.window_state()[1] is None:
            self._docks_sized = True
            self.resizeDocks([self.frames_dock, self.model_dock], [220, 380], Qt.Orientation.Horizontal)
            self.resizeDocks([self.model_dock, self.heatmap_dock], [330, 470], Qt.Orientation.Vertical)

    # ================================================================== messages
    def show_error(self, title: str, text: str, details: str = "") -> None:
        """Report an error without blocking: status bar + a window-modal message box (open())."""
        log.warning("%s: %s", title, text)
        self.last_error = (title, text)
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0] if text else ''}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _r, b=box: self._message_boxes.remove(b) if b in self._message_boxes else None)
        self._message_boxes.append(box)
        box.open()
        self.error_shown.emit(title, text)

    def show_info(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _r, b=box: self._message_boxes.remove(b) if b in self._message_boxes else None)
        self._message_boxes.append(box)
        box.open()

    def handle_exception(self, exc_type, exc, tb) -> None:
        """sys.excepthook: show unexpected errors, keep the app and the document alive."""
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("Unexpected error:\n%s", details)
        text = (f"{exc_type.__name__}: {exc}\n\nThe app keeps running and your annotations are intact "
                "(autosave keeps a recovery copy). Please save your work and report this error.")
        try:
            self.show_error("Unexpected error", text, details)
        except Exception:  # noqa: BLE001 - never raise from the excepthook
            log.exception("Cannot show the error dialog")

    # ================================================================== title / state
    def _update_title(self) -> None:
        doc = self.document
        if doc.num_frames() == 0:
            name = ""
        elif doc.path is not None:
            name = Path(doc.path).name
        else:
            name = "untitled project"
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}" if name else APP_TITLE)
        self.setWindowModified(doc.is_dirty)

    def _update_actions(self) -> None:
        has_doc = self.document.num_frames() > 0
        sel = self.view.selected_person is not None
        running = self._worker is not None
        for a in (self.act_save, self.act_save_as, self.act_export, self.act_close, self.act_next, self.act_prev,
                  self.act_next10, self.act_prev10, self.act_first, self.act_last, self.act_goto,
                  self.act_add_person, self.act_reviewed, self.act_reviewed_next, self.act_low_frame,
                  self.act_copy_prev, self.act_fit, self.act_actual, self.act_locate):
            a.setEnabled(has_doc)
        for a in (self.act_swap, self.act_delete_person, self.act_place, self.act_low_person):
            a.setEnabled(has_doc and (sel or a is self.act_low_person))
        loaded = self.model.is_loaded
        for a in (self.act_predict_frame, self.act_predict_all, self.act_predict_unreviewed, self.act_predict_selected):
            a.setEnabled(has_doc and loaded and not running)
        self.act_cancel_run.setEnabled(running)
        frame = self.document.current_frame() if has_doc else None
        self.act_reviewed.setText("Mark frame not reviewed" if frame is not None and frame.reviewed
                                  else "Mark frame reviewed")
        self.model_panel.set_model_state(self.model.spec, loaded, self.model.device_text(),
                                         loading=self.model.is_loading)
        if running:
            for b in self.model_panel.run_buttons.values():
                b.setEnabled(False)

    def _docks(self) -> tuple[QDockWidget, ...]:
        return (self.frames_dock, self.history_dock, self.model_dock, self.person_dock, self.heatmap_dock)

    def show_start(self) -> None:
        """The start page gets the whole window: docks are hidden until a project is open."""
        if self.stack.currentIndex() == 1 or not hasattr(self, "_dock_visibility"):
            self._dock_visibility = {d: not d.isHidden() for d in self._docks()}
        self.stack.setCurrentIndex(0)
        self.start_view.set_recent(self.settings.recent_files())
        for dock in self._docks():
            dock.hide()

    def show_editor(self) -> None:
        if self.stack.currentIndex() != 1:
            for dock, visible in getattr(self, "_dock_visibility", {}).items():
                dock.setVisible(visible)
        self.stack.setCurrentIndex(1)
        self.view.setFocus()

    # ================================================================== opening
    def _confirm_discard(self) -> bool:
        """True when it is OK to drop the current document (saved, or the user chose)."""
        if not self.document.is_dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The project has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def open_paths(self, paths: Sequence[str | Path], image_root: str | Path | None = None,
                   confirm: bool = True) -> bool:
        """Open images / folders / videos / one project JSON; errors become messages. True on success."""
        paths = [Path(p) for p in paths]
        if not paths:
            return False
        if confirm and not self._confirm_discard():
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            t0 = time.perf_counter()
            self.document.open(paths, image_root=image_root)
            elapsed = time.perf_counter() - t0
        except (HRNetError, OSError, ValueError) as e:
            QApplication.restoreOverrideCursor()
            self.show_error("Cannot open", describe_error(e))
            return False
        QApplication.restoreOverrideCursor()
        self.heatmaps.clear()
        if len(paths) == 1:
            self.settings.add_recent_file(paths[0])
            self.settings.set_last_dir(paths[0])
            self._rebuild_recent_menu()
        self.show_editor()
        n = self.document.num_frames()
        self.statusBar().showMessage(f"Opened {n} frames in {elapsed * 1000:.0f} ms", 5000)
        if any(p.suffix.lower() == ".json" for p in paths):
            missing = self.document.source.missing()
            if missing:
                self.show_error("Images not found",
                                f"{len(missing)} of {n} images of this project were not found (first: "
                                f"{self.document.source.path(missing[0])}).\nUse File > Locate image folder… "
                                "to point the project at its images.")
        return True

    def _dialog_dir(self) -> str:
        return self.settings.last_dir()

    def open_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images, a video or a project", self._dialog_dir(),
                                                OPEN_FILTER)
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self._dialog_dir())
        if folder:
            self.open_paths([folder])

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", self._dialog_dir(),
                                              "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm);;All files (*)")
        if path:
            self.open_paths([path])

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a project or COCO keypoint JSON", self._dialog_dir(),
                                              "COCO JSON / project (*.json);;All files (*)")
        if path:
            self.open_paths([path])

    def locate_images_dialog(self) -> None:
        path = self.document.path
        if path is None:
            self.show_error("Locate images", "Only a project or COCO JSON file has an image folder to locate.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder with the project's images", str(Path(path).parent))
        if folder:
            self.open_paths([path], image_root=folder)

    def sample_project_path(self) -> Path:
        """A writable copy of the bundled sample project (made on first use)."""
        base = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or
                    Path.home() / ".hrnet-pose")
        target = base / "sample-project"
        marker = target / ".version"
        stamp = str((SAMPLE_DIR / SAMPLE_PROJECT).stat().st_mtime_ns) if (SAMPLE_DIR / SAMPLE_PROJECT).exists() else ""
        if not (target / SAMPLE_PROJECT).exists() or not marker.exists() or marker.read_text() != stamp:
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(SAMPLE_DIR, target)
            marker.write_text(stamp)
        return target / SAMPLE_PROJECT

    def open_sample(self) -> None:
        if not (SAMPLE_DIR / SAMPLE_PROJECT).exists():
            self.show_error("Sample project missing", f"{SAMPLE_DIR / SAMPLE_PROJECT} is not installed.")
            return
        try:
            path = self.sample_project_path()
        except OSError as e:
            self.show_error("Cannot copy the sample project", str(e))
            return
        self.open_paths([path])
        # The sample project comes with a model that knows its people, unless the user chose one.
        if not self.model.is_loaded and not self.model.is_loading and demo_spec() is not None:
            self.load_bundled_model()

    def close_project(self) -> None:
        if not self._confirm_discard():
            return
        self.cancel_inference(wait=True)
        self.document.set_content(type(self.document.data)())
        self.heatmaps.clear()
        self.show_start()
        self._update_title()
        self._update_actions()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for p in recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))
        self.start_view.set_recent(recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._rebuild_recent_menu()

    # drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_paths(paths))

    # ================================================================== recovery
    def check_recoveries(self) -> list:
        try:
            recoveries = find_recoveries(self.recovery_dir)
        except OSError:
            recoveries = []
        self._recoveries = recoveries
        if recoveries:
            more = f" (+{len(recoveries) - 1} older)" if len(recoveries) > 1 else ""
            self.start_view.set_recovery(f"Unsaved work was found from a session that ended unexpectedly:\n"
                                         f"{recoveries[0].describe()}{more}")
        else:
            self.start_view.set_recovery(None)
        self.act_recover.setEnabled(bool(recoveries))
        return recoveries

    def recover_latest(self) -> bool:
        recoveries = self.check_recoveries()
        if not recoveries:
            self.statusBar().showMessage("Nothing to recover", 4000)
            return False
        if not self._confirm_discard():
            return False
        rec = recoveries[0]
        try:
            self.autosave.recover(rec)
        except (HRNetError, OSError, ValueError) as e:
            self.show_error("Cannot recover", f"{rec.path}: {describe_error(e)}")
            return False
        self.heatmaps.clear()
        self.check_recoveries()
        self.show_editor()
        self.statusBar().showMessage(f"Recovered {rec.describe()} — save it to keep it", 10000)
        return True

    def discard_recoveries(self) -> None:
        for rec in getattr(self, "_recoveries", []):
            discard_recovery(rec)
        self.check_recoveries()

    # ================================================================== saving / export
    def save(self) -> bool:
        doc = self.document
        if doc.num_frames() == 0:
            return False
        if doc.path is None:
            return self.save_as()
        return self._save_to(doc.path)

    def save_as(self) -> bool:
        doc = self.document
        if doc.num_frames() == 0:
            return False
        if doc.path is not None:
            default = str(doc.path)
        else:
            root = doc.data.image_root or Path(self._dialog_dir())
            default = str(Path(root) / "pose_annotations.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save project as COCO keypoint JSON", default,
                                              "COCO keypoint JSON (*.json)")
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.document.save(path)
        except (HRNetError, OSError, ValueError) as e:
            self.show_error("Cannot save", f"{path}: {describe_error(e)}\nYour changes are still here and in the "
                                           "autosave recovery file.")
            return False
        self.settings.add_recent_file(saved)
        self.settings.set_last_dir(saved)
        self._rebuild_recent_menu()
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return True

    def export_dialog(self) -> ExportDialog | None:
        doc = self.document
        if doc.num_frames() == 0:
            return None
        base = Path(doc.path).parent if doc.path is not None else Path(doc.data.image_root or self._dialog_dir())
        reviewed = sum(1 for f in doc.data.frames if f.reviewed)
        dialog = ExportDialog(str(base / "export"), doc.num_frames(), reviewed, self)
        dialog.accepted.connect(lambda: self.export(**dialog.options()))
        dialog.open()
        return dialog

    def export(self, out_dir: str | Path, val_fraction: float = 0.2, only_reviewed: bool = False,
               seed: int = 0) -> FunctionWorker | None:
        """Export for training on a worker thread, from a snapshot (editing goes on meanwhile).

        ``export_finished(result)`` follows, or an error message.
        """
        from app.export import export_for_training
        from app.sources import FrameSource

        if self._export_worker is not None:
            self.statusBar().showMessage("An export is already running", 4000)
            return None
        snapshot = copy.deepcopy(self.document.data)
        worker = FunctionWorker(export_for_training, snapshot, FrameSource(snapshot), Path(out_dir),
                                val_fraction=val_fraction, only_reviewed=only_reviewed, seed=seed)
        self._export_worker = worker
        self._all_workers.add(worker)
        worker.done.connect(lambda result, w=worker: self._on_export_done(w, result))
        worker.failed.connect(lambda message, w=worker: self._on_export_failed(w, message))
        worker.finished.connect(lambda w=worker: self._all_workers.discard(w))
        self.act_export.setEnabled(False)
        self.statusBar().showMessage(f"Exporting to {out_dir} …")
        worker.start()
        return worker

    def _end_export(self, worker: FunctionWorker) -> None:
        if worker is self._export_worker:
            self._export_worker = None
        self.act_export.setEnabled(self.document.num_frames() > 0)

    def _on_export_done(self, worker: FunctionWorker, result) -> None:
        self._end_export(worker)
        train_n = len(getattr(result, "train_frames", []))
        val_n = len(getattr(result, "val_frames", []))
        skipped = getattr(result, "skipped", [])
        note = f"; {len(skipped)} frames skipped (unreadable)" if skipped else ""
        self.statusBar().showMessage(
            f"Exported {train_n} train / {val_n} val frames to {Path(result.train_json).parent} in "
            f"{worker.elapsed_s:.1f} s{note}", 15000)
        self.export_finished.emit(result)

    def _on_export_failed(self, worker: FunctionWorker, message: str) -> None:
        self._end_export(worker)
        self.show_error("Export failed", message)

    # ================================================================== navigation
    def go_to_frame(self, index: int) -> None:
        n = self.document.num_frames()
        if n == 0:
            return
        self.document.set_current_index(int(np.clip(index, 0, n - 1)))

    def step_frame(self, step: int) -> None:
        """Next/previous frame; with a frame filter on, next/previous frame of the filtered list."""
        n = self.document.num_frames()
        if n == 0:
            return
        cur = self.document.current_index()
        if self.frame_list.filter_key() != "all":
            rows = self.frame_list.visible_frames()
            if len(rows):
                if step > 0:
                    pos = int(np.searchsorted(rows, cur, side="right")) + step - 1
                else:
                    pos = int(np.searchsorted(rows, cur, side="left")) + step
                pos = int(np.clip(pos, 0, len(rows) - 1))
                self.go_to_frame(int(rows[pos]))
                return
        self.go_to_frame(cur + step)

    def focus_frame_spin(self) -> None:
        self.frame_spin.setFocus()
        self.frame_spin.selectAll()

    def escape(self) -> None:
        self.view.cancel()
        self.view.setFocus()

    def _on_frames_changed(self) -> None:
        n = self.document.num_frames()
        for w in (self.frame_slider, self.frame_spin):
            w.blockSignals(True)
        self.frame_slider.setRange(0, max(0, n - 1))
        self.frame_spin.setRange(1, max(1, n))
        for w in (self.frame_slider, self.frame_spin):
            w.blockSignals(False)
        self.frame_total.setText(f"/ {n}")
        self.heatmaps.clear()
        self.heatmap_panel.set_joint_names(self.document.keypoint_names())
        self._update_title()
        self._update_actions()
        if n:
            self._on_frame_changed(self.document.current_index())

    def _on_frame_changed(self, index: int) -> None:
        for w in (self.frame_slider, self.frame_spin):
            w.blockSignals(True)
        self.frame_slider.setValue(index)
        self.frame_spin.setValue(index + 1)
        for w in (self.frame_slider, self.frame_spin):
            w.blockSignals(False)
        if self.document.num_frames():
            self.frame_name.setText(self.document.source.describe(index))
        self._update_actions()
        self.refresh_heatmaps()

    def _on_people_changed(self, frame: int) -> None:
        if frame == self.document.current_index():
            self._update_actions()
            self.refresh_heatmaps()
            self.refresh_person_panel()

    def refresh_person_panel(self) -> None:
        """Deferred and coalesced: the table is rebuilt after the current event (never while one of
        its own combo boxes is still emitting)."""
        self._person_timer.start()

    def _refresh_person_panel_now(self) -> None:
        p = self.view.selected_person
        frame = self.document.current_frame() if self.document.num_frames() else None
        if frame is None or p is None or p >= len(frame.instances):
            self.person_panel.set_person(None, None)
            return
        self.person_panel.set_person(self.document.keypoint_names(), frame.instances[p], p,
                                     self.view.selected_joint, self.threshold_spin.value())

    def _on_panel_visibility(self, joint: int, visibility: int) -> None:
        p = self.view.selected_person
        if self._frame_ok() and p is not None:
            self.document.push(C.SetVisibility(self.document, self.view.frame_index, p, joint, visibility))

    def _on_panel_place(self, joints: list) -> None:
        p = self.view.selected_person
        if self._frame_ok() and p is not None and joints:
            self.view.start_placement(p, list(joints))
            self.view.setFocus()

    def _on_frame_failed(self, index: int, message: str) -> None:
        self.statusBar().showMessage(f"Frame {index + 1} cannot be shown: {message}", 15000)
        self.last_error = ("Cannot read frame", message)

    def _on_selection_changed(self, person: int, joint: int) -> None:
        if person < 0:
            self.selection_label.setText("")
        else:
            text = f"person #{person + 1}"
            if joint >= 0:
                text += f" · {self.view.names[joint]}"
            self.selection_label.setText(text)
        self._update_actions()
        self.refresh_heatmaps()
        self.refresh_person_panel()

    def _on_hover_text(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)
        elif self.view.mode == "edit":
            self.statusBar().clearMessage()

    def _on_placement_prompt(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)
        else:
            self.statusBar().clearMessage()

    def _on_threshold_changed(self, value: float) -> None:
        self.refresh_person_panel()
        self.view.set_threshold(value)
        self.frame_list.set_threshold(value)
        self.settings.set_confidence_threshold(value)

    # ================================================================== edits
    def _target_joint(self) -> tuple[int, int] | None:
        hover = self.view._hover
        if hover is not None:
            return hover
        if self.view.selected_person is not None and self.view.selected_joint is not None:
            return self.view.selected_person, self.view.selected_joint
        return None

    def _frame_ok(self) -> bool:
        return self.document.num_frames() > 0 and self.view.frame_index == self.document.current_index()

    def set_visibility(self, visibility: int) -> None:
        target = self._target_joint()
        if not self._frame_ok() or target is None:
            self.statusBar().showMessage("Hover over or select a joint first", 3000)
            return
        p, j = target
        self.document.push(C.SetVisibility(self.document, self.view.frame_index, p, j, visibility))

    def nudge_joint(self, dx: int, dy: int) -> None:
        """Alt+arrows: move the selected joint by a pixel (x10 with Shift); a burst is one undo step."""
        p, j = self.view.selected_person, self.view.selected_joint
        if not self._frame_ok() or p is None or j is None:
            self.statusBar().showMessage("Select a joint first", 3000)
            return
        step = 10 if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier else 1
        kp = self.document.frame(self.view.frame_index).instances[p].keypoints
        if kp[j, 2] <= 0:
            return
        now = time.monotonic()
        key = (self.view.frame_index, p, j)
        if getattr(self, "_nudge", None) is None or self._nudge[0] != key or now - self._nudge[2] > 1.0:
            self._nudge = (key, C.new_drag_id(), now)
        self._nudge = (key, self._nudge[1], now)
        self.document.push(C.MoveKeypoint(self.document, self.view.frame_index, p, j,
                                          (float(kp[j, 0] + dx * step), float(kp[j, 1] + dy * step)),
                                          drag_id=self._nudge[1]))

    def delete_selection(self) -> None:
        if not self._frame_ok():
            return
        p, j = self.view.selected_person, self.view.selected_joint
        if p is None:
            self.statusBar().showMessage("Select a joint or a person first", 3000)
            return
        if j is not None:
            self.document.push(C.DeleteKeypoint(self.document, self.view.frame_index, p, j))
            self.view.select(p, None)
        else:
            self.delete_person()

    def delete_person(self) -> None:
        p = self.view.selected_person
        if not self._frame_ok() or p is None:
            return
        self.document.push(C.DeleteInstance(self.document, self.view.frame_index, p))

    def swap_left_right(self) -> None:
        p = self.view.selected_person
        if not self._frame_ok() or p is None:
            self.statusBar().showMessage("Select a person first", 3000)
            return
        self.document.push(C.SwapLeftRight(self.document, self.view.frame_index, p))

    def copy_from_previous(self) -> None:
        if not self._frame_ok():
            return
        f = self.view.frame_index
        if f == 0:
            self.statusBar().showMessage("No previous frame", 3000)
            return
        if not self.document.frame(f - 1).instances:
            self.statusBar().showMessage("The previous frame has no people", 3000)
            return
        self.document.push(C.CopyFromPreviousFrame(self.document, f))

    def toggle_reviewed(self) -> None:
        if not self._frame_ok():
            return
        f = self.view.frame_index
        self.document.push(C.SetReviewed(self.document, f, not self.document.frame(f).reviewed))

    def reviewed_and_next(self) -> None:
        if not self._frame_ok():
            return
        f = self.view.frame_index
        if not self.document.frame(f).reviewed:
            self.document.push(C.SetReviewed(self.document, f, True))
        frames = self.document.data.frames
        n = len(frames)
        for k in range(1, n + 1):
            i = (f + k) % n
            if not frames[i].reviewed:
                self.go_to_frame(i)
                return
        self.statusBar().showMessage("Every frame is reviewed", 5000)

    def add_person(self) -> None:
        if self._frame_ok():
            self.view.start_box_mode()
            self.view.setFocus()

    def place_missing_joints(self) -> None:
        p = self.view.selected_person
        if not self._frame_ok() or p is None:
            self.statusBar().showMessage("Select a person first", 3000)
            return
        kp = self.document.frame(self.view.frame_index).instances[p].keypoints
        missing = [j for j in range(len(kp)) if kp[j, 2] <= 0]
        if not missing:
            self.statusBar().showMessage("Every joint of this person is labelled", 3000)
            return
        self.view.start_placement(p, missing)
        self.view.setFocus()

    def _on_box_drawn(self, frame: int, xyxy: np.ndarray) -> None:
        if frame != self.document.current_index():
            return
        if self.model.is_loaded and self._worker is None and self._model_fits_document():
            self._start_worker([InferenceJob(frame, boxes=np.asarray(xyxy, np.float32)[None])], mode="add",
                               meta={"box": xyxy})
            return
        k = len(self.document.keypoint_names())
        instance = Instance.empty(k, bbox=xyxy_to_xywh(xyxy))
        self.document.push(C.AddInstance(self.document, frame, instance))
        index = len(self.document.frame(frame).instances) - 1
        self.view.start_placement(index, list(range(k)))
        if not self.model.is_loaded:
            self.statusBar().showMessage("No model loaded: click the joints one by one (Space skips)", 8000)

    def next_low_confidence_frame(self) -> None:
        doc = self.document
        n = doc.num_frames()
        if n == 0:
            return
        cur = doc.current_index()
        best, best_conf = None, np.inf
        model = self.frame_list.model
        for i in range(n):
            if i == cur or doc.frame(i).reviewed:
                continue
            c = model.confidence(i)
            if c is not None and c < best_conf:
                best, best_conf = i, c
        if best is None:
            self.statusBar().showMessage("No unreviewed frame with predictions left", 5000)
            return
        self.go_to_frame(best)
        self.next_low_confidence_person(first=True)
        self.statusBar().showMessage(f"Frame {best + 1}: weakest person confidence {best_conf:.2f}", 5000)

    def next_low_confidence_person(self, first: bool = False) -> None:
        frame = self.document.current_frame()
        if frame is None or not frame.instances:
            return
        confs = [person_confidence(p) for p in frame.instances]
        order = sorted(range(len(confs)), key=lambda i: (confs[i] is None, confs[i] if confs[i] is not None else 0))
        cur = self.view.selected_person
        if first or cur not in order:
            nxt = order[0]
        else:
            nxt = order[(order.index(cur) + 1) % len(order)]
        self.view.select(nxt, None)
        self.view.ensure_selection_visible()

    # ================================================================== heatmaps
    def _on_heatmap_joint_clicked(self, joint: int) -> None:
        if self.view.selected_person is not None:
            self.view.select(self.view.selected_person, joint)

    def _on_colormap_changed(self, name: str) -> None:
        self.view.set_heatmap_lut(colormap_lut(name))
        self.settings.set_heatmap_colormap(name)

    def _on_opacity_changed(self, value: float) -> None:
        self.view.set_heatmap_opacity(value)
        self.settings.set_heatmap_opacity(value)

    def toggle_heatmap_overlay(self) -> None:
        mode = self.heatmap_panel.overlay_mode()
        if mode == "off":
            self.heatmap_panel.set_overlay_mode(self._overlay_last_mode)
        else:
            self._overlay_last_mode = mode
            self.heatmap_panel.set_overlay_mode("off")

    def toggle_heatmap_mode(self) -> None:
        mode = self.heatmap_panel.overlay_mode()
        self.heatmap_panel.set_overlay_mode("max" if mode == "joint" else "joint")

    def refresh_heatmaps(self) -> None:
        """Overlay + grid for the selected person; asks the model for them when needed."""
        p, j = self.view.selected_person, self.view.selected_joint
        frame = self.document.current_frame() if self.document.num_frames() else None
        if frame is None or p is None or p >= len(frame.instances):
            self.view.set_heatmap(None)
            self.heatmap_panel.set_heatmaps(None, message="Select a person to see the model's heatmaps.")
            return
        f = self.document.current_index()
        inst = frame.instances[p]
        size = (frame.width, frame.height) if frame.width > 0 else None
        box = inst.box_or_auto(size)
        entry = self.heatmaps.lookup(f, box)
        if entry is None:
            self.view.set_heatmap(None)
            if not self.model.is_loaded:
                msg = "No heatmaps: this person was not predicted in this session and no model is loaded."
            elif box is None:
                msg = "No heatmaps: this person has no box."
            else:
                msg = "Computing heatmaps…"
                self._request_heatmaps(f, box)
            self.heatmap_panel.set_heatmaps(None, message=msg)
            return
        self.heatmap_panel.set_heatmaps(entry.heatmaps, j)
        mode = self.heatmap_panel.overlay_mode()
        if mode == "off":
            self.view.set_heatmap(None)
        elif mode == "joint" and j is not None and j < len(entry.heatmaps):
            self.view.set_heatmap(entry.heatmaps[j], entry.heatmap_to_image)
        else:
            self.view.set_heatmap(entry.heatmaps.max(axis=0), entry.heatmap_to_image)

    def _request_heatmaps(self, frame: int, box_xywh: np.ndarray) -> None:
        key = (frame, tuple(np.round(box_xywh, 1)))
        if self._worker is not None or self._heatmap_requested == key:
            return
        k_model = getattr(self.model.predictor, "num_joints", None)
        if k_model is not None and int(k_model) != len(self.document.keypoint_names()):
            return
        self._heatmap_requested = key
        x, y, w, h = (float(v) for v in box_xywh)
        if w < 2 or h < 2:
            return
        self._start_worker([InferenceJob(frame, boxes=np.array([[x, y, x + w, y + h]], np.float32))],
                           mode="heatmaps", quiet=True)

    # ================================================================== model + inference
    def show_model_panel(self) -> None:
        self.model_dock.show()
        self.model_dock.raise_()
        self.model_panel.experiment_combo.setFocus()

    def load_model(self, spec: ModelSpec) -> None:
        if self._worker is not None:
            self.show_error("Model busy", "Wait for the running prediction to finish (or cancel it) first.")
            return
        self.model.load(spec)

    def load_bundled_model(self) -> None:
        spec = demo_spec(self.model_panel.device_combo.currentText())
        if spec is None:
            self.show_error("Demo model missing", f"{DEMO_WEIGHTS} is not installed.")
            return
        self.model_panel.set_spec(spec)
        self.load_model(spec)

    def load_demo_model(self) -> None:
        spec = ModelSpec("synthetic/hrnet_w16_128x96", None, self.model_panel.device_combo.currentText())
        self.model_panel.set_spec(spec)
        self.load_model(spec)

    def _on_model_loading(self, spec: ModelSpec) -> None:
        self.device_label.setText("loading model…")
        self.statusBar().showMessage(f"Loading {spec.label()} …")
        self._update_actions()
        self.model_panel.set_model_state(spec, loaded=False, loading=True)

    def _on_model_loaded(self, spec: ModelSpec) -> None:
        self._detector = None
        self._detector_key = None
        self.heatmaps.clear()
        self._heatmap_requested = None
        device = self.model.device_text()
        warn = "  ⚠ RANDOM weights (demo)" if spec.is_random else ""
        self.device_label.setText(f"{Path(spec.experiment).stem} on {device}{warn}")
        self.statusBar().showMessage(f"Model ready: {spec.label()} on {device}", 6000)
        self.settings.set_model_spec(spec.experiment, spec.weights, spec.device)
        if self._train_dialog is not None:
            self._train_dialog.set_current_model(spec)
        self._update_actions()
        if self._run_after_load:
            (scope, boxes), self._run_after_load = self._run_after_load, None
            self.run_inference(scope, boxes=boxes)
        else:
            self.refresh_heatmaps()

    def _on_model_failed(self, spec: ModelSpec, message: str) -> None:
        self.device_label.setText("no model")
        self._run_after_load = None
        self._update_actions()
        self.model_panel.set_model_state(None, loaded=False, message=message)
        self.show_error("Cannot load the model", message)

    def _frames_for_scope(self, scope: str) -> list[int]:
        doc = self.document
        n = doc.num_frames()
        if scope == "current":
            return [doc.current_index()] if n else []
        if scope == "selected":
            frames = self.frame_list.selected_frames()
            return frames or ([doc.current_index()] if n else [])
        if scope == "unreviewed":
            return [i for i in range(n) if not doc.frame(i).reviewed]
        return list(range(n))

    def _detector_for_run(self):
        """(detector, factory) for the chosen detector; (None, None) = whole image."""
        key = self.model_panel.detector()
        if key in ("full_image", "existing"):
            return None, None
        device = str(getattr(self.model.predictor, "device", "cpu"))
        cache_key = (key, device)
        if self._detector is not None and self._detector_key == cache_key:
            return self._detector, None

        def factory():
            from hrnet.detect import build_detector

            return build_detector(key, device=device)

        self._detector_key = cache_key
        return None, factory

    def _model_fits_document(self) -> bool:
        k_model = getattr(self.model.predictor, "num_joints", None)
        k_doc = len(self.document.keypoint_names())
        if k_model is not None and k_doc and int(k_model) != k_doc:
            self.show_error("Model and project do not match",
                            f"The model predicts {k_model} joints, this project's skeleton has {k_doc}. Choose a "
                            "model trained for these keypoints (or train one: Model > Train model…).")
            return False
        return True

    def run_inference(self, scope: str = "current", boxes: str = "panel") -> None:
        """Predict the frames of ``scope``. ``boxes='panel'`` finds people with the detector chosen in
        the model panel; ``'existing_or_detect'`` re-uses the boxes of the people already on a frame and
        runs the detector only on frames that have none (a re-run of a fine-tuned model)."""
        if not self.model.is_loaded:
            self.show_error("No pose model", HOW_TO_GET_WEIGHTS)
            self.show_model_panel()
            return
        if not self._model_fits_document():
            return
        if self._worker is not None:
            if self._worker_mode == "heatmaps":
                self.cancel_inference(wait=True)
            else:
                self.statusBar().showMessage("A prediction is already running", 4000)
                return
        frames = self._frames_for_scope(scope)
        if not frames:
            self.statusBar().showMessage("No frames to predict", 4000)
            return
        jobs = []
        if boxes == "existing_or_detect" and self.model_panel.detector() != "existing":
            for f in frames:
                xyxy = self._existing_boxes(f, predictions_only=True)
                jobs.append(InferenceJob(f, boxes=xyxy) if len(xyxy) else InferenceJob(f))
        elif self.model_panel.detector() == "existing":
            for f in frames:
                xyxy = self._existing_boxes(f)
                if len(xyxy):
                    jobs.append(InferenceJob(f, boxes=xyxy))
            if not jobs:
                self.show_error("No boxes", "'Existing boxes only' needs people with boxes in the chosen frames.")
                return
        else:
            jobs = [InferenceJob(f) for f in frames]
        self._start_worker(jobs, mode="apply", meta={"scope": scope})

    def _existing_boxes(self, f: int, predictions_only: bool = False) -> np.ndarray:
        """xyxy boxes of the people on frame ``f`` (only untouched model output if ``predictions_only``)."""
        fr = self.document.frame(f)
        size = (fr.width, fr.height) if fr.width > 0 else None
        people = [p for p in fr.instances if p.is_prediction or not predictions_only]
        boxes = [b for b in (p.box_or_auto(size) for p in people) if b is not None]
        return np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32).reshape(-1, 4)

    def _start_worker(self, jobs: list[InferenceJob], mode: str, meta: dict | None = None, quiet: bool = False) -> None:
        detector, factory = (None, None)
        if any(j.boxes is None for j in jobs):
            detector, factory = self._detector_for_run()
        # No Qt parent: the window keeps a reference until the thread has finished (a QThread
        # destroyed while running aborts the process).
        worker = InferenceWorker(self.model.predictor, jobs, self.document.image, detector=detector,
                                 detector_factory=factory, min_box_score=self.model_panel.box_score.value(),
                                 return_heatmaps=True)
        self._all_workers.add(worker)
        self._worker = worker
        self._worker_mode = mode
        self._worker_results = {}
        self._worker_meta = dict(meta or {})
        self._worker_meta["quiet"] = quiet
        self._worker_meta["errors"] = []
        self._worker_meta["frames"] = len(jobs)
        worker.result.connect(self._on_worker_result)
        worker.progress.connect(self._on_worker_progress)
        worker.frame_failed.connect(lambda f, m: self._worker_meta["errors"].append(f"frame {f + 1}: {m}"))
        worker.failed.connect(self._on_worker_failed)
        worker.detector_ready.connect(self._on_detector_ready)
        worker.finished.connect(lambda w=worker: self._on_worker_finished(w))
        if not quiet:
            self.progress.setRange(0, len(jobs))
            self.progress.setValue(0)
            self.progress.setVisible(True)
            self.cancel_button.setVisible(True)
        self._update_actions()
        worker.start()

    def _on_detector_ready(self, detector) -> None:
        self._detector = detector

    def _on_worker_progress(self, done: int, total: int, text: str) -> None:
        if self._worker_meta.get("quiet"):
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        self.statusBar().showMessage(f"Predicting: {text}")

    def _on_worker_result(self, frame: int, results: list) -> None:
        self.heatmaps.put_results(frame, results)
        self._worker_results[frame] = results

    def _on_worker_failed(self, message: str) -> None:
        self._worker_meta["failed"] = message

    def cancel_inference(self, wait: bool = False) -> None:
        worker = self._worker
        if worker is None:
            return
        worker.requestInterruption()
        self.statusBar().showMessage("Cancelling after the current frame…")
        if wait:
            worker.wait(60000)
            self._on_worker_finished(worker)

    def _on_worker_finished(self, worker: InferenceWorker) -> None:
        if worker.isFinished():
            self._all_workers.discard(worker)
        if worker is not self._worker:  # already handled (cancel with wait) or superseded
            return
        self._worker = None
        mode, meta, results = self._worker_mode, self._worker_meta, self._worker_results
        self._worker_results = {}
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        cancelled = worker.cancelled
        if meta.get("failed"):
            self.show_error("Prediction failed", meta["failed"])
        elif meta.get("errors") and not meta.get("quiet"):
            self.show_error("Some frames could not be read", "\n".join(meta["errors"][:10]))
        if mode == "apply" and results:
            self._apply_results(results, meta, cancelled, worker.elapsed_s)
        elif mode == "add" and results:
            frame, res = next(iter(results.items()))
            if res and frame < self.document.num_frames():
                inst = Instance.from_pose_result(res[0])
                inst.bbox = xyxy_to_xywh(meta["box"])
                self.document.push(C.AddInstance(self.document, frame, inst))
                if frame == self.view.frame_index:
                    self.view.select(len(self.document.frame(frame).instances) - 1)
                self.statusBar().showMessage("Pose predicted inside the box — drag joints to correct", 5000)
        self._update_actions()
        self.refresh_heatmaps()
        self.inference_finished.emit(mode)

    def _apply_results(self, results: dict[int, list], meta: dict, cancelled: bool, elapsed: float) -> None:
        predictions = {f: [Instance.from_pose_result(r) for r in res] for f, res in results.items()}
        scope = meta.get("scope", "current")
        skip_reviewed = scope in ("all", "unreviewed", "selected") and len(predictions) > 1
        cmd = C.ApplyPredictions(self.document, predictions, skip_reviewed=skip_reviewed)
        people = sum(len(v) for v in predictions.values())
        changed = len(getattr(cmd, "changed_frames", predictions))
        self.document.push(cmd)
        what = "Cancelled: kept" if cancelled else "Predicted"
        spec = self.model.spec
        demo = " — RANDOM weights (demo), not real predictions" if spec is not None and spec.is_random else ""
        self.statusBar().showMessage(
            f"{what} {people} people in {len(predictions)} frames ({changed} changed) in {elapsed:.1f} s — "
            f"Ctrl+Z undoes it{demo}", 10000)

    # ================================================================== training
    def open_train_dialog(self) -> None:
        try:
            from app.training import TrainDialog
        except (ImportError, AttributeError) as e:
            self.show_error("Training unavailable", f"The training dialog cannot be loaded: {e}")
            return
        if self.document.num_frames() == 0:
            self.show_error("Nothing to train on", "Open a project and review some frames first.")
            return
        if self._train_dialog is None:
            try:
                self._train_dialog = TrainDialog(self.document, self.model.spec, self)
            except Exception as e:  # noqa: BLE001 - a broken dialog must not take the app down
                log.exception("TrainDialog failed")
                self.show_error("Training unavailable", describe_error(e))
                return
            self._train_dialog.model_ready.connect(self._on_trained_model)
            self._train_dialog.rerun_requested.connect(self._on_rerun_requested)
        self._train_dialog.show()
        self._train_dialog.raise_()

    def _on_trained_model(self, spec: ModelSpec) -> None:
        self.model_panel.set_spec(spec)
        self.load_model(spec)

    def _on_rerun_requested(self, spec: ModelSpec) -> None:
        self.model_panel.set_spec(spec)
        if self.model.spec == spec and self.model.is_loaded and not self.model.is_loading:
            self.run_inference("unreviewed", boxes="existing_or_detect")
            return
        self._run_after_load = ("unreviewed", "existing_or_detect")
        if self.model.pending_spec != spec:  # model_ready may already have started loading it
            self.load_model(spec)

    # ================================================================== help
    def show_help(self) -> ShortcutsDialog:
        if self._help_dialog is None:
            self._help_dialog = ShortcutsDialog(self.actions(), self)
        self._help_dialog.show()
        self._help_dialog.raise_()
        return self._help_dialog

    def show_about(self) -> None:
        self.show_info("About", f"{APP_TITLE}\nHRNet (Sun et al., CVPR 2019) pose estimation, reimplemented; "
                                "annotation with undo everywhere, autosave and heatmaps.")

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        self.cancel_inference(wait=True)
        for worker in list(self._all_workers):
            worker.requestInterruption()
            worker.wait(60000)
        self.model.wait(10000)
        if self.stack.currentIndex() == 0:  # docks are hidden on the start page: save the editor's layout
            for dock, visible in getattr(self, "_dock_visibility", {}).items():
                dock.setVisible(visible)
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.autosave.close()
        self.view.shutdown()
        if self._train_dialog is not None:
            self._train_dialog.close()
        self.document.close()
        event.accept()
