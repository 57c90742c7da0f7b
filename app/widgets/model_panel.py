"""The model panel: choose the pose model and the person detector, run inference, see the device.

Weights come from the registry (official checkpoints, downloaded into the cache), a local
``.pth`` file (with its experiment), or "random weights (demo)", which is labelled as such
everywhere: it lets a new user try the predict -> correct loop without pretending the
predictions mean anything.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.int8_calibration import SPEEDS, int8_available, stage_text
from app.model_manager import (
    DEMO_EXPERIMENT,
    DEMO_WEIGHTS,
    HOW_TO_GET_WEIGHTS,
    ModelSpec,
    list_experiments,
    registry_entries,
)

RANDOM_WEIGHTS = "__random__"
DETECTORS = (
    ("fasterrcnn", "Faster R-CNN (COCO persons)"),
    ("ssdlite", "SSDlite (fast on CPU)"),
    ("full_image", "Whole image = one person"),
    ("existing", "Existing boxes only"),
)


def device_choices() -> list[tuple[str, str]]:
    """(label, spec) for the device list: auto, then the devices this machine really has (the CPU,
    each GPU as cuda:N with its name, MPS only where present)."""
    from hrnet import available_devices

    devices = available_devices()
    best = next((d for d in devices if d.spec != "cpu"), devices[0])
    return [(f"auto ({best.spec})", "auto")] + [(d.label, d.spec) for d in devices]
RUN_SCOPES = (("current", "This frame"), ("selected", "Selected frames"),
              ("unreviewed", "Unreviewed frames"), ("all", "All frames"))


def _entry_fields(entry) -> tuple[str, str, str] | None:
    """(label, experiment, weights name) of a :class:`hrnet.weights.WeightsEntry` (or a similar dict)."""
    get = entry.get if isinstance(entry, dict) else lambda k, d=None: getattr(entry, k, d)
    experiment = get("experiment")
    name = get("name")
    if not experiment or not name:
        return None
    metric = get("metric") or ""
    where = "downloads on first use" if get("url") else "manual download"
    source = get("source") or ""
    label = f"{name}" + (f" — {metric}" if metric else "") + (f" [{source}, {where}]" if source else f" [{where}]")
    return label, str(experiment), str(name)


class WrappingLabel(QLabel):
    """A word-wrapped label whose minimum height is what its text needs at its current width.

    A dock gives its panel the panel's minimum size, and QLabel's own minimum for wrapped text
    assumes lines of about 80 characters: in the narrow Model dock at the default window size the
    detector note got half the lines it needed and was cut off at the top and bottom."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._wrapped_height = -1

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if self.width() > 0 and self.text():
            needed = self.heightForWidth(self.width())
            if needed > hint.height():
                hint.setHeight(needed)
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        needed = self.heightForWidth(self.width())
        if needed != self._wrapped_height:  # a new width needs another number of lines
            self._wrapped_height = needed
            self.updateGeometry()


