"""Colours of the canvas: limbs by body side, joints by confidence, people by identity.

Limbs follow the COCO convention of the official visualisations (the left side warm, the right
side cool, the trunk and head links neutral) so left/right mix-ups — HRNet's most common error —
jump out. Joint fill encodes confidence (red -> yellow -> green); joints placed or corrected by
hand, and imported ground truth without a score, are white.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor

LEFT, RIGHT, CENTRE = "left", "right", "centre"

_SIDE_PALETTES: dict[str, tuple[str, ...]] = {
    LEFT: ("#ff8c1a", "#ffbf00", "#ff5c33", "#ffd966", "#e67300"),
    RIGHT: ("#1a8cff", "#00d0ff", "#4d4dff", "#66e0ff", "#0059b3"),
    CENTRE: ("#33cc33", "#cc33cc", "#99e699", "#e680e6"),
}
SIDE_OUTLINE: dict[str, QColor] = {LEFT: QColor("#ff9933"), RIGHT: QColor("#3399ff"), CENTRE: QColor("#40d040")}

# Distinct identity colours for people (boxes, labels); Okabe-Ito + tab10 style.
PERSON_COLOURS: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
    "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000",
)

HAND_COLOUR = QColor("#ffffff")
SELECTION_COLOUR = QColor("#00ffff")


def joint_side(name: str) -> str:
    n = name.lower()
    if n.startswith(("left", "l_")):
        return LEFT
    if n.startswith(("right", "r_")):
        return RIGHT
    return CENTRE


def limb_sides(names: Sequence[str], skeleton: Sequence[tuple[int, int]]) -> list[str]:
    sides = [joint_side(n) for n in names]
    out = []
    for a, b in skeleton:
        sa = sides[a] if 0 <= a < len(sides) else CENTRE
        sb = sides[b] if 0 <= b < len(sides) else CENTRE
        if LEFT in (sa, sb) and RIGHT not in (sa, sb):
            out.append(LEFT)
        elif RIGHT in (sa, sb) and LEFT not in (sa, sb):
            out.append(RIGHT)
        else:
            out.append(CENTRE)
    return out


def limb_colours(names: Sequence[str], skeleton: Sequence[tuple[int, int]]) -> list[QColor]:
    """One colour per skeleton edge: the side's palette, shades cycling along that side."""
    counters = {LEFT: 0, RIGHT: 0, CENTRE: 0}
    colours = []
    for side in limb_sides(names, skeleton):
        palette = _SIDE_PALETTES[side]
        colours.append(QColor(palette[counters[side] % len(palette)]))
        counters[side] += 1
    return colours


def person_colour(index: int) -> QColor:
    return QColor(PERSON_COLOURS[index % len(PERSON_COLOURS)])


def _confidence_rgb(c: float) -> tuple[int, int, int]:
    if c < 0.5:
        return 255, int(round(510 * c)), 40
    return int(round(255 * (2 - 2 * c))), 255, 40


_CONF_LUT: tuple[QColor, ...] = tuple(QColor(*_confidence_rgb(i / 100)) for i in range(101))


def confidence_colour(conf: float) -> QColor:
    """Red (0) -> yellow (0.5) -> green (1), in steps of 0.01."""
    c = float(conf)
    if not c > 0.0:  # also NaN
        return _CONF_LUT[0]
    return _CONF_LUT[min(100, int(round(c * 100)))]

