"""Scripted synthetic videos for tracking: crossings, occlusion gaps, entries and exits, camera pans.

:func:`hrnet.dataset.synthetic.write_video` calls :func:`write_scenario_video` for every scenario but
the plain ``"walk"``. Each actor has a true identity (``track_id``); a person who leaves the frame
and another who enters are different identities, so the ground truth is what a tracker must say.

The world is wider than the frame when the camera pans: actors live in world coordinates, the frame
at time ``t`` shows ``world[:, pan * t : pan * t + width]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from hrnet.dataset import synthetic as syn
from hrnet.errors import MediaError

__all__ = ["SCENARIOS", "write_scenario_video"]

SCENARIOS = ("walk", "crossing", "occlusion", "enter_exit", "pan")
_DEFAULT_PAN = 30.0
_OCCLUSION_SECONDS = 0.8


@dataclass
class _Actor:
    pose: syn.Pose  # at frame ``start``, world coordinates
    look: syn.Appearance
    track: int
    speed: float  # world px per frame (signed)
    phase: float
    rate: float
    amp: float
    start: int = 0
    stop: int = 1 << 30

    def at(self, t: int) -> syn.Pose:
        p = replace(self.pose)
        p.x = self.pose.x + self.speed * (t - self.start)
        return syn._walk(p, self.phase + self.rate * t, self.amp)


def _names(scenario: str | Sequence[str]) -> set[str]:
    names = {scenario} if isinstance(scenario, str) else set(scenario)
    unknown = names - set(SCENARIOS)
    if unknown:
        raise ValueError(f"Unknown video scenario(s) {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    return names


def _walker(rng: np.random.Generator, x: float, y: float, height: float, speed: float, track: int,
            start: int = 0, fps: float = 12.0) -> _Actor:
    """A person walking at ``speed`` px/frame with a stride of about one cycle per second."""
    pose = syn.random_pose(rng, x, y, height)
    pose.lean = float(rng.normal(0, 4))
    pose.yaw = 90.0 if speed > 0 else -90.0
    return _Actor(pose=pose, look=syn.random_appearance(rng), track=track, speed=speed,
                  phase=float(rng.uniform(0, 2 * math.pi)), rate=float(rng.uniform(0.8, 1.2)) * 2 * math.pi / fps,
                  amp=float(rng.uniform(20, 35)), start=start)


def _script(rng: np.random.Generator, names: set[str], w: int, h: int, cam: Callable[[float], float], n: int,
            fps: float, people: int, pan: float
            ) -> tuple[list[_Actor], list[tuple[int, int, int, int, tuple[int, int, int]]]]:
    """The actors and walls (world coordinates) of a clip. ``cam(t)``: the world x of the frame's left
    edge at time t; actors are placed where the camera will see them, and move in the image at their
    own speed plus the pan."""
    actors: list[_Actor] = []
    walls: list[tuple[int, int, int, int, tuple[int, int, int]]] = []
    height = h * 0.55
    y = h * 0.55
    if "crossing" in names:
        # pairs at the same depth walk into each other and meet mid-clip
        for pair in range(max(1, people // 2)):
            hh = height * (1.0 - 0.15 * pair)
            yy = y + pair * 0.08 * h
            meet = cam(n / 2) + w / 2 + rng.normal(0, 0.05 * w)
            speed = float(rng.uniform(0.5, 0.9)) * w / n
            for side in (-1, 1):
                x0 = meet + side * speed * n / 2
                actors.append(_walker(rng, x0, yy, hh * rng.uniform(0.95, 1.05), -side * speed, len(actors), fps=fps))
    if "enter_exit" in names:
        # entries spread through the clip, from both sides, walking out of the other side
        count = max(2, people) * 2
        for k in range(count):
            hh = height * rng.uniform(0.8, 1.1)
            speed = float(rng.uniform(1.2, 2.5)) * w / n * (1 if k % 2 == 0 else -1)
            start = int(k * n / (count + 1))
            margin = 0.3 * hh
            x0 = cam(start) + (-margin if speed > 0 else w + margin)
            a = _walker(rng, x0, y + rng.normal(0, 0.04 * h), hh, speed + pan, len(actors), start=start, fps=fps)
            a.stop = start + int(math.ceil((w + 2 * margin) / abs(speed))) + 1
            actors.append(a)
    if "occlusion" in names:
        # a pillar each walker passes behind, hidden completely for ~0.8 s
        hh = height
        speed = float(rng.uniform(0.6, 1.0)) * w / n
        person_w = 0.45 * hh
        pillar_w = int(person_w + speed * _OCCLUSION_SECONDS * fps)
        cx = int(cam(n / 2) + w / 2)
        color = tuple(int(c) for c in rng.integers(40, 200, 3))
        walls.append((cx - pillar_w // 2, 0, cx + pillar_w // 2, h, color))
        for k in range(max(1, people)):
            side = -1 if k % 2 == 0 else 1
            x0 = cx + side * (0.5 * speed * n)
            actors.append(_walker(rng, x0, y + 0.05 * h * k, hh * (1 - 0.08 * k), -side * speed, len(actors), fps=fps))
    if not actors:  # "walk" / "pan" alone: slow walkers spread along the camera's path
        span = abs(cam(n) - cam(0)) + w
        count = max(1, people) * max(1, int(round(span / w)))
        for k in range(count):
            hh = height * rng.uniform(0.7, 1.1)
            speed = float(rng.uniform(0.1, 0.5)) * w / n * rng.choice([-1, 1])
            x0 = min(cam(0), cam(n)) + (k + rng.uniform(0.2, 0.8)) * span / count
            actors.append(_walker(rng, x0, y + rng.normal(0, 0.05 * h), hh, speed, len(actors), fps=fps))
    return actors, walls


def write_scenario_video(
    path: Path,
    fourcc_name: str,
    *,
    num_frames: int,
    fps: float,
    image_size: tuple[int, int],
    people: int,
    seed: int,
    scenario: str | Sequence[str],
    pan: float,
) -> syn.SyntheticVideo:
    names = _names(scenario)
    if "pan" in names and not pan:
        pan = _DEFAULT_PAN
    rng = np.random.default_rng(syn._split_seed(seed, "video-" + "-".join(sorted(names)) + f"-{pan:g}"))
    w, h = int(image_size[0]), int(image_size[1])
    world_w = int(w + abs(pan) * num_frames) + 1

    def cam(t: float) -> float:
        return pan * t if pan >= 0 else world_w - w - 1 + pan * t

    background = syn._background(rng, world_w, h)
    actors, walls = _script(rng, names, w, h, cam, num_frames, fps, people, pan)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc_name), float(fps), (w, h))
    if not writer.isOpened():
        raise MediaError(f"Cannot write video {path} with codec {fourcc_name!r}")
    frames: list[list[syn.RenderedPerson]] = []
    try:
        for t in range(num_frames):
            x_cam = int(round(cam(t)))
            posed = []
            for a in actors:
                if not a.start <= t < a.stop:
                    continue
                p = a.at(t)
                p.x -= x_cam
                if -0.5 * p.height < p.x < w + 0.5 * p.height:
                    posed.append((p, a.look, a.track))
            posed.sort(key=lambda item: item[0].y + 0.48 * item[0].height)
            frame_walls = [(x0 - x_cam, y0, x1 - x_cam, y1, c) for x0, y0, x1, y1, c in walls
                           if x1 - x_cam >= 0 and x0 - x_cam < w]
            scene = syn._compose(rng, background[:, x_cam:x_cam + w], [(p, look) for p, look, _ in posed],
                                 track_ids=[tid for _, _, tid in posed], walls=frame_walls)
            writer.write(syn._finish(np.random.default_rng([seed, t]), scene.image))
            frames.append(sorted(scene.people, key=lambda person: person.track_id))
    finally:
        writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"Writing video {path} with codec {fourcc_name!r} produced no file")
    return syn.SyntheticVideo(path=path, fps=float(fps), size=(w, h), frames=frames)
