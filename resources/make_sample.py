"""Regenerate the bundled sample project in ``resources/sample/`` (small: a few hundred KB).

    python resources/make_sample.py [--photos DIR]

Contents: synthetic scenes of stick-figure people with their exact ground truth (imported, not
reviewed), a short synthetic video of two people walking into and past each other (a crossing,
320x240, 48 frames at 12 fps) whose first frame is labelled — Predict all frames follows both
through the crossing with their ids even offline, from those labels and the bundled demo model —
and, when ``--photos`` points at a folder with scikit-image's public-domain sample photos
(``astronaut.png``, ``camera.png`` from its wheel's ``skimage/data``), two real photos of people
without labels. Without ``--photos`` the photos already in ``--out`` are kept as they are. The
project is written with :func:`hrnet.annotations.save_coco`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import cv2
import numpy as np

from app.sources import open_paths
from hrnet.annotations import Instance, save_coco
from hrnet.dataset.synthetic import render_scene, write_video

HERE = Path(__file__).resolve().parent
PHOTOS = {"astronaut.png": "astronaut.jpg", "camera.png": "cameraman.jpg"}
PHOTO_LICENSE = """Photos in images/ from scikit-image's sample data (skimage/data, scikit-image 0.26):

- astronaut.jpg: Eileen Collins, NASA astronaut. From the NASA Great Images database.
  "No known copyright restrictions, released into the public domain." (skimage.data.astronaut)
- cameraman.jpg: "camera" image. "No copyright restrictions. CC0 by the photographer
  (Lav Varshney)." (skimage.data.camera)

Both converted to JPEG. scikit-image itself is not a dependency of this project.
All other images and the video are rendered by hrnet.dataset.synthetic (no licence restrictions).
"""


def _instance(annotation: dict) -> Instance:
    return Instance(np.array(annotation["keypoints"], np.float64).reshape(-1, 3),
                    bbox=np.array(annotation["bbox"], np.float64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=Path, help="folder with astronaut.png / camera.png (scikit-image data)")
    parser.add_argument("--out", type=Path, default=HERE / "sample")
    args = parser.parse_args()
    out: Path = args.out
    kept_photos: dict[str, bytes] = {}
    if args.photos is None:  # keep the photos of the previous sample (no re-encoding)
        for name in [*PHOTOS.values(), "LICENSE-photos.txt"]:
            old = out / ("images" if name.endswith(".jpg") else "") / name
            if old.is_file():
                kept_photos[name] = old.read_bytes()
    if out.exists():
        shutil.rmtree(out)
    images = out / "images"
    images.mkdir(parents=True)

    paths: list[Path] = []
    truth: dict[str, list[dict]] = {}
    for i in range(4):
        scene = render_scene(np.random.default_rng(100 + i), image_size=(480, 360), people=(2, 4))
        name = f"scene_{i + 1:02d}.jpg"
        cv2.imwrite(str(images / name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        truth[name] = scene.annotations(i + 1)
        paths.append(images / name)
    if args.photos is not None:
        for src, dst in PHOTOS.items():
            image = cv2.imread(str(args.photos / src), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"missing {args.photos / src}")
            cv2.imwrite(str(images / dst), image, [cv2.IMWRITE_JPEG_QUALITY, 88])
            paths.append(images / dst)
        (out / "LICENSE-photos.txt").write_text(PHOTO_LICENSE, encoding="utf-8")
    elif kept_photos:
        for name, data in kept_photos.items():
            if name.endswith(".jpg"):
                (images / name).write_bytes(data)
                paths.append(images / name)
            else:
                (out / name).write_bytes(data)
    # seed 0: the demo model follows both people through the crossing from the labels of frame 0
    # without a detector (benchmarks/lost_tracks.py, benchmarks/app_video.py)
    video = write_video(images / "walk.mp4", num_frames=48, fps=12.0, image_size=(320, 240), people=2, seed=0,
                        scenario="crossing")
    paths.append(video.path)

    document, source = open_paths(paths)
    for frame in document.frames:
        name = Path(frame.file_name).name
        if frame.video is None and name in truth:
            frame.instances = [_instance(a) for a in truth[name]]
        elif frame.video is not None and frame.frame_index == 0:
            frame.instances = [_instance(p.to_annotation(1, k + 1)) for k, p in enumerate(video.frames[0])]
    document.extra.setdefault("info", {})["description"] = (
        "HRNet Pose Annotator sample project: synthetic scenes (ground truth), public-domain photos "
        "(unlabelled), a synthetic video of two people crossing (frame 1 labelled)")
    source.ensure_sizes()
    source.close()
    save_coco(document, out / "project.json", indent=None)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({len(document.frames)} frames, {total / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
