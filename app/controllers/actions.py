"""The window's actions in one table: text, shortcuts, help group, tip, what they call; the menus
and the toolbar refer to them by name, and the F1 help (:mod:`app.widgets.help_dialog`) is
generated from the QActions built here, so a shortcut is written exactly once.

Each :class:`ActionSpec` calls ``slot(window)`` (``slot(window, checked)`` when checkable);
:func:`build_actions` creates the QActions on the window and also sets ``window.act_<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QStyle, QToolBar

SK = QKeySequence.StandardKey
FILE, NAVIGATE, EDIT, VIEW, MODEL, REVIEW, HELP = "File", "Navigate", "Edit", "View", "Model", "Review", "Help"
TRACKS = "Tracks"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    slot: Callable
    shortcuts: tuple = ()
    group: str = "Other"
    tip: str = ""
    checkable: bool = False
    canvas_only: bool = False  # fires only while the canvas has the focus (Tab must move the focus in forms)
    needs: str = ""  # enabled only when: 'doc' (frames open), 'person' (one selected), 'model' (can predict),
    #                  'person_model' (a person selected and the model can predict), 'run' (a prediction is
    #                  running); '' = always


def _nudge(name: str, key: str, dx: int, dy: int) -> ActionSpec:
    return ActionSpec(f"nudge_{name}", f"Nudge joint {name}", lambda w: w.edits.nudge_joint(dx, dy),
                      (f"Alt+{key}", f"Alt+Shift+{key}"), EDIT,
                      "Move the selected joint by one image pixel (Shift: 10)")


A = ActionSpec
ACTIONS: tuple[ActionSpec, ...] = (
    A("new_project", "&New project with a keypoint set…", lambda w: w.keypoints.new_project(), (), FILE,
      "Choose the joints (COCO-17, MPII-16, hand-21, AP-10K animal or your own), then the images or video"),
    A("open", "&Open images, video or project…", lambda w: w.project.open_files_dialog(), (SK.Open,), FILE),
    A("open_folder", "Open &folder…", lambda w: w.project.open_folder_dialog(), ("Ctrl+Shift+O",), FILE),
    A("open_video", "Open &video…", lambda w: w.project.open_video_dialog(), (), FILE),
    A("open_project", "Open &project / COCO JSON…", lambda w: w.project.open_project_dialog(), (), FILE),
    A("locate", "&Locate image folder…", lambda w: w.project.locate_images_dialog(), (), FILE,
      "Point the project at the folder that holds its images", needs="doc"),
    A("sample", "Open &sample project", lambda w: w.open_sample(), (), FILE),
    A("save", "&Save", lambda w: w.project.save_in_background(), (SK.Save,), FILE, needs="doc"),  # off the GUI thread
    A("save_as", "Save &as…", lambda w: w.project.save_as(background=True), ("Ctrl+Shift+S",), FILE, needs="doc"),
    A("export", "&Export for training…", lambda w: w.project.export_dialog(), ("Ctrl+E",), FILE,
      "COCO keypoint JSON + images with a train/val split, as hrnet-train reads", needs="doc"),
    A("recover", "&Recover unsaved work…", lambda w: w.project.recover_latest(), (), FILE),
    A("close", "&Close project", lambda w: w.project.close_project(), (SK.Close,), FILE, needs="doc"),
    A("quit", "&Quit", lambda w: w.close(), (SK.Quit,), FILE),

    A("next", "Next frame", lambda w: w.step_frame(1), ("Right", "N", "D"), NAVIGATE,
      "Next frame (of the filtered list when a filter is on)", needs="doc"),
    A("prev", "Previous frame", lambda w: w.step_frame(-1), ("Left", "P", "A"), NAVIGATE, needs="doc"),
    A("next10", "10 frames forward", lambda w: w.step_frame(10), ("Shift+Right",), NAVIGATE, needs="doc"),
    A("prev10", "10 frames back", lambda w: w.step_frame(-10), ("Shift+Left",), NAVIGATE, needs="doc"),
    A("first", "First frame", lambda w: w.go_to_frame(0), ("Home",), NAVIGATE, needs="doc"),
    A("last", "Last frame", lambda w: w.go_to_frame(w.document.num_frames() - 1), ("End",), NAVIGATE, needs="doc"),
    A("goto", "Go to frame…", lambda w: w.focus_frame_spin(), ("Ctrl+G",), NAVIGATE, needs="doc"),
    A("next_person", "Next person", lambda w: w.view.select_next_person(1), ("Tab",), NAVIGATE,
      "While the canvas has the focus (elsewhere Tab moves the focus); ` works anywhere", canvas_only=True),
    A("prev_person", "Previous person", lambda w: w.view.select_next_person(-1), ("Shift+Tab",), NAVIGATE,
      canvas_only=True),
    A("next_person_any", "Next person (`)", lambda w: w.view.select_next_person(1), ("`",), NAVIGATE),
    A("prev_person_any", "Previous person (~)", lambda w: w.view.select_next_person(-1), ("~",), NAVIGATE),
    A("next_joint", "Next joint", lambda w: w.view.select_next_joint(1), ("]",), NAVIGATE),
    A("prev_joint", "Previous joint", lambda w: w.view.select_next_joint(-1), ("[",), NAVIGATE),

    A("add_person", "&Add person (draw a box)", lambda w: w.edits.add_person(), ("B",), EDIT,
      "Drag a box; with a model the pose is predicted inside it, else click the joints", needs="doc"),
    A("place", "&Place missing joints", lambda w: w.edits.place_missing_joints(), ("M",), EDIT,
      "Click the selected person's unlabelled joints one after another", needs="person"),
    A("vis_visible", "Joint &visible", lambda w: w.edits.set_visibility(2), ("1",), EDIT,
      "Hovered or selected joint: visible"),
    A("vis_occluded", "Joint &occluded", lambda w: w.edits.set_visibility(1), ("2",), EDIT,
      "Hovered or selected joint: labelled but occluded"),
    A("vis_none", "Joint &not labelled", lambda w: w.edits.set_visibility(0), ("3",), EDIT,
      "Hovered or selected joint: not labelled"),
    A("delete", "&Delete joint / person", lambda w: w.edits.delete_selection(), ("Delete", "Backspace"), EDIT,
      "The selected joint, or the selected person when no joint is selected"),
    A("delete_person", "Delete &person", lambda w: w.edits.delete_person(), ("Shift+Delete",), EDIT, needs="person"),
    A("swap", "&Swap left/right", lambda w: w.edits.swap_left_right(), ("S",), EDIT,
      "Swap the left and right joints of the selected person", needs="person"),
    A("copy_prev", "&Copy people from previous frame", lambda w: w.edits.copy_from_previous(), ("C",), EDIT,
      needs="doc"),
    A("reviewed", "Mark frame &reviewed", lambda w: w.edits.toggle_reviewed(), ("R",), REVIEW,
      "Toggle the reviewed mark", needs="doc"),
    A("reviewed_next", "Reviewed, next unreviewed", lambda w: w.edits.reviewed_and_next(), ("Shift+R",), REVIEW,
      "Mark reviewed and jump to the next unreviewed frame", needs="doc"),
    A("low_frame", "Next low-confidence frame", lambda w: w.edits.next_low_confidence_frame(), ("L",), REVIEW,
      "The unreviewed frame whose weakest person has the lowest confidence", needs="doc"),
    A("low_person", "Next low-confidence person", lambda w: w.edits.next_low_confidence_person(), ("Shift+L",), REVIEW,
      "People of this frame, weakest first", needs="doc"),
    A("cancel", "Cancel / deselect", lambda w: w.escape(), ("Escape",), EDIT),
    A("keypoint_set", "&Keypoint set…", lambda w: w.keypoints.edit_keypoint_set(), (), EDIT,
      "Edit the joints, edges, left/right pairs and sigmas of this project (one undo step, keeps every label)",
      needs="doc"),
    _nudge("left", "Left", -1, 0), _nudge("right", "Right", 1, 0), _nudge("up", "Up", 0, -1),
    _nudge("down", "Down", 0, 1),

    A("fit", "&Fit to window", lambda w: w.view.fit(), ("F",), VIEW, needs="doc"),
    A("actual", "&Actual size (1:1)", lambda w: w.view.actual_size(), ("0", "Ctrl+0"), VIEW, needs="doc"),
    A("zoom_in", "Zoom &in", lambda w: w.view.zoom_by(1.25), ("+", "=", "Ctrl++"), VIEW),
    A("zoom_out", "Zoom &out", lambda w: w.view.zoom_by(0.8), ("-", "Ctrl+-"), VIEW),
    A("heatmap", "&Heatmap overlay", lambda w: w.heatmap_overlay.toggle_overlay(), ("H",), VIEW,
      "Overlay the selected person's heatmap (selected joint, or max over joints)"),
    A("heatmap_mode", "Heatmap: joint / all joints", lambda w: w.heatmap_overlay.toggle_mode(), ("Shift+H",), VIEW),
    A("annotations", "Show &annotations", lambda w, on: w.view.set_annotations_visible(on), ("V",), VIEW,
      "Hide people to look at the image", checkable=True),

    A("predict_frame", "Predict this &frame", lambda w: w.run_inference("current"), ("Ctrl+I",), MODEL,
      "Detect people and estimate their poses on this frame", needs="model"),
    A("predict_unreviewed", "Predict &unreviewed frames", lambda w: w.run_inference("unreviewed"),
      ("Ctrl+Shift+I",), MODEL, needs="model"),
    A("repredict_person", "&Re-predict selected person", lambda w: w.repredict_selected_person(), ("Ctrl+Shift+P",),
      MODEL, "Predict the selected person again inside their box; asks before replacing hand-edited joints",
      needs="person_model"),
    A("predict_all", "Predict &all frames", lambda w: w.run_inference("all"), (), MODEL, needs="model"),
    A("predict_selected", "Predict &selected frames", lambda w: w.run_inference("selected"), (), MODEL, needs="model"),
    A("cancel_run", "&Cancel prediction", lambda w: w.inference.cancel(), (), MODEL, needs="run"),
    A("choose_model", "Choose &model…", lambda w: w.show_model_panel(), (), MODEL),
    A("bundled_model", "Load the &bundled demo model", lambda w: w.load_bundled_model(), (), MODEL,
      "A small HRNet trained on synthetic people (it knows only the rendered figures)"),
    A("demo_model", "Load &random-weights demo model", lambda w: w.load_demo_model(), (), MODEL,
      "A tiny untrained HRNet: shows the loop, its predictions are meaningless"),
    A("train", "&Train model…", lambda w: w.open_train_dialog(), (), MODEL,
      "Fine-tune HRNet on the reviewed frames (hrnet-train in a separate process)"),

    A("track_people", "&Track people", lambda w: w.tracking.track_all(), ("Ctrl+T",), TRACKS,
      "Give the people of every video frame an identity that holds across frames (one undo step)", needs="doc"),
    A("swap_ids", "&Swap identities from here on", lambda w: w.tracking.swap_identities(), ("X",), TRACKS,
      "The selected person and another exchange their tracks from this frame on", needs="person"),
    A("merge_track", "&Merge a track into this one…", lambda w: w.tracking.merge_track(), (), TRACKS,
      needs="person"),
    A("split_track", "S&plit track here", lambda w: w.tracking.split_track(), ("Ctrl+K",), TRACKS,
      "From this frame on, the selected person's track gets a new id", needs="person"),
    A("delete_track", "&Delete track", lambda w: w.tracking.delete_track(), (), TRACKS,
      "Delete the selected person's track in every frame", needs="person"),
    A("assign_track", "&Assign to track…", lambda w: w.tracking.assign_track(), (), TRACKS, needs="person"),
    A("interpolate", "&Interpolate keyframes", lambda w: w.tracking.interpolate(), ("I",), TRACKS,
      "Joints corrected by hand at two frames fill the frames between, for the selected person's track",
      needs="person"),
    A("propagate", "&Propagate forward…", lambda w: w.tracking.propagate_forward(), ("Shift+C",), TRACKS,
      "Copy the selected pose into the next frames as predictions (Predict refines them)", needs="person"),
    A("track_weak", "Next &weak frame of this track", lambda w: w.tracking.next_weak_frame_of_track(),
      ("Alt+L",), REVIEW, "The selected person's track, weakest unreviewed frame first", needs="person"),
    A("play", "&Play / pause", lambda w: w.playback.toggle(), ("K", "Ctrl+Space"), NAVIGATE,
      "Play the frames at the video's frame rate (frames are skipped when decoding is slower)", needs="doc"),

    A("help", "&Keyboard shortcuts", lambda w: w.show_help(), ("F1",), HELP),
    A("about", "&About", lambda w: w.show_about(), (), HELP),
)
del A

NUDGE = ("nudge_left", "nudge_right", "nudge_up", "nudge_down")
# Menus: action names, None = separator, "-docks" = the docks' show/hide actions, "-recent" = Open recent.
MENUS: tuple[tuple[str, tuple], ...] = (
    ("&File", ("new_project", "open", "open_folder", "open_video", "open_project", "sample", "-recent", None, "save",
               "save_as", "export", None, "locate", "recover", "close", "quit")),
    ("&Edit", ("undo", "redo", None, "add_person", "place", None, "vis_visible", "vis_occluded", "vis_none", None,
               "delete", "delete_person", "swap", "copy_prev", None, *NUDGE, None, "keypoint_set")),
    ("&Review", ("reviewed", "reviewed_next", None, "low_frame", "low_person", "track_weak")),
    ("&Navigate", ("play", None, "next", "prev", "next10", "prev10", "first", "last", "goto", None, "next_person",
                   "prev_person",
                   "next_joint", "prev_joint")),
    ("&View", ("fit", "actual", "zoom_in", "zoom_out", None, "heatmap", "heatmap_mode", "annotations", None,
               "-docks")),
    ("&Model", ("choose_model", "bundled_model", "demo_model", None, "predict_frame", "predict_selected",
                "predict_unreviewed", "predict_all", "repredict_person", "cancel_run", None, "train")),
    ("&Tracks", ("track_people", None, "swap_ids", "assign_track", "split_track", "merge_track", "delete_track", None,
                 "interpolate", "propagate")),
    ("&Help", ("help", "about")),
)
SP = QStyle.StandardPixmap
TOOLBAR: tuple = (("open", "Open", SP.SP_DialogOpenButton), ("save", "Save", SP.SP_DialogSaveButton), None,
                  ("undo", "Undo", SP.SP_ArrowBack), ("redo", "Redo", SP.SP_ArrowForward), None,
                  ("add_person", "Add person", None), ("predict_frame", "Predict", SP.SP_MediaPlay), None,
                  ("reviewed", "Reviewed", SP.SP_DialogApplyButton), ("low_frame", "Weakest", None), None,
                  ("fit", "Fit", None), ("heatmap", "Heatmap", None))
CONTEXT_MENU = ("vis_visible", "vis_occluded", "vis_none", None, "delete", "delete_person", "swap", None, "place",
                "add_person", "repredict_person", None, "reviewed")


def key_sequences(shortcuts) -> list[QKeySequence]:
    keys: list[QKeySequence] = []
    for s in shortcuts:
        keys.extend(QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)])
    return keys


def make_action(window: QMainWindow, spec: ActionSpec) -> QAction:
    action = QAction(spec.text, window)
    keys = key_sequences(spec.shortcuts)
    if keys:
        action.setShortcuts(keys)
    action.setProperty("help_group", spec.group)
    if spec.tip:
        action.setStatusTip(spec.tip)
        action.setToolTip(f"{spec.text.replace('&', '').rstrip('…')} ({keys[0].toString()})" if keys else spec.tip)
    action.setCheckable(spec.checkable)
    if spec.checkable:
        action.toggled.connect(lambda on, s=spec: s.slot(window, on))
    else:
        action.triggered.connect(lambda _=False, s=spec: s.slot(window))
    window.addAction(action)  # shortcuts work wherever the focus is in the window...
    if spec.canvas_only:  # ... except these
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        window.view.addAction(action)
    return action


def build_actions(window: QMainWindow, undo_stack) -> dict[str, QAction]:
    """Every action of :data:`ACTIONS` plus undo/redo, on ``window``; also ``window.act_<name>``."""
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        actions[spec.name] = make_action(window, spec)
        if spec.name == "quit":  # undo/redo come from the stack; listed after File in the help
            actions["undo"] = undo_stack.createUndoAction(window, "&Undo")
            actions["undo"].setShortcuts([QKeySequence("Ctrl+Z")])
            actions["redo"] = undo_stack.createRedoAction(window, "&Redo")
            actions["redo"].setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
            for name in ("undo", "redo"):
                actions[name].setProperty("help_group", EDIT)
                window.addAction(actions[name])
    actions["annotations"].setChecked(True)
    for name, action in actions.items():
        setattr(window, f"act_{name}", action)
    return actions


def set_enabled(actions: dict[str, QAction], **state: bool) -> None:
    """Enable each action of the table whose ``needs`` is met: ``set_enabled(acts, doc=…, person=…, …)``."""
    for spec in ACTIONS:
        if spec.needs:
            actions[spec.name].setEnabled(state[spec.needs])


def build_menus(window: QMainWindow, actions: dict[str, QAction], docks) -> dict[str, object]:
    """The menu bar from :data:`MENUS`; returns the special sub-menus ({'recent': QMenu})."""
    special = {}
    for title, names in MENUS:
        menu = window.menuBar().addMenu(title)
        for name in names:
            if name is None:
                menu.addSeparator()
            elif name == "-recent":
                special["recent"] = menu.addMenu("Open &recent")
            elif name == "-docks":
                for dock in docks:
                    menu.addAction(dock.toggleViewAction())
            else:
                menu.addAction(actions[name])
    return special


def build_toolbar(window: QMainWindow, actions: dict[str, QAction]) -> QToolBar:
    style = window.style()
    tb = QToolBar("Main")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.setObjectName("main_toolbar")
    tb.setMovable(False)
    for item in TOOLBAR:
        if item is None:
            tb.addSeparator()
            continue
        name, short, icon = item
        action = actions[name]
        action.setIconText(short)
        if icon is not None:
            action.setIcon(style.standardIcon(icon))
        tb.addAction(action)
    return tb


def context_actions(actions: dict[str, QAction]) -> list[QAction | None]:
    return [None if name is None else actions[name] for name in CONTEXT_MENU]
