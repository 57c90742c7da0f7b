"""The "Train model" dialog: fine-tune HRNet on the project's reviewed frames, watch it learn,
compare it with the current model and put it to work on the frames not yet reviewed.

Three tabs follow the workflow:

1. **Setup** — the reviewed frames and their train/validation split (counts and frame list), the
   experiment, the base weights (current model, a pose checkpoint such as the official COCO
   weights, an ImageNet backbone file, or random initialisation), the common overrides (epochs,
   learning rate, batch size, input size, device, augmentation strength, any other ``KEY VALUE``)
   and the run folder. Problems are listed before Start is possible; the exact ``hrnet-train``
   command line is shown and copyable.
2. **Training** — progress (epoch, step, ETA), the loss curve and the validation AP / PCK curves,
   the log, and errors with their real message; Stop (after this epoch, keeps the checkpoint),
   Cancel (terminate, then kill), Resume.
3. **Result** — the new model against the old one on the validation frames, and the buttons that
   load the new model (``model_ready``) and re-run it on the unreviewed frames
   (``model_ready`` then ``rerun_requested``).
"""

from __future__ import annotations

import logging
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QThread, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.model_manager import ModelSpec
from app.training.command import TrainCommand
from app.training.data import (
    ExportedData,
    export_reviewed,
    planned_data,
    planned_split,
    read_split,
    summarize_reviewed,
)
from app.training.evaluation import METRIC_NAMES, CompareWorker, ModelEvaluation
from app.training.events import CheckpointWritten, EpochEnded, RunFinished, RunStarted, StepProgress, TrainError
from app.training.process import TrainingProcess
from hrnet import HRNetError, atomic_write_text, format_duration

__all__ = ["AUGMENTATION_PRESETS", "TrainDialog", "format_duration"]

log = logging.getLogger(__name__)

# Augmentation strength -> (SCALE_FACTOR, ROT_FACTOR, FLIP, PROB_HALF_BODY); None = the experiment's values.
AUGMENTATION_PRESETS: dict[str, tuple[float, float, bool, float] | None] = {
    "Off": (0.0, 0.0, False, 0.0),
    "Light": (0.15, 15.0, True, 0.0),
    "Experiment default": None,
    "Strong (official COCO)": (0.35, 45.0, True, 0.3),
}

BASE_CURRENT = "current"
BASE_POSE_FILE = "pose_file"
BASE_BACKBONE = "backbone"
BASE_RANDOM = "random"
BASE_REGISTRY = "registry:"  # + a name of hrnet.weights

DATA_DIR_NAME = "data"


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


@dataclass
class _Curves:
    step_x: list[float]
    step_loss: list[float]
    epoch_x: list[float]
    train_loss: list[float]
    val_x: list[float]
    val_loss: list[float]
    ap_x: list[float]
    ap: list[float]
    pck_x: list[float]
    pck: list[float]

    @classmethod
    def empty(cls) -> _Curves:
        return cls([], [], [], [], [], [], [], [], [], [])


