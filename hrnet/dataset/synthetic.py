"""Synthetic COCO keypoint data: rendered stick-figure people with exact keypoints.

Every person is a 2-D articulated figure with plausible human proportions (head, neck, torso,
two-segment arms and legs, hands and feet) and the 17 COCO keypoints: a head circle with eyes,
ears and nose placed on it by the head's yaw, shoulders and hips at the torso's corners, elbows,
wrists, knees and ankles at the limb joints. Poses vary (torso lean, yaw from frontal through
profile to back view, joint angles), as do scale, position and count per image. Backgrounds are
smooth colour fields with noise and clutter (lines, boxes, blobs); occluder shapes hide parts of
people. The person's left limbs are drawn in cool colours (blue/cyan) and slightly thinner, the
right ones in warm colours (red/orange), left/right ears and eyes are tinted the same way, so
left and right can be told apart (and horizontal flips are learnable).

Keypoint visibility follows COCO: 2 visible, 1 hidden (by a later-drawn person, an occluder, the
person's own body in profile view, or the back of the head), 0 outside the image (then x = y =
0). ``bbox`` is the box of the person's drawn pixels inside the image and ``area`` their count.

Everything is deterministic given the seed (image ``i`` of a split depends only on the seed,
the split name and ``i``), and fast: a few milliseconds per 320x240 image.

This module writes datasets and videos; the figures (pose, appearance, skeleton geometry) live in
:mod:`hrnet.dataset.synthetic_figure` and the drawing of people and scenes in
:mod:`hrnet.dataset.synthetic_render`. Their public names are re-exported here.

>>> ann_file = generate_dataset("data/synth", 200, seed=0, split_name="train")
>>> scene = render_scene(np.random.default_rng(0), image_size=(320, 240))
>>> video = write_video("walk.mp4", num_frames=48)
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hrnet.dataset.synthetic_figure import STYLES, Appearance, Pose, RenderStyle, random_appearance, random_pose
from hrnet.dataset.synthetic_render import (
    RenderedPerson,
    Scene,
    _background,
    _compose,
    _finish,
    _place_people,
    render_person,
    render_scene,
)
from hrnet.errors import DatasetError, MediaError
from hrnet.keypoints import COCO_KEYPOINTS, COCO_SKELETON
from hrnet.utils.io import write_json

__all__ = [
    "KEYPOINT_NAMES",
    "SKELETON",
    "Appearance",
    "Pose",
    "RenderStyle",
    "RenderedPerson",
    "STYLES",
    "Scene",
    "SyntheticVideo",
    "coco_category",
    "generate_dataset",
    "render_person",
    "render_scene",
    "random_appearance",
    "random_pose",
    "write_video",
]

log = logging.getLogger(__name__)

KEYPOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS
SKELETON: tuple[tuple[int, int], ...] = COCO_SKELETON  # 0-based


def coco_category() -> dict[str, Any]:
    """The COCO 'person' keypoint category (skeleton 1-based, as COCO files store it)."""
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(KEYPOINT_NAMES),
        "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
    }


# ---------------------------------------------------------------------------------------------
# Datasets on disk
# ---------------------------------------------------------------------------------------------
def _split_seed(seed: int, split_name: str) -> int:
    return zlib.crc32(split_name.encode("utf-8")) ^ (seed & 0xFFFFFFFF)


def _write_json_atomic(obj: Any, path: Path) -> None:
    write_json(path, obj, mkdir=True)


def _write_image(path: Path, image: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if path.suffix.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(path.suffix, image, params)
    if not ok:
        raise DatasetError(f"Cannot encode image {path}")
    try:
        data.tofile(str(path))
    except OSError as e:
        raise DatasetError(f"Cannot write image {path}: {e.strerror or e}") from e


def generate_dataset(
    out_dir: str | os.PathLike[str],
    num_images: int,
    image_size: tuple[int, int] = (320, 240),
    people: int | tuple[int, int] = (1, 3),
    seed: int = 0,
    split_name: str = "train",
    image_format: str = "jpg",
    occlusion: float = 0.5,
    keypoints: str = "coco",
    style: RenderStyle | str | None = None,
) -> Path:
    """Write a COCO keypoint dataset of ``num_images`` rendered images and return the path of its
    annotation JSON. ``keypoints``: ``"coco"`` (the default, COCO-17 people) or another set of
    :mod:`hrnet.dataset.synthetic_sets` (``"body12"``: COCO's body without the face; ``"quadruped"``:
    four-legged animals).

    Layout (the official COCO one, so it also loads as ``DATASET.DATASET: coco`` when
    ``image_format='jpg'``, the default: JPEG (quality 95) decodes several times faster than PNG
    for these noisy images; the keypoints are exact either way)::

        out_dir/annotations/person_keypoints_<split_name>.json
        out_dir/images/<split_name>/<image id:012d>.<image_format>

    For ``coco_json``: ``DATASET.TRAIN_ANNOTATIONS`` = the returned path, ``DATASET.TRAIN_IMAGES``
    = ``out_dir/images/<split_name>``. Image ids start at 1. Deterministic given ``seed`` and
    ``split_name`` (different splits differ).
    """
    if num_images < 0:
        raise ValueError("num_images must be >= 0")
    if keypoints != "coco":
        if style is not None:
            raise ValueError("style= renders COCO people only; it cannot be combined with keypoints=" + repr(keypoints))
        from hrnet.dataset.synthetic_sets import generate_set_dataset

        return generate_set_dataset(out_dir, num_images, keypoints, image_size=image_size, seed=seed,
                                    split_name=split_name, image_format=image_format)
    ext = image_format.lower().lstrip(".")
    if ext not in ("png", "jpg", "jpeg", "bmp"):
        raise ValueError(f"image_format must be png, jpg or bmp, not {image_format!r}")
    out = Path(out_dir)
    image_dir = out / "images" / split_name
    image_dir.mkdir(parents=True, exist_ok=True)
    base = _split_seed(seed, split_name)
    images, annotations = [], []
    w, h = int(image_size[0]), int(image_size[1])
    for i in range(num_images):
        image_id = i + 1
        scene = render_scene(np.random.default_rng([base, i]), (w, h), people, style=style)
        file_name = f"{image_id:012d}.{ext}"
        _write_image(image_dir / file_name, scene.image)
        images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        annotations.extend(scene.annotations(image_id, len(annotations) + 1))
    document = {
        "info": {"description": f"hrnet synthetic stick-figure people ({split_name}, seed {seed})",
                 "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [coco_category()],
    }
    ann_file = out / "annotations" / f"person_keypoints_{split_name}.json"
    _write_json_atomic(document, ann_file)
    log.info("=> wrote %d synthetic images with %d people to %s", num_images, len(annotations), out)
    return ann_file


# ---------------------------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------------------------
@dataclass
class SyntheticVideo:
    """A rendered video file and its per-frame ground truth (``frames[i]`` = people of frame i,
    with stable ``track_id`` per person)."""

    path: Path
    fps: float
    size: tuple[int, int]
    frames: list[list[RenderedPerson]]

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def to_coco(self) -> dict[str, Any]:
        """A COCO keypoint document with one image entry per frame (``file_name`` = the video's
        name, ``frame_index`` 0-based) and the people's annotations (``track_id`` kept)."""
        images, annotations = [], []
        for i, people in enumerate(self.frames):
            images.append({"id": i + 1, "file_name": self.path.name, "frame_index": i,
                           "width": self.size[0], "height": self.size[1]})
            for p in people:
                annotations.append(p.to_annotation(i + 1, len(annotations) + 1))
        return {"images": images, "annotations": annotations, "categories": [coco_category()]}


