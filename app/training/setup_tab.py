"""The Train dialog's first tab: edit a :class:`~app.training.plan.TrainingPlan` and show what it will run.

Every edit writes into the plan and emits ``plan_edited``; :meth:`SetupTab.show_plan` shows the
plan's split, effective settings (the fine-tuning recipe's values when it fine-tunes, each marked
with where it comes from), warnings, problems and the exact command. The tab decides nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.texts import count
from app.texts import frames as n_frames
from app.training.plan import (
    AUGMENTATION_PRESETS,
    BASE_BACKBONE,
    BASE_CURRENT,
    BASE_POSE_FILE,
    BASE_RANDOM,
    BASE_REGISTRY,
    DEFAULT_AUGMENTATION,
    SHOWN_SETTINGS,
    SetTransfer,
    TrainingPlan,
    available_devices,
    default_run_dir,
    is_cached,
    registry_entries,
    registry_target,
)
from hrnet import HRNetError

__all__ = ["TrainSetupWidget", "row", "small_button"]

_SOURCE_WORDS = {"recipe": "fine-tuning recipe", "override": "your override", "experiment": "experiment"}


class TrainSetupWidget(QWidget):
    """Data split, experiment, base weights, settings (recipe values + overrides), run folder, command."""

    plan_edited = Signal()
    start_clicked = Signal()

    def __init__(self, plan: TrainingPlan, experiments: list[str], document_path: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self._document_path = document_path
        self._loading = False  # programmatic updates do not count as user edits
        grid = QGridLayout(self)

        # -- data ----------------------------------------------------------------------
        data_box = QGroupBox("Training data: the project's reviewed frames")
        dl = QVBoxLayout(data_box)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        dl.addWidget(self.data_label)
        self.val_spin = QSpinBox()
        self.val_spin.setRange(5, 50)
        self.val_spin.setSuffix(" %")
        self.val_spin.setValue(round(plan.val_fraction * 100))
        self.val_spin.setToolTip("Share of the reviewed frames kept for validation (never trained on).")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99999)
        self.seed_spin.setValue(plan.seed)
        self.seed_spin.setToolTip("Seed of the random train/validation split.")
        dl.addWidget(row(QLabel("Validation:"), self.val_spin, QLabel("Split seed:"), self.seed_spin, stretch=True))
        self.split_label = QLabel()
        self.split_label.setWordWrap(True)
        dl.addWidget(self.split_label)
        self.split_table = QTableWidget(0, 3)
        self.split_table.setHorizontalHeaderLabels(["Frame", "People", "Split"])
        header = self.split_table.horizontalHeader()
        # whole frame names: the name column fits its longest name (the table scrolls sideways)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.split_table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.split_table.setWordWrap(False)
        self.split_table.verticalHeader().setVisible(False)
        self.split_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.split_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        dl.addWidget(self.split_table, 1)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #8a5a00")
        dl.addWidget(self.warnings_label)
        grid.addWidget(data_box, 0, 0, 2, 1)

        # -- model ---------------------------------------------------------------------
        model_box = QGroupBox("Model")
        ml = QFormLayout(model_box)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setEditable(True)
        self.experiment_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        if plan.current_experiment and plan.current_experiment not in experiments:
            experiments = [plan.current_experiment, *experiments]
        self.experiment_combo.addItems(experiments)
        self.experiment_combo.setCurrentText(plan.experiment)
        browse_exp = small_button("…")
        browse_exp.setToolTip("Choose an experiment YAML file")
        browse_exp.clicked.connect(self._browse_experiment)
        ml.addRow("Experiment:", row(self.experiment_combo, browse_exp))
        self.base_combo = QComboBox()
        self._fill_base_combo()
        self.base_path_edit = QLineEdit()
        self.base_path_edit.setPlaceholderText("weights file (.pth)")
        self._browse_weights_button = small_button("…")
        self._browse_weights_button.clicked.connect(self._browse_weights)
        ml.addRow("Base weights:", self.base_combo)
        ml.addRow("", row(self.base_path_edit, self._browse_weights_button))
        self.base_note_label = QLabel()  # a base of another keypoint set: what the run does with it
        self.base_note_label.setWordWrap(True)
        self.base_note_label.setStyleSheet("color: #8a5a00")
        ml.addRow("", self.base_note_label)
        self.finetune_check = QCheckBox("Fine-tuning recipe (hrnet-train --finetune)")
        self.finetune_check.setToolTip(
            "On by default when starting from trained pose weights: warmup, a fine-tuning learning rate and decay, "
            "steps scaled to the number of frames, early stopping; the best model is never worse than the base "
            "on the validation frames. Off: the experiment's full schedule.")
        ml.addRow("", self.finetune_check)
        grid.addWidget(model_box, 0, 1)

        # -- settings ------------------------------------------------------------------
        opts_box = QGroupBox("Training settings")
        ol = QFormLayout(opts_box)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10000)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, 1.0)
        self.lr_spin.setSingleStep(1e-4)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.input_combo = QComboBox()
        self.device_combo = QComboBox()
        self.device_combo.addItems(available_devices())
        self.device_combo.setCurrentText(plan.device)
        self.augment_combo = QComboBox()
        self.augment_combo.addItems(list(AUGMENTATION_PRESETS))
        self.augment_combo.setCurrentText(plan.augmentation)
        self.augment_label = QLabel()
        self.augment_label.setStyleSheet("color: gray")
        self.extra_opts_edit = QLineEdit()
        self.extra_opts_edit.setPlaceholderText("more overrides: KEY VALUE …  (e.g. WORKERS 0 TRAIN.LR_STEP [10,15])")
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Drop your epochs / learning rate / batch size overrides: use the recipe's "
                                     "(or the experiment's) values.")
        self.reset_button.clicked.connect(self.reset_overrides)
        ol.addRow("Epochs:", self.epochs_spin)
        ol.addRow("Learning rate:", self.lr_spin)
        ol.addRow("Batch size:", row(self.batch_spin, stretch=True, last=self.reset_button))
        ol.addRow("Input size (w × h):", self.input_combo)
        ol.addRow("Device:", self.device_combo)
        ol.addRow("Augmentation:", self.augment_combo)
        ol.addRow("", self.augment_label)
        ol.addRow("Other overrides:", self.extra_opts_edit)
        self.effective_table = QTableWidget(0, 3)
        self.effective_table.setHorizontalHeaderLabels(["Setting", "Value", "From"])
        self.effective_table.verticalHeader().setVisible(False)
        self.effective_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.effective_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.effective_table.horizontalHeader().setStretchLastSection(True)
        self.effective_table.setMaximumHeight(150)
        self.effective_table.setToolTip("The values this run will use, and where each comes from.")
        ol.addRow("Effective:", self.effective_table)
        self.output_edit = QLineEdit(str(plan.run_dir))
        browse_out = small_button("…")
        browse_out.clicked.connect(self._browse_output)
        self.new_folder_button = QPushButton("New")
        self.new_folder_button.setToolTip("A new, empty run folder (time-stamped) for a new run")
        self.new_folder_button.clicked.connect(
            lambda: self.output_edit.setText(str(default_run_dir(self._document_path))))
        ol.addRow("Run folder:", row(self.output_edit, browse_out, self.new_folder_button))
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
        self.start_button.clicked.connect(self.start_clicked)
        cl.addWidget(self.problems_label)
        cl.addWidget(row(self.copy_button, stretch=True, last=self.start_button))
        grid.addWidget(cmd_box, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        self.val_spin.valueChanged.connect(lambda v: self._edit(val_fraction=v / 100.0))
        self.seed_spin.valueChanged.connect(lambda v: self._edit(seed=int(v)))
        self.experiment_combo.currentTextChanged.connect(self._on_experiment_changed)
        self.base_combo.currentIndexChanged.connect(self._on_base_changed)
        self.base_path_edit.textChanged.connect(lambda t: self._edit(base_path=t))
        self.finetune_check.toggled.connect(lambda on: self._edit(finetune=bool(on)))
        self.epochs_spin.valueChanged.connect(lambda v: self._edit(epochs=int(v)))
        self.lr_spin.valueChanged.connect(lambda v: self._edit(lr=float(v)))
        self.batch_spin.valueChanged.connect(lambda v: self._edit(batch_size=int(v)))
        self.input_combo.currentIndexChanged.connect(self._on_input_changed)
        self.device_combo.currentTextChanged.connect(lambda t: self._edit(device=t))
        self.augment_combo.currentTextChanged.connect(lambda t: self._edit(augmentation=t or DEFAULT_AUGMENTATION))
        self.extra_opts_edit.textChanged.connect(lambda t: self._edit(extra_opts_text=t))
        self.output_edit.textChanged.connect(self._on_output_changed)
        self._on_experiment_changed(plan.experiment)
        self._on_base_changed()

    # ------------------------------------------------------------------ edits -> plan
    def _edit(self, **fields: Any) -> None:
        if self._loading:
            return
        for k, v in fields.items():
            setattr(self.plan, k, v)
        self.plan_edited.emit()

    def _on_output_changed(self, text: str) -> None:
        self._edit(run_dir=Path(text.strip() or ".").expanduser().absolute())

    def _on_experiment_changed(self, text: str) -> None:
        self.plan.experiment = text.strip()
        try:
            cfg = self.plan.experiment_cfg()
        except (HRNetError, ValueError):  # shown by the plan's problems
            cfg = None
        self._loading = True
        self.input_combo.clear()
        if cfg is not None:
            w, h = (int(x) for x in cfg.MODEL.IMAGE_SIZE)
            sizes = [(w, h)] + [s for s in ((96, 128), (192, 256), (288, 384)) if s != (w, h)]  # multiples of 32
            for sw, sh in sizes:
                self.input_combo.addItem(f"{sw} × {sh}" + (" (experiment)" if (sw, sh) == (w, h) else ""), (sw, sh))
        self.plan.input_size = None
        self._loading = False
        self._edit()

    def _on_input_changed(self, index: int) -> None:
        size = self.input_combo.itemData(index)
        self._edit(input_size=None if index <= 0 or size is None else tuple(size))

    def _on_base_changed(self, *_args: Any) -> None:
        kind = self.base_combo.currentData() or BASE_RANDOM
        self.plan.base_kind = kind
        self.plan.finetune = None  # automatic again: on for trained pose weights
        entry = self.plan.registry_entry()
        self._loading = True
        if kind == BASE_CURRENT:
            self.base_path_edit.setText(str(self.plan.current_weights or ""))
        elif entry is not None:
            self.base_path_edit.setText(str(registry_target(entry)))
        elif kind not in (BASE_POSE_FILE, BASE_BACKBONE):
            self.base_path_edit.setText("")
        self.plan.base_path = self.base_path_edit.text() if kind in (BASE_POSE_FILE, BASE_BACKBONE) else ""
        self._loading = False
        if entry is not None:
            self.experiment_combo.setCurrentText(entry.experiment)  # the weights' architecture
        self._edit()

    def reset_overrides(self) -> None:
        self._edit(epochs=None, lr=None, batch_size=None)

    def _fill_base_combo(self) -> None:
        plan = self.plan
        self.base_combo.blockSignals(True)
        self.base_combo.clear()
        if plan.has_current_model:
            transfer = plan.current_transfer()
            self._add_base_item(f"Current model ({Path(str(plan.current_weights)).name})", BASE_CURRENT, transfer)
        # every registry model: those of the project's keypoint set first, then those of another set
        # (hrnet-train starts the output layer fresh and copies the joints they know by name)
        entries = sorted(registry_entries(), key=lambda e: plan.entry_transfer(e) is not None)
        for entry in entries:
            state = "in the cache" if is_cached(entry) else ("downloaded at start" if entry.url else "not downloaded")
            self._add_base_item(f"{entry.source.capitalize()} {entry.joint_set.upper()} weights: {entry.name} "
                                f"({state})", BASE_REGISTRY + entry.name, plan.entry_transfer(entry))
        self.base_combo.addItem("Pose checkpoint file (e.g. official COCO weights)…", BASE_POSE_FILE)
        self.base_combo.addItem("ImageNet backbone file (MODEL.PRETRAINED)…", BASE_BACKBONE)
        self.base_combo.addItem("Random initialisation", BASE_RANDOM)
        self.base_combo.setCurrentIndex(max(0, self.base_combo.findData(plan.default_base_kind())))
        self.base_combo.blockSignals(False)

    def _add_base_item(self, text: str, data: str, transfer: SetTransfer | None) -> None:
        if transfer is not None:
            text += f" — {transfer.short_note()}"
        self.base_combo.addItem(text, data)
        if transfer is not None:
            self.base_combo.setItemData(self.base_combo.count() - 1, transfer.note(), Qt.ItemDataRole.ToolTipRole)

    def set_current_model(self, experiment: str | None, weights: str | None, select: bool) -> None:
        """The app's model changed: offer it as base weights (and select it when ``select``)."""
        self.plan.current_experiment, self.plan.current_weights = experiment, weights
        kind = self.base_combo.currentData()
        self._fill_base_combo()
        if not select and self.base_combo.findData(kind) >= 0:
            self.base_combo.setCurrentIndex(self.base_combo.findData(kind))
        elif select and experiment:
            self.experiment_combo.setCurrentText(experiment)
        self._on_base_changed()

    # ------------------------------------------------------------------ plan -> view
    def show_plan(self, problems: list[str], command_text: str) -> None:
        """Show the plan's derived values (called by the dialog after each edit)."""
        plan = self.plan
        self._loading = True
        try:
            kind = plan.base_kind
            needs_file = kind in (BASE_POSE_FILE, BASE_BACKBONE)
            self.base_path_edit.setEnabled(needs_file and self.isEnabled())
            self._browse_weights_button.setEnabled(needs_file)
            self.finetune_check.setChecked(plan.uses_finetune)
            transfer = plan.base_transfer()
            self.base_note_label.setText(transfer.note() if transfer is not None else "")
            self.base_note_label.setVisible(transfer is not None)
            values = plan.effective_values()
            by_key = {v.key: v for v in values}
            for key, spin in (("TRAIN.END_EPOCH", self.epochs_spin), ("TRAIN.LR", self.lr_spin),
                              ("TRAIN.BATCH_SIZE_PER_GPU", self.batch_spin)):
                v = by_key.get(key)
                if v is not None:
                    try:
                        spin.setValue(type(spin.value())(float(v.value)))
                    except ValueError:
                        pass
                    font = spin.font()
                    font.setBold(v.source == "override")
                    spin.setFont(font)
                    spin.setToolTip(f"{SHOWN_SETTINGS[key]} ({key}): {v.value}, from the {_SOURCE_WORDS[v.source]}")
            self.reset_button.setEnabled(any(v.source == "override" and v.key in SHOWN_SETTINGS for v in values))
            self.effective_table.setRowCount(len(values))
            for r, v in enumerate(values):
                label = SHOWN_SETTINGS.get(v.key, v.key)
                self.effective_table.setItem(r, 0, QTableWidgetItem(label))
                self.effective_table.setItem(r, 1, QTableWidgetItem(v.value))
                self.effective_table.setItem(r, 2, QTableWidgetItem(_SOURCE_WORDS[v.source]))
                self.effective_table.item(r, 0).setToolTip(v.key)
            self._show_augmentation()
        finally:
            self._loading = False
        self.command_view.setPlainText(command_text)
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in plan.warnings()))

    def _show_augmentation(self) -> None:
        try:
            cfg = self.plan.resolved_cfg()
        except (HRNetError, ValueError):  # shown by the plan's problems
            self.augment_label.setText("")
            return
        d = cfg.DATASET
        self.augment_label.setText(f"scale ±{float(d.SCALE_FACTOR):g}, rotation ±{float(d.ROT_FACTOR):g}°, "
                                   f"flip {'on' if d.FLIP else 'off'}, half body {float(d.PROB_HALF_BODY):g}")

    def show_data_summary(self) -> None:
        s = self.plan.summary
        if s.num_frames == 0:
            text = (f"No frame is marked reviewed yet ({n_frames(s.unreviewed)} in the project). "
                    "Training uses only reviewed frames.")
        else:
            labelled = count(s.people, "labelled person", "labelled people")
            text = (f"{count(s.num_frames, 'reviewed frame')} with {labelled}; "
                    f"{count(s.unreviewed, 'unreviewed frame')} can be re-labelled by the new model.")
        self.data_label.setText(text)

    def fill_split_table(self, rows: list[tuple[str, int, str]]) -> None:
        self.split_table.setRowCount(len(rows))
        for r, (name, people, split) in enumerate(rows):
            item = QTableWidgetItem(name)
            item.setToolTip(name)
            self.split_table.setItem(r, 0, item)
            self.split_table.setItem(r, 1, QTableWidgetItem(str(people)))
            self.split_table.setItem(r, 2, QTableWidgetItem(split))
        self.split_table.resizeColumnsToContents()

    def set_editable(self, editable: bool) -> None:
        for w in (self.val_spin, self.seed_spin, self.experiment_combo, self.base_combo, self.base_path_edit,
                  self.finetune_check, self.epochs_spin, self.lr_spin, self.batch_spin, self.input_combo,
                  self.device_combo, self.augment_combo, self.extra_opts_edit, self.output_edit,
                  self.new_folder_button, self.reset_button):
            w.setEnabled(editable)
        if editable:
            needs_file = self.plan.base_kind in (BASE_POSE_FILE, BASE_BACKBONE)
            self.base_path_edit.setEnabled(needs_file)
            self._browse_weights_button.setEnabled(needs_file)

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_view.toPlainText())

    # ------------------------------------------------------------------ file dialogs
    def _browse_experiment(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Experiment file", "", "Experiment (*.yaml *.yml)")
        if path:
            self.experiment_combo.setCurrentText(path)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "", "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.base_path_edit.setText(path)

    def _browse_output(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Run folder", str(Path(self.plan.run_dir).parent))
        if path:
            self.output_edit.setText(path)


def row(*widgets: QWidget, stretch: bool = False, last: QWidget | None = None) -> QWidget:
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


def small_button(text: str) -> QPushButton:
    b = QPushButton(text)
    b.setMaximumWidth(36)
    return b
