"""Where the skeleton editor draws each joint before the user moves it (Qt-free).

Positions are ``(x, y)`` in [0, 1], y down. Joints are placed by name on one of three figures,
whichever knows most of the set's names: a person seen from the front (the person's left on the
right of the picture, as in a photo: COCO, MPII and their subsets), a four-legged animal seen from
its left side (AP-10K; right-side joints drawn a little behind), or an open hand (hand-21). A name
is read as side + body part by the one left/right rule (``left_knee``, ``knee_r``, ``lKnee``...).
Joints no figure knows go on a circle around the picture, the same place :func:`free_spot` gives
a joint added in the editor. A set that stores its own layout (``KeypointSet.layout``, what the
user arranged) is drawn that way instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from hrnet import side_of

__all__ = ["CIRCLE_RADIUS", "default_layout", "free_spot", "mirrored"]

Point = tuple[float, float]
CIRCLE_RADIUS = 0.44

# A person from the front; x of the person's LEFT side (drawn right of centre), centre parts at 0.5.
_PERSON: dict[str, Point] = {
    "head_top": (0.5, 0.0), "head": (0.5, 0.07), "forehead": (0.5, 0.04), "nose": (0.5, 0.12),
    "eye": (0.545, 0.075), "ear": (0.6, 0.095), "mouth": (0.5, 0.15), "chin": (0.5, 0.17),
    "upper_neck": (0.5, 0.17), "neck": (0.5, 0.19), "thorax": (0.5, 0.29), "chest": (0.5, 0.30),
    "spine": (0.5, 0.40), "belly": (0.5, 0.45), "pelvis": (0.5, 0.54), "shoulder": (0.62, 0.25),
    "elbow": (0.70, 0.40), "wrist": (0.76, 0.54), "hand": (0.79, 0.58), "hip": (0.575, 0.55),
    "knee": (0.59, 0.74), "ankle": (0.60, 0.92), "heel": (0.585, 0.96), "foot": (0.63, 0.97),
    "big_toe": (0.65, 0.98), "small_toe": (0.67, 0.97), "toe": (0.65, 0.98),
}
# A four-legged animal facing left, seen from its left side; the right side is drawn behind.
_ANIMAL: dict[str, Point] = {
    "nose": (0.06, 0.32), "eye": (0.13, 0.22), "ear": (0.19, 0.12), "head": (0.13, 0.20),
    "chin": (0.10, 0.36), "neck": (0.24, 0.34), "withers": (0.34, 0.32), "back": (0.52, 0.34),
    "root_of_tail": (0.80, 0.36), "tail_base": (0.80, 0.36), "tail": (0.88, 0.46), "tail_tip": (0.96, 0.62),
    "belly": (0.52, 0.52), "shoulder": (0.30, 0.46), "elbow": (0.30, 0.64), "front_paw": (0.29, 0.88),
    "hip": (0.74, 0.46), "knee": (0.74, 0.64), "back_paw": (0.77, 0.88), "hock": (0.77, 0.74),
}
_ANIMAL_BEHIND = (0.07, -0.05)  # offset of a right-side joint (the far side)


def _hand() -> dict[str, Point]:
    """An open hand, fingers up, thumb on the left: the wrist at the bottom."""
    out: dict[str, Point] = {"wrist": (0.5, 0.93)}
    fingers = (("thumb", -52.0, 0.13, (0.12, 0.11, 0.09, 0.08)),
               ("forefinger", -22.0, 0.30, (0.13, 0.10, 0.08, 0.07)),
               ("middle_finger", 0.0, 0.32, (0.14, 0.10, 0.08, 0.07)),
               ("ring_finger", 20.0, 0.30, (0.13, 0.09, 0.08, 0.06)),
               ("pinky_finger", 40.0, 0.26, (0.11, 0.08, 0.06, 0.05)))
    for name, deg, base, segments in fingers:
        a = math.radians(deg)
        dx, dy = math.sin(a), -math.cos(a)
        x, y = 0.5 + dx * base, 0.93 + dy * base
        for i, seg in enumerate(segments, start=1):
            out[f"{name}{i}"] = (x, y)
            x, y = x + dx * seg * 1.15, y + dy * seg * 1.15
    for alias, real in (("index", "forefinger"), ("middle", "middle_finger"), ("ring", "ring_finger"),
                        ("pinky", "pinky_finger"), ("little", "pinky_finger")):
        for i in range(1, 5):
            out.setdefault(f"{alias}{i}", out[f"{real}{i}"])
    return out


_HAND = _hand()
_SIDE_WORDS = {"left", "right", "l", "r"}


def _part(name: str) -> tuple[str, str]:
    """(side, body part) of a joint name: ``left_knee`` -> ("left", "knee"), ``lKnee`` -> ("left", "knee")."""
    side = side_of(name)
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower()
    words = [w for w in re.split(r"[_\-\s.]+", snake) if w]
    if side != "centre":
        words = [w for w in words if w not in _SIDE_WORDS]
    elif len(snake) > 2 and snake[0] in "lr" and not re.match(r"^(l|r)[_\-\s.]", snake):
        # "lhand" / "rhand": a bare l/r first letter, when the rest is a body part
        rest = snake[1:].strip("_")
        if any(rest in table for table in (_PERSON, _ANIMAL)):
            return ("left" if snake[0] == "l" else "right"), rest
    return side, "_".join(words)


def _on_figure(name: str, figure: str) -> Point | None:
    side, part = _part(name)
    if figure == "hand":
        key = part.replace("_", "")
        for k, p in _HAND.items():
            if k.replace("_", "") == key:
                return p
        return None
    table = _PERSON if figure == "person" else _ANIMAL
    p = table.get(part)
    if p is None:
        return None
    x, y = p
    if figure == "person":
        return (1.0 - x, y) if side == "right" else (0.5, y) if side == "centre" and x != 0.5 else (x, y)
    return (x + _ANIMAL_BEHIND[0], y + _ANIMAL_BEHIND[1]) if side == "right" else (x, y)


def _circle(k: int, i: int) -> Point:
    a = -math.pi / 2 + 2 * math.pi * i / max(1, k)
    return (0.5 + CIRCLE_RADIUS * math.cos(a), 0.5 + CIRCLE_RADIUS * math.sin(a))


def default_layout(names: Sequence[str]) -> list[Point]:
    """A position for every joint (see the module doc)."""
    names = [str(n) for n in names]
    best: list[Point | None] = [None] * len(names)
    best_known = 0
    for figure in ("person", "hand", "animal"):
        placed = [_on_figure(n, figure) for n in names]
        known = sum(p is not None for p in placed)
        if known > best_known:
            best, best_known = placed, known
    unknown = [i for i, p in enumerate(best) if p is None]
    out: list[Point] = []
    for i, p in enumerate(best):
        out.append(p if p is not None else _circle(len(unknown), unknown.index(i)))
    return [(min(1.0, max(0.0, x)), min(1.0, max(0.0, y))) for x, y in _spread(out)]


def _spread(points: list[Point]) -> list[Point]:
    """Nudge joints that would sit on top of each other apart (two names of one part)."""
    out = list(points)
    for i in range(len(out)):
        for j in range(i):
            if math.dist(out[i], out[j]) < 0.02:
                out[i] = (min(1.0, out[i][0] + 0.035), min(1.0, out[i][1] + 0.025))
    return out


def free_spot(taken: Sequence[Point], slots: int = 24) -> Point:
    """A place on the circle around the picture as far as possible from the joints ``taken``."""
    candidates = [_circle(slots, i) for i in range(slots)]
    if not taken:
        return candidates[0]
    return max(candidates, key=lambda c: min(math.dist(c, t) for t in taken))


def mirrored(p: Point) -> Point:
    """Where the other side's joint of a joint at ``p`` goes (its mirror image about the middle;
    beside it when it is in the middle)."""
    return (min(1.0, max(0.0, 1.0 - p[0])), p[1]) if abs(p[0] - 0.5) > 0.02 else (p[0] + 0.05, p[1])
