"""Keypoint sets: the one place that says what a set of joints is.

A :class:`KeypointSet` holds the joint names, the skeleton (0-based edges), the left/right pairs
(flip pairs), the OKS sigmas, colours, and what training needs besides (upper-body joints for the
half-body augmentation, per-joint loss weights). The dataset, training, the flip test, the
predictor, export and the app all take their keypoint facts from here.

- :data:`COCO_17` and :data:`MPII_16` are written once, here; templates :data:`HAND_21` (the
  21 hand joints of OneHand10K / COCO-WholeBody-Hand) and :data:`AP10K_17` (the AP-10K animal
  set) complete :data:`TEMPLATES`.
- The left/right rule (:func:`side_of`, :func:`mirror_name`, :func:`flip_pairs_from_names`)
  matches, ignoring case, ``left_x``/``right_x``, ``l_x``/``r_x``, ``x_l``/``x_r``,
  ``x_left``/``x_right``, ``LeftX``/``RightX`` (also ``leftX``, ``xLeft``), and a ``left``/
  ``right`` word inside a name (``front_left_paw``); ``_``, ``-``, ``.`` and spaces separate words.
  Two names that differ only by a bare ``l``/``r`` first letter (``lhand``/``rhand``) are a pair
  too, but such a name alone has no side (``leg``, ``lip``).
- OKS sigmas are the set's own when given, else :func:`default_sigma` per name (COCO's sigma of
  the body part the name names, :data:`DEFAULT_SIGMA` otherwise): :meth:`KeypointSet.oks_sigmas`
  is what any evaluation should call.
- A set travels in a COCO keypoint category (:meth:`KeypointSet.to_category` /
  :meth:`KeypointSet.from_category`): names and the 1-based skeleton where COCO puts them, flip
  pairs and sigmas under the app's key ``"hrnet_annotator"`` so other tools still read the file;
  and in checkpoints as a plain dict (:meth:`KeypointSet.to_dict` / :meth:`KeypointSet.from_dict`).

The left/right rule itself lives in :mod:`hrnet.keypoint_sides` (re-exported here). This module
imports nothing but the standard library (and that module, standard library only too).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hrnet.keypoint_sides import _SEP, CENTRE, LEFT, RIGHT, flip_pairs_from_names, mirror_name, side_of, split_side

__all__ = [
    "AP10K_17",
    "APP_KEY",
    "COCO_17",
    "COCO_KEYPOINTS",
    "COCO_SIGMAS",
    "COCO_SKELETON",
    "DEFAULT_SIGMA",
    "HAND_21",
    "LEFT",
    "MPII_16",
    "RIGHT",
    "KEYPOINT_TEMPLATES",
    "SIDE_COLOURS",
    "TEMPLATES",
    "CENTRE",
    "KeypointSet",
    "KeypointSetError",
    "default_sigma",
    "flip_pairs_from_names",
    "mirror_name",
    "side_of",
    "split_side",
]

log = logging.getLogger(__name__)

#: The key under which the app keeps its own fields in a COCO file (also in a category).
APP_KEY = "hrnet_annotator"
#: OKS sigma of a joint whose name names no COCO body part (about the mean of COCO's 17).
DEFAULT_SIGMA = 0.07


class KeypointSetError(ValueError):
    """An inconsistent keypoint set (duplicate names, an edge or pair out of range...)."""


# ---------------------------------------------------------------------------------------------
# Sigmas
# ---------------------------------------------------------------------------------------------
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: The official COCO person skeleton, 0-based (COCO files store it 1-based).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
#: Per-keypoint OKS sigmas of the COCO keypoint benchmark (pycocotools' ``kpt_oks_sigmas``).
COCO_SIGMAS: tuple[float, ...] = tuple(
    v / 10.0 for v in (.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89)
)
_PART_SIGMA = {"nose": 0.026, "eye": 0.025, "ear": 0.035, "shoulder": 0.079, "elbow": 0.072, "wrist": 0.062,
               "hip": 0.107, "knee": 0.087, "ankle": 0.089}


def default_sigma(name: str) -> float:
    """The OKS sigma of a joint without a given one: COCO's for a name that names a COCO body part
    (``nose``, ``eye``, ``ear``, ``shoulder``, ``elbow``, ``wrist``, ``hip``, ``knee``, ``ankle`` as
    a word of it: ``LeftKnee``, ``knee_r`` and ``front_left_knee`` get COCO's knee sigma), else
    :data:`DEFAULT_SIGMA`."""
    words = re.split(rf"{_SEP}+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name)).lower())
    for w in reversed(words):
        if w in _PART_SIGMA:
            return _PART_SIGMA[w]
    return DEFAULT_SIGMA


# ---------------------------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------------------------
#: Hex colours by side: the left side warm, the right side cool, the middle green (as the
#: official COCO visualisations), so left/right mix-ups jump out.
SIDE_COLOURS: dict[str, str] = {LEFT: "#ff8c1a", RIGHT: "#1a8cff", CENTRE: "#33cc33"}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


# ---------------------------------------------------------------------------------------------
# The set
# ---------------------------------------------------------------------------------------------
def _pairs(values: Any, what: str) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((int(a), int(b)) for a, b in values)
    except (TypeError, ValueError) as e:
        raise KeypointSetError(f"{what} must be a list of [a, b] joint index pairs, got {values!r}") from e


@dataclass(frozen=True)
class KeypointSet:
    """A set of joints.

    Args:
        names: joint names, unique (ignoring case).
        flip_pairs: ``(left, right)`` 0-based joint pairs swapped by a horizontal flip; see
            :meth:`from_names` for a set whose pairs follow the left/right rule.
        upper_body_ids: joints of the upper body (half-body augmentation).
        joints_weight: per-joint loss weights (None: all 1).
        sigmas: OKS sigmas (None: :func:`default_sigma` per name, filled in at construction).
        skeleton: 0-based edges ``(a, b)`` for drawing.
        parent_ids: MPII's joint tree (official evaluation only).
        name: what the set is called (``"COCO-17"``, a category name...).
        colors: a ``#rrggbb`` colour per joint (None: by side, see :meth:`joint_colours`).
        layout: where each joint sits in the skeleton editor's picture, ``(x, y)`` in [0, 1] with y
            down (None: the editor's default layout). Presentation only: not compared.
    """

    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    upper_body_ids: tuple[int, ...] = ()
    joints_weight: tuple[float, ...] | None = None
    sigmas: tuple[float, ...] | None = None
    skeleton: tuple[tuple[int, int], ...] = ()
    parent_ids: tuple[int, ...] | None = None
    name: str = ""
    colors: tuple[str, ...] | None = field(default=None, compare=False)
    layout: tuple[tuple[float, float], ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "names", tuple(str(n) for n in self.names))
        set_(self, "flip_pairs", _pairs(self.flip_pairs, "flip pairs"))
        set_(self, "skeleton", _pairs(self.skeleton, "skeleton"))
        set_(self, "upper_body_ids", tuple(int(i) for i in self.upper_body_ids))
        for attr in ("joints_weight", "sigmas"):
            v = getattr(self, attr)
            if v is not None:
                set_(self, attr, tuple(float(x) for x in v))
        if self.colors is not None:
            set_(self, "colors", tuple(str(c) for c in self.colors))
        if self.layout is not None:
            set_(self, "layout", _layout(self.layout, len(self.names)))
        if self.sigmas is None:  # defaults per name, so that equal sets compare equal
            set_(self, "sigmas", tuple(default_sigma(n) for n in self.names))
        k = len(self.names)
        lowered = [n.lower() for n in self.names]
        dupes = sorted({n for n in self.names if lowered.count(n.lower()) > 1})
        if dupes:
            raise KeypointSetError(f"joint names must be unique: {', '.join(dupes)} appear more than once")
        if any(not n.strip() for n in self.names):
            raise KeypointSetError("joint names must not be empty")
        seen: set[int] = set()
        for a, b in self.flip_pairs:
            if not (0 <= a < k and 0 <= b < k) or a == b:
                raise KeypointSetError(f"flip pair ({a}, {b}) is invalid for {k} keypoints")
            if a in seen or b in seen:
                raise KeypointSetError(f"joint {self.names[a] if a in seen else self.names[b]!r} is in two "
                                       "left/right pairs")
            seen.update((a, b))
        for a, b in self.skeleton:
            if not (0 <= a < k and 0 <= b < k) or a == b:
                raise KeypointSetError(f"skeleton edge ({a}, {b}) is invalid for {k} keypoints")
        for what, values in (("joints_weight", self.joints_weight), ("sigmas", self.sigmas),
                             ("colors", self.colors)):
            if values is not None and len(values) != k:
                raise KeypointSetError(f"{what} has {len(values)} values for {k} keypoints")
        if self.sigmas is not None and not all(s > 0 for s in self.sigmas):
            raise KeypointSetError("OKS sigmas must be positive")
        if self.colors is not None and not all(_HEX.match(c) for c in self.colors):
            raise KeypointSetError(f"colours must be #rrggbb strings, got {list(self.colors)}")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_names(
        cls,
        names: Sequence[str],
        skeleton: Sequence[Sequence[int]] = (),
        *,
        flip_pairs: Sequence[Sequence[int]] | None = None,
        sigmas: Sequence[float] | None = None,
        name: str = "",
        colors: Sequence[str] | None = None,
    ) -> KeypointSet:
        """A set from names: flip pairs by the left/right rule unless given, upper body = every
        joint whose name does not mention a lower-body part."""
        names = tuple(str(n) for n in names)
        pairs = flip_pairs_from_names(names) if flip_pairs is None else _pairs(flip_pairs, "flip pairs")
        return cls(names=names, flip_pairs=tuple(pairs), upper_body_ids=_upper_body(names),
                   sigmas=None if sigmas is None else tuple(sigmas), skeleton=_pairs(skeleton, "skeleton"),
                   name=name, colors=None if colors is None else tuple(colors))

    # -- facts ---------------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lower_body_ids(self) -> tuple[int, ...]:
        upper = set(self.upper_body_ids)
        return tuple(i for i in range(self.num_joints) if i not in upper)

    def index(self, name: str) -> int:
        """Index of joint ``name`` (ignoring case); KeyError when absent."""
        low = str(name).lower()
        for i, n in enumerate(self.names):
            if n.lower() == low:
                return i
        raise KeyError(name)

    def oks_sigmas(self) -> tuple[float, ...]:
        """The OKS sigma of every joint: the set's own, else :func:`default_sigma` per name. This is
        the one source of sigmas for OKS evaluation and OKS NMS."""
        assert self.sigmas is not None  # filled in by __post_init__
        return self.sigmas

    def sides(self) -> list[str]:
        """``left``/``right``/``centre`` per joint: a joint of a flip pair is on the side its name
        says (first of the pair left when its name says nothing), every other joint centre."""
        out = [CENTRE] * self.num_joints
        for a, b in self.flip_pairs:
            sa, sb = side_of(self.names[a]), side_of(self.names[b])
            if sa == RIGHT or sb == LEFT:
                a, b = b, a
            out[a], out[b] = LEFT, RIGHT
        return out

    def flip_permutation(self) -> list[int]:
        """``perm[j]`` = the joint that ``j`` becomes in a mirrored image."""
        perm = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def joint_colours(self) -> list[str]:
        """A ``#rrggbb`` colour per joint: the set's own, else by side (:data:`SIDE_COLOURS`)."""
        if self.colors is not None:
            return list(self.colors)
        return [SIDE_COLOURS[s] for s in self.sides()]

    def edge_sides(self) -> list[str]:
        """Side of each skeleton edge: left/right when neither end is on the other side and one
        end is on that side, else centre."""
        sides = self.sides()
        out = []
        for a, b in self.skeleton:
            pair = {sides[a], sides[b]}
            out.append(LEFT if LEFT in pair and RIGHT not in pair else RIGHT if RIGHT in pair and LEFT not in pair
                       else CENTRE)
        return out

    def matches(self, other: KeypointSet | Sequence[str]) -> bool:
        """Same joints in the same order (names compared ignoring case)."""
        names = other.names if isinstance(other, KeypointSet) else tuple(other)
        return len(names) == len(self.names) and all(a.lower() == str(b).lower() for a, b in zip(self.names, names))

    def mismatch(self, other: KeypointSet | Sequence[str]) -> str:
        """Why ``other`` is not this set, in words ("" when it is)."""
        names = list(other.names if isinstance(other, KeypointSet) else other)
        if self.matches(names):
            return ""
        mine = {n.lower() for n in self.names}
        theirs = {str(n).lower() for n in names}
        if len(names) != len(self.names):
            text = f"{len(names)} joints instead of {len(self.names)}"
        elif mine == theirs:
            return "the same joints in another order"
        else:
            text = "other joint names"
        missing = [n for n in self.names if n.lower() not in theirs]
        extra = [str(n) for n in names if str(n).lower() not in mine]
        if missing:
            text += "; lacks " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        if extra:
            text += "; has " + ", ".join(extra[:6]) + (" ..." if len(extra) > 6 else "")
        return text

    def channel_map(self, source: KeypointSet | Sequence[str]) -> dict[int, int]:
        """``{my joint: source joint}`` for every joint whose name (ignoring case) the source has."""
        names = source.names if isinstance(source, KeypointSet) else tuple(source)
        where = {str(n).lower(): i for i, n in enumerate(names)}
        return {i: where[n.lower()] for i, n in enumerate(self.names) if n.lower() in where}

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types only (a checkpoint entry that ``torch.load(weights_only=True)`` reads)."""
        d: dict[str, Any] = {
            "name": self.name, "names": list(self.names), "skeleton": [list(e) for e in self.skeleton],
            "flip_pairs": [list(p) for p in self.flip_pairs], "sigmas": list(self.oks_sigmas()),
            "upper_body_ids": list(self.upper_body_ids),
        }
        if self.joints_weight is not None:
            d["joints_weight"] = list(self.joints_weight)
        if self.colors is not None:
            d["colors"] = list(self.colors)
        if self.layout is not None:
            d["layout"] = [list(p) for p in self.layout]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KeypointSet:
        """The inverse of :meth:`to_dict`; raises :class:`KeypointSetError` on a malformed dict.
        The 17 COCO joints in COCO order come back as :data:`COCO_17` (its loss weights)."""
        if not isinstance(d, Mapping) or not isinstance(d.get("names"), (list, tuple)) or not d["names"]:
            raise KeypointSetError(f"a keypoint set needs a non-empty 'names' list, got {d!r:.200}")
        try:
            names = tuple(str(n) for n in d["names"])
            base = _known(names)
            kset = cls(
                names=names,
                flip_pairs=_pairs(d["flip_pairs"], "flip pairs") if d.get("flip_pairs") is not None
                else flip_pairs_from_names(names),
                upper_body_ids=tuple(d["upper_body_ids"]) if d.get("upper_body_ids") is not None
                else _upper_body(names),
                joints_weight=d.get("joints_weight") or (base.joints_weight if base else None),
                sigmas=d.get("sigmas") or None,
                skeleton=_pairs(d.get("skeleton") or (), "skeleton"),
                parent_ids=base.parent_ids if base else None,
                name=str(d.get("name") or (base.name if base else "")),
                colors=d.get("colors") or None,
                layout=d.get("layout") or None,
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, KeypointSetError):
                raise
            raise KeypointSetError(f"malformed keypoint set: {e}") from e
        return kset

    def to_category(self, category: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A COCO keypoint category for this set (``category``'s other fields kept): ``keypoints``
        and the 1-based ``skeleton`` where COCO puts them; flip pairs (by name), sigmas and colours
        under ``"hrnet_annotator"``."""
        cat = dict(category or {"id": 1, "name": self.name or "person", "supercategory": self.name or "person"})
        cat["keypoints"] = list(self.names)
        cat["skeleton"] = [[a + 1, b + 1] for a, b in self.skeleton]
        app = dict(cat.get(APP_KEY) or {})
        app.update(self.app_fields())
        cat[APP_KEY] = app
        return cat

    def app_fields(self) -> dict[str, Any]:
        """The fields this set keeps under the app's key of its COCO category."""
        out: dict[str, Any] = {
            "flip_pairs": [[self.names[a], self.names[b]] for a, b in self.flip_pairs],
            "sigmas": list(self.oks_sigmas()),
        }
        if self.name:
            out["keypoint_set"] = self.name
        if self.colors is not None:
            out["colors"] = list(self.colors)
        if self.layout is not None:
            out["layout"] = [list(p) for p in self.layout]
        return out

    @classmethod
    def from_category(cls, category: Mapping[str, Any]) -> KeypointSet:
        """The set of a COCO keypoint category: names; the 1-based ``skeleton``; flip pairs and
        sigmas from the app's key when present (else the rule, and a ``sigmas`` list at the top of
        the category as some tools write it, else defaults per name). COCO's own 17 joints without
        other choices give :data:`COCO_17` exactly. Raises :class:`KeypointSetError`."""
        names = category.get("keypoints")
        if not isinstance(names, (list, tuple)) or not names:
            raise KeypointSetError(f"category {category.get('name')!r} lists no keypoints")
        names = tuple(str(n) for n in names)
        k = len(names)
        app = category.get(APP_KEY)
        app = app if isinstance(app, Mapping) else {}
        skeleton_raw = category.get("skeleton") or []
        try:
            skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in skeleton_raw)
        except (TypeError, ValueError) as e:
            raise KeypointSetError(f"category {category.get('name')!r}: 'skeleton' must be [a, b] pairs of "
                                   f"1-based joint numbers, got {skeleton_raw!r:.120}") from e
        bad = [(a + 1, b + 1) for a, b in skeleton if not (0 <= a < k and 0 <= b < k)]
        if bad:
            raise KeypointSetError(f"category {category.get('name')!r}: skeleton edges {bad[:3]} name joints "
                                   f"outside 1..{k}")
        skeleton = tuple((a, b) for a, b in skeleton if a != b)
        flip = None
        if app.get("flip_pairs") is not None:
            flip = []
            for pair in app["flip_pairs"]:
                try:
                    a, b = pair
                    flip.append((_joint_ref(a, names), _joint_ref(b, names)))
                except (TypeError, ValueError, KeyError) as e:
                    raise KeypointSetError(f"category {category.get('name')!r}: flip pair {pair!r} names no "
                                           "two joints of the set") from e
        sigmas = app.get("sigmas", category.get("sigmas"))
        if sigmas is not None:
            if (not isinstance(sigmas, (list, tuple)) or len(sigmas) != k
                    or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in sigmas)):
                raise KeypointSetError(f"category {category.get('name')!r}: 'sigmas' must be {k} positive numbers")
        colors = app.get("colors")
        layout = None
        if app.get("layout") is not None:
            try:
                layout = _layout(app["layout"], k)
            except KeypointSetError as e:  # presentation only: the set stands without it
                log.warning("category %r: ignoring the stored layout: %s", category.get("name"), e)
        base = _known(names)
        kset = cls.from_names(names, skeleton, flip_pairs=flip, sigmas=sigmas,
                              name=str(app.get("keypoint_set") or (base.name if base else category.get("name") or "")),
                              colors=colors if isinstance(colors, (list, tuple)) else None)
        if base is not None:
            # the official facts of a known set that a category cannot carry (loss weights, joint tree)
            kset = replace(kset, joints_weight=base.joints_weight, parent_ids=base.parent_ids,
                           upper_body_ids=base.upper_body_ids)
            if (kset.skeleton, kset.flip_pairs, kset.oks_sigmas()) == (base.skeleton, base.flip_pairs,
                                                                      base.oks_sigmas()) and colors is None:
                kset = base
        return kset if layout is None else replace(kset, layout=layout)

    # -- editing (new sets; a set is immutable) -------------------------------------------------
    def renamed(self, name: str) -> KeypointSet:
        return replace(self, name=name)