class TrainDialog(QDialog):
    """Fine-tune a pose model on the reviewed frames of ``document`` (an AnnotationDocument).

    ``current_model`` (a :class:`~app.model_manager.ModelSpec` or None) is the model the app uses
    now: the default base weights and the "old" model of the comparison. ``process`` may be given
    to run something other than the real ``hrnet-train`` (tests).
    """

    model_ready = Signal(object)  # ModelSpec of the new model (best checkpoint)
    rerun_requested = Signal(object)  # ModelSpec: load it and re-run it on the unreviewed frames

    def __init__(
        self,
        document: Any,
        current_model: ModelSpec | None = None,
        parent: QWidget | None = None,
        *,
        process: TrainingProcess | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train model")
        self.setModal(False)
        self.resize(980, 760)
        self.document = document
        self.current_model = current_model
        self.process = process or TrainingProcess(self)
        self.process.setParent(self)
        self.exported: ExportedData | None = None
        self.command: TrainCommand | None = None
        self.new_model: ModelSpec | None = None
        self.comparison: dict[str, ModelEvaluation | str] = {}
        self._export_thread: _CallThread | None = None
        self._compare_worker: CompareWorker | None = None
        self._retired_workers: list[CompareWorker] = []
        self._curves = _Curves.empty()
        self._run: RunStarted | None = None
        self._t_started = 0.0
        self._pending_resume = False
        self._closing = False
        self._ui_ready = False
        self._summary = summarize_reviewed(document.data)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_setup_tab(), "1 · Setup")
        self.tabs.addTab(self._build_training_tab(), "2 · Training")
        self.tabs.addTab(self._build_result_tab(), "3 · Result")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

        p = self.process
        p.started.connect(self._on_started)
        p.step.connect(self._on_step)
        p.epoch_ended.connect(self._on_epoch)
        p.checkpoint_written.connect(self._on_checkpoint)
        p.log.connect(self._on_log)
        p.error.connect(self._on_error)
        p.finished.connect(self._on_finished)
        p.state_changed.connect(lambda _s: self._update_buttons())

        # the document may change while the dialog is open (it is not modal): refresh, debounced
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(200)
        self._refresh_timer.timeout.connect(self._refresh_data)
        for signal_name in ("frames_changed", "instances_changed", "instance_changed", "reviewed_changed"):
            sig = getattr(document, signal_name, None)
            if sig is not None:
                sig.connect(lambda *_a: self._refresh_timer.start())
        self._ui_ready = True
        self._on_experiment_changed()
        self._refresh_data()

    # ========================================================================== setup tab
    def _build_setup_tab(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)

        # -- data ----------------------------------------------------------------------
        data_box = QGroupBox("Training data: the project's reviewed frames")
        dl = QVBoxLayout(data_box)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        dl.addWidget(self.data_label)
        row = QHBoxLayout()
        self.val_spin = QSpinBox()
        self.val_spin.setRange(5, 50)
        self.val_spin.setSuffix(" %")
        self.val_spin.setValue(20)
        self.val_spin.setToolTip("Share of the reviewed frames kept for validation (never trained on).")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99999)
        self.seed_spin.setToolTip("Seed of the random train/validation split.")
        row.addWidget(QLabel("Validation:"))
        row.addWidget(self.val_spin)
        row.addWidget(QLabel("Split seed:"))
        row.addWidget(self.seed_spin)
        row.addStretch(1)
        dl.addLayout(row)
        self.split_label = QLabel()
        self.split_label.setWordWrap(True)
        dl.addWidget(self.split_label)
        self.split_table = QTableWidget(0, 3)
        self.split_table.setHorizontalHeaderLabels(["Frame", "People", "Split"])
        self.split_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.split_table.verticalHeader().setVisible(False)
        self.split_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.split_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        dl.addWidget(self.split_table, 1)
        grid.addWidget(data_box, 0, 0, 2, 1)

        # -- model ---------------------------------------------------------------------
        model_box = QGroupBox("Model")
        ml = QFormLayout(model_box)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setEditable(True)
        self.experiment_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        from app.model_manager import list_experiments

        experiments = list_experiments()
        if self.current_model is not None and self.current_model.experiment not in experiments:
            experiments.insert(0, self.current_model.experiment)
        self.experiment_combo.addItems(experiments)
        if self.current_model is not None:
            self.experiment_combo.setCurrentText(self.current_model.experiment)
        elif "synthetic/hrnet_w16_128x96" in experiments:
            self.experiment_combo.setCurrentText("synthetic/hrnet_w16_128x96")
        browse_exp = _small_button("…")
        browse_exp.setToolTip("Choose an experiment YAML file")
        browse_exp.clicked.connect(self._browse_experiment)
        ml.addRow("Experiment:", _row(self.experiment_combo, browse_exp))

        self.base_combo = QComboBox()
        if self.current_model is not None and self.current_model.weights:
            self.base_combo.addItem(f"Current model ({Path(self.current_model.weights).name})", BASE_CURRENT)
        for entry in _registry_entries(self._summary.num_joints):
            state = "in the cache" if _cached(entry) else ("downloaded at start" if entry.url else "not downloaded")
            self.base_combo.addItem(f"{entry.source.capitalize()} {entry.joint_set.upper()} weights: {entry.name} "
                                    f"({state})", BASE_REGISTRY + entry.name)
        self.base_combo.addItem("Pose checkpoint file (e.g. official COCO weights)…", BASE_POSE_FILE)
        self.base_combo.addItem("ImageNet backbone file (MODEL.PRETRAINED)…", BASE_BACKBONE)
        self.base_combo.addItem("Random initialisation", BASE_RANDOM)
        if self.base_combo.itemData(0) != BASE_CURRENT:
            self.base_combo.setCurrentIndex(self.base_combo.findData(BASE_RANDOM))
        self.base_path_edit = QLineEdit()
        self.base_path_edit.setPlaceholderText("weights file (.pth)")
        browse_w = _small_button("…")
        browse_w.clicked.connect(self._browse_weights)
        self._browse_weights_button = browse_w
        ml.addRow("Base weights:", self.base_combo)
        ml.addRow("", _row(self.base_path_edit, browse_w))
        grid.addWidget(model_box, 0, 1)

        # -- overrides -----------------------------------------------------------------
        opts_box = QGroupBox("Training settings (experiment overrides)")
        ol = QFormLayout(opts_box)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10000)
        self.epochs_spin.setValue(20)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, 1.0)
        self.lr_spin.setSingleStep(1e-4)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.input_combo = QComboBox()
        self.device_combo = QComboBox()
        self.device_combo.addItems(_devices())
        self.augment_combo = QComboBox()
        self.augment_combo.addItems(list(AUGMENTATION_PRESETS))
        self.augment_combo.setCurrentText("Experiment default")
        self.augment_label = QLabel()
        self.augment_label.setStyleSheet("color: gray")
        self.extra_opts_edit = QLineEdit()
        self.extra_opts_edit.setPlaceholderText("more overrides: KEY VALUE …  (e.g. WORKERS 0 TRAIN.LR_STEP [10,15])")
        ol.addRow("Epochs:", self.epochs_spin)
        ol.addRow("Learning rate:", self.lr_spin)
        ol.addRow("Batch size:", self.batch_spin)
        ol.addRow("Input size (w × h):", self.input_combo)
        ol.addRow("Device:", self.device_combo)
        ol.addRow("Augmentation:", self.augment_combo)
        ol.addRow("", self.augment_label)
        ol.addRow("Other overrides:", self.extra_opts_edit)
        self.output_edit = QLineEdit(str(_default_run_dir(self.document)))
        browse_out = _small_button("…")
        browse_out.clicked.connect(self._browse_output)
        self.new_folder_button = QPushButton("New")
        self.new_folder_button.setToolTip("A new, empty run folder (time-stamped) for a new run")
        self.new_folder_button.clicked.connect(lambda: self.output_edit.setText(str(_default_run_dir(self.document))))
        ol.addRow("Run folder:", _row(self.output_edit, browse_out, self.new_folder_button))
        grid.addWidget(opts_box, 1, 1)

        # -- command + start -----------------------------------------------------------
        cmd_box = QGroupBox("Command (run the same training from a terminal)")
        cl = QVBoxLayout(cmd_box)
        self.command_view = QPlainTextEdit()
        self.command_view.setReadOnly(True)
        self.command_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.command_view.setMaximumHeight(90)
        self.copy_button = QPushButton("Copy command")
        self.copy_button.clicked.connect(self.copy_command)
        cl.addWidget(self.command_view)
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #b00020")
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start_training)
        cl.addWidget(self.problems_label)
        cl.addWidget(_row(self.copy_button, stretch=True, last=self.start_button))
        grid.addWidget(cmd_box, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        for w in (self.val_spin, self.seed_spin, self.epochs_spin, self.batch_spin):
            w.valueChanged.connect(self._refresh_command)
        self.lr_spin.valueChanged.connect(self._refresh_command)
        self.val_spin.valueChanged.connect(self._split_settings_changed)
        self.seed_spin.valueChanged.connect(self._split_settings_changed)
        self.experiment_combo.currentTextChanged.connect(self._on_experiment_changed)
        self.base_combo.currentIndexChanged.connect(self._on_base_changed)
        for combo in (self.input_combo, self.device_combo, self.augment_combo):
            combo.currentIndexChanged.connect(self._refresh_command)
        for edit in (self.base_path_edit, self.extra_opts_edit, self.output_edit):
            edit.textChanged.connect(self._refresh_command)
        self._on_base_changed()
        return page

    # ========================================================================== training tab
    def _build_training_tab(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.status_label = QLabel("Not started.")
        self.status_label.setWordWrap(True)
        v.addWidget(self.status_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        self.progress_label = QLabel("")
        v.addWidget(self.progress_bar)
        v.addWidget(self.progress_label)

        self.error_frame = QFrame()
        self.error_frame.setStyleSheet("QFrame { background: #fdecea; border: 1px solid #f5c2c0; }")
        ef = QVBoxLayout(self.error_frame)
        self.error_title = QLabel()
        self.error_title.setStyleSheet("font-weight: bold; color: #b00020; border: none")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("border: none")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        ef.addWidget(self.error_title)
        ef.addWidget(self.error_label)
        self.error_frame.hide()
        v.addWidget(self.error_frame)

        plots = QWidget()
        ph = QHBoxLayout(plots)
        ph.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.loss_plot.setBackground("w")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#9bbcf0", width=1), name="step")
        self.train_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f5fbf", width=2), symbol="o",
                                                    symbolSize=6, symbolBrush="#1f5fbf", name="train (epoch)")
        self.val_loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#d95f02", width=2), symbol="s",
                                                  symbolSize=6, symbolBrush="#d95f02", name="validation")
        self.metric_plot = pg.PlotWidget(title="Validation")
        self.metric_plot.setBackground("w")
        self.metric_plot.setLabel("bottom", "epoch")
        self.metric_plot.addLegend(offset=(-10, 10))
        self.metric_plot.showGrid(x=True, y=True, alpha=0.3)
        self.metric_plot.setYRange(0, 1)
        self.ap_curve = self.metric_plot.plot([], [], pen=pg.mkPen("#1b9e77", width=2), symbol="o", symbolSize=6,
                                              symbolBrush="#1b9e77", name="AP")
        self.pck_curve = self.metric_plot.plot([], [], pen=pg.mkPen("#7570b3", width=2), symbol="t", symbolSize=7,
                                               symbolBrush="#7570b3", name="PCK")
        ph.addWidget(self.loss_plot)
        ph.addWidget(self.metric_plot)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(plots)
        split.addWidget(self.log_view)
        split.setSizes([380, 200])
        v.addWidget(split, 1)

        self.stop_button = QPushButton("Stop after this epoch")
        self.stop_button.setToolTip("Finish the current epoch (validation and checkpoint included), then stop.")
        self.stop_button.clicked.connect(self.stop_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop now: terminate the training process (killed if it does not exit). "
                                      "Checkpoints already written are kept.")
        self.cancel_button.clicked.connect(self.cancel_training)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue this run from its last checkpoint.")
        self.resume_button.clicked.connect(self.resume_training)
        v.addWidget(_row(self.stop_button, self.cancel_button, stretch=True, last=self.resume_button))
        return page

    # ========================================================================== result tab
    def _build_result_tab(self) -> QWidget:
        page = QWidget()
        v = QVBoxLayout(page)
        self.result_label = QLabel("No trained model yet.")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.result_label)
        self.compare_table = QTableWidget(len(METRIC_NAMES), 3)
        self.compare_table.setHorizontalHeaderLabels(["Current model", "New model", "Change"])
        self.compare_table.setVerticalHeaderLabels(list(METRIC_NAMES))
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        v.addWidget(self.compare_table)
        self.compare_label = QLabel("")
        self.compare_label.setWordWrap(True)
        v.addWidget(self.compare_label)
        v.addStretch(1)
        self.use_button = QPushButton("Use new model")
        self.use_button.setToolTip("Load the best checkpoint of this run as the app's model.")
        self.use_button.clicked.connect(self.use_new_model)
        self.rerun_button = QPushButton("Use new model and re-run it on the unreviewed frames")
        self.rerun_button.setToolTip("Replace the predicted (not hand-edited) people of every unreviewed frame "
                                     "with the new model's predictions, as one undoable step.")
        self.rerun_button.clicked.connect(self.rerun_new_model)
        self.open_folder_button = QPushButton("Open run folder")
        self.open_folder_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir()))))
        v.addWidget(_row(self.open_folder_button, stretch=True, last=self.use_button))
        v.addWidget(_row(stretch=True, last=self.rerun_button))
        return page

    # ========================================================================== form logic
    def run_dir(self) -> Path:
        return Path(self.output_edit.text().strip() or ".").expanduser().absolute()

    def _data_dir(self) -> Path:
        return self.run_dir() / DATA_DIR_NAME

    def _refresh_data(self, *_args: Any) -> None:
        summary = summarize_reviewed(self.document.data)
        self._summary = summary
        if summary.num_frames == 0:
            text = (f"No frame is marked reviewed yet ({summary.unreviewed} frames in the project). "
                    "Training uses only reviewed frames.")
        else:
            text = (f"{summary.num_frames} reviewed frames with {summary.people} labelled people; "
                    f"{summary.unreviewed} unreviewed frames can be re-labelled by the new model.")
        self.data_label.setText(text)
        if self.exported is None:
            self._show_planned_split()
        self._refresh_command()

    def _split_settings_changed(self) -> None:
        if self.exported is not None and not self.process.is_running():
            self.exported = None  # a new split will be exported at start
        if self.exported is None:
            self._show_planned_split()

    def _show_planned_split(self) -> None:
        frames = self.document.data.frames
        try:
            train, val = planned_split(self.document.data, self.val_spin.value() / 100.0, self.seed_spin.value())
        except ValueError as e:
            self.split_label.setText(str(e))
            return
        self._fill_split_table(
            [(f"{i + 1}: {_frame_name(frames[i])}", frames[i].num_labelled, "train") for i in train]
            + [(f"{i + 1}: {_frame_name(frames[i])}", frames[i].num_labelled, "validation") for i in val])
        if train or val:
            self.split_label.setText(
                f"Training: {len(train)} frames, {sum(frames[i].num_labelled for i in train)} people — "
                f"Validation: {len(val)} frames, {sum(frames[i].num_labelled for i in val)} people.")
        else:
            self.split_label.setText("")

    def _show_split(self, data: ExportedData) -> None:
        text = (f"Training: {len(data.train)} frames, {data.train_people} people — "
                f"Validation: {len(data.val)} frames, {data.val_people} people.")
        if data.skipped:
            text += f"\n{len(data.skipped)} frames left out (image unreadable): " + "; ".join(data.skipped[:3])
        self.split_label.setText(text)
        self._fill_split_table(
            [(_entry_label(e), e.people, "train") for e in data.train]
            + [(_entry_label(e), e.people, "validation") for e in data.val])

    def _fill_split_table(self, rows: list[tuple[str, int, str]]) -> None:
        self.split_table.setRowCount(len(rows))
        for r, (name, people, split) in enumerate(rows):
            self.split_table.setItem(r, 0, QTableWidgetItem(name))
            self.split_table.setItem(r, 1, QTableWidgetItem(str(people)))
            self.split_table.setItem(r, 2, QTableWidgetItem(split))

    def _experiment(self) -> str:
        return self.experiment_combo.currentText().strip()

    def _load_cfg(self, opts: list[tuple[str, str]] | None = None):
        from hrnet import load_config

        flat = [x for kv in (opts or []) for x in kv]
        return load_config(self._experiment(), flat)

    def _on_experiment_changed(self, *_args: Any) -> None:
        try:
            cfg = self._load_cfg()
        except HRNetError:  # shown by validate()
            self._refresh_command()
            return
        self._exp_cfg = cfg
        self.lr_spin.setValue(float(cfg.TRAIN.LR))
        self.batch_spin.setValue(int(cfg.TRAIN.BATCH_SIZE_PER_GPU))
        w, h = (int(x) for x in cfg.MODEL.IMAGE_SIZE)
        sizes = [(w, h)] + [s for s in ((96, 128), (192, 256), (288, 384)) if s != (w, h)]  # multiples of 32
        self.input_combo.blockSignals(True)
        self.input_combo.clear()
        for sw, sh in sizes:
            self.input_combo.addItem(f"{sw} × {sh}" + (" (experiment)" if (sw, sh) == (w, h) else ""), (sw, sh))
        self.input_combo.blockSignals(False)
        self._refresh_command()

    def _on_base_changed(self, *_args: Any) -> None:
        kind = self.base_combo.currentData()
        needs_file = kind in (BASE_POSE_FILE, BASE_BACKBONE)
        self.base_path_edit.setEnabled(needs_file)
        self._browse_weights_button.setEnabled(needs_file)
        entry = self._registry_entry()
        if kind == BASE_CURRENT and self.current_model is not None:
            self.base_path_edit.setText(str(self.current_model.weights or ""))
        elif entry is not None:
            self.base_path_edit.setText(str(_registry_target(entry)))
            self.experiment_combo.setCurrentText(entry.experiment)  # the weights' architecture
        elif not needs_file:
            self.base_path_edit.setText("")
        self._refresh_command()

    def _registry_entry(self):
        kind = self.base_combo.currentData()
        if not isinstance(kind, str) or not kind.startswith(BASE_REGISTRY):
            return None
        from hrnet import find_entry

        return find_entry(kind[len(BASE_REGISTRY):])

    def _browse_experiment(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Experiment file", "", "Experiment (*.yaml *.yml)")
        if path:
            self.experiment_combo.setCurrentText(path)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "", "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.base_path_edit.setText(path)

    def _browse_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Run folder", str(self.run_dir().parent))
        if path:
            self.output_edit.setText(path)

    def _extra_opts(self) -> list[tuple[str, str]]:
        text = self.extra_opts_edit.text().strip()
        if not text:
            return []
        items = shlex.split(text)
        if len(items) % 2:
            raise ValueError("Other overrides must be KEY VALUE pairs (an odd number of items was given).")
        return list(zip(items[0::2], items[1::2]))

    def training_opts(self, data: ExportedData | None = None) -> list[tuple[str, str]]:
        """The overrides of the form (data files, base weights, epochs, …), in a stable order."""
        num_joints = self._summary.num_joints
        data = data or self.exported or planned_data(self._data_dir(), num_joints)
        opts = list(data.opts())
        cfg = getattr(self, "_exp_cfg", None)
        if (cfg is None or int(cfg.MODEL.NUM_JOINTS) != num_joints) and "MODEL.NUM_JOINTS" not in dict(opts):
            opts.append(("MODEL.NUM_JOINTS", str(num_joints)))
        opts.append(("TEST.USE_GT_BBOX", "True"))
        kind = self.base_combo.currentData()
        backbone = self.base_path_edit.text().strip() if kind == BASE_BACKBONE else ""
        opts.append(("MODEL.PRETRAINED", backbone))
        opts.append(("TRAIN.END_EPOCH", str(self.epochs_spin.value())))
        opts.append(("TRAIN.LR", repr(float(self.lr_spin.value()))))
        opts.append(("TRAIN.BATCH_SIZE_PER_GPU", str(self.batch_spin.value())))
        size = self.input_combo.currentData()
        if size and cfg is not None and tuple(size) != tuple(int(x) for x in cfg.MODEL.IMAGE_SIZE):
            w, h = size
            opts.append(("MODEL.IMAGE_SIZE", f"[{w},{h}]"))
            opts.append(("MODEL.HEATMAP_SIZE", f"[{w // 4},{h // 4}]"))
        preset = AUGMENTATION_PRESETS.get(self.augment_combo.currentText())
        if preset is not None:
            sf, rf, flip, half = preset
            # yacs checks value types: floats stay floats ("0.0"), the rotation is an int as in the defaults
            opts += [("DATASET.SCALE_FACTOR", repr(float(sf))), ("DATASET.ROT_FACTOR", str(int(rf))),
                     ("DATASET.FLIP", str(bool(flip))), ("DATASET.PROB_HALF_BODY", repr(float(half)))]
        entry = self._registry_entry()
        if entry is not None and entry.opts:
            opts += list(zip(entry.opts[0::2], entry.opts[1::2]))
        opts += self._extra_opts()
        return opts

    def build_command(self, resume: bool = False, data: ExportedData | None = None) -> TrainCommand:
        kind = self.base_combo.currentData()
        weights: str | None = None
        entry = self._registry_entry()
        if kind == BASE_CURRENT and self.current_model is not None and self.current_model.weights:
            weights = str(_local_weights(self.current_model.weights) or self.current_model.weights)
        elif entry is not None:
            weights = str(_registry_target(entry))
        elif kind == BASE_POSE_FILE:
            weights = self.base_path_edit.text().strip() or None
        return TrainCommand(
            experiment=self._experiment(),
            output_dir=self.run_dir(),
            weights=weights,
            device=self.device_combo.currentText(),
            opts=self.training_opts(data),
            resume=resume,
        )

    def validate(self, resume: bool = False) -> list[str]:
        """What must be fixed before training can start (empty: ready)."""
        problems: list[str] = []
        s = self._summary
        if not resume:
            if not s.usable_frames:
                problems.append(
                    "There are no reviewed frames to train on. Correct the people on some frames (drag the joints "
                    "into place, fix left/right, add missing people), then mark each such frame as reviewed; "
                    "only reviewed frames are used for training.")
            elif len(s.usable_frames) < 2:
                problems.append(
                    "Only one reviewed frame has labelled people: review at least two, so that one can be kept "
                    "aside for validation.")
        try:
            self._extra_opts()
        except ValueError as e:
            problems.append(str(e))
            return problems
        try:
            self._load_cfg(self.training_opts())
        except HRNetError as e:
            problems.append(f"Experiment / settings: {e}")
        kind = self.base_combo.currentData()
        path = self.base_path_edit.text().strip()
        if not resume and kind in (BASE_POSE_FILE, BASE_BACKBONE):
            if not path:
                problems.append("Choose the base weights file, or another kind of base weights.")
            elif not Path(path).expanduser().is_file():
                problems.append(f"The base weights file does not exist: {path}")
        if not resume and kind == BASE_CURRENT and self.current_model is not None:
            w = self.current_model.weights
            if w and _local_weights(w) is None:
                problems.append(f"The current model's weights file is not on this computer: {w}")
        entry = self._registry_entry()
        if not resume and entry is not None and not _cached(entry) and not entry.url:
            problems.append(f"{entry.name} cannot be downloaded automatically: get {entry.file_name} from "
                            f"{entry.where} and put it at {_registry_target(entry)}.")
        run = self.run_dir()
        if not self.output_edit.text().strip():
            problems.append("Choose a run folder.")
        elif resume:
            if not (run / "checkpoint.pth").is_file():
                problems.append(f"There is no checkpoint to resume from in {run}.")
        elif (run / "checkpoint.pth").exists():
            problems.append(f"The run folder {run} already holds a training run: resume it, or choose a new folder.")
        elif run.exists() and not run.is_dir():
            problems.append(f"The run folder {run} is a file.")
        return problems

    def _refresh_command(self, *_args: Any) -> None:
        if not hasattr(self, "problems_label"):
            return
        if hasattr(self, "augment_label"):
            preset = AUGMENTATION_PRESETS.get(self.augment_combo.currentText())
            cfg = getattr(self, "_exp_cfg", None)
            if preset is None and cfg is not None:
                preset = (cfg.DATASET.SCALE_FACTOR, cfg.DATASET.ROT_FACTOR, cfg.DATASET.FLIP,
                          cfg.DATASET.PROB_HALF_BODY)
            if preset is not None:
                sf, rf, flip, half = preset
                self.augment_label.setText(f"scale ±{sf:g}, rotation ±{rf:g}°, flip {'on' if flip else 'off'}, "
                                           f"half body {half:g}")
        if not self._ui_ready or self.process.is_running() or self._export_thread is not None:
            return
        try:
            text = self.build_command().display()
        except ValueError as e:
            text = f"({e})"
        self.command_view.setPlainText(text)
        problems = self.validate()
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self._update_buttons()

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_view.toPlainText())

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
        self._reset_view()
        self.exported = None
        self.status_label.setText("Exporting the reviewed frames…" if self._registry_entry() is None or
                                  _cached(self._registry_entry()) else "Downloading the base weights, exporting…")
        self.tabs.setCurrentIndex(1)
        data_dir = self._data_dir()
        val = self.val_spin.value() / 100.0
        seed = self.seed_spin.value()
        document = self.document
        entry = self._registry_entry()

        def prepare() -> ExportedData:
            if entry is not None and not _cached(entry):
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
            d = self._data_dir()
            try:
                self.exported = read_split(planned_data(d, self._summary.num_joints))
            except (OSError, ValueError, KeyError) as e:
                self._show_error(TrainError("data", f"Cannot read the exported data of this run in {d}: {e}"))
                return False
            self._show_split(self.exported)
        cmd = self.build_command(resume=True, data=self.exported)  # the form may raise the number of epochs
        self._pending_resume = True
        self._launch(cmd)
        return True

    def _launch(self, command: TrainCommand) -> None:
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
        exporting = self._export_thread is not None
        busy = running or exporting
        state = self.process.state
        self.start_button.setEnabled(not busy and not self.problems_label.text())
        self.stop_button.setEnabled(running and state == "running")
        self.cancel_button.setEnabled(running and state in ("running", "stopping"))
        # a completed run can be resumed only to train longer (more epochs than it ran to)
        res, run = self.process.result, self.process.run_started
        finished_all = (res is not None and res.status == "completed" and run is not None
                        and self.epochs_spin.value() <= run.end_epoch)
        can_resume = not busy and not finished_all and (self.run_dir() / "checkpoint.pth").is_file()
        self.resume_button.setEnabled(can_resume)
        for w in (self.val_spin, self.seed_spin, self.experiment_combo, self.base_combo, self.base_path_edit,
                  self.epochs_spin, self.lr_spin, self.batch_spin, self.input_combo, self.device_combo,
                  self.augment_combo, self.extra_opts_edit, self.output_edit, self.new_folder_button):
            w.setEnabled(not busy)
        if not busy:
            self._on_base_enabled()
        has_model = self.new_model is not None
        self.use_button.setEnabled(has_model and not busy)
        self.rerun_button.setEnabled(has_model and not busy)
        n = self._summary.unreviewed
        self.rerun_button.setText(f"Use new model and re-run it on the {n} unreviewed frames")

    def _on_base_enabled(self) -> None:
        needs_file = self.base_combo.currentData() in (BASE_POSE_FILE, BASE_BACKBONE)
        self.base_path_edit.setEnabled(needs_file)
        self._browse_weights_button.setEnabled(needs_file)

    # ========================================================================== live view
    def _reset_view(self) -> None:
        self._curves = _Curves.empty()
        self._redraw_curves()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_label.setText("")
        self.error_frame.hide()
        self.log_view.clear()

    def _redraw_curves(self) -> None:
        c = self._curves
        self.loss_curve.setData(c.step_x, c.step_loss)
        self.train_loss_curve.setData(c.epoch_x, c.train_loss)
        self.val_loss_curve.setData(c.val_x, c.val_loss)
        self.ap_curve.setData(c.ap_x, c.ap)
        self.pck_curve.setData(c.pck_x, c.pck)

    def _on_started(self, ev: RunStarted) -> None:
        self._run = ev
        if self._pending_resume:
            # keep the curves up to the resumed epoch, drop what the checkpoint did not keep
            c = self._curves
            for xs, ys in ((c.step_x, c.step_loss), (c.epoch_x, c.train_loss), (c.val_x, c.val_loss),
                           (c.ap_x, c.ap), (c.pck_x, c.pck)):
                keep = [i for i, x in enumerate(xs) if x <= ev.begin_epoch]
                xs[:] = [xs[i] for i in keep]
                ys[:] = [ys[i] for i in keep]
            self._redraw_curves()
            self._pending_resume = False
        total = max(1, (ev.end_epoch - ev.begin_epoch) * max(1, ev.steps_per_epoch))
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(0)
        self.status_label.setText(
            f"Training epochs {ev.begin_epoch + 1}–{ev.end_epoch} on {ev.device}: {ev.train_samples} training and "
            f"{ev.val_samples} validation people, {ev.steps_per_epoch} steps per epoch.")

    def _on_step(self, ev: StepProgress) -> None:
        run = self._run
        steps = max(1, ev.steps)
        done = ev.step + 1  # hrnet-train's steps are 0-based
        if run is not None:
            value = (ev.epoch - run.begin_epoch) * steps + done
            self.progress_bar.setValue(min(self.progress_bar.maximum(), max(0, value)))
            end = run.end_epoch
        else:
            end = ev.epoch + 1
        self.progress_label.setText(
            f"Epoch {ev.epoch + 1}/{end} · step {done}/{steps} · loss {ev.loss:.6g} · lr {ev.lr:.3g} · "
            f"{ev.images_per_s:.1f} img/s · ETA {format_duration(ev.eta_s)}")
        if math.isfinite(ev.loss):
            self._curves.step_x.append(ev.epoch + done / steps)
            self._curves.step_loss.append(ev.loss)
            self.loss_curve.setData(self._curves.step_x, self._curves.step_loss)

    def _on_epoch(self, ev: EpochEnded) -> None:
        c = self._curves
        x = ev.epoch + 1
        if ev.train_loss is not None and math.isfinite(ev.train_loss):
            c.epoch_x.append(x)
            c.train_loss.append(ev.train_loss)
        if ev.val_loss is not None and math.isfinite(ev.val_loss):
            c.val_x.append(x)
            c.val_loss.append(ev.val_loss)
        if "AP" in ev.metrics:
            c.ap_x.append(x)
            c.ap.append(ev.metrics["AP"])
        pck = ev.metrics.get("PCK")
        if pck is not None:
            c.pck_x.append(x)
            c.pck.append(pck)
        self._redraw_curves()
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in ev.metrics.items())
        best = " (best so far)" if ev.is_best else ""
        self._append_log("info", f"Epoch {ev.epoch + 1} done in {format_duration(ev.time_s)}: train loss "
                                 f"{_fmt(ev.train_loss)}, val loss {_fmt(ev.val_loss)}; {metrics}{best}")

    def _on_checkpoint(self, ev: CheckpointWritten) -> None:
        extra = f", best model {Path(ev.best_path).name}" if ev.best_path else ""
        self._append_log("info", f"Checkpoint saved after epoch {ev.epoch + 1}: {ev.path}{extra}")

    def _on_log(self, level: str, message: str) -> None:
        self._append_log(level, message)

    def _append_log(self, level: str, message: str) -> None:
        prefix = "" if level in ("info", "stdout", "stderr") else f"[{level}] "
        self.log_view.appendPlainText(prefix + message)

    def _on_error(self, err: TrainError) -> None:
        self._show_error(err)

    def _show_error(self, err: TrainError) -> None:
        self.error_title.setText(err.title)
        text = err.message.strip()
        lines = text.splitlines()
        if len(lines) > 18:
            text = "\n".join(lines[:3] + ["…"] + lines[-14:])
        if err.hint:
            text += f"\n\n{err.hint}"
        self.error_label.setText(text)
        self.error_frame.show()
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
        self.status_label.setText(f"{words}: {res.epochs_done} epochs in {format_duration(secs)}{best}.")
        best_path = self._best_checkpoint(res)
        if best_path is not None and self.command is not None:
            self.new_model = ModelSpec(self._run_config(), str(best_path), self.command.device)
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
                cfg = self._load_cfg(self.command.opts)
                atomic_write_text(path, cfg.dump())
            except (HRNetError, OSError) as e:
                log.warning("cannot write %s: %s", path, e)
                return self.command.experiment
        return str(path)

    # ========================================================================== comparison
    def _old_model(self) -> ModelSpec | None:
        if self.current_model is not None and self.current_model.weights:
            return self.current_model
        kind = self.base_combo.currentData()
        is_pose = kind == BASE_POSE_FILE or (isinstance(kind, str) and kind.startswith(BASE_REGISTRY))
        if self.command is not None and is_pose and self.command.weights:
            return ModelSpec(self.command.experiment, self.command.weights, self.command.device)
        return None

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
        for r in range(self.compare_table.rowCount()):
            for c in range(3):
                self.compare_table.setItem(r, c, QTableWidgetItem(""))
        self.compare_label.setText("")

    def _start_comparison(self) -> None:
        if self.exported is None or self.new_model is None:
            return
        old = self._old_model()
        models: dict[str, tuple[str, str | None]] = {}
        if old is not None:
            models["old"] = (old.experiment, old.weights)
        else:
            self.compare_table.setHorizontalHeaderItem(0, QTableWidgetItem("Current model"))
            for r in range(len(METRIC_NAMES)):
                self.compare_table.setItem(r, 0, QTableWidgetItem("—"))
        models["new"] = (self.new_model.experiment, self.new_model.weights)
        worker = CompareWorker(models, self.exported.val_json, self.exported.images_dir,
                               device=self.new_model.device, parent=self)
        worker.progress.connect(self._on_compare_progress)
        worker.evaluated.connect(self._on_evaluated)
        worker.failed.connect(self._on_compare_failed)
        worker.all_done.connect(self._on_compare_done)
        self._compare_worker = worker
        n = len(self.exported.val)
        self.compare_label.setText(f"Evaluating on the {n} validation frames…" + (
            "" if old is not None else " (no current model to compare with)"))
        worker.start()

    def _on_compare_progress(self, name: str, done: int, total: int) -> None:
        who = "current" if name == "old" else "new"
        self.compare_label.setText(f"Evaluating the {who} model on the validation frames: {done}/{total}")

    def _on_evaluated(self, name: str, result: ModelEvaluation) -> None:
        self.comparison[name] = result
        col = 0 if name == "old" else 1
        for r, metric in enumerate(METRIC_NAMES):
            v = result.metrics.get(metric)
            self.compare_table.setItem(r, col, QTableWidgetItem("—" if v is None or not math.isfinite(v)
                                                                else f"{v:.3f}"))
        self._fill_deltas()

    def _fill_deltas(self) -> None:
        old, new = self.comparison.get("old"), self.comparison.get("new")
        if not isinstance(old, ModelEvaluation) or not isinstance(new, ModelEvaluation):
            return
        for r, metric in enumerate(METRIC_NAMES):
            a, b = old.metrics.get(metric), new.metrics.get(metric)
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                continue
            item = QTableWidgetItem(f"{b - a:+.3f}")
            item.setForeground(Qt.GlobalColor.darkGreen if b >= a else Qt.GlobalColor.red)
            self.compare_table.setItem(r, 2, item)

    def _on_compare_failed(self, name: str, message: str) -> None:
        self.comparison[name] = message
        col = 0 if name == "old" else 1
        self.compare_table.setItem(0, col, QTableWidgetItem("failed"))
        who = "current" if name == "old" else "new"
        self._append_log("error", f"Evaluating the {who} model failed: {message}")

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
        text = f"Evaluated on {n} validation frames with their person boxes (same code for both models)."
        if "old" not in self.comparison:
            text += "\nThere is no current model (with weights) to compare with."
        if failures:
            text += "\nEvaluation failed for the " + "; ".join(failures)
        self.compare_label.setText(text)
        self._update_buttons()

    # ========================================================================== result actions
    def use_new_model(self) -> bool:
        if self.new_model is None:
            return False
        self.model_ready.emit(self.new_model)
        return True

    def rerun_new_model(self) -> bool:
        """``rerun_requested(spec)``: the main window loads the model and runs it on the unreviewed frames."""
        if self.new_model is None:
            return False
        self.rerun_requested.emit(self.new_model)
        return True

    def set_current_model(self, spec: ModelSpec | None) -> None:
        """The app's model changed while the dialog exists: offer it as base weights and compare against it."""
        if spec == self.current_model:
            return
        self.current_model = spec
        i = self.base_combo.findData(BASE_CURRENT)
        if i >= 0:
            self.base_combo.removeItem(i)
        if spec is not None and spec.weights:
            self.base_combo.insertItem(0, f"Current model ({Path(spec.weights).name})", BASE_CURRENT)
            if not self.is_busy():
                self.base_combo.setCurrentIndex(0)
                self.experiment_combo.setCurrentText(spec.experiment)
        self._refresh_command()

    # ========================================================================== closing
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


