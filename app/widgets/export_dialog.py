"""Export for training: output folder, validation fraction, only reviewed frames, seed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.texts import count


class ExportDialog(QDialog):
    """Asks for the export options; the window runs the export when it is accepted."""

    def __init__(self, default_dir: str, num_frames: int, num_reviewed: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export for training")
        self.folder_edit = QLineEdit(default_dir)
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.0, 0.9)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setValue(0.2)
        self.only_reviewed = QCheckBox(f"Only reviewed frames ({num_reviewed} of {num_frames})")
        self.only_reviewed.setChecked(num_reviewed > 0)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output folder", row)
        form.addRow("Validation fraction", self.val_spin)
        form.addRow("", self.only_reviewed)
        form.addRow("Split seed", self.seed_spin)
        # exporting unreviewed frames turns raw model output into training labels: say so
        self.unreviewed_note = QLabel()
        self.unreviewed_note.setWordWrap(True)
        self.unreviewed_note.setStyleSheet("color: #e0a040;")
        self._num_unreviewed = num_frames - num_reviewed
        self.only_reviewed.toggled.connect(self._update_unreviewed_note)
        self._update_unreviewed_note()
        note = QLabel("Writes train.json / val.json (COCO keypoints) and the images (video frames as PNG): "
                      "exactly what hrnet-train's coco_json dataset reads (DATASET.TRAIN_ANNOTATIONS ...).")
        note.setWordWrap(True)
        note.setStyleSheet("color: #999;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.unreviewed_note)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _update_unreviewed_note(self) -> None:
        n = 0 if self.only_reviewed.isChecked() else self._num_unreviewed
        self.unreviewed_note.setText(
            f"{count(n, 'unreviewed frame')} will be exported as {'it is' if n == 1 else 'they are'}: model "
            f"predictions on {'it' if n == 1 else 'them'} become "
            "training labels. Review them first (Shift+R marks a frame reviewed) to train on corrected poses."
            if n else "")
        self.unreviewed_note.setVisible(bool(n))

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export folder", self.folder_edit.text())
        if d:
            self.folder_edit.setText(d)

    def options(self) -> dict:
        return {
            "out_dir": Path(self.folder_edit.text()).expanduser(),
            "val_fraction": float(self.val_spin.value()),
            "only_reviewed": self.only_reviewed.isChecked(),
            "seed": int(self.seed_spin.value()),
        }
