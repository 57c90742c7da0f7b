"""Work units of ``hrnet-predict`` and their sharding across ``torchrun`` ranks.

A run is cut into units in a fixed order: groups of ``--batch-frames`` images (in input order), then
per video either groups of ``--batch-frames`` frames or, with ``--track`` (a track runs through the
whole clip) or ``--render`` (one overlay video per input), the whole video. A single process does
every unit; under ``torchrun --nproc_per_node=N [--nnodes ...] -m hrnet.cli.predict ...`` rank ``r``
of ``W`` does units ``r, r + W, r + 2W, ...``. The units are the batches a single process forms, so
every rank's numbers are those of a single process. Rank 0 gathers what every rank found (one
:func:`torch.distributed.gather_object`: no shared file system needed between nodes), and
:func:`merge` lays it out in unit order and numbers the images as one process does: COCO ids from
numbered file names, else a running number over the images and frames processed. The merged JSON is
the single-process JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hrnet.cli.predict_io import Input

__all__ = ["Shard", "Unit", "gather_shards", "make_units", "merge", "merged_failures", "shard_units"]

log = logging.getLogger("hrnet.predict")


@dataclass
class Unit:
    """One piece of work: ``kind`` "images" (a group of image inputs), "frames" (some frames of one
    video) or "video" (every wanted frame of one video, in one go)."""

    index: int
    kind: str
    items: list[Input]
    frames: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Images or frames in this unit (for progress)."""
        return len(self.items) if self.kind == "images" else len(self.frames)


@dataclass
class Shard:
    """What one process did: per unit, in order, ``(image key, COCO result entries)`` of each image or
    frame processed (entries without ``image_id`` yet), the inputs it had to skip per unit, counts,
    and the error that stopped it (None: it finished its units)."""

    outputs: dict[int, list[tuple[str, list[dict[str, Any]]]]] = field(default_factory=dict)
    failures: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    images_done: int = 0
    frames_done: int = 0
    people: int = 0
    error: str | None = None
    exit_code: int = 0


def make_units(plan: Sequence[Input], batch: int, whole_videos: bool) -> list[Unit]:
    """The run's units in processing order (see the module docstring)."""
    batch = max(1, int(batch))
    units: list[Unit] = []
    images = [p for p in plan if p.kind == "image"]
    for start in range(0, len(images), batch):
        units.append(Unit(len(units), "images", images[start:start + batch]))
    for item in plan:
        if item.kind != "video" or not item.frames:
            continue
        if whole_videos:
            units.append(Unit(len(units), "video", [item], list(item.frames)))
            continue
        for start in range(0, len(item.frames), batch):
            units.append(Unit(len(units), "frames", [item], item.frames[start:start + batch]))
    return units


def shard_units(units: Sequence[Unit], rank: int, world_size: int) -> list[Unit]:
    """The units rank ``rank`` of ``world_size`` does: every ``world_size``-th, from ``rank``."""
    return list(units[rank::max(1, world_size)])


def merge(shards: Sequence[Shard], coco_ids: dict[str, int] | None) -> list[dict[str, Any]]:
    """The COCO results of all shards in unit order, each entry given its ``image_id``: the number of a
    COCO-style file name when ``coco_ids`` has it, else a running number (1, 2, ...) over every image
    and frame processed, in unit order, whether poses were found in it or not."""
    by_unit: dict[int, list[tuple[str, list[dict[str, Any]]]]] = {}
    for s in shards:
        for index, done in s.outputs.items():
            if index in by_unit:
                raise ValueError(f"work unit {index} was done by two processes")
            by_unit[index] = done
    results: list[dict[str, Any]] = []
    next_id = 1
    for index in sorted(by_unit):
        for key, entries in by_unit[index]:
            if coco_ids is not None and key in coco_ids:
                image_id = coco_ids[key]
            else:
                image_id, next_id = next_id, next_id + 1
            for e in entries:
                entry = dict(e)  # keeps the key order of PoseResult.to_coco
                entry["image_id"] = image_id
                results.append(entry)
    return results


def merged_failures(shards: Sequence[Shard]) -> list[tuple[str, str]]:
    """The inputs skipped while processing, in unit order."""
    out: dict[int, list[tuple[str, str]]] = {}
    for s in shards:
        out.update(s.failures)
    return [f for index in sorted(out) for f in out[index]]


def gather_shards(shard: Shard) -> list[Shard] | None:
    """Every rank's :class:`Shard` on rank 0, in rank order (None on the other ranks); ``[shard]``
    in a single process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return [shard]
    rank = dist.get_rank()
    out: list[Any] | None = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(shard, out, dst=0)
    return out