# ============================================================================== helpers
def _row(*widgets: QWidget, stretch: bool = False, last: QWidget | None = None) -> QWidget:
    w = QWidget()
    h = QHBoxLayout(w)
    h.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        h.addWidget(x, 1 if isinstance(x, (QLineEdit, QComboBox)) else 0)
    if stretch:
        h.addStretch(1)
    if last is not None:
        h.addWidget(last)
    return w


def _fmt(v: float | None) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.6g}"


def _devices() -> list[str]:
    out = ["auto", "cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            out.append("mps")
    except ImportError:  # pragma: no cover
        pass
    return out


def _frame_name(frame: Any) -> str:
    if frame.video is not None:
        return f"{Path(frame.video).name} #{(frame.frame_index or 0) + 1}"
    return str(frame.file_name)


def _entry_label(e: Any) -> str:
    return f"{e.frame + 1}: {e.name}" if e.frame is not None else e.name


def _default_run_dir(document: Any) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = getattr(document, "path", None)
    if path:
        p = Path(path)
        return p.parent / "training" / f"{p.stem}-{stamp}"
    return Path.home() / "hrnet-training" / f"run-{stamp}"


def _registry_entries(num_joints: int) -> list[Any]:
    from hrnet import list_weights

    return [e for e in list_weights() if e.num_joints == num_joints]


def _registry_target(entry: Any) -> Path:
    from hrnet import weights_dir

    return weights_dir() / entry.file_name


def _cached(entry: Any) -> bool:
    return _registry_target(entry).is_file()


def _local_weights(weights: str) -> Path | None:
    """A weights path or registry name -> the local file, without downloading; None when absent."""
    p = Path(weights).expanduser()
    if p.is_file():
        return p
    try:
        from hrnet import resolve_weights

        return resolve_weights(weights, download_missing=False)
    except (HRNetError, OSError):
        return None


def _small_button(text: str) -> QPushButton:
    b = QPushButton(text)
    b.setMaximumWidth(36)
    return b
