"""F1: every shortcut of the app, generated from the window's actions (never out of date)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("Drag a joint", "Move it (one undo step per drag)"),
    ("Hover a joint", "Name, confidence, visibility; 1/2/3 then apply to the hovered joint"),
    ("Click a box / joint", "Select the person / joint"),
    ("Drag a box edge or corner", "Resize the selected person's box"),
    ("Drag inside a box", "Move the box"),
    ("Drag empty space, middle-drag, Ctrl+drag", "Pan"),
    ("Wheel", "Zoom about the cursor"),
    ("Double-click a person", "Zoom to that person"),
    ("Right-click", "Context menu: visibility, delete, swap, place a missing joint here"),
    ("While placing joints", "Click = place, Space = skip, Esc/Enter = done"),
)


def _plain(text: str) -> str:
    return text.replace("&", "").strip().rstrip("…").rstrip(".").strip()


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(group, shortcut text, description) for every action that has a shortcut."""
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if not keys:
            continue
        group = action.property("help_group") or "Other"
        text = _plain(action.text())
        tip = _plain(action.statusTip())  # (not the tooltip: that is the action's name + its shortcut)
        if tip and tip.casefold() != text.casefold():
            text = f"{text} — {tip}"
        rows.append((str(group), " / ".join(keys), text))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts and mouse")
        self.resize(760, 720)
        self.rows = shortcut_rows(actions)
        groups: dict[str, list[tuple[str, str]]] = {}
        for group, keys, text in self.rows:
            groups.setdefault(group, []).append((keys, text))
        html = ["<style>td{padding:2px 10px 2px 0;} h3{margin:10px 0 4px 0;} "
                "kbd{background:#333;color:#fff;padding:1px 4px;border-radius:3px;}</style>"]
        for group, items in groups.items():
            html.append(f"<h3>{group}</h3><table>")
            for keys, text in items:
                html.append(f"<tr><td><kbd>{keys}</kbd></td><td>{text}</td></tr>")
            html.append("</table>")
        html.append("<h3>Mouse</h3><table>")
        for what, text in MOUSE_HELP:
            html.append(f"<tr><td><b>{what}</b></td><td>{text}</td></tr>")
        html.append("</table>")
        browser = QTextBrowser()
        browser.setHtml("".join(html))
        self.browser = browser
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Joint colours: fill = model confidence (red low → green high), white = placed by "
                                "hand; outline orange = left side, blue = right side; dotted = below the "
                                "confidence threshold; ring = occluded."))
        layout.addWidget(browser, 1)
        layout.addWidget(buttons)
