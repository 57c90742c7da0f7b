"""``hrnet-predict``: poses in images, folders and videos -> COCO keypoint results JSON.

::

    hrnet-predict --experiment coco/hrnet/w32_256x192 --weights pose_hrnet_w32_256x192.pth \\
        photos/ clip.mp4 --detector fasterrcnn --out results.json --render overlays/

Each input is an image, a folder (its images and videos, naturally sorted; ``--recursive`` for
sub-folders) or a video (every frame, or every ``--frame-step``-th, with exact frame indices).
People are found by ``--detector`` (``fasterrcnn``, ``ssdlite``, ``json:PATH`` for boxes from a
COCO detections file, ``full`` for the whole image), then the Predictor runs the official test
pipeline. The results are the official COCO results format (``image_id``, ``category_id`` 1, flat
``keypoints``, ``score``, ``bbox``) plus ``file_name`` and, for video frames, ``frame_index``;
poses are rescored and OKS-NMS'ed as the official evaluation does (``--no-oks-nms`` to skip).
``image_id`` is the number of the file name when every input is a COCO-style numbered image
(``000000397133.jpg`` -> 397133), otherwise a running number.

Unreadable files are skipped, listed at the end, and the run goes on; the exit status is
non-zero only when nothing could be processed (1), for a usage / configuration error (2), or when
the run stopped part-way (3; 130 when interrupted). Whatever stops a run, the poses found so far
are written to ``--out``. On a GPU out-of-memory error the cache is emptied and the batches are
halved (frames per batch here, people per forward pass in the Predictor) and the batch is retried;
only when a single frame with one person per pass does not fit does the run stop.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.errors import HRNetError
from hrnet.media import VIDEO_EXTS, VideoReader, is_image, is_video, natural_sort_key, read_image
from hrnet.utils.io import atomic_write_bytes, write_json
from hrnet.weights import ProgressBar

__all__ = ["build_parser", "main"]

log = logging.getLogger("hrnet.predict")

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3


class _OutOfMemory(Exception):
    """A single frame does not fit in device memory: the run cannot go on (not an HRNetError, so
    the per-video error handling does not swallow it)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hrnet-predict",
        description="Run HRNet pose estimation on images, folders and videos; write COCO keypoint results.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders or video files")
    p.add_argument("--experiment", "--cfg", default=None,
                   help="shipped experiment name or YAML path (optional with a registry --weights name)")
    p.add_argument("--weights", default=None,
                   help="pose checkpoint path or registry name (see --list-weights); none = random weights")
    p.add_argument("--detector", default="fasterrcnn",
                   help="person detector: fasterrcnn, ssdlite, json:PATH (COCO detections file) or full")
    p.add_argument("--det-threshold", type=float, default=None,
                   help="detector score threshold (default: 0.5 fasterrcnn, 0.3 ssdlite, 0.0 json)")
    p.add_argument("--det-nms", type=float, default=None, metavar="IOU", help="extra box NMS at this IoU")
    p.add_argument("--min-box", type=float, default=0.0, metavar="PX", help="drop boxes with a side below this")
    p.add_argument("--max-people", type=int, default=None, help="keep at most this many boxes per image")
    p.add_argument("--det-fp16", action="store_true",
                   help="run the fasterrcnn/ssdlite detector under fp16 autocast (CUDA only)")
    p.add_argument("--out", default="results.json", help="COCO results JSON to write")
    p.add_argument("--render", default=None, metavar="DIR_OR_VIDEO",
                   help="draw the poses: a folder (one image per input image, one video per input video) "
                        "or a video file name (all frames into one video)")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="joints below this confidence are not drawn")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--flip", action="store_true", help="flip test (average with the mirrored image)")
    p.add_argument("--batch-size", type=int, default=None, help="people per forward pass")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                   help="int8: quantised network in ONNX Runtime on the CPU (calibrated once, cached next to the "
                        "weights, checked against fp32; falls back to fp32 with a message)")
    p.add_argument("--calibration", default=None, metavar="IMAGES_OR_COCO_JSON",
                   help="int8 calibration data: a COCO keypoint JSON or a folder of images "
                        "(default: the first frames of the inputs with the detector's boxes)")
    p.add_argument("--batch-frames", type=int, default=8, help="video frames per detector/pose batch")
    p.add_argument("--frame-step", type=int, default=1, help="process every N-th video frame")
    p.add_argument("--max-frames", type=int, default=None, help="process at most this many frames per video")
    p.add_argument("--recursive", action="store_true", help="also look into sub-folders")
    p.add_argument("--no-oks-nms", action="store_true", help="keep every pose (no OKS NMS)")
    p.add_argument("--track", action="store_true",
                   help="videos: follow people from frame to frame and write track_id per pose (boxes are "
                   "propagated from the tracked poses; the detector runs on the first frame, every "
                   "--detect-every frames and where someone is lost)")
    p.add_argument("--detect-every", type=int, default=30, metavar="N",
                   help="with --track: run the detector at least every N frames (default 30)")
    p.add_argument("--smooth", action="store_true",
                   help="with --track: One-Euro smoothing of each track's joints (hrnet.temporal)")
    p.add_argument("--opts", nargs="*", default=[], metavar="KEY VALUE", help="config overrides")
    p.add_argument("--list-weights", action="store_true", help="list the known pose checkpoints and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return p


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------
@dataclass
class _Input:
    path: Path
    kind: str  # "image" | "video"
    frames: list[int] = field(default_factory=list)  # for videos
    reader: VideoReader | None = None


def _expand(inputs: Sequence[str], recursive: bool, failures: list[tuple[str, str]]) -> list[Path]:
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


def _plan(files: list[Path], args: argparse.Namespace, failures: list[tuple[str, str]]) -> list[_Input]:
    plan: list[_Input] = []
    for f in files:
        if is_image(f):
            plan.append(_Input(f, "image"))
            continue
        try:
            reader = VideoReader(f)
        except HRNetError as e:
            if is_video(f):
                failures.append((str(f), str(e)))
            else:  # unknown extension: maybe an image after all
                plan.append(_Input(f, "image"))
            continue
        frames = list(range(0, reader.num_frames, max(1, args.frame_step)))
        if args.max_frames is not None:
            frames = frames[: args.max_frames]
        plan.append(_Input(f, "video", frames, reader))
    return plan


def _image_ids(plan: list[_Input]) -> dict[str, int] | None:
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
class _Renderer:
    def __init__(self, target: str, predictor: Any, kpt_thr: float) -> None:
        self.target = Path(target)
        self.single_video = self.target.suffix.lower() in VIDEO_EXTS
        self.predictor = predictor
        self.kpt_thr = kpt_thr
        self.writers: dict[str, Any] = {}
        self.size: dict[str, tuple[int, int]] = {}
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
        out = self.target / (path.stem + ".jpg")
        n = 1
        while out.exists() and str(out) in self.size:  # two inputs with the same stem
            out = self.target / f"{path.stem}_{n}.jpg"
            n += 1
        self.size[str(out)] = drawn.shape[1::-1]
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


def _write_results(path: Path, run: _Run, finished: bool) -> None:
    """Write the results gathered so far; when the run stopped early, say that they are partial
    (a failed write is reported, never allowed to hide the error that stopped the run)."""
    try:
        _write_json(path, run.results)
    except OSError as e:
        if finished:
            raise
        print(f"hrnet-predict: cannot write the partial results to {path}: {e}", file=sys.stderr)
        return
    if not finished:
        print(f"hrnet-predict: stopped early; the {run.people} pose(s) of the {run.images_done} image(s) and "
              f"{run.frames_done} video frame(s) done so far are in {path}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------
class _Run:
    def __init__(self, args: argparse.Namespace, predictor: Any, detector: Any) -> None:
        self.args = args
        self.predictor = predictor
        self.detector = detector
        self.results: list[dict[str, Any]] = []
        self.failures: list[tuple[str, str]] = []
        self.images_done = 0
        self.frames_done = 0
        self.people = 0
        self.next_id = 1
        self.ids: dict[str, int] | None = None
        self.renderer: _Renderer | None = None
        self.frame_batch = max(1, int(args.batch_frames))  # halved on out-of-memory errors
        kset = predictor.keypoint_set
        self.sigmas = np.asarray(kset.oks_sigmas()) if hasattr(kset, "oks_sigmas") else None
        self.oks_thre = float(predictor.cfg.TEST.OKS_THRE)

    def _detect(self, images: list[np.ndarray], keys: list[Any]) -> list[Any]:
        batch = getattr(self.detector, "detect_batch", None)
        if batch is not None:
            return batch(images)
        return [self.detector(im, image_key=k) for im, k in zip(images, keys)]

    def _poses(self, images: list[np.ndarray], keys: list[Any]) -> list[list[Any]]:
        """Detections then poses of ``images``; on a device out-of-memory error the memory is
        released and the two halves are done one after the other (and later batches are smaller)."""
        from hrnet.utils.device import is_out_of_memory, release_memory

        message = ""
        try:
            dets = self._detect(images, keys)
            return self.predictor.predict_batch(images, [d.boxes for d in dets], [d.scores for d in dets])
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e):
                raise
            message = (str(e).strip().splitlines() or [type(e).__name__])[0]
        # outside the except block: its traceback no longer pins the failed batch's tensors
        release_memory(self.predictor.device)
        if len(images) == 1:
            raise _OutOfMemory(
                f"out of memory on {self.predictor.device} even for one frame at a time ({message}). "
                "Use --device cpu, a smaller model, or free the GPU (other processes)"
            )
        half = len(images) // 2
        self.frame_batch = max(1, min(self.frame_batch, half))
        log.warning("Out of memory on %s with %d frames per batch; retrying with %d",
                    self.predictor.device, len(images), half)
        out: list[list[Any]] = []
        start = 0
        while start < len(images):  # a nested failure shrinks frame_batch further for what is left
            step = self.frame_batch
            out += self._poses(images[start:start + step], keys[start:start + step])
            start += step
        return out

    def _entries(self, results: list, image_id: int, file_name: str,
                 frame: int | None) -> tuple[list[dict[str, Any]], list]:
        """COCO result entries of the poses kept by OKS NMS (official evaluation), and those poses."""
        if not results:
            return [], []
        keep = list(range(len(results)))
        if not self.args.no_oks_nms and len(results) > 1 and self.sigmas is not None:
            from hrnet.nms import oks_nms

            db = [{"keypoints": r.keypoints, "score": r.score, "area": float(np.prod(r.scale * 200.0))}
                  for r in results]
            keep = sorted(oks_nms(db, self.oks_thre, sigmas=self.sigmas))
        out = []
        for i in keep:
            entry = results[i].to_coco(image_id)
            entry["file_name"] = file_name
            if frame is not None:
                entry["frame_index"] = frame
            out.append(entry)
        self.results.extend(out)
        self.people += len(out)
        return out, [results[i] for i in keep]

    def _id_for(self, key: str) -> int:
        if self.ids is not None and key in self.ids:
            return self.ids[key]
        i = self.next_id
        self.next_id += 1
        return i

    def process(self, plan: list[_Input], bar: ProgressBar | None) -> None:
        self.ids = _image_ids(plan)
        if self.args.render:
            self.renderer = _Renderer(self.args.render, self.predictor, self.args.kpt_thr)
        try:
            images = [p for p in plan if p.kind == "image"]
            start = 0
            while start < len(images):
                step = self.frame_batch
                self._image_group(images[start:start + step], bar)
                start += step
            for item in plan:
                if item.kind == "video":
                    self._video(item, bar)
        finally:
            if self.renderer is not None:
                self.renderer.close()

    def _image_group(self, group: list[_Input], bar: ProgressBar | None) -> None:
        loaded: list[tuple[_Input, np.ndarray]] = []
        for item in group:
            try:
                loaded.append((item, read_image(item.path)))
            except HRNetError as e:
                self.failures.append((str(item.path), str(e)))
                if bar is not None:
                    bar.update(1)
        if not loaded:
            return
        poses = self._poses([im for _, im in loaded], [str(it.path) for it, _ in loaded])
        for (item, image), results in zip(loaded, poses):
            _, kept = self._entries(results, self._id_for(str(item.path)), item.path.name, None)
            self.images_done += 1
            if self.renderer is not None:
                self.renderer.image(item.path, image, kept)
            if bar is not None:
                bar.update(1, postfix=f"{self.people} people")

    def _video(self, item: _Input, bar: ProgressBar | None) -> None:
        if self.args.track:
            self._video_tracked(item, bar)
            return
        reader = item.reader
        assert reader is not None
        wanted = item.frames
        done = 0
        try:
            contiguous = self.args.frame_step == 1
            source: Iterator[tuple[int, np.ndarray]]
            if contiguous and wanted:
                source = reader.iter_frames(wanted[0], wanted[-1] + 1)
            else:
                source = ((i, reader.read(i)) for i in wanted)
            batch: list[tuple[int, np.ndarray]] = []
            for index, frame in source:
                batch.append((index, frame))
                if len(batch) >= self.frame_batch:
                    self._video_batch(item, reader, batch, bar)
                    done += len(batch)
                    batch = []
            if batch:
                self._video_batch(item, reader, batch, bar)
                done += len(batch)
        except HRNetError as e:
            self.failures.append((str(item.path), f"stopped after {done} frames: {e}"))
        finally:
            reader.close()
        if bar is not None and done < len(wanted):
            bar.update(len(wanted) - done)

    def _video_tracked(self, item: _Input, bar: ProgressBar | None) -> None:
        """``--track``: the wanted frames in order through :class:`~hrnet.propagation.VideoPoseTracker`
        (boxes propagated from the tracked poses, the detector only where needed, ``track_id`` per
        pose); with ``--smooth`` each track is smoothed once the video is done, then the entries are
        written (OKS NMS is the tracker's own)."""
        from hrnet.propagation import VideoPoseTracker, smooth_tracked_frames

        reader = item.reader
        assert reader is not None
        tracker = VideoPoseTracker(self.predictor, self.detector, detect_every=max(0, int(self.args.detect_every)))
        frames: list[tuple[int, np.ndarray | None, list[Any]]] = []
        done = 0
        try:
            for index in item.frames:
                frame = reader.read(index)
                people = tracker.process(frame, image_key=index)
                frames.append((index, frame if self.renderer is not None else None, people))
                done += 1
                if bar is not None:
                    bar.update(1, postfix=f"{self.people + sum(len(p) for _, _, p in frames)} people")
        except HRNetError as e:
            self.failures.append((str(item.path), f"stopped after {done} frames: {e}"))
        finally:
            reader.close()
        if self.args.smooth and frames:
            smooth_tracked_frames([p for _, _, p in frames], fps=reader.fps or 30.0)
        for index, frame, people in frames:
            image_id = self._id_for(f"{item.path}#{index}")
            for p in people:
                entry = p.result.to_coco(image_id)
                entry["file_name"] = item.path.name
                entry["frame_index"] = index
                entry["track_id"] = int(p.track_id)
                self.results.append(entry)
            self.people += len(people)
            self.frames_done += 1
            if self.renderer is not None and frame is not None:
                self.renderer.frame(item.path, reader.fps, frame, [p.result for p in people])
        log.info("%s: %d detector call(s) for %d frame(s) (%s)", item.path.name, tracker.stats.detector_calls,
                 tracker.stats.frames, ", ".join(f"{k} {v}" for k, v in tracker.stats.reasons.items()) or "-")
        if bar is not None and done < len(item.frames):
            bar.update(len(item.frames) - done)

    def _video_batch(self, item: _Input, reader: VideoReader, batch: list[tuple[int, np.ndarray]],
                     bar: ProgressBar | None) -> None:
        poses = self._poses([f for _, f in batch], [i for i, _ in batch])
        for (index, frame), results in zip(batch, poses):
            image_id = self._id_for(f"{item.path}#{index}")
            _, kept = self._entries(results, image_id, item.path.name, index)
            self.frames_done += 1
            if self.renderer is not None:
                self.renderer.frame(item.path, reader.fps, frame, kept)
        if bar is not None:
            bar.update(len(batch), postfix=f"{self.people} people")


def _setup_logging(debug: bool, quiet: bool) -> Callable[[], None]:
    """Configure logging for this run; returns the function that puts it back as it was (main() can be
    called in-process, by tests or a notebook, and must not leave the process's loggers changed)."""
    root = logging.getLogger()
    previous_root = root.level
    for h in [h for h in root.handlers if getattr(h, "_hrnet_predict", False)]:
        root.removeHandler(h)  # main() called again in the same process
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler._hrnet_predict = True  # type: ignore[attr-defined]
    handler.setLevel(logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO))
    handler.setFormatter(logging.Formatter("%(message)s" if not debug else "%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    noisy = ("hrnet.models", "hrnet.models.checkpoint", "hrnet.models.optimize", "hrnet.detect")
    previous = {name: logging.getLogger(name).level for name in noisy}
    if not debug:
        for name in noisy:
            logging.getLogger(name).setLevel(logging.WARNING)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_root)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)

    return restore