class ModelPanelWidget(QWidget):
    load_requested = Signal(object)  # ModelSpec
    run_requested = Signal(str)  # scope: current | selected | unreviewed | all
    detector_changed = Signal(str)
    speed_changed = Signal(str)  # precision: fp32 (standard) | int8 (fast, CPU)
    help_requested = Signal()  # "how do I get weights?"
    cancel_load_requested = Signal()  # stop a running int8 calibration
    finetune_requested = Signal()  # "fine-tune this model for the project's keypoint set"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setEditable(True)
        self.experiment_combo.addItems(list_experiments())
        self.experiment_combo.setToolTip("Experiment (architecture + input size): a shipped name or a YAML file")
        browse_exp = QToolButton()
        browse_exp.setText("…")
        browse_exp.setToolTip("Choose an experiment YAML file")
        browse_exp.clicked.connect(self._browse_experiment)

        self.weights_combo = QComboBox()
        self.weights_combo.setToolTip("Weights: an official checkpoint, a local .pth file, or random (demo)")
        self.weights_combo.addItem("Random weights (demo — predictions are meaningless)", RANDOM_WEIGHTS)
        if DEMO_WEIGHTS.is_file():
            self.weights_combo.addItem("Demo: W16 trained on synthetic people (bundled)", str(DEMO_WEIGHTS))
        self._registry = {}
        self._registry_sets: dict[str, str] = {}  # registry key -> "coco" / "mpii"
        for entry in registry_entries():
            fields = _entry_fields(entry)
            if fields is None:
                continue
            label, experiment, weights = fields
            self.weights_combo.addItem(f"{label}", f"registry:{weights}")
            self._registry[f"registry:{weights}"] = (experiment, weights)
            self._registry_sets[f"registry:{weights}"] = str(getattr(entry, "joint_set", "") or "")
        self.weights_combo.currentIndexChanged.connect(self._on_weights_changed)
        browse_w = QToolButton()
        browse_w.setText("…")
        browse_w.setToolTip("Choose a local checkpoint (.pth)")
        browse_w.clicked.connect(self._browse_weights)

        for combo in (self.experiment_combo, self.weights_combo):  # long names must not widen the dock
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
        self.device_combo = QComboBox()
        for label, device in device_choices():
            self.device_combo.addItem(label, device)
        self.device_combo.setToolTip("Where the model runs (auto: the first GPU, else the CPU)")
        self.load_button = QPushButton("Load model")
        self.load_button.clicked.connect(self._emit_load)
        self.speed_combo = QComboBox()
        for key, text in SPEEDS:
            self.speed_combo.addItem(text, key)
        self.speed_combo.setToolTip(
            "fast (int8, CPU): the network quantised to 8 bits in ONNX Runtime, about 2-3x faster on a CPU. "
            "Calibrated once on this project's frames with people (then cached next to the weights) and "
            "checked against standard precision: if too few joints agree it stays standard and says so.")
        if not int8_available():
            self.speed_combo.model().item(1).setEnabled(False)
            self.speed_combo.setItemData(1, "Needs onnxruntime: pip install 'hrnet-pose-annotator[onnx]'",
                                         Qt.ItemDataRole.ToolTipRole)
        self.speed_combo.currentIndexChanged.connect(lambda _i: self.speed_changed.emit(self.speed()))
        self.calibration_bar = QProgressBar()
        self.calibration_bar.setRange(0, 100)
        self.calibration_bar.setTextVisible(True)
        self.calibration_cancel = QPushButton("Cancel")
        self.calibration_cancel.clicked.connect(self.cancel_load_requested)
        self.calibration_bar.hide()
        self.calibration_cancel.hide()

        self.status_label = WrappingLabel("")
        self.status_label.setToolTip(HOW_TO_GET_WEIGHTS)
        self.status_label.setOpenExternalLinks(False)
        self.status_label.linkActivated.connect(lambda _link: self.help_requested.emit())
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.status_label.setStyleSheet("color: #ccc; padding: 2px;")

        self.detector_combo = QComboBox()
        for key, text in DETECTORS:
            self.detector_combo.addItem(text, key)
        self.detector_combo.setToolTip("How people are found before pose estimation")
        self.detector_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.detector_combo.setMinimumContentsLength(14)
        self.detector_combo.currentIndexChanged.connect(self._on_detector_changed)
        self.detector_note = WrappingLabel("")  # why the detector was preselected (e.g. weights not downloadable)
        self.detector_note.setStyleSheet("color: #ffb070;")
        self.detector_note.hide()
        self.box_score = QDoubleSpinBox()
        self.box_score.setRange(0.0, 1.0)
        self.box_score.setSingleStep(0.05)
        self.box_score.setValue(0.5)
        self.box_score.setToolTip("Minimum detector score of a person box")

        model_box = QGroupBox("Pose model")
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.experiment_combo, 1)
        row.addWidget(browse_exp)
        form.addRow("Experiment", row)
        row = QHBoxLayout()
        row.addWidget(self.weights_combo, 1)
        row.addWidget(browse_w)
        form.addRow("Weights", row)
        row = QHBoxLayout()
        row.addWidget(self.device_combo, 1)
        row.addWidget(self.load_button)
        form.addRow("Device", row)
        form.addRow("Speed", self.speed_combo)
        row = QHBoxLayout()
        row.addWidget(self.calibration_bar, 1)
        row.addWidget(self.calibration_cancel)
        form.addRow(row)
        box_layout = QVBoxLayout()
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.addLayout(form)
        box_layout.addWidget(self.status_label)
        # what the loaded model predicts, against the project's keypoint set
        self.keypoints_label = WrappingLabel("")
        self.keypoints_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.keypoints_label.linkActivated.connect(lambda _link: self.finetune_requested.emit())
        box_layout.addWidget(self.keypoints_label)

        model_box.setLayout(box_layout)
        run_box = QGroupBox("Predict")
        grid = QGridLayout(run_box)
        grid.addWidget(QLabel("People"), 0, 0)
        grid.addWidget(self.detector_combo, 0, 1, 1, 2)
        grid.addWidget(self.detector_note, 1, 0, 1, 3)
        grid.addWidget(QLabel("Min box score"), 2, 0)
        grid.addWidget(self.box_score, 2, 1, 1, 2)
        self.run_buttons: dict[str, QPushButton] = {}
        buttons = QGridLayout()
        for i, (scope, text) in enumerate(RUN_SCOPES):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=scope: self.run_requested.emit(s))
            buttons.addWidget(button, i // 2, i % 2)
            self.run_buttons[scope] = button
        grid.addLayout(buttons, 3, 0, 1, 3)
        hint = WrappingLabel("Results replace earlier, unedited predictions and are ONE undo step (Ctrl+Z). "
                             "People edited by hand or imported as ground truth are kept.")
        hint.setStyleSheet("color: #999;")
        grid.addWidget(hint, 4, 0, 1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(model_box)
        layout.addWidget(run_box)
        layout.addStretch(1)
        self.set_model_state(None, loaded=False)

    # -- values ------------------------------------------------------------------------------
    def detector(self) -> str:
        return str(self.detector_combo.currentData())

    def set_detector(self, key: str, remember: bool = True) -> None:
        """Choose the detector; ``remember=False``: a preselection that is not saved as the user's choice."""
        i = self.detector_combo.findData(key)
        if i >= 0:
            if not remember:
                self.detector_combo.blockSignals(True)
            try:
                self.detector_combo.setCurrentIndex(i)
            finally:
                self.detector_combo.blockSignals(False)

    def detector_items(self) -> tuple[tuple[str, str], ...]:
        return DETECTORS

    def set_detector_note(self, text: str) -> None:
        self.detector_note.setText(text)
        self.detector_note.setVisible(bool(text))

    def _on_detector_changed(self, _index: int) -> None:
        self.set_detector_note("")  # the user chose: the preselection's note no longer applies
        self.detector_changed.emit(self.detector())

    def device(self) -> str:
        """The chosen device as hrnet takes it: ``auto``, ``cpu``, ``cuda:N`` or ``mps``."""
        return str(self.device_combo.currentData() or self.device_combo.currentText() or "auto")

    def spec(self) -> ModelSpec:
        data = self.weights_combo.currentData()
        experiment = self.experiment_combo.currentText().strip()
        if data == RANDOM_WEIGHTS:
            weights = None
        elif isinstance(data, str) and data in self._registry:
            reg_experiment, weights = self._registry[data]
            experiment = reg_experiment or experiment
        else:
            weights = str(data)
        return ModelSpec(experiment, weights, self.device(), self.speed())

    def set_spec(self, spec: ModelSpec) -> None:
        if self.experiment_combo.findText(spec.experiment) < 0:
            self.experiment_combo.addItem(spec.experiment)
        self.experiment_combo.setCurrentText(spec.experiment)
        if spec.weights is None:
            self.weights_combo.setCurrentIndex(0)
        else:
            key = next((k for k, (_, w) in self._registry.items() if w == spec.weights), None)
            data = key or spec.weights
            i = self.weights_combo.findData(data)
            if i < 0:
                self.weights_combo.addItem(Path(spec.weights).name, spec.weights)
                i = self.weights_combo.count() - 1
            self.weights_combo.setCurrentIndex(i)
        i = self.device_combo.findData(spec.device)
        if i < 0:  # a saved device this machine lacks: shown as such; loading it says why it fails
            self.device_combo.addItem(f"{spec.device} (not found)", spec.device)
            i = self.device_combo.count() - 1
        self.device_combo.setCurrentIndex(i)
        self.set_speed(getattr(spec, "precision", "fp32"))

    def speed(self) -> str:
        """The chosen precision: ``fp32`` (standard) or ``int8`` (fast, CPU)."""
        return str(self.speed_combo.currentData() or "fp32")

    def set_speed(self, precision: str) -> None:
        """Choose the speed; an unknown or unavailable one (int8 without onnxruntime) is standard."""
        i = self.speed_combo.findData(precision)
        item = self.speed_combo.model().item(i) if i >= 0 else None
        self.speed_combo.setCurrentIndex(i if item is not None and item.isEnabled() else 0)

    def set_loading_progress(self, stage: str, fraction: float) -> None:
        """int8 calibration progress (shown until the model is loaded or fails)."""
        self.calibration_bar.show()
        self.calibration_cancel.show()
        self.calibration_bar.setValue(int(round(100 * max(0.0, min(1.0, fraction)))))
        self.calibration_bar.setFormat(stage_text(stage, fraction))

    def set_model_state(self, spec: ModelSpec | None, loaded: bool, device: str = "", message: str = "",
                        loading: bool = False) -> None:
        for button in self.run_buttons.values():
            button.setEnabled(loaded and not loading)
        self.load_button.setEnabled(not loading)
        if not loading:
            self.calibration_bar.hide()
            self.calibration_cancel.hide()
        if loading and spec is not None:
            self.status_label.setText(f"Loading {spec.label()} …")
            self.status_label.setStyleSheet("color: #ddd; padding: 2px;")
        elif loaded and spec is not None:
            text = f"<b>{spec.label()}</b><br>on <b>{device}</b>"
            if spec.is_random:
                text += ("<br><span style='color:#ff9a5a'>RANDOM weights: a demo of the loop only — "
                         "its predictions are NOT real. Load real weights to pre-label.</span>")
            self.status_label.setText(text)
            self.status_label.setStyleSheet("padding: 2px;")
        else:
            short = ("No pose model: annotate by hand (B draws a box, then click the joints), or choose weights "
                     "above and Load. <a href='#weights'>How to get weights…</a>")
            self.status_label.setText((f"<b>{message.splitlines()[0]}</b><br>" if message else "") + short)
            colour = "#ffb070" if message else "#ccc"
            self.status_label.setStyleSheet(f"color: {colour}; padding: 2px;")

    # -- slots -------------------------------------------------------------------------------
    def _on_weights_changed(self, _index: int) -> None:
        data = self.weights_combo.currentData()
        if isinstance(data, str) and data in self._registry:
            experiment = self._registry[data][0]
            if experiment:
                self.experiment_combo.setCurrentText(experiment)
        elif data == str(DEMO_WEIGHTS):
            self.experiment_combo.setCurrentText(DEMO_EXPERIMENT)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "",
                                              "Checkpoints (*.pth *.pt *.pth.tar);;All files (*)")
        if path:
            self.weights_combo.addItem(Path(path).name, path)
            self.weights_combo.setCurrentIndex(self.weights_combo.count() - 1)

    def _browse_experiment(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an experiment", "", "Experiments (*.yaml *.yml)")
        if path:
            self.experiment_combo.setCurrentText(path)

    def _emit_load(self) -> None:
        spec = self.spec()
        if spec.experiment:
            self.load_requested.emit(spec)

    # -- keypoint sets ------------------------------------------------------------------------------
    def set_keypoint_fit(self, predicts: str, why_not: str) -> None:
        """Say what the loaded model predicts (``predicts``; "" = no model) and, when it cannot label
        this project, why, with a link that offers to fine-tune it for the project's set."""
        if not predicts:
            self.keypoints_label.setText("")
        elif not why_not:
            self.keypoints_label.setText(f"Predicts {predicts}: matches this project.")
            self.keypoints_label.setStyleSheet("color: #9c9; padding: 2px;")
        else:
            self.keypoints_label.setText(f"⚠ Cannot label this project: {why_not}. "
                                         "<a href='#finetune'>Fine-tune it for this keypoint set…</a>")
            self.keypoints_label.setStyleSheet("color: #ffb070; padding: 2px;")

    def mark_registry_sets(self, fits: dict[str, str]) -> None:
        """Mark the registry weights that predict another keypoint set than the project's:
        ``fits`` maps a registry joint set (``"coco"``, ``"mpii"``) to why it does not fit ("" = fits)."""
        for i in range(self.weights_combo.count()):
            key = self.weights_combo.itemData(i)
            joint_set = self._registry_sets.get(key) if isinstance(key, str) else None
            if joint_set is None:
                continue
            label = self.weights_combo.itemText(i).split("  ⚠", 1)[0]
            why = fits.get(joint_set, "")
            self.weights_combo.setItemText(i, label + (f"  ⚠ other keypoint set ({joint_set.upper()})" if why else ""))
            self.weights_combo.setItemData(i, why or None, Qt.ItemDataRole.ToolTipRole)
