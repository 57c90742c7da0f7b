"""The start view: what a first-time user sees — the sample project, recent projects, open actions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class StartWidget(QWidget):
    sample_requested = Signal()
    open_files_requested = Signal()
    open_folder_requested = Signal()
    open_video_requested = Signal()
    open_project_requested = Signal()
    recent_requested = Signal(str)
    recover_requested = Signal()
    discard_recovery_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("HRNet Pose Annotator")
        title.setStyleSheet("font-size: 26px; font-weight: bold;")
        subtitle = QLabel("Open images, a folder or a video, let HRNet pre-label every person, fix what is "
                          "wrong, and export COCO keypoints that hrnet-train reads. Drop files anywhere on "
                          "this window. F1 lists every shortcut.")
        subtitle.setWordWrap(True)
        subtitle.setStyleSheet("color: #bbb; font-size: 13px;")

        self.recovery_frame = QFrame()
        self.recovery_frame.setStyleSheet("QFrame { background: #4a3a1a; border-radius: 6px; }")
        self.recovery_label = QLabel("")
        self.recovery_label.setWordWrap(True)
        restore = QPushButton("Restore unsaved work")
        restore.clicked.connect(self.recover_requested)
        discard = QPushButton("Discard")
        discard.clicked.connect(self.discard_recovery_requested)
        rl = QHBoxLayout(self.recovery_frame)
        rl.addWidget(self.recovery_label, 1)
        rl.addWidget(restore)
        rl.addWidget(discard)
        self.recovery_frame.setVisible(False)

        self.sample_button = QPushButton("Open the sample project")
        self.sample_button.setStyleSheet("font-size: 15px; padding: 10px; font-weight: bold;")
        self.sample_button.setToolTip("Synthetic people + public-domain photos, already pre-labelled: "
                                      "the whole loop in a minute")
        self.sample_button.clicked.connect(self.sample_requested)
        buttons = QVBoxLayout()
        buttons.addWidget(self.sample_button)
        for text, signal, tip in (
            ("Open images…", self.open_files_requested, "One or more image files (Ctrl+O)"),
            ("Open folder…", self.open_folder_requested, "Every image of a folder, opened lazily (Ctrl+Shift+O)"),
            ("Open video…", self.open_video_requested, "mp4 / avi / mov / mkv, frame-accurate"),
            ("Open project / COCO JSON…", self.open_project_requested,
             "A saved project or any COCO keypoint JSON with its image folder"),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setStyleSheet("padding: 7px;")
            b.clicked.connect(signal)
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.recent_list = QListWidget()
        self.recent_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.recent_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setSpacing(2)
        self.recent_list.itemActivated.connect(
            lambda item: self.recent_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        recent_box = QVBoxLayout()
        recent_title = QLabel("Recent")
        recent_title.setStyleSheet("font-size: 15px; font-weight: bold;")
        recent_box.addWidget(recent_title)
        recent_box.addWidget(self.recent_list, 1)

        columns = QHBoxLayout()
        columns.addLayout(buttons, 1)
        columns.addSpacing(24)
        columns.addLayout(recent_box, 2)

        inner = QVBoxLayout()
        inner.addWidget(title)
        inner.addWidget(subtitle)
        inner.addSpacing(12)
        inner.addWidget(self.recovery_frame)
        inner.addLayout(columns, 1)
        card = QWidget()
        card.setLayout(inner)
        card.setMaximumWidth(900)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(card, 4)
        outer.addStretch(1)

    def set_recent(self, paths: Sequence[str]) -> None:
        self.recent_list.clear()
        for p in paths:
            path = Path(p)
            item = QListWidgetItem(f"{path.name}\n    {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            if not path.exists():
                item.setForeground(Qt.GlobalColor.gray)
                item.setText(item.text() + "   (missing)")
            self.recent_list.addItem(item)
        if not paths:
            item = QListWidgetItem("Nothing yet — open the sample project to start.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent_list.addItem(item)

    def set_recovery(self, text: str | None) -> None:
        self.recovery_frame.setVisible(bool(text))
        self.recovery_label.setText(text or "")
