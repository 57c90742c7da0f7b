"""Colours of the canvas: limbs by body side, joints by confidence, people by identity.

Limbs follow the COCO convention of the official visualisations (the left side warm, the right
side cool, the trunk and head links neutral) so left/right mix-ups — HRNet's most common error —
jump out. Joint fill encodes confidence (red -> yellow -> green); joints placed or corrected by
hand, and imported ground truth without a score, are white.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor

from hrnet import KeypointSet, side_of

K_CENTRE = "centre"  # hrnet.keypoints.CENTRE

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
    """Side of a joint by its name alone: the one left/right rule of :mod:`hrnet.keypoints`."""
    side = side_of(name)
    return CENTRE if side == K_CENTRE else side


def limb_sides(names: Sequence[str], skeleton: Sequence[tuple[int, int]]) -> list[str]:
    """Side of each edge of a skeleton over ``names`` (pairs by the left/right rule)."""
    return _edge_sides(KeypointSet.from_names(names, [e for e in skeleton if 0 <= e[0] < len(names)
                                                      and 0 <= e[1] < len(names) and e[0] != e[1]]))


def _edge_sides(kset: KeypointSet) -> list[str]:
    return [CENTRE if s == K_CENTRE else s for s in kset.edge_sides()]


def _shades(sides: Sequence[str]) -> list[QColor]:
    counters = {LEFT: 0, RIGHT: 0, CENTRE: 0}
    colours = []
    for side in sides:
        palette = _SIDE_PALETTES[side]
        colours.append(QColor(palette[counters[side] % len(palette)]))
        counters[side] += 1
    return colours


def limb_colours(names: Sequence[str], skeleton: Sequence[tuple[int, int]]) -> list[QColor]:
    """One colour per skeleton edge: the side's palette, shades cycling along that side."""
    return _shades(limb_sides(names, skeleton))


def limb_colours_for(kset: KeypointSet) -> list[QColor]:
    """One colour per edge of the set: the side of its ends (by the set's left/right pairs) picks
    the palette; with the set's own joint colours, the colour of the edge's first joint."""
    if kset.colors is not None:
        return [QColor(kset.colors[a]) for a, _ in kset.skeleton]
    return _shades(_edge_sides(kset))


def joint_outlines_for(kset: KeypointSet) -> list[QColor]:
    """Outline colour per joint: the set's own colours, else its side (left/right pair or centre)."""
    if kset.colors is not None:
        return [QColor(c) for c in kset.colors]
    return [SIDE_OUTLINE[CENTRE if s == K_CENTRE else s] for s in kset.sides()]


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