def _layout(values: Any, k: int) -> tuple[tuple[float, float], ...]:
    try:
        out = tuple((float(x), float(y)) for x, y in values)
    except (TypeError, ValueError) as e:
        raise KeypointSetError(f"layout must be a list of [x, y] positions, got {values!r:.120}") from e
    if len(out) != k:
        raise KeypointSetError(f"layout has {len(out)} positions for {k} keypoints")
    if not all(-1.0 <= v <= 2.0 for p in out for v in p):  # NaN fails too
        raise KeypointSetError("layout positions must be finite numbers near [0, 1]")
    return out


def _joint_ref(ref: Any, names: Sequence[str]) -> int:
    if isinstance(ref, bool):
        raise ValueError(ref)
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise ValueError(ref)
        return ref
    low = str(ref).lower()
    for i, n in enumerate(names):
        if n.lower() == low:
            return i
    raise KeyError(ref)


_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "foot", "feet", "heel", "toe", "leg", "thigh", "shin", "calf", "pelvis",
                     "back_paw", "hind")


def _upper_body(names: Sequence[str]) -> tuple[int, ...]:
    return tuple(i for i, n in enumerate(names) if not any(w in n.lower() for w in _LOWER_BODY_WORDS))


# ---------------------------------------------------------------------------------------------
# The sets, each written once
# ---------------------------------------------------------------------------------------------
COCO_17 = KeypointSet(
    names=COCO_KEYPOINTS,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    upper_body_ids=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    joints_weight=(1., 1., 1., 1., 1., 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1., 1.2, 1.2, 1.5, 1.5),
    sigmas=COCO_SIGMAS,
    skeleton=COCO_SKELETON,
    name="COCO-17",
)
"""The 17 COCO person keypoints with the official flip pairs, half-body split, loss weights and sigmas."""

