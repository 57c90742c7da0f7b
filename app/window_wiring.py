"""The main window's signal wiring, in one place: the document, the controllers and the widgets to
each other and to the window's display handlers (title, enabled actions, status bar, panels).

Part of :class:`app.main_window.MainWindow`, kept in its own file so that the window module holds
construction and handlers only; it connects, it decides nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.int8_calibration import project_plan
from app.model_manager import HOW_TO_GET_WEIGHTS

if TYPE_CHECKING:
    from app.main_window import MainWindow


def connect_window(w: MainWindow) -> None:
    _document(w)
    _project(w)
    _runs(w)
    _canvas_and_navigation(w)
    _model(w)
    _start_page(w)


def _document(w: MainWindow) -> None:
    d = w.document
    d.frame_changed.connect(w._on_frame_changed)
    d.frames_changed.connect(w._on_frames_changed)
    d.dirty_changed.connect(lambda _: w._update_title())
    d.path_changed.connect(lambda _: w._update_title())
    d.instances_changed.connect(w._on_people_changed)
    d.instance_changed.connect(lambda f, _i: w._on_people_changed(f))
    d.reviewed_changed.connect(lambda _f: (w._update_actions(), w.refresh_person_panel()))
    d.keypoint_set_changed.connect(lambda: (w._on_frames_changed(), w.refresh_person_panel()))
    w.autosave.failed.connect(lambda m: w.statusBar().showMessage(m, 10000))


def _project(w: MainWindow) -> None:
    p = w.project
    p.error.connect(w.show_error)
    p.message.connect(w.statusBar().showMessage)
    p.opened.connect(w._on_project_opened)
    p.closing.connect(lambda: (w.inference.cancel(wait=True), w.tracking.cancel(wait=True), w.playback.stop()))
    p.closed.connect(w._on_project_closed)
    p.recent_changed.connect(w._rebuild_recent_menu)
    p.recoveries_changed.connect(w._on_recoveries_changed)
    p.export_running.connect(lambda running: w.act_export.setEnabled(not running and w.document.num_frames() > 0))
    p.export_finished.connect(w.export_finished)
    p.model_wanted.connect(w._load_recovered_model)


def _runs(w: MainWindow) -> None:
    """Predictions, tracking and playback: progress in the status bar, one Cancel for both runs."""
    w.run_progress.cancel_requested.connect(lambda: (w.inference.cancel(), w.tracking.cancel()))
    inf = w.inference
    inf.error.connect(w.show_error)
    inf.message.connect(w.statusBar().showMessage)
    inf.started.connect(w._on_inference_started)
    inf.progress.connect(w._on_inference_progress)
    inf.finished.connect(w._on_inference_finished)
    inf.queued.connect(w.frame_list.set_queued)  # the frame list follows an apply run frame by frame
    inf.frame_done.connect(w.frame_list.mark_done)
    inf.person_added.connect(lambda f, i: w.view.select(i) if f == w.view.frame_index else None)
    w.edits.message.connect(w.statusBar().showMessage)
    tr = w.tracking
    tr.message.connect(w.statusBar().showMessage)
    tr.started.connect(lambda total: (w.run_progress.start(total), w._update_actions()))
    tr.progress.connect(lambda done, total, text: (w.run_progress.set_progress(done, total),
                                                   w.statusBar().showMessage(text)))
    tr.finished.connect(lambda: (w.run_progress.setVisible(False), w._update_actions()))
    w.timeline.frame_requested.connect(w.go_to_frame)
    w.timeline.track_requested.connect(w.tracking.select_track)
    w.playback.playing_changed.connect(lambda on: w.act_play.setText("&Pause" if on else "&Play / pause"))


def _canvas_and_navigation(w: MainWindow) -> None:
    v = w.view
    v.selection_changed.connect(w._on_selection_changed)
    v.hover_changed.connect(w._on_hover_text)
    v.placement_changed.connect(lambda text: w.statusBar().showMessage(text) if text else w.statusBar().clearMessage())
    v.box_drawn.connect(w._on_box_drawn)
    v.zoom_changed.connect(lambda z: w.zoom_label.setText(f"{z * 100:.0f}%"))
    v.frame_failed.connect(w._on_frame_failed)
    v.frame_unreadable.connect(w.frame_list.set_unreadable)
    w.frame_bar.frame_requested.connect(w.go_to_frame)
    w.frame_list.frame_activated.connect(w.go_to_frame)
    w.threshold_spin.valueChanged.connect(w._on_threshold_changed)


def _model(w: MainWindow) -> None:
    mp = w.model_panel
    mp.load_requested.connect(w.load_model)
    mp.run_requested.connect(w.run_inference)
    mp.detector_changed.connect(w.settings.set_detector)
    mp.speed_changed.connect(w.settings.set_speed)
    mp.help_requested.connect(lambda: w.show_info("How to get weights", HOW_TO_GET_WEIGHTS))
    mp.cancel_load_requested.connect(w.model.cancel_loading)
    w.model.loading_started.connect(w._on_model_loading)
    w.models.loaded.connect(w._on_model_loaded)
    w.models.failed.connect(w._on_model_failed)
    w.models.predict_requested.connect(lambda scope, reuse: w.run_inference(scope, reuse_boxes=reuse))
    w.models.error.connect(w.show_error)
    w.model.loading_progress.connect(mp.set_loading_progress)  # int8 calibration
    w.model.calibration_provider = lambda: project_plan(w.document.data)


def _start_page(w: MainWindow) -> None:
    p, sv = w.project, w.start_view
    sv.sample_requested.connect(w.open_sample)
    sv.open_files_requested.connect(p.open_files_dialog)
    sv.open_folder_requested.connect(p.open_folder_dialog)
    sv.open_video_requested.connect(p.open_video_dialog)
    sv.open_project_requested.connect(p.open_project_dialog)
    sv.recent_requested.connect(lambda path: w.open_paths([path]))
    sv.recover_requested.connect(p.recover_latest)
    sv.discard_recovery_requested.connect(p.discard_recoveries)
