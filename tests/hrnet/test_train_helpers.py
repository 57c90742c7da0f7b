"""Shared helpers of the training tests (no tests here): a tiny synthetic dataset and the opts of a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

EXPERIMENT = "synthetic/hrnet_w16_128x96"

# The shipped small experiment at a third of its input area, one worker-less loader: a few
# seconds per epoch on one CPU core.
TINY_OPTS = [
    "MODEL.IMAGE_SIZE", "[64, 64]", "MODEL.HEATMAP_SIZE", "[16, 16]",
    "TRAIN.BATCH_SIZE_PER_GPU", "8", "TEST.BATCH_SIZE_PER_GPU", "16", "WORKERS", "0", "PRINT_FREQ", "1",
    "TRAIN.SEED", "0",
]


def make_dataset(root: Path, train_images: int = 6, val_images: int = 3, seed: int = 0) -> list[str]:
    """Write a synthetic COCO keypoint dataset; return the ``DATASET.*`` opts that point at it."""
    from hrnet.dataset.synthetic import generate_dataset

    train = generate_dataset(root, train_images, image_size=(160, 120), seed=seed, split_name="train")
    val = generate_dataset(root, val_images, image_size=(160, 120), seed=seed + 1, split_name="val")
    return [
        "DATASET.TRAIN_ANNOTATIONS", str(train), "DATASET.TRAIN_IMAGES", str(root / "images" / "train"),
        "DATASET.TEST_ANNOTATIONS", str(val), "DATASET.TEST_IMAGES", str(root / "images" / "val"),
    ]


def parse_jsonl(text: str) -> list[dict]:
    """Every line must be one JSON object with an "event"."""
    events = []
    for line in text.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict) and "event" in obj, line
        events.append(obj)
    return events


def of_kind(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["event"] == name]
