"""The main window: composes the document, the canvas, the docks and the controllers, and wires them.

It owns no logic of its own: data lives in :class:`~app.document.AnnotationDocument` (every edit
a command of :mod:`app.commands`), files in :class:`~app.controllers.project.ProjectController`,
predictions in :class:`~app.controllers.inference.InferenceController`, keyboard edits in
:class:`~app.controllers.editing.EditController`, the heatmap overlay in
:class:`~app.controllers.heatmaps.HeatmapOverlay`, actions/menus/toolbar in the table of
:mod:`app.controllers.actions`, and navigation queries in :mod:`app.review`. Dialogs that only
report are non-blocking (``open()``), so nothing here stalls the event loop, and tests can drive
the window without modal loops.

The window's parts are split out by responsibility: what it is made of and where it sits
(:mod:`app.window_layout`: central stack, docks, status bar, toolbar, start page vs editor), the
signal wiring (:mod:`app.window_wiring`), the People list and Person panel
(:class:`~app.controllers.people_panels.PeoplePanels`) and non-blocking messages
(:mod:`app.window_messages`). What is left here is composition and the small display handlers
(title, enabled actions, progress, device label) that the wiring calls.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app import commands, review, texts, window_layout
from app.autosave import AutosaveManager
from app.canvas.heatmaps import HeatmapStore
from app.controllers import actions as actions_table
from app.controllers.detector_check import DetectorFallback
from app.controllers.editing import EditController
from app.controllers.heatmaps import HeatmapOverlay
from app.controllers.inference import InferenceController
from app.controllers.model import ModelController
from app.controllers.people_panels import PeoplePanels
from app.controllers.playback import PlaybackController
from app.controllers.project import ProjectController
from app.controllers.tracking import TrackController
from app.document import AnnotationDocument
from app.keypoint_set_controller import KeypointSetController
from app.model_manager import HOW_TO_GET_WEIGHTS, ModelManager, ModelSpec, demo_spec, describe_error
from app.settings import AppSettings
from app.widgets.export_dialog import ExportDialog
from app.widgets.help_dialog import ShortcutsDialog
from app.window_messages import MessageBoxes, unexpected_error
from app.window_wiring import connect_window
from hrnet import COCO_17

log = logging.getLogger(__name__)

APP_TITLE = "HRNet Pose Annotator"


class MainWindow(QMainWindow):
    """The annotation app's window."""

    inference_finished = Signal(str)  # mode: 'apply' | 'add' | 'heatmaps'
    export_finished = Signal(object)  # app.export.ExportResult
    error_shown = Signal(str, str)  # title, text

    def __init__(self, settings: AppSettings | None = None, recovery_dir: str | Path | None = None,
                 autosave_delay_ms: int = 3000, parent: QWidget | None = None, *,
                 auto_load_model: bool = False) -> None:
        super().__init__(parent)
        # the app (main.py) loads the remembered model, or the bundled demo, when a project opens
        # without one; tests opt in, so that they do not all load a model
        self.auto_load_model = auto_load_model
        self.settings = settings or AppSettings()
        self.document = AnnotationDocument(parent=self)
        self.model = ModelManager(self)
        self.heatmaps = HeatmapStore()
        self.autosave = AutosaveManager(self.document, directory=recovery_dir, delay_ms=autosave_delay_ms,
                                        parent=self)
        self.project = ProjectController(self.document, self.settings, self.autosave, recovery_dir,
                                         dialog_parent=self, parent=self)
        self.inference = InferenceController(self.document, self.model, self.heatmaps, parent=self)
        self.models = ModelController(self.model, self.inference, self.settings, parent=self)
        self.last_error: tuple[str, str] | None = None
        self.help_dialog: ShortcutsDialog | None = None
        self.train_dialog = None
        self.message_boxes = MessageBoxes(self)

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        window_layout.build_central(self)
        window_layout.build_docks(self)
        window_layout.build_status_bar(self)
        self.editor_layout = window_layout.EditorLayout(self)
        self.edits = EditController(self.document, self.view, self.frame_list.model.confidence, parent=self)
        self.edits.frame_confidences = self.frame_list.model.confidence_array  # Weakest (L), vectorised
        self.edits.confidences_ready = self.frame_list.model.when_ready  # (L never waits for them)
        self.tracking = TrackController(self.document, self.view, dialog_parent=self, parent=self)
        self.playback = PlaybackController(self.document, self.view, parent=self)
        self.heatmap_overlay = HeatmapOverlay(self.document, self.view, self.heatmap_panel, self.heatmaps,
                                              self.inference, self.settings, parent=self)
        self.keypoints = KeypointSetController(self)  # new project with a set, set editing, model fit
        self.actions_by_name = actions_table.build_actions(self, self.document.undo_stack)
        window_layout.build_menus_and_toolbar(self, self.editor_layout.docks)
        self._rebuild_recent_menu(self.settings.recent_files())
        self.people_panels = PeoplePanels(self.document, self.view, self.people_list, self.person_panel, self.edits,
                                          self.threshold_spin.value, parent=self)
        connect_window(self)
        self._restore_settings()
        self.detector_check = DetectorFallback(self.model_panel, parent=self)
        self.detector_check.note_changed.connect(self.model_panel.set_detector_note)
        self.detector_check.check()
        self._update_title()
        self._update_actions()
        self.start_view.set_recent(self.settings.recent_files())
        self.show_start()
        self.project.check_recoveries()

    # ================================================================== settings, layout
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
        try:
            # never chosen: the panel offers the bundled demo model, not random weights
            restored = ModelSpec.from_dict(spec) if spec else demo_spec(self.model_panel.device())
        except (KeyError, TypeError, ValueError):
            restored = None
        if restored is not None:
            self.model_panel.set_spec(restored)
        self.model_panel.set_speed(self.settings.speed())  # after the spec: the demo spec says fp32

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.editor_layout.size_docks_once()

    # ================================================================== messages
    def show_error(self, title: str, text: str, details: str = "") -> None:
        """Report an error without blocking: status bar + a window-modal message box (open())."""
        log.warning("%s: %s", title, text)
        self.last_error = (title, text)
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0] if text else ''}", 15000)
        self.message_boxes.show(QMessageBox.Icon.Warning, title, text, details)
        self.error_shown.emit(title, text)

    def show_info(self, title: str, text: str) -> None:
        self.message_boxes.show(QMessageBox.Icon.Information, title, text)

    def handle_exception(self, exc_type, exc, tb) -> None:
        """sys.excepthook: show unexpected errors, keep the app and the document alive."""
        text, details = unexpected_error(exc_type, exc, tb)
        try:
            self.show_error("Unexpected error", text, details)
        except Exception:  # never raise from the excepthook
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
        running = self.inference.is_running
        loaded = self.model.is_loaded
        actions_table.set_enabled(self.actions_by_name, doc=has_doc, person=has_doc and sel, run=running,
                                  model=has_doc and loaded and not running,
                                  person_model=has_doc and sel and loaded and not running)
        self.act_export.setEnabled(has_doc and self.project.export_worker is None)
        self.act_track_people.setEnabled(has_doc and not self.tracking.is_running)
        frame = self.document.current_frame() if has_doc else None
        self.act_reviewed.setText("Mark frame not reviewed" if frame is not None and frame.reviewed
                                  else "Mark frame reviewed")
        self.model_panel.set_model_state(self.model.spec, loaded, self.model.device_text(),
                                         loading=self.model.is_loading)
        if running:
            for b in self.model_panel.run_buttons.values():
                b.setEnabled(False)

    def show_start(self) -> None:
        """The start page gets the whole window: docks are hidden until a project is open."""
        self.editor_layout.show_start()

    def show_editor(self) -> None:
        self.editor_layout.show_editor()

    # ================================================================== project (ProjectController)
    def open_paths(self, paths: Sequence[str | Path], image_root: str | Path | None = None,
                   confirm: bool = True) -> bool:
        """Open images / folders / videos / one project JSON; errors become messages. True on success."""
        return self.project.open_paths(paths, image_root=image_root, confirm=confirm)

    def save(self) -> bool:
        return self.project.save()

    def recover_latest(self) -> bool:
        return self.project.recover_latest()

    def export_dialog(self) -> ExportDialog | None:
        return self.project.export_dialog()

    def open_sample(self) -> None:
        # The sample project comes with a model that knows its people, unless the user chose one.
        if self.project.open_sample() and not self.model.is_loaded and not self.model.is_loading \
                and demo_spec() is not None:
            self.load_bundled_model()

    def _on_project_opened(self) -> None:
        self.heatmaps.clear()
        self.show_editor()
        if any(fr.video is not None for fr in self.document.data.frames):
            self.editor_layout.show_timeline()
        if self.auto_load_model:
            self.load_model_for_project()

    def load_model_for_project(self) -> None:
        """With no model loaded or loading: load the one remembered from the last session, else the
        bundled demo model when the project is COCO-17 (what the demo predicts). On a worker."""
        if self.model.is_loaded or self.model.is_loading:
            return
        saved = self.settings.model_spec()
        if saved:
            try:
                self.load_model(ModelSpec.from_dict(saved))
                return
            except (KeyError, TypeError, ValueError):
                pass
        if COCO_17.matches(self.document.keypoint_set()) and demo_spec() is not None:
            self.load_bundled_model()

    def _on_project_closed(self) -> None:
        self.heatmaps.clear()
        self.show_start()
        self._update_title()
        self._update_actions()

    def _rebuild_recent_menu(self, recent: list) -> None:
        self.recent_menu.clear()
        for path in recent:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.project.clear_recent)
        self.recent_menu.setEnabled(bool(recent))
        self.start_view.set_recent(recent)

    def _on_recoveries_changed(self, recoveries: list) -> None:
        if recoveries:
            more = f" (+{len(recoveries) - 1} older)" if len(recoveries) > 1 else ""
            self.start_view.set_recovery(f"Unsaved work was found from a session that ended unexpectedly:\n"
                                         f"{recoveries[0].describe()}{more}")
        else:
            self.start_view.set_recovery(None)
        self.act_recover.setEnabled(bool(recoveries))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_paths(paths))

    # ================================================================== navigation
    def go_to_frame(self, index: int) -> None:
        n = self.document.num_frames()
        if n:
            self.document.set_current_index(int(np.clip(index, 0, n - 1)))

    def step_frame(self, step: int) -> None:
        """Next/previous frame; with a frame filter on, next/previous frame of the filtered list."""
        rows = self.frame_list.visible_frames() if self.frame_list.filter_key() != "all" else None
        target = review.step_target(self.document.current_index(), step, self.document.num_frames(), rows)
        if target is not None:
            self.go_to_frame(target)

    def focus_frame_spin(self) -> None:
        self.frame_bar.focus_number()

    def escape(self) -> None:
        self.view.cancel()
        self.view.setFocus()

    def _on_frames_changed(self) -> None:
        n = self.document.num_frames()
        self.frame_bar.set_count(n)
        self.heatmaps.clear()
        self.heatmap_panel.set_joint_names(self.document.keypoint_names())
        self._update_title()
        self._update_actions()
        if n:
            self._on_frame_changed(self.document.current_index())

    def _on_frame_changed(self, index: int) -> None:
        self.frame_bar.set_current(index, self.document.source.describe(index) if self.document.num_frames() else None)
        self._update_actions()
        self.refresh_person_panel()
        self.heatmap_overlay.refresh()

    def _on_people_changed(self, frame: int) -> None:
        if frame == self.document.current_index():
            self._update_actions()
            self.heatmap_overlay.refresh()
            self.refresh_person_panel()

    def refresh_person_panel(self) -> None:
        self.people_panels.refresh()  # deferred and coalesced

    def _on_frame_failed(self, index: int, message: str) -> None:
        self.statusBar().showMessage(f"Frame {index + 1} cannot be shown: {message}", 15000)
        self.last_error = ("Cannot read frame", message)

    def _on_selection_changed(self, person: int, joint: int) -> None:
        text = ""
        if person >= 0:
            text = f"person #{person + 1}" + (f" · {self.view.names[joint]}" if joint >= 0 else "")
        self.selection_label.setText(text)
        self._update_actions()
        self.heatmap_overlay.refresh()
        self.refresh_person_panel()

    def _on_hover_text(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)
        elif self.view.mode == "edit":
            self.statusBar().clearMessage()

    def _on_threshold_changed(self, value: float) -> None:
        self.refresh_person_panel()
        self.view.set_threshold(value)
        self.frame_list.set_threshold(value)
        self.settings.set_confidence_threshold(value)

    def _on_box_drawn(self, frame: int, xyxy: np.ndarray) -> None:
        if frame != self.document.current_index():
            return
        if self.model.is_loaded and not self.inference.is_running and self._model_fits_document():
            self.inference.predict_in_box(frame, xyxy)
            return
        self.edits.add_empty_person(frame, xyxy)
        if not self.model.is_loaded:
            self.statusBar().showMessage("No model loaded: click the joints one by one (Space skips)", 8000)

    # ================================================================== model + inference
    def show_model_panel(self) -> None:
        self.model_dock.show()
        self.model_dock.raise_()
        self.model_panel.experiment_combo.setFocus()

    def load_model(self, spec: ModelSpec) -> None:
        self.models.load(spec)

    def load_bundled_model(self) -> None:
        spec = self.models.bundled_spec(self.model_panel.device())
        if spec is not None:
            self.model_panel.set_spec(spec)
            self.models.load(spec)

    def load_demo_model(self) -> None:
        spec = self.models.random_spec(self.model_panel.device())
        self.model_panel.set_spec(spec)
        self.models.load(spec)

    def _load_recovered_model(self, fields: dict) -> None:
        """After crash recovery: the model the crashed session used, unless it is already loaded."""
        try:
            spec = ModelSpec.from_dict(fields)
        except (KeyError, TypeError, ValueError):
            return
        if self.model.spec == spec and (self.model.is_loaded or self.model.is_loading):
            return
        self.model_panel.set_spec(spec)
        self.models.load(spec)

    def _on_model_loading(self, spec: ModelSpec) -> None:
        self.device_label.setText("loading model…")
        self.statusBar().showMessage(f"Loading {spec.label()} …")
        self._update_actions()
        self.model_panel.set_model_state(spec, loaded=False, loading=True)

    def _on_model_loaded(self, spec: ModelSpec) -> None:
        self.autosave.model = dataclasses.asdict(spec)  # a recovery after a crash reloads it
        device = self.model.device_text()
        warn = "  ⚠ RANDOM weights (demo)" if spec.is_random else ""
        self.device_label.setText(f"{spec.title} on {device}{warn}")
        self.statusBar().showMessage(f"Model ready: {spec.label()} on {device}", 6000)
        if self.train_dialog is not None:
            self.train_dialog.set_current_model(spec)
        self._update_actions()
        if not self.models.queued:  # (a queued prediction brings its heatmaps)
            self.heatmap_overlay.refresh()

    def _on_model_failed(self, spec: ModelSpec, message: str) -> None:
        self.device_label.setText("no model")
        self._update_actions()
        self.model_panel.set_model_state(None, loaded=False, message=message)
        self.show_error("Cannot load the model", message)

    def _model_fits_document(self) -> bool:
        return self.keypoints.check_model(self.model.predictor)  # says why not, offers to fine-tune

    def run_inference(self, scope: str = "current", reuse_boxes: bool = False) -> None:
        """Predict the frames of ``scope`` ('current', 'selected', 'unreviewed', 'all') with the
        detector chosen in the model panel; ``reuse_boxes`` re-uses the boxes of the untouched
        predictions already on a frame and detects only on frames that have none (a re-run of a
        fine-tuned model)."""
        if not self.model.is_loaded:
            self.show_error("No pose model", HOW_TO_GET_WEIGHTS)
            self.show_model_panel()
            return
        if not self._model_fits_document():
            return
        doc = self.document
        frames = review.frames_for_scope(doc.data.frames, scope, doc.current_index(), self.frame_list.selected_frames())
        self.inference.predict(frames, scope, self.model_panel.detector(), self.model_panel.box_score.value(),
                               reuse_boxes=reuse_boxes)

    def repredict_selected_person(self) -> None:
        """Predict the selected person again; asks first when that would also replace hand work."""
        p, frame = self.view.selected_person, self.document.current_frame()
        if p is None or frame is None or p >= len(frame.instances) or not self.model.is_loaded:
            return
        if not self._model_fits_document():
            return
        hand = int(commands.hand_joints(frame.instances[p]).sum())
        replace_hand = False
        if hand:
            what = "ground-truth" if frame.instances[p].joint_scores is None else "hand-edited"
            answer = QMessageBox.question(
                self, "Re-predict person",
                f"Person #{p + 1} has {hand} {what} {texts.plural(hand, 'joint')}. "
                f"Replace {'it' if hand == 1 else 'them'} with the prediction too?\n\n"
                "Yes: replace every joint.  No: only the model's joints.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            replace_hand = answer == QMessageBox.StandardButton.Yes
        self.inference.repredict_person(self.document.current_index(), p, replace_hand)

    def cancel_inference(self) -> None:
        self.inference.cancel()

    def _on_inference_started(self, _mode: str, total: int, quiet: bool) -> None:
        if not quiet:
            self.run_progress.start(total)
        self._update_actions()

    def _on_inference_progress(self, done: int, total: int, text: str) -> None:
        self.run_progress.set_progress(done, total)
        self.statusBar().showMessage(f"Predicting: {text}")

    def _on_inference_finished(self, mode: str) -> None:
        self.run_progress.setVisible(False)
        self._update_actions()
        self.heatmap_overlay.refresh()
        self.inference_finished.emit(mode)

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
        if self.train_dialog is None:
            try:
                self.train_dialog = TrainDialog(self.document, self.model.spec, self)
            except Exception as e:  # a broken dialog must not take the app down
                log.exception("TrainDialog failed")
                self.show_error("Training unavailable", describe_error(e))
                return
            self.train_dialog.model_ready.connect(self._on_trained_model)
            self.train_dialog.rerun_requested.connect(self.rerun_unreviewed)
        self.train_dialog.show()
        self.train_dialog.raise_()

    def _on_trained_model(self, spec: ModelSpec) -> None:
        self.model_panel.set_spec(spec)
        self.load_model(spec)

    def rerun_unreviewed(self, spec: ModelSpec) -> None:
        """Predict the unreviewed frames with ``spec`` (loaded first when needed), re-using the boxes
        of earlier predictions: the Train dialog's re-run."""
        self.model_panel.set_spec(spec)
        self.models.predict_with(spec, "unreviewed", reuse_boxes=True)

    # ================================================================== help
    def show_help(self) -> ShortcutsDialog:
        if self.help_dialog is None:
            self.help_dialog = ShortcutsDialog(self.actions(), self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog

    def show_about(self) -> None:
        self.show_info("About", f"{APP_TITLE}\nHRNet (Sun et al., CVPR 2019) pose estimation, reimplemented; "
                                "annotation with undo everywhere, autosave and heatmaps.")

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.project.confirm_discard():
            event.ignore()
            return
        self.playback.stop()
        self.inference.shutdown()
        self.tracking.shutdown()
        self.detector_check.shutdown()
        self.project.shutdown()
        self.model.wait(10000)
        if self.stack.currentIndex() == 0:  # docks are hidden on the start page: save the editor's layout
            self.editor_layout.restore_docks()
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.autosave.close()
        self.view.shutdown()
        if self.train_dialog is not None:
            self.train_dialog.close()
        self.document.close()
        event.accept()