def _walk(pose: Pose, phase: float, amplitude: float) -> Pose:
    s = math.sin(phase)
    return replace(
        pose,
        left_leg_raise=amplitude * s, right_leg_raise=-amplitude * s,
        left_knee_bend=max(0.0, 35 * math.sin(phase + 1.2)),
        right_knee_bend=max(0.0, 35 * math.sin(phase + 1.2 + math.pi)),
        left_arm_raise=pose.left_arm_raise - 0.6 * amplitude * s,
        right_arm_raise=pose.right_arm_raise + 0.6 * amplitude * s,
    )


_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def write_video(
    path: str | os.PathLike[str],
    num_frames: int = 48,
    fps: float = 12.0,
    image_size: tuple[int, int] = (320, 240),
    people: int = 2,
    seed: int = 0,
    codec: str | None = None,
    scenario: str | Sequence[str] = "walk",
    pan: float = 0.0,
) -> SyntheticVideo:
    """Render a short video of ``people`` persons walking / waving across a static background and
    return its per-frame ground truth. The codec defaults to ``mp4v`` for .mp4/.mov and ``MJPG``
    for .avi/.mkv (both are in opencv-python-headless). Raises :class:`MediaError` when the
    video cannot be written.

    ``scenario`` (one name or several) scripts what tracking finds hard, with true identities in
    ``track_id``: ``"walk"`` (the default: people walk across and wrap around), ``"crossing"``
    (pairs of people at the same depth walk into and past each other), ``"occlusion"`` (a pillar
    hides each person completely for about 0.8 s), ``"enter_exit"`` (people walk in from outside
    the frame and out again, each entry a new identity). ``pan`` moves the camera by that many
    pixels per frame (``"pan"`` alone means 30). See :mod:`hrnet.dataset.video_scenarios`."""
    path = Path(path)
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    fourcc_name = codec or _CODECS.get(path.suffix.lower())
    if fourcc_name is None or len(fourcc_name) != 4:
        raise MediaError(f"No video codec for {path.name}; use .mp4 or .avi, or pass codec='mp4v' / 'MJPG'")
    if scenario != "walk" or pan:
        from hrnet.dataset.video_scenarios import write_scenario_video

        return write_scenario_video(path, fourcc_name, num_frames=num_frames, fps=fps, image_size=image_size,
                                    people=people, seed=seed, scenario=scenario, pan=pan)
    rng = np.random.default_rng(_split_seed(seed, "video"))
    w, h = int(image_size[0]), int(image_size[1])
    background = _background(rng, w, h)
    actors = []
    for k, pose in enumerate(_place_people(rng, w, h, people)):
        pose.lean = float(rng.normal(0, 4))
        speed = rng.uniform(0.6, 1.8) * w / num_frames * rng.choice([-1, 1])
        pose.yaw = 90.0 if speed > 0 else -90.0
        if rng.random() < 0.3:
            pose.yaw = float(rng.normal(0, 15))  # walking towards the camera, drifting sideways
        actors.append({"pose": pose, "look": random_appearance(rng), "speed": speed, "track": k,
                       "phase": rng.uniform(0, 2 * math.pi), "rate": rng.uniform(0.35, 0.6),
                       "amp": rng.uniform(20, 35)})
    occluders = []
    if rng.random() < 0.6:
        occluders.append((np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.5, 0.9) * h]), h * 0.12,
                          int(rng.integers(1 << 31))))

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc_name), float(fps), (w, h))
    if not writer.isOpened():
        raise MediaError(f"Cannot write video {path} with codec {fourcc_name!r}")
    frames: list[list[RenderedPerson]] = []
    try:
        for t in range(num_frames):
            posed = []
            for a in actors:
                p = replace(a["pose"])
                p.x = (a["pose"].x + a["speed"] * t) % (w + 0.4 * p.height) - 0.2 * p.height
                posed.append((_walk(p, a["phase"] + a["rate"] * t, a["amp"]), a["look"], a["track"]))
            posed.sort(key=lambda item: item[0].y + 0.48 * item[0].height)
            scene = _compose(rng, background, [(p, look) for p, look, _ in posed], occluders,
                             track_ids=[tid for _, _, tid in posed])
            image = _finish(np.random.default_rng([seed, t]), scene.image)
            writer.write(image)
            frames.append(sorted(scene.people, key=lambda person: person.track_id))
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"Writing video {path} with codec {fourcc_name!r} produced no file")
    return SyntheticVideo(path=path, fps=float(fps), size=(w, h), frames=frames)
