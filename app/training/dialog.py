"""The "Train model" dialog: fine-tune HRNet on the project's reviewed frames, watch it learn,
compare it with the current model and put it to work on the frames not yet reviewed.

The decisions live in Qt-free objects: :class:`~app.training.plan.TrainingPlan` (what will run, what
is wrong, the command line; the fine-tuning recipe by default whenever the run starts from trained
pose weights) and :class:`~app.training.verdict.TrainingVerdict` (is the new model better, what is
the default, what needs confirmation). The three tabs are their own widgets:

1. **Setup** (:class:`~app.training.setup_tab.TrainSetupWidget`) — edits the plan and shows it.
2. **Training** (:class:`~app.training.progress_tab.TrainProgressWidget`) — progress, curves, log,
   errors; Stop (after this epoch), Cancel, Resume.
3. **Result** (:class:`~app.training.result_tab.TrainResultWidget`) — the new model against the old
   one on the validation frames, in numbers and in words; Keep / Use (``model_ready``) / Use and
   re-run on the unreviewed frames (``rerun_requested``, which the main window runs). When the new
   model is not better, Keep is the default and the other two ask first.

This class runs things (export thread, ``hrnet-train`` process, evaluation worker) and wires the
tabs to them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from app.model_manager import ModelSpec, list_experiments
from app.texts import count
from app.training.data import ExportedData, entry_label, export_reviewed, frame_label, read_split, split_summary
from app.training.evaluation import METRIC_NAMES, CompareWorker, ModelEvaluation
from app.training.events import RunFinished, RunStarted, TrainError
from app.training.plan import FEW_TRAIN_FRAMES, TrainingPlan, default_run_dir, is_cached
from app.training.process import TrainingProcess
from app.training.progress_tab import TrainProgressWidget
from app.training.result_tab import TrainResultWidget
from app.training.setup_tab import TrainSetupWidget
from app.training.verdict import ACTION_RERUN, ACTION_USE, TrainingVerdict
from hrnet import HRNetError, atomic_write_text, format_duration

__all__ = ["TrainDialog", "format_duration"]

log = logging.getLogger(__name__)

_SETUP_NAMES = ("data_label", "val_spin", "seed_spin", "split_label", "split_table", "experiment_combo",
                "base_combo", "base_path_edit", "finetune_check", "epochs_spin", "lr_spin", "batch_spin",
                "input_combo", "device_combo", "augment_combo", "augment_label", "extra_opts_edit",
                "effective_table", "warnings_label", "output_edit", "new_folder_button", "command_view",
                "copy_button", "problems_label", "start_button", "reset_button")
_PROGRESS_NAMES = ("status_label", "progress_bar", "progress_label", "error_frame", "error_title", "error_label",
                   "loss_plot", "loss_curve", "train_loss_curve", "val_loss_curve", "metric_plot", "ap_curve",
                   "pck_curve", "log_view", "stop_button", "cancel_button", "resume_button")
_RESULT_NAMES = ("result_label", "verdict_label", "compare_table", "compare_label", "keep_button", "use_button",
                 "rerun_button", "open_folder_button")

_DEFAULT_EXPERIMENT = "synthetic/hrnet_w16_128x96"


class _CallThread(QThread):
    """Runs one blocking function off the GUI thread: ``done(result)`` or ``failed(message)``."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as e:  # reported in the dialog
            log.exception("training data export failed")
            self.failed.emit(str(e) if type(e).__name__.endswith("Error") and str(e) else f"{type(e).__name__}: {e}")
            return
        self.done.emit(result)


