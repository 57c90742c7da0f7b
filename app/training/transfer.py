"""Base weights of another keypoint set than the project's: what a training run does with them.

A COCO registry model is a valid base for a hand or animal project: ``hrnet-train --weights``
(:func:`hrnet.load_for_keypoint_set`) loads every tensor that fits, starts the output layer fresh
for the project's joints and copies the channels of the joints the base model knows by name.
:class:`SetTransfer` says so in words (and how many joints are copied, by the library's own name
matching, :meth:`hrnet.KeypointSet.channel_map`); :func:`file_keypoint_set` asks a checkpoint file
what it predicts. Qt-free: the Train dialog's plan uses it.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.keypoint_set_editor import model_fit
from hrnet import COCO_17, MPII_16, HRNetError, KeypointSet

__all__ = ["SetTransfer", "entry_keypoint_set", "file_keypoint_set", "set_label", "set_transfer"]

log = logging.getLogger(__name__)


def entry_keypoint_set(entry: Any) -> KeypointSet:
    """The joints a registry model predicts."""
    return {"coco": COCO_17, "mpii": MPII_16}[entry.joint_set]


@functools.lru_cache(maxsize=32)
def _file_set(path: str, _mtime_ns: int, _size: int) -> KeypointSet | None:
    from hrnet import predicted_keypoint_set

    try:
        return predicted_keypoint_set(path)
    except (HRNetError, OSError) as e:  # the run reports an unreadable file; here it is "not known"
        log.info("Cannot tell which joints %s predicts: %s", path, e)
        return None


def file_keypoint_set(path: str | Path | None) -> KeypointSet | None:
    """The joints a checkpoint file predicts (its stored set, else COCO-17 / MPII-16 by its output
    channels, as hrnet-train takes them); None when not known or not a file. Cached per file version."""
    if not path:
        return None
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except OSError:
        return None
    if not p.is_file():
        return None
    return _file_set(str(p), st.st_mtime_ns, st.st_size)


def set_label(kset: KeypointSet) -> str:
    return f"{kset.name} ({len(kset)} joints)" if kset.name else f"{len(kset)} joints"


@dataclass(frozen=True)
class SetTransfer:
    """A base model of another keypoint set than the project's: what hrnet-train does with it
    (``hrnet.load_for_keypoint_set``): the output layer starts fresh for the project's joints and
    the channels of the joints the base knows by name are copied."""

    source: KeypointSet  # what the base model predicts
    target: KeypointSet  # the project's set

    @property
    def copied(self) -> list[str]:
        """The project's joints whose output channel comes from the base (matched by name)."""
        mapping = self.target.channel_map(self.source)
        return [n for i, n in enumerate(self.target.names) if i in mapping]

    def short_note(self) -> str:
        return (f"another keypoint set: starts the head fresh, {len(self.copied)} of {len(self.target)} joints "
                "copied by name")

    def note(self) -> str:
        copied = self.copied
        text = (f"These weights predict {set_label(self.source)}, this project uses {set_label(self.target)}: "
                f"the run starts the output layer fresh for the project's joints; {len(copied)} of "
                f"{len(self.target)} joints are copied from the base model by name")
        if copied:
            text += " (" + ", ".join(copied[:8]) + (" …" if len(copied) > 8 else "") + ")"
        return text + ". Everything else the network learnt is kept."


def set_transfer(source: KeypointSet | None, target: KeypointSet) -> SetTransfer | None:
    """The transfer from a model predicting ``source`` to a project of ``target``; None when the
    model fits the project as it is, or when what it predicts is not known."""
    if source is None or not model_fit(source, target):
        return None
    return SetTransfer(source, target)
