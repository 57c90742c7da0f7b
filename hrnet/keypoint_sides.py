"""The one left/right rule of keypoint names (see :mod:`hrnet.keypoints`, which re-exports it).

Case-insensitive: ``left_x``/``right_x``, ``l_x``/``r_x``, ``x_l``/``x_r``, ``x_left``/``x_right``,
``LeftX``/``RightX`` (also ``leftX``, ``xLeft``) and a ``left``/``right`` word inside a name
(``front_left_paw``); ``_``, ``-``, ``.`` and spaces separate words. Two names that differ only by
a bare ``l``/``r`` first letter (``lhand``/``rhand``) are a pair too, but such a name alone has no
side (``leg``, ``lip``). Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["CENTRE", "LEFT", "RIGHT", "flip_pairs_from_names", "mirror_name", "side_of", "split_side"]

LEFT, RIGHT, CENTRE = "left", "right", "centre"

_SEP = r"[_\-\s.]"
# (pattern, group index of the side marker). Tried in order; the first that matches decides.
_SIDE_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(rf"^(left|right)({_SEP}?)(.+)$", re.I), 1),  # left_eye, LeftEye, lefteye
    (re.compile(rf"^(.+?)({_SEP}?)(left|right)$", re.I), 3),  # wing_left, wingLeft
    (re.compile(rf"^(.+{_SEP})(left|right)({_SEP}.+)$", re.I), 2),  # front_left_paw
    (re.compile(rf"^(l|r)({_SEP})(.+)$", re.I), 1),  # l_paw
    (re.compile(rf"^(.+{_SEP})(l|r)$", re.I), 2),  # paw_l
)
_OTHER = {"left": "right", "right": "left", "l": "r", "r": "l"}


def _same_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word


def split_side(name: str) -> tuple[str, str, str] | None:
    """``(before, marker, after)`` around the side marker the left/right rule finds in ``name``
    (``"front_left_paw"`` -> ``("front_", "left", "_paw")``); None for a name without a side."""
    for pattern, group in _SIDE_PATTERNS:
        m = pattern.match(str(name))
        if m is not None:
            parts = m.groups()
            return "".join(parts[:group - 1]), parts[group - 1], "".join(parts[group:])
    return None


def side_of(name: str) -> str:
    """``"left"``, ``"right"`` or ``"centre"`` by the left/right rule (case-insensitive)."""
    found = split_side(name)
    if found is None:
        return CENTRE
    return LEFT if found[1].lower() in ("left", "l") else RIGHT


def mirror_name(name: str) -> str | None:
    """The name of the joint on the other side (``left_eye`` -> ``right_eye``, ``paw_L`` ->
    ``paw_R``), keeping the case of the marker; None for a name without a side."""
    found = split_side(name)
    if found is None:
        return None
    before, marker, after = found
    return before + _same_case(_OTHER[marker.lower()], marker) + after


def flip_pairs_from_names(names: Sequence[str]) -> list[tuple[int, int]]:
    """``(left, right)`` index pairs of joints whose names differ only by their side marker (the
    rule of :func:`side_of`; names compared ignoring case). Each joint is in one pair at most."""
    lower = {}
    for i, n in enumerate(names):
        lower.setdefault(str(n).lower(), i)
    pairs: list[tuple[int, int]] = []
    paired: set[int] = set()
    for i, name in enumerate(names):
        if i in paired or side_of(name) != LEFT:
            continue
        other = mirror_name(name)
        j = lower.get(other.lower()) if other else None
        if j is not None and j != i and j not in paired:
            pairs.append((i, j))
            paired.update((i, j))
    # ``lhand``/``rhand``: a bare l/r prefix pairs only when both names exist (alone, "leg" or
    # "lip" say nothing about a side)
    for i, name in enumerate(names):
        n = str(name)
        if i in paired or len(n) < 3 or n[0] not in "lL":
            continue
        j = lower.get("r" + n[1:].lower())
        if j is not None and j != i and j not in paired and str(names[j])[0] in "rR":
            pairs.append((i, j))
            paired.update((i, j))
    return pairs