MPII_16 = KeypointSet(
    names=("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
           "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
           "left_wrist"),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    upper_body_ids=(7, 8, 9, 10, 11, 12, 13, 14, 15),
    # MPII is evaluated by PCKh; these OKS sigmas (COCO's per body part, DEFAULT_SIGMA for the
    # joints COCO lacks) serve OKS NMS and an AP on MPII-labelled projects
    sigmas=(0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.107, 0.079, 0.079, 0.07, 0.062, 0.072, 0.079, 0.079,
            0.072, 0.062),
    parent_ids=(1, 2, 6, 6, 3, 4, 6, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    skeleton=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (10, 11), (11, 12),
              (12, 7), (7, 13), (13, 14), (14, 15)),
    name="MPII-16",
)
"""The 16 MPII joints in the official order with the official flip pairs and joint tree."""

_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
HAND_21 = KeypointSet.from_names(
    ("wrist", *(f"{f}{i}" for f in _FINGERS for i in range(1, 5))),
    skeleton=tuple(e for f in range(5) for e in ((0, 1 + 4 * f), (1 + 4 * f, 2 + 4 * f), (2 + 4 * f, 3 + 4 * f),
                                                  (3 + 4 * f, 4 + 4 * f))),
    # COCO-WholeBody's hand sigmas (MMPose's coco_wholebody_hand / onehand10k metadata)
    sigmas=(0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017,
            0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031),
    name="hand-21",
)
"""One hand: the wrist and four joints per finger, base to tip (OneHand10K / COCO-WholeBody order)."""

AP10K_17 = KeypointSet.from_names(
    ("left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow", "left_front_paw",
     "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
     "right_knee", "right_back_paw"),
    skeleton=((0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8), (8, 9), (9, 10), (4, 11),
              (11, 12), (12, 13), (4, 14), (14, 15), (15, 16)),
    sigmas=(0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089,
            0.107, 0.087, 0.089),
    name="AP-10K animal-17",
)
"""The AP-10K four-legged animal set (names, order, skeleton and sigmas of the AP-10K benchmark)."""

#: Templates a new project can start from, by display name.
TEMPLATES: dict[str, KeypointSet] = {s.name: s for s in (COCO_17, MPII_16, HAND_21, AP10K_17)}


def _known(names: Sequence[str]) -> KeypointSet | None:
    """The built-in set with exactly these names in this order (COCO-17, MPII-16), if any."""
    for s in (COCO_17, MPII_16):
        if tuple(names) == s.names:
            return s
    return None
KEYPOINT_TEMPLATES = TEMPLATES  # the name hrnet re-exports
