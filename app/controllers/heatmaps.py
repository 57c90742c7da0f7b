"""The model's heatmaps of the selected person, on the canvas and in the Heatmaps dock:
:class:`HeatmapOverlay`.

Heatmaps come from the :class:`~app.canvas.heatmaps.HeatmapStore` (filled by every prediction);
a person predicted before this session gets a quiet request to the
:class:`~app.controllers.inference.InferenceController`. The colour map and opacity are settings.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.canvas.heatmaps import HeatmapStore
from app.canvas.view import PoseView
from app.controllers.inference import InferenceController
from app.document import AnnotationDocument
from app.settings import AppSettings
from app.widgets.heatmap_dock import HeatmapDockWidget, colormap_lut


class HeatmapOverlay(QObject):
    def __init__(self, document: AnnotationDocument, view: PoseView, panel: HeatmapDockWidget, store: HeatmapStore,
                 inference: InferenceController, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.view, self.panel, self.store = document, view, panel, store
        self.inference, self.settings = inference, settings
        self.last_mode = "joint"  # what the overlay key turns back on
        view.set_heatmap_lut(colormap_lut(panel.colormap()))
        view.set_heatmap_opacity(panel.opacity())
        panel.joint_clicked.connect(self._on_joint_clicked)
        panel.overlay_mode_changed.connect(lambda _m: self.refresh())
        panel.colormap_changed.connect(self._on_colormap_changed)
        panel.opacity_changed.connect(self._on_opacity_changed)

    def _on_joint_clicked(self, joint: int) -> None:
        if self.view.selected_person is not None:
            self.view.select(self.view.selected_person, joint)

    def _on_colormap_changed(self, name: str) -> None:
        self.view.set_heatmap_lut(colormap_lut(name))
        self.settings.set_heatmap_colormap(name)

    def _on_opacity_changed(self, value: float) -> None:
        self.view.set_heatmap_opacity(value)
        self.settings.set_heatmap_opacity(value)

    def toggle_overlay(self) -> None:
        mode = self.panel.overlay_mode()
        if mode == "off":
            self.panel.set_overlay_mode(self.last_mode)
        else:
            self.last_mode = mode
            self.panel.set_overlay_mode("off")

    def toggle_mode(self) -> None:
        self.panel.set_overlay_mode("max" if self.panel.overlay_mode() == "joint" else "joint")

    def refresh(self) -> None:
        """Overlay + grid for the selected person; asks the model for them when needed."""
        p, j = self.view.selected_person, self.view.selected_joint
        frame = self.document.current_frame() if self.document.num_frames() else None
        if frame is None or p is None or p >= len(frame.instances):
            self.view.set_heatmap(None)
            self.panel.set_heatmaps(None, message="Select a person to see the model's heatmaps.")
            return
        f = self.document.current_index()
        size = (frame.width, frame.height) if frame.width > 0 else None
        box = frame.instances[p].box_or_auto(size)
        entry = self.store.lookup(f, box)
        if entry is None:
            self.view.set_heatmap(None)
            if not self.inference.model.is_loaded:
                msg = "No heatmaps: this person was not predicted in this session and no model is loaded."
            elif box is None:
                msg = "No heatmaps: this person has no box."
            else:
                msg = "Computing heatmaps…"
                self.inference.request_heatmaps(f, box)
            self.panel.set_heatmaps(None, message=msg)
            return
        self.panel.set_heatmaps(entry.heatmaps, j)
        mode = self.panel.overlay_mode()
        if mode == "off":
            self.view.set_heatmap(None)
        elif mode == "joint" and j is not None and j < len(entry.heatmaps):
            self.view.set_heatmap(entry.heatmaps[j], entry.heatmap_to_image)
        else:
            self.view.set_heatmap(entry.heatmaps.max(axis=0), entry.heatmap_to_image)
