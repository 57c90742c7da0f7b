"""The decisions of the keypoint-set dialog, without widgets (Qt-free, tested headless).

A :class:`KeypointSetDraft` starts from a set (a template or the project's own) and is edited
joint by joint: add, rename, remove, move, edges, left/right pairs, sigmas. It knows where every
joint came from, so that applying it to a project keeps every label: :meth:`KeypointSetDraft.result`
gives the new :class:`~hrnet.keypoints.KeypointSet` and, per new joint, the index of the old joint
whose labels it keeps (None: a new joint, unlabelled on every person). :meth:`problems` says what
stops the draft from being a valid set; :meth:`removed_joints` what the dialog must confirm.
Every joint also has a place in the editor's picture (:attr:`DraftJoint.pos`, see
:mod:`app.keypoint_layout`); a layout the user changed is kept with the set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

from app.keypoint_layout import default_layout, free_spot, mirrored
from hrnet import (
    KEYPOINT_TEMPLATES as TEMPLATES,
)
from hrnet import (
    KeypointSet,
    KeypointSetError,
    default_sigma,
    flip_pairs_from_names,
    mirror_name,
)

__all__ = ["DraftJoint", "KeypointSetDraft", "effective_layout", "model_fit"]


@dataclass
class DraftJoint:
    name: str
    sigma: float
    origin: int | None  # index in the original set; None for a joint added here
    uid: int = field(default=0)
    pos: tuple[float, float] = (0.5, 0.5)  # where the editor's picture shows it, x and y in [0, 1]


class KeypointSetDraft:
    """An editable copy of a keypoint set. Joints are addressed by their current row."""

    def __init__(self, base: KeypointSet, *, keep_origins: bool = True) -> None:
        self._uids = itertools.count(1)
        self.original = base
        self.name = base.name
        self.joints: list[DraftJoint] = []
        self.edges: list[tuple[int, int]] = []  # pairs of uids
        self.pairs: list[tuple[int, int]] = []  # (left uid, right uid)
        self._load(base, keep_origins)

    def _load(self, base: KeypointSet, keep_origins: bool) -> None:
        sig = base.oks_sigmas()
        where = effective_layout(base)
        self.joints = [DraftJoint(n, float(sig[i]), i if keep_origins else None, next(self._uids), where[i])
                       for i, n in enumerate(base.names)]
        uid = [j.uid for j in self.joints]
        self.edges = [(uid[a], uid[b]) for a, b in base.skeleton]
        self.pairs = [(uid[a], uid[b]) for a, b in base.flip_pairs]
        self.name = base.name

    # -- whole-set choices ---------------------------------------------------------------------
    @staticmethod
    def template_names() -> list[str]:
        return list(TEMPLATES)

    def use_template(self, name: str) -> None:
        """Replace the draft by a template. Joints whose name (ignoring case) the original set
        has keep that joint's labels; the others start unlabelled."""
        base = TEMPLATES[name]
        old = {n.lower(): i for i, n in enumerate(self.original.names)}
        self._load(base, keep_origins=False)
        for j in self.joints:
            j.origin = old.get(j.name.lower())

    # -- joints --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.joints)

    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    def _row(self, uid: int) -> int:
        return next(i for i, j in enumerate(self.joints) if j.uid == uid)

    def add_joint(self, name: str | None = None, after: int | None = None) -> int:
        """Add a joint (a fresh name when none is given) after row ``after`` (default: at the end);
        returns its row."""
        taken = {n.lower() for n in self.names()}
        if not name:
            k = len(self.joints) + 1
            while f"joint_{k}" in taken:
                k += 1
            name = f"joint_{k}"
        row = len(self.joints) if after is None else after + 1
        spot = free_spot([j.pos for j in self.joints])
        self.joints.insert(row, DraftJoint(name.strip(), default_sigma(name), None, next(self._uids), spot))
        return row

    def rename_joint(self, row: int, name: str) -> None:
        """Rename; the sigma follows the new name when it was the old name's default."""
        j = self.joints[row]
        if abs(j.sigma - default_sigma(j.name)) < 1e-12:
            j.sigma = default_sigma(name)
        j.name = name.strip()

    def remove_joint(self, row: int) -> None:
        uid = self.joints.pop(row).uid
        self.edges = [e for e in self.edges if uid not in e]
        self.pairs = [p for p in self.pairs if uid not in p]

    def move_joint(self, row: int, to: int) -> None:
        to = max(0, min(to, len(self.joints) - 1))
        self.joints.insert(to, self.joints.pop(row))

    def set_position(self, row: int, x: float, y: float) -> None:
        """Move a joint in the picture (clamped to the picture)."""
        self.joints[row].pos = (min(1.0, max(0.0, float(x))), min(1.0, max(0.0, float(y))))

    def positions(self) -> list[tuple[float, float]]:
        return [j.pos for j in self.joints]

    def set_sigma(self, row: int, sigma: float) -> None:
        self.joints[row].sigma = float(sigma)

    # -- edges and pairs -------------------------------------------------------------------------
    def edge_rows(self) -> list[tuple[int, int]]:
        return [(self._row(a), self._row(b)) for a, b in self.edges]

    def pair_rows(self) -> list[tuple[int, int]]:
        return [(self._row(a), self._row(b)) for a, b in self.pairs]

    def toggle_edge(self, a: int, b: int) -> bool:
        """Add the edge a-b, or remove it when it exists; returns whether it exists now."""
        if a == b:
            return False
        ua, ub = self.joints[a].uid, self.joints[b].uid
        for e in self.edges:
            if set(e) == {ua, ub}:
                self.edges.remove(e)
                return False
        self.edges.append((ua, ub))
        return True

    def set_pair(self, left: int, right: int) -> None:
        """Mark ``left``/``right`` as a left/right pair (each joint leaves any pair it was in)."""
        if left == right:
            raise ValueError("a joint cannot be its own left/right partner")
        ul, ur = self.joints[left].uid, self.joints[right].uid
        self.pairs = [p for p in self.pairs if ul not in p and ur not in p]
        self.pairs.append((ul, ur))

    def unpair(self, row: int) -> None:
        uid = self.joints[row].uid
        self.pairs = [p for p in self.pairs if uid not in p]

    def partner(self, row: int) -> int | None:
        uid = self.joints[row].uid
        for a, b in self.pairs:
            if uid in (a, b):
                return self._row(b if uid == a else a)
        return None

    def pair_by_names(self) -> int:
        """Pair every joint the left/right rule pairs (``left_x``/``right_x``, ``x_l``/``x_r``...)
        that is in no pair yet; returns how many pairs were added."""
        names = self.names()
        added = 0
        for a, b in flip_pairs_from_names(names):
            if self.partner(a) is None and self.partner(b) is None:
                self.set_pair(a, b)
                added += 1
        return added

    def add_mirror(self, row: int) -> int | None:
        """Add the other side of a sided joint (``left_wing`` -> ``right_wing``), paired with it and
        with mirrored edges; returns its row, or None for a name without a side or a mirror that
        exists already."""
        other = mirror_name(self.joints[row].name)
        if other is None or other.lower() in {n.lower() for n in self.names()}:
            return None
        new = self.add_joint(other)
        self.joints[new].sigma = self.joints[row].sigma
        self.joints[new].pos = mirrored(self.joints[row].pos)
        self.set_pair(row, new)
        return new

    # -- the result ------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """What stops the draft from being a valid set (empty when none)."""
        out = []
        if not self.joints:
            out.append("A keypoint set needs at least one joint.")
        seen: dict[str, int] = {}
        for i, j in enumerate(self.joints):
            if not j.name.strip():
                out.append(f"Joint {i + 1} has no name.")
            elif j.name.lower() in seen:
                out.append(f"Joints {seen[j.name.lower()] + 1} and {i + 1} are both called {j.name!r}.")
            else:
                seen[j.name.lower()] = i
            if not j.sigma > 0:
                out.append(f"The sigma of {j.name!r} must be positive.")
        return out

    def removed_joints(self) -> list[str]:
        """Names of the original set's joints that the draft drops (their labels would go)."""
        kept = {j.origin for j in self.joints if j.origin is not None}
        return [n for i, n in enumerate(self.original.names) if i not in kept]

    def added_joints(self) -> list[str]:
        return [j.name for j in self.joints if j.origin is None]

    def origins(self) -> list[int | None]:
        return [j.origin for j in self.joints]

    def is_unchanged(self) -> bool:
        try:
            kset, origins = self.result()
        except KeypointSetError:
            return False
        return (origins == list(range(len(self.original))) and kset == self.original
                and _same_points(effective_layout(kset), effective_layout(self.original)))

    def result(self) -> tuple[KeypointSet, list[int | None]]:
        """The edited set and, per joint, the original joint whose labels it keeps. Raises
        :class:`KeypointSetError` with the first problem when the draft is invalid."""
        problems = self.problems()
        if problems:
            raise KeypointSetError(problems[0])
        names = self.names()
        kset = KeypointSet.from_names(names, self.edge_rows(), flip_pairs=self.pair_rows(),
                                      sigmas=[j.sigma for j in self.joints],
                                      name="" if self.name in TEMPLATES else self.name)
        if self.original.colors is not None and self.origins() == list(range(len(self.original))):
            kset = KeypointSet(**{**kset.__dict__, "colors": self.original.colors})
        known = [t for t in TEMPLATES.values() if t.names == kset.names and t.skeleton == kset.skeleton
                 and t.flip_pairs == kset.flip_pairs and t.oks_sigmas() == kset.oks_sigmas()]
        if known:
            kset = known[0]
        layout = self.positions()
        if not _same_points(layout, default_layout(names)):  # the user's arrangement travels with the set
            kset = replace(kset, layout=tuple(layout))
        return kset, self.origins()


