"""Keypoint-set actions of the main window: a new project with a chosen set, editing the set of
the open project (one undo step), and what to do with a model of another set.

The window owns one :class:`KeypointSetController` (the actions table calls it), and
:meth:`check_model` replaces a bare refusal of a mismatching model by the reason and an offer
to fine-tune that model for this project's set.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog

from app.document import AnnotationDocument
from app.keypoint_commands import SetKeypointSet
from app.keypoint_set_editor import KeypointSetDraft, model_fit
from hrnet import COCO_17, MPII_16, KeypointSet

__all__ = ["KeypointSetController", "apply_new_project_set"]

log = logging.getLogger(__name__)


def apply_new_project_set(document: AnnotationDocument, kset: KeypointSet) -> None:
    """Give a just-opened project without people its keypoint set (not an undo step: the project
    starts with it). Raises ValueError when the project already has people."""
    if any(fr.instances for fr in document.data.frames):
        raise ValueError("the project has people already: edit its keypoint set instead (undoable)")
    document.data.category.set_keypoint_set(kset)
    if kset.name and document.data.category.name == "person" and kset.name not in ("COCO-17", "MPII-16"):
        document.data.category.name = kset.name
    document.keypoint_set_changed.emit()


class KeypointSetController(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        # the model panel says what the model predicts and offers fine-tuning on a mismatch
        window.model.model_loaded.connect(lambda _spec: self.refresh_model_panel())
        window.model.model_failed.connect(lambda *_: self.refresh_model_panel())
        window.document.keypoint_set_changed.connect(self.refresh_model_panel)
        window.document.frames_changed.connect(self.refresh_model_panel)
        window.model_panel.finetune_requested.connect(window.open_train_dialog)
        self.refresh_model_panel()

    @property
    def document(self) -> AnnotationDocument:
        return self.window.document

    # -- dialogs -------------------------------------------------------------------------------
    def _dialog(self, draft: KeypointSetDraft, new_project: bool, labelled: int) -> QDialog:
        from app.widgets.keypoint_set_dialog import KeypointSetDialog

        return KeypointSetDialog(draft, self.window, new_project=new_project, labelled=labelled)

    def new_project(self) -> None:
        """Choose a set, then the images / folder / video of the new project."""
        draft = KeypointSetDraft(COCO_17, keep_origins=False)
        if self._dialog(draft, True, 0).exec() != QDialog.DialogCode.Accepted:
            return
        kset, _ = draft.result()
        before = self.document.data
        self.window.project.open_files_dialog()
        if self.document.data is before or self.document.path is not None:
            return  # cancelled, failed, or a saved project was opened: its own set stands
        try:
            apply_new_project_set(self.document, kset)
        except ValueError as e:
            self.window.show_error("Keypoint set not applied", str(e))

    def edit_keypoint_set(self) -> None:
        doc = self.document
        labelled = sum(1 for fr in doc.data.frames for inst in fr.instances if (inst.keypoints[:, 2] > 0).any())
        draft = KeypointSetDraft(doc.keypoint_set())
        if self._dialog(draft, False, labelled).exec() != QDialog.DialogCode.Accepted or draft.is_unchanged():
            return
        kset, origins = draft.result()
        doc.push(SetKeypointSet(doc, kset, origins))

    # -- models of another set -------------------------------------------------------------------
    def model_mismatch(self, predictor: Any = None) -> str:
        """Why the loaded model cannot label this project ("" when it can): the inference
        controller's one check (joint names of the two keypoint sets, else joint counts)."""
        return self.window.inference.mismatch() or ""

    def refresh_model_panel(self) -> None:
        panel = self.window.model_panel
        project = self.document.keypoint_set()
        fits = {name: model_fit(kset, project) for name, kset in (("coco", COCO_17), ("mpii", MPII_16))}
        panel.mark_registry_sets(fits)
        predictor = self.window.model.predictor if self.window.model.is_loaded else None
        kset = getattr(predictor, "keypoint_set", None)
        if not isinstance(kset, KeypointSet):
            panel.set_keypoint_fit("", "")
            return
        predicts = f"{kset.name} ({len(kset)} joints)" if kset.name else f"{len(kset)} joints"
        panel.set_keypoint_fit(predicts, model_fit(kset, project))

    def check_model(self, predictor: Any = None) -> bool:
        """True when the model fits the project; otherwise say why (without blocking) and show the
        model panel, whose link offers to fine-tune the model for this project's set."""
        why = self.model_mismatch(predictor)
        if not why:
            return True
        self.refresh_model_panel()
        self.window.show_error("Model and project do not match",
                               f"{why}\n\nFine-tuning starts from this model: what fits is kept, and joints it "
                               "knows by name start already trained (Model panel: \u201cFine-tune it for this "
                               "keypoint set\u2026\u201d).")
        self.window.show_model_panel()
        return False