class TrainDialog(QDialog):
    """Fine-tune a pose model on the reviewed frames of ``document`` (an AnnotationDocument).

    ``current_model`` (a :class:`~app.model_manager.ModelSpec` or None) is the model the app uses
    now: the default base weights and the "old" model of the comparison. ``process`` may be given
    to run something other than the real ``hrnet-train`` (tests).
    """

    model_ready = Signal(object)  # ModelSpec of the new model (best checkpoint)
    rerun_requested = Signal(object)  # ModelSpec: load it and re-run it on the unreviewed frames

    def __init__(self, document: Any, current_model: ModelSpec | None = None, parent: QWidget | None = None, *,
                 process: TrainingProcess | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train model")
        self.setModal(False)
        self.resize(1040, 800)
        self.document = document
        self.current_model = current_model
        self.process = process or TrainingProcess(self)
        self.process.setParent(self)
        self.exported: ExportedData | None = None
        self.command = None
        self.new_model: ModelSpec | None = None
        self.comparison: dict[str, ModelEvaluation | str] = {}
        self.verdict: TrainingVerdict | None = None
        self._export_thread: _CallThread | None = None
        self._compare_worker: CompareWorker | None = None
        self._retired_workers: list[CompareWorker] = []
        self._t_started = 0.0
        self._pending_resume = False
        self._closing = False
        self._split_key: tuple[float, int] | None = None  # (val fraction, seed) of self.exported

        experiments = list_experiments()
        has_current = current_model is not None and bool(current_model.weights)
        experiment = (current_model.experiment if current_model is not None
                      else _DEFAULT_EXPERIMENT if _DEFAULT_EXPERIMENT in experiments or not experiments
                      else experiments[0])
        self.plan = TrainingPlan(
            document.data, experiment=experiment, run_dir=default_run_dir(getattr(document, "path", None)),
            current_experiment=current_model.experiment if has_current else None,
            current_weights=current_model.weights if has_current else None)
        self.plan.base_kind = self.plan.default_base_kind()

        self.setup = TrainSetupWidget(self.plan, experiments, getattr(document, "path", None))
        self.progress = TrainProgressWidget()
        self.result = TrainResultWidget(METRIC_NAMES)
        for tab, names in ((self.setup, _SETUP_NAMES), (self.progress, _PROGRESS_NAMES),
                           (self.result, _RESULT_NAMES)):
            for name in names:  # the dialog's widgets by name (tests, main window)
                setattr(self, name, getattr(tab, name))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.setup, "1 · Setup")
        self.tabs.addTab(self.progress, "2 · Training")
        self.tabs.addTab(self.result, "3 · Result")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

        self.setup.plan_edited.connect(self._on_plan_edited)
        self.setup.start_clicked.connect(self.start_training)
        self.progress.stop_button.clicked.connect(self.stop_training)
        self.progress.cancel_button.clicked.connect(self.cancel_training)
        self.progress.resume_button.clicked.connect(self.resume_training)
        self.result.keep_button.clicked.connect(self.keep_current_model)
        self.result.use_button.clicked.connect(self.use_new_model)
        self.result.rerun_button.clicked.connect(self.rerun_new_model)
        self.result.open_folder_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir()))))

        p = self.process
        p.started.connect(self._on_started)
        p.base_validated.connect(self.progress.on_base_validated)
        p.step.connect(self.progress.on_step)
        p.epoch_ended.connect(self.progress.on_epoch)
        p.checkpoint_written.connect(self.progress.on_checkpoint)
        p.log.connect(self.progress.append_log)
        p.error.connect(self._show_error)
        p.finished.connect(self._on_finished)
        p.state_changed.connect(lambda _s: self._update_buttons())

        # the document may change while the dialog is open (it is not modal): refresh, debounced
        from PySide6.QtCore import QTimer

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self._refresh_data)
        for signal_name in ("frames_changed", "instances_changed", "instance_changed", "reviewed_changed"):
            sig = getattr(document, signal_name, None)
            if sig is not None:
                sig.connect(lambda *_a: self._refresh_timer.start())
        self._refresh_data()

    # ========================================================================== the plan
    def run_dir(self) -> Path:
        return Path(self.plan.run_dir)

    def validate(self, resume: bool = False) -> list[str]:
        """What must be fixed before training can start (empty: ready)."""
        return self.plan.problems(resume)

    def build_command(self, resume: bool = False, data: ExportedData | None = None):
        return self.plan.command(resume=resume, data=data or self.exported)

    def training_opts(self, data: ExportedData | None = None) -> list[tuple[str, str]]:
        return self.plan.opts(data or self.exported)

    def copy_command(self) -> None:
        self.setup.copy_command()

    def _on_plan_edited(self) -> None:
        if self.exported is not None and not self.process.is_running() and self._export_thread is None:
            d = self.exported
            split_dir = d.train_json.parent
            if split_dir != self.plan.data_dir or self._split_key != (self.plan.val_fraction, self.plan.seed):
                self.exported = None  # another split or run folder: exported anew at start
        self._refresh_view()

    def _refresh_data(self, *_args: Any) -> None:
        self.setup.show_data_summary()
        self._refresh_view()

    def _refresh_view(self) -> None:
        if self.process.is_running() or self._export_thread is not None:
            return  # the setup shows the running command; edits are frozen
        if self.exported is None:
            self._show_planned_split()
        try:
            text = self.build_command().display()
        except (ValueError, ImportError) as e:
            text = f"({e})"
        self.setup.show_plan(self.validate(), text)
        self._update_buttons()

    def _show_planned_split(self) -> None:
        frames = self.document.data.frames
        try:
            train, val = self.plan.split()
        except ValueError as e:
            self.split_label.setText(str(e))
            return
        self.setup.fill_split_table([(frame_label(i, frames[i]), frames[i].num_labelled, "train") for i in train]
                                    + [(frame_label(i, frames[i]), frames[i].num_labelled, "validation") for i in val])
        self.split_label.setText(split_summary(len(train), sum(frames[i].num_labelled for i in train), len(val),
                                               sum(frames[i].num_labelled for i in val)) if train or val else "")

    def _show_split(self, data: ExportedData) -> None:
        self.split_label.setText(split_summary(len(data.train), data.train_people, len(data.val), data.val_people,
                                               data.skipped))
        self.setup.fill_split_table([(entry_label(e), e.people, "train") for e in data.train]
                                    + [(entry_label(e), e.people, "validation") for e in data.val])

    # ========================================================================== run control
    def start_training(self) -> bool:
        """Validate, export the reviewed frames into the run folder, start hrnet-train."""
        if self.process.is_running() or self._export_thread is not None:
            return False
        self.command = None
        problems = self.validate()
        if problems:
            self.problems_label.setText("\n".join(f"• {p}" for p in problems))
            self.tabs.setCurrentIndex(0)
            return False
        self.progress.reset()
        self.exported = None
        entry = self.plan.registry_entry()
        self.status_label.setText("Exporting the reviewed frames…" if entry is None or is_cached(entry)
                                  else "Downloading the base weights, exporting…")
        self.tabs.setCurrentIndex(1)
        data_dir, val, seed, document = self.plan.data_dir, self.plan.val_fraction, self.plan.seed, self.document
        self._split_key = (val, seed)

        def prepare() -> ExportedData:
            if entry is not None and not is_cached(entry):
                from hrnet import resolve_weights

                resolve_weights(entry.name, progress=False)  # download into the cache first
            return export_reviewed(document, data_dir, val, seed)

        thread = _CallThread(prepare, self)
        thread.done.connect(self._on_exported)
        thread.failed.connect(self._on_export_failed)
        thread.finished.connect(thread.deleteLater)
        self._export_thread = thread
        self._update_buttons()
        thread.start()
        return True

    def _on_exported(self, data: ExportedData) -> None:
        self._export_thread = None
        self.exported = data
        self._show_split(data)
        if not data.train or not data.val:
            self._show_error(TrainError("data", f"The export has {len(data.train)} training and {len(data.val)} "
                                                "validation frames; both need at least one. Review more frames."))
            self.status_label.setText("Not started.")
            self._update_buttons()
            return
        if len(data.train) < FEW_TRAIN_FRAMES:
            self.progress.append_log("warning", f"Only {len(data.train)} training frames: the validation score is "
                                                "noisy, judge the result with care.")
        self._launch(self.build_command(data=data))

    def _on_export_failed(self, message: str) -> None:
        self._export_thread = None
        self._show_error(TrainError("data", f"Exporting the reviewed frames failed: {message}"))
        self.status_label.setText("Not started.")
        self._update_buttons()

    def resume_training(self) -> bool:
        """Continue the run in the run folder from its last checkpoint (``--resume``)."""
        if self.process.is_running() or self._export_thread is not None:
            return False
        problems = self.validate(resume=True)
        if problems:
            self._show_error(TrainError("config", "\n".join(problems)))
            return False
        if self.exported is None:
            d = self.plan.data_dir
            try:
                self.exported = read_split(self.plan.planned_data())
            except (OSError, ValueError, KeyError) as e:
                self._show_error(TrainError("data", f"Cannot read the exported data of this run in {d}: {e}"))
                return False
            self._split_key = (self.plan.val_fraction, self.plan.seed)
            self._show_split(self.exported)
        cmd = self.build_command(resume=True, data=self.exported)  # the form may raise the number of epochs
        self._pending_resume = True
        self._launch(cmd)
        return True

    def _launch(self, command) -> None:
        self.command = command
        self.command_view.setPlainText(command.display())
        self.error_frame.hide()
        self.new_model = None
        self._clear_comparison()
        self.status_label.setText("Starting hrnet-train…")
        self.tabs.setCurrentIndex(1)
        self._t_started = time.monotonic()
        self.process.start(command)
        self._update_buttons()

    def stop_training(self) -> bool:
        ok = self.process.stop()
        if ok:
            self.status_label.setText("Stopping after this epoch (validation and checkpoint included)…")
        return ok

    def cancel_training(self) -> bool:
        if self._export_thread is not None:
            return False
        ok = self.process.cancel()
        if ok:
            self.status_label.setText("Cancelling…")
        return ok

    def is_busy(self) -> bool:
        return self.process.is_running() or self._export_thread is not None or (
            self._compare_worker is not None and self._compare_worker.isRunning())

    def _update_buttons(self) -> None:
        running = self.process.is_running()
        busy = running or self._export_thread is not None
        self.start_button.setEnabled(not busy and not self.problems_label.text())
        # a completed run can be resumed only to train longer (more epochs than it ran to)
        res, run = self.process.result, self.process.run_started
        epochs = self.plan.effective("TRAIN.END_EPOCH")
        finished_all = (res is not None and res.status == "completed" and run is not None
                        and (epochs is None or int(float(epochs)) <= run.end_epoch))
        can_resume = not busy and not finished_all and (self.run_dir() / "checkpoint.pth").is_file()
        self.progress.set_run_buttons(running=running, stopping=self.process.state in ("stopping", "cancelling"),
                                      can_resume=can_resume)
        self.setup.set_editable(not busy)
        self.result.set_actions(has_model=self.new_model is not None, busy=busy,
                                unreviewed=self.plan.summary.unreviewed,
                                has_current=self.current_model is not None)

    # ========================================================================== live view
    def _on_started(self, ev: RunStarted) -> None:
        self.progress.on_started(ev, resumed=self._pending_resume)
        self._pending_resume = False

    def _show_error(self, err: TrainError) -> None:
        self.progress.show_error(err)
        self.tabs.setCurrentIndex(1)

    def _on_finished(self, res: RunFinished) -> None:
        secs = time.monotonic() - self._t_started
        words = {
            "completed": "Training completed",
            "stopped": "Training stopped after finishing the epoch",
            "cancelled": "Training cancelled",
            "diverged": "Training diverged",
            "failed": "Training failed",
        }.get(res.status, f"Training ended ({res.status})")
        best = f"; best validation metric {res.best_metric:.4f}" if res.best_metric is not None else ""
        if res.best_is_base:
            best += " (the base model: no epoch beat it)"
        self.status_label.setText(f"{words}: {count(res.epochs_done, 'epoch')} in {format_duration(secs)}{best}.")
        best_path = self._best_checkpoint(res)
        if best_path is not None and self.command is not None:
            self.new_model = ModelSpec(self._run_config(), str(best_path), self.command.device,
                                       name=self._new_model_name())
            self.result_label.setText(
                f"{words}. New model: {best_path}\nExperiment (resolved config of the run): {self.new_model.experiment}"
                f"\nReproduce from a terminal:\n{self.command.display()}")
            if res.ok:
                self.tabs.setCurrentIndex(2)
            if not self._closing:
                self._start_comparison()
        else:
            self.result_label.setText(f"{words}. No checkpoint was written.")
        self._update_buttons()

    def _new_model_name(self) -> str:
        exp = self.plan.experiment.strip()
        exp = Path(exp).stem if exp.endswith((".yaml", ".yml")) else exp
        return f"{exp} (trained: {self.run_dir().name})"

    def _best_checkpoint(self, res: RunFinished) -> Path | None:
        run = self.run_dir()
        candidates = [res.best_path, run / "model_best.pth", res.final_path, run / "final_state.pth"]
        if self.process.last_checkpoint is not None:
            candidates.append(self.process.last_checkpoint.best_path)
        for c in candidates:
            if c and Path(c).is_file():
                return Path(c)
        return None

    def _run_config(self) -> str:
        """The resolved config hrnet-train saved next to the checkpoints (written here if it did not)."""
        path = self.run_dir() / "config.yaml"
        if not path.is_file() and self.command is not None:
            log.warning("hrnet-train wrote no %s; saving the resolved config there", path)
            try:
                atomic_write_text(path, self.plan.resolved_cfg(self.exported).dump())
            except (HRNetError, ValueError, OSError) as e:  # the experiment name still loads the model
                log.warning("cannot write %s: %s", path, e)
                return self.command.experiment
        return str(path)

    # ========================================================================== comparison
    def _clear_comparison(self) -> None:
        worker = self._compare_worker
        if worker is not None:  # obsolete (a new run starts): stop it, ignore what it still reports
            self._compare_worker = None
            for sig in (worker.progress, worker.evaluated, worker.failed, worker.all_done):
                sig.disconnect()
            worker.requestInterruption()
            self._retired_workers.append(worker)
            worker.finished.connect(lambda w=worker: self._forget_worker(w))
        self.comparison = {}
        self.verdict = None
        self.result.clear()

    def _start_comparison(self) -> None:
        if self.exported is None or self.new_model is None:
            return
        # both models with the run's resolved config where the old one's weights fit it: like for like
        models = self.plan.comparison_models(self.new_model.experiment, str(self.new_model.weights))
        old = models.get("old")
        if old is None:
            self.result.show_no_current_model()
        worker = CompareWorker(models, self.exported.val_json, self.exported.images_dir,
                               device=self.new_model.device, parent=self)
        worker.progress.connect(self._on_compare_progress)
        worker.evaluated.connect(self._on_evaluated)
        worker.failed.connect(self._on_compare_failed)
        worker.all_done.connect(self._on_compare_done)
        self._compare_worker = worker
        n = len(self.exported.val)
        self.compare_label.setText(f"Evaluating on the {count(n, 'validation frame')}…" + (
            "" if old is not None else f" ({self.plan.no_comparison_reason().rstrip('.')})"))
        worker.start()

    def _on_compare_progress(self, name: str, done: int, total: int) -> None:
        who = "current" if name == "old" else "new"
        self.compare_label.setText(f"Evaluating the {who} model on the validation frames: {done}/{total}")

    def _on_evaluated(self, name: str, result: ModelEvaluation) -> None:
        self.comparison[name] = result
        self.result.show_metrics(0 if name == "old" else 1, result.metrics)
        old, new = self.comparison.get("old"), self.comparison.get("new")
        if isinstance(old, ModelEvaluation) and isinstance(new, ModelEvaluation):
            self.result.show_deltas(old.metrics, new.metrics)

    def _on_compare_failed(self, name: str, message: str) -> None:
        self.comparison[name] = message
        self.result.show_failed(0 if name == "old" else 1)
        who = "current" if name == "old" else "new"
        self.progress.append_log("error", f"Evaluating the {who} model failed: {message}")

    def _forget_worker(self, worker: CompareWorker) -> None:
        if worker in self._retired_workers:
            self._retired_workers.remove(worker)
            worker.deleteLater()

    def _on_compare_done(self) -> None:
        worker = self._compare_worker
        self._compare_worker = None
        if worker is not None:
            worker.wait(1000)
            worker.deleteLater()
        failures = [f"{'current' if k == 'old' else 'new'} model: {v}" for k, v in self.comparison.items()
                    if isinstance(v, str)]
        new = self.comparison.get("new")
        n = new.num_images if isinstance(new, ModelEvaluation) else 0
        both = " (same code for both models)" if "old" in self.comparison else ""
        text = f"Evaluated on {count(n, 'validation frame')} with their person boxes{both}."
        if "old" not in self.comparison:
            text += "\n" + self.plan.no_comparison_reason()
        if failures:
            text += "\nEvaluation failed for the " + "; ".join(failures)
        self.compare_label.setText(text)
        self.verdict = self.make_verdict()
        self.result.show_verdict(self.verdict)
        self._update_buttons()

    def make_verdict(self) -> TrainingVerdict:
        """The verdict of the comparison so far (Qt-free object; the result tab shows it)."""
        old, new = self.comparison.get("old"), self.comparison.get("new")
        res = self.process.result
        n_train = len(self.exported.train) if self.exported is not None else 0
        return TrainingVerdict(
            old=old.metrics if isinstance(old, ModelEvaluation) else None,
            new=new.metrics if isinstance(new, ModelEvaluation) else None,
            num_val_frames=new.num_images if isinstance(new, ModelEvaluation) else 0,
            best_is_base=res.best_is_base if res is not None else None,
            few_frames=0 < n_train < FEW_TRAIN_FRAMES,
            old_failed=self.plan.old_model() is not None and not isinstance(old, ModelEvaluation),
            no_old_reason=self.plan.no_comparison_reason(),
            fresh_head=self.plan.base_transfer() is not None,
        )

    # ========================================================================== result actions
    def _confirmed(self, action: str) -> bool:
        """Ask before replacing a model that the new one does not beat (the verdict decides when)."""
        verdict = self.verdict or self.make_verdict()
        if not verdict.needs_confirmation(action):
            return True
        answer = QMessageBox.question(
            self, "The new model is not better", verdict.confirmation(action, self.plan.summary.unreviewed),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def keep_current_model(self) -> None:
        self.compare_label.setText(f"Kept the current model. The new model stays in {self.run_dir()}.")

    def use_new_model(self) -> bool:
        if self.new_model is None or not self._confirmed(ACTION_USE):
            return False
        self.model_ready.emit(self.new_model)
        return True

    def rerun_new_model(self) -> bool:
        """``rerun_requested(spec)``: the main window loads the model and runs it on the unreviewed frames."""
        if self.new_model is None or not self._confirmed(ACTION_RERUN):
            return False
        self.rerun_requested.emit(self.new_model)
        return True

    def set_current_model(self, spec: ModelSpec | None) -> None:
        """The app's model changed while the dialog exists: offer it as base weights and compare against it."""
        if spec == self.current_model:
            return
        self.current_model = spec
        has = spec is not None and bool(spec.weights)
        self.setup.set_current_model(spec.experiment if has else None, spec.weights if has else None,
                                     select=not self.is_busy())

    # ========================================================================== closing
    def showEvent(self, event: QShowEvent) -> None:
        self._closing = False  # shown again after a close: comparisons run again
        super().showEvent(event)

    def reject(self) -> None:
        if self.process.is_running():
            answer = QMessageBox.question(
                self, "Training is running",
                "Training is still running. Cancel it and close? Checkpoints already written are kept.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.shutdown()
        super().reject()

    def shutdown(self) -> None:
        """End everything this dialog started (training process, export, evaluation), blocking briefly."""
        self._closing = True
        self.process.shutdown()
        for worker in [self._compare_worker, *self._retired_workers]:
            if worker is not None:
                worker.requestInterruption()
                worker.wait(30000)
        if self._export_thread is not None:
            self._export_thread.wait(30000)