def effective_layout(kset: KeypointSet) -> list[tuple[float, float]]:
    """Where the editor draws each joint of ``kset``: its stored layout, else the default one."""
    return list(kset.layout) if kset.layout is not None else default_layout(kset.names)


def _same_points(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(math.dist(p, q) < 1e-6 for p, q in zip(a, b))


def _generic(kset: KeypointSet) -> bool:
    return all(n == f"joint_{i}" for i, n in enumerate(kset.names))


def model_fit(model_set: KeypointSet | None, project_set: KeypointSet) -> str:
    """Why a model that predicts ``model_set`` cannot label a project of ``project_set`` ("" when
    it can). A model whose joints are not known by name (``joint_0``...) fits any set of its size."""
    if not isinstance(model_set, KeypointSet):
        return ""
    if _generic(model_set):
        if len(model_set) == len(project_set):
            return ""
        return f"the model predicts {len(model_set)} joints, this project's set has {len(project_set)}"
    if project_set.matches(model_set):
        return ""
    model_name, project_name = (f"{s.name} ({len(s)} joints)" if s.name else f"{len(s)} joints"
                                for s in (model_set, project_set))
    text = f"the model predicts {model_name}, this project uses {project_name}"
    theirs = {n.lower() for n in model_set.names}
    lacking = [n for n in project_set.names if n.lower() not in theirs]
    if not lacking:
        return text + " in another order"
    return text + "; the model has no " + ", ".join(lacking[:8]) + (" …" if len(lacking) > 8 else "")
