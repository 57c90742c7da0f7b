"""The People list and the Person panel follow the document, the canvas's selection and the
confidence threshold; what the user does in them goes to the canvas (select) and the edit
controller (visibility, place, swap L/R, delete).

Refreshes are deferred and coalesced: the tables are rebuilt once after the current event, never
while one of their own combo boxes is still emitting.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from app.canvas.view import PoseView
from app.controllers.editing import EditController
from app.document import AnnotationDocument
from app.widgets.people_list import PeopleListWidget
from app.widgets.person_panel import PersonPanelWidget


class PeoplePanels(QObject):
    def __init__(self, document: AnnotationDocument, view: PoseView, people_list: PeopleListWidget,
                 person_panel: PersonPanelWidget, edits: EditController, threshold: Callable[[], float],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.view = document, view
        self.people_list, self.person_panel = people_list, person_panel
        self.threshold = threshold
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh_now)

        pp = person_panel
        pp.joint_selected.connect(lambda j: view.select(view.selected_person, j))
        pp.visibility_requested.connect(edits.set_joint_visibility)
        pp.place_requested.connect(edits.place_joints)
        pp.swap_requested.connect(edits.swap_left_right)
        pp.delete_requested.connect(edits.delete_person)
        people_list.person_selected.connect(lambda p: (view.select(p), view.ensure_selection_visible()))
        people_list.delete_requested.connect(lambda p: (view.select(p), edits.delete_person()))

    def refresh(self) -> None:
        """Rebuild both after the current event (coalesced)."""
        self._timer.start()

    def refresh_now(self) -> None:
        p = self.view.selected_person
        doc = self.document
        frame = doc.current_frame() if doc.num_frames() else None
        if frame is None:
            self.people_list.set_people(None, [], None)
        else:
            self.people_list.set_people(doc.current_index(), frame.instances, p, frame.reviewed)
        if frame is None or p is None or p >= len(frame.instances):
            self.person_panel.set_person(None, None)
            return
        self.person_panel.set_person(doc.keypoint_set(), frame.instances[p], p, self.view.selected_joint,
                                     self.threshold())
