"""Inputs and rendering of ``hrnet-predict`` (:mod:`hrnet.cli.predict`): the files named on the
command line expanded into a plan (images, videos with their wanted frames), COCO image ids from
numbered file names, and the overlays drawn with the poses."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.errors import HRNetError
from hrnet.media import VIDEO_EXTS, VideoReader, is_image, is_video, natural_sort_key
from hrnet.utils.io import atomic_write_bytes, write_json

__all__ = ["Input", "Renderer", "expand_inputs", "image_ids", "plan_inputs", "render_names"]


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------
@dataclass
class Input:
    path: Path
    kind: str  # "image" | "video"
    frames: list[int] = field(default_factory=list)  # for videos
    reader: VideoReader | None = None


def expand_inputs(inputs: Sequence[str], recursive: bool, failures: list[tuple[str, str]]) -> list[Path]:
    files: list[Path] = []
    for text in inputs:
        p = Path(text).expanduser()
        if p.is_dir():
            candidates = p.rglob("*") if recursive else p.iterdir()
            found = sorted(
                (f for f in candidates if f.is_file() and (is_image(f) or is_video(f))),
                key=lambda f: natural_sort_key(f.relative_to(p).as_posix()),
            )
            if not found:
                failures.append((str(p), "folder holds no images or videos"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            failures.append((str(p), "not found"))
    return files


def plan_inputs(files: list[Path], args: argparse.Namespace, failures: list[tuple[str, str]]) -> list[Input]:
    """Images and videos (each with the frames wanted: ``--frame-step``, ``--max-frames``); unreadable
    videos are listed in ``failures``."""
    plan: list[Input] = []
    for f in files:
        if is_image(f):
            plan.append(Input(f, "image"))
            continue
        try:
            reader = VideoReader(f)
        except HRNetError as e:
            if is_video(f):
                failures.append((str(f), str(e)))
            else:  # unknown extension: maybe an image after all
                plan.append(Input(f, "image"))
            continue
        frames = list(range(0, reader.num_frames, max(1, args.frame_step)))
        if args.max_frames is not None:
            frames = frames[: args.max_frames]
        plan.append(Input(f, "video", frames, reader))
    return plan


def image_ids(plan: list[Input]) -> dict[str, int] | None:
    """COCO ids from numbered file names when every input is such an image, else None."""
    ids: dict[str, int] = {}
    for item in plan:
        if item.kind != "image" or not re.fullmatch(r"(?:COCO_[a-z0-9]+_)?\d+", item.path.stem):
            return None
        ids[str(item.path)] = int(re.findall(r"\d+", item.path.stem)[-1])
    return ids if len(set(ids.values())) == len(ids) else None


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
def render_names(plan: Sequence[Input]) -> dict[str, str]:
    """The overlay file name of each input image: its stem, ``stem_1``... for a stem seen before (the
    same for every rank of a sharded run, whichever images it draws)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for item in plan:
        if item.kind != "image" or str(item.path) in names:
            continue
        name, n = item.path.stem + ".jpg", 1
        while name in taken:
            name = f"{item.path.stem}_{n}.jpg"
            n += 1
        taken.add(name)
        names[str(item.path)] = name
    return names


class Renderer:
    """Draws the poses: one image per input image and one video per input video into a folder, or
    every frame into one video file."""

    def __init__(self, target: str, predictor: Any, kpt_thr: float, names: dict[str, str] | None = None) -> None:
        self.target = Path(target)
        self.single_video = self.target.suffix.lower() in VIDEO_EXTS
        self.predictor = predictor
        self.kpt_thr = kpt_thr
        self.writers: dict[str, Any] = {}
        self.size: dict[str, tuple[int, int]] = {}
        self.names = names or {}
        if not self.single_video:
            self.target.mkdir(parents=True, exist_ok=True)
        else:
            self.target.parent.mkdir(parents=True, exist_ok=True)

    def _draw(self, image: np.ndarray, results: list) -> np.ndarray:
        from hrnet.utils.vis import draw_poses

        skeleton = self.predictor.skeleton or None
        return draw_poses(
            image, [r.keypoints for r in results], skeleton, kpt_thr=self.kpt_thr,
            keypoint_names=self.predictor.keypoint_names, scores=[r.score for r in results],
            boxes_xyxy=np.array([r.box for r in results]) if results else None,
        )

    def image(self, path: Path, image: np.ndarray, results: list) -> None:
        drawn = self._draw(image, results)
        if self.single_video:
            self._video_frame("all", self.target, drawn, 25.0)
            return
        out = self.target / self.names.get(str(path), path.stem + ".jpg")
        _write_image(out, drawn)

    def frame(self, path: Path, fps: float, image: np.ndarray, results: list) -> None:
        drawn = self._draw(image, results)
        if self.single_video:
            self._video_frame("all", self.target, drawn, fps)
        else:
            self._video_frame(str(path), self.target / (path.stem + "_poses.mp4"), drawn, fps)

    def _video_frame(self, key: str, out: Path, frame: np.ndarray, fps: float) -> None:
        import cv2

        writer = self.writers.get(key)
        if writer is None:
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, size)
            if not writer.isOpened():
                raise HRNetError(f"Cannot write video {out}")
            self.writers[key] = writer
            self.size[key] = size
        size = self.size[key]
        if (frame.shape[1], frame.shape[0]) != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        writer.write(frame)

    def close(self) -> None:
        for w in self.writers.values():
            w.release()
        self.writers.clear()


def _write_image(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(path.suffix or ".jpg", image)
    if not ok:
        raise HRNetError(f"Cannot encode {path}")
    atomic_write_bytes(path, buf.tobytes(), mkdir=True, durable=False)  # one per frame; rendered again on a rerun


def _write_json(path: Path, data: Any) -> None:
    write_json(path, data, mkdir=True)