def _build_detector(args: argparse.Namespace, device: Any) -> Any:
    from hrnet.detect import build_detector

    name = args.detector.strip()
    key = name.lower()
    options: dict[str, Any] = {}
    if key in ("full", "full_image"):
        return build_detector("full_image")
    if args.det_threshold is not None:
        options["score_threshold"] = args.det_threshold
    if args.det_nms is not None:
        options["nms_iou"] = args.det_nms
    if args.min_box:
        options["min_size"] = args.min_box
    if args.max_people is not None:
        options["max_detections"] = args.max_people
    if key in ("fasterrcnn", "ssdlite"):
        options["device"] = device
        if args.det_fp16:
            options["autocast"] = True
    return build_detector(name, **options)


def _calibration_source(args: argparse.Namespace, detector: Any) -> Any:
    """A callable giving int8 calibration frames (called only when no calibrated model is cached):
    ``--calibration``, else up to 48 images / video frames of the inputs with the detector's boxes."""
    from hrnet.calibration import DEFAULT_FRAMES, load_calibration

    def frames() -> list[tuple[np.ndarray, np.ndarray]]:
        if args.calibration:
            return load_calibration(args.calibration)
        log.info("int8: calibrating on the inputs (detector boxes)")
        found: list[tuple[np.ndarray, np.ndarray]] = []
        for path in _expand(args.inputs, args.recursive, []):
            try:
                if is_image(path):
                    images = [(str(path), read_image(path))]
                else:
                    reader = VideoReader(path)
                    try:
                        n = len(reader)
                        images = [(i, reader.read(i)) for i in range(0, n, max(1, n // 8))[:8]]
                    finally:
                        reader.close()
            except (HRNetError, IndexError):
                continue
            for key, image in images:
                boxes = np.asarray(detector(image, image_key=key).boxes, np.float64).reshape(-1, 4)
                if len(boxes):
                    found.append((image, boxes))
            if len(found) >= DEFAULT_FRAMES:
                break
        return found

    return frames


def main(argv: Sequence[str] | None = None) -> int:
    restore: list[Callable[[], None]] = []
    try:
        return _main(argv, restore)
    finally:
        for undo in restore:
            undo()


def _main(argv: Sequence[str] | None, restore: list[Callable[[], None]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_weights:
        from hrnet.weights import list_weights, weights_dir

        print(f"Known pose checkpoints (cache: {weights_dir()}):")
        for e in list_weights():
            print("  " + e.describe())
        return EXIT_OK
    if not args.inputs:
        parser.error("give at least one INPUT (image, folder or video)")
    restore.append(_setup_logging(args.debug, args.quiet))
    if len(args.opts) % 2:
        parser.error("--opts takes KEY VALUE pairs")
    if args.frame_step < 1 or args.batch_frames < 1:
        parser.error("--frame-step and --batch-frames must be >= 1")
    if args.smooth and not args.track:
        parser.error("--smooth smooths tracks: use it with --track")
    if args.detect_every < 0:
        parser.error("--detect-every must be >= 0")
    t0 = time.perf_counter()
    run: _Run | None = None
    try:
        from hrnet.config import load_config
        from hrnet.predictor import Predictor
        from hrnet.weights import weights_experiment

        experiment: Any = args.experiment
        if experiment is None:
            if args.weights is None:
                parser.error("give --experiment (and --weights), or a registry --weights name")
            experiment = weights_experiment(args.weights)
        cfg = load_config(experiment, args.opts)
        from hrnet.utils.device import resolve_device

        detector = _build_detector(args, resolve_device(args.device))  # missing detector weights fail fast
        calibration = None
        if args.precision == "int8":
            calibration = _calibration_source(args, detector)
        predictor = Predictor(cfg, weights=args.weights, device=args.device, flip_test=args.flip,
                              batch_size=args.batch_size, precision=args.precision, calibration=calibration)
        if args.precision == "int8" and predictor.int8_report is not None:
            log.info("int8: %s", predictor.int8_report.summary())
        failures: list[tuple[str, str]] = []
        files = _expand(args.inputs, args.recursive, failures)
        plan = _plan(files, args, failures)
        total = sum(1 if p.kind == "image" else len(p.frames) for p in plan)
        log.info("%d image(s), %d video(s), %d frame(s) to process on %s with %s", sum(p.kind == "image" for p in plan),
                 sum(p.kind == "video" for p in plan), total, predictor.device, args.detector)
        run = _Run(args, predictor, detector)
        run.failures = failures
        bar = None if args.quiet or total == 0 else ProgressBar(total, desc="hrnet-predict", unit="img")
        finished = False
        try:
            run.process(plan, bar)
            finished = True
        finally:
            if bar is not None:
                bar.close()
            processed = run.images_done + run.frames_done
            if processed:
                _write_results(Path(args.out), run, finished)
    except KeyboardInterrupt:
        print("hrnet-predict: interrupted", file=sys.stderr)
        return 130
    except _OutOfMemory as e:
        print(f"hrnet-predict: error: {e}", file=sys.stderr)
        return EXIT_STOPPED
    except (HRNetError, ValueError, OSError) as e:
        if args.debug:
            traceback.print_exc()
        print(f"hrnet-predict: error: {e}", file=sys.stderr)
        return EXIT_STOPPED if run is not None and run.images_done + run.frames_done else EXIT_USAGE
    dt = time.perf_counter() - t0
    if processed:
        print(f"{run.images_done} image(s) and {run.frames_done} video frame(s) processed, {run.people} people, "
              f"{dt:.1f} s; results: {args.out}" + (f"; overlays: {args.render}" if args.render else ""),
              file=sys.stderr)
    if run.failures:
        print(f"{len(run.failures)} input(s) skipped:", file=sys.stderr)
        for path, why in run.failures:
            print(f"  {path}: {why}", file=sys.stderr)
    if not processed:
        print("hrnet-predict: nothing could be processed", file=sys.stderr)
        return EXIT_NOTHING
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
