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

Many GPUs or machines: ``torchrun --nproc_per_node=N [--nnodes M --node_rank R --rdzv_endpoint
HOST:PORT] -m hrnet.cli.predict INPUTS... --device cuda`` shards the work (batches of images, batches
of video frames, whole videos with ``--track`` or ``--render``) across the processes, each on
``cuda:LOCAL_RANK`` (the CPU without CUDA, gloo), and rank 0 writes ONE ``--out``, the same JSON as a
single process (see :mod:`hrnet.cli.predict_shard`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.cli.predict_io import Input, Renderer, expand_inputs, image_ids, plan_inputs, render_names
from hrnet.cli.predict_setup import build_detector_for, calibration_source, setup_logging, setup_models
from hrnet.cli.predict_shard import Shard, Unit, gather_shards, make_units, merge, merged_failures, shard_units
from hrnet.errors import HRNetError
from hrnet.media import VIDEO_EXTS, VideoReader, read_image
from hrnet.utils.io import write_json
from hrnet.weights import ProgressBar

__all__ = ["build_parser", "main"]

log = logging.getLogger("hrnet.predict")

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3
_GATHER_TIMEOUT_S = 7 * 24 * 3600.0
"""Under torchrun the ranks wait for each other at the end, however uneven their shares (a failed
process does not leave the others waiting: torchrun stops them all)."""

# the names these had before the inputs and rendering moved to hrnet.cli.predict_io
_Input, _Renderer, _expand, _plan, _image_ids = Input, Renderer, expand_inputs, plan_inputs, image_ids
_setup_logging, _build_detector, _calibration_source = setup_logging, build_detector_for, calibration_source


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
# The run
# ----------------------------------------------------------------------------------------------
class _Run:
    def __init__(self, args: argparse.Namespace, predictor: Any, detector: Any) -> None:
        self.args = args
        self.predictor = predictor
        self.detector = detector
        self.failures: list[tuple[str, str]] = []  # inputs that could not be planned
        self.shard = Shard()  # what this process did, unit by unit
        self.ids: dict[str, int] | None = None  # COCO ids from numbered file names
        self.renderer: Renderer | None = None
        self._unit = 0
        self._video_done: dict[str, int] = {}  # frames done per video (for the "stopped after" message)
        self._video_stopped: set[str] = set()
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

    def _entries(self, results: list, key: str, file_name: str,
                 frame: int | None) -> tuple[list[dict[str, Any]], list]:
        """COCO result entries of the poses kept by OKS NMS (official evaluation), and those poses;
        recorded for the current unit under ``key`` (the image ids are given when the run is merged)."""
        keep = list(range(len(results)))
        if not self.args.no_oks_nms and len(results) > 1 and self.sigmas is not None:
            from hrnet.nms import oks_nms

            db = [{"keypoints": r.keypoints, "score": r.score, "area": float(np.prod(r.scale * 200.0))}
                  for r in results]
            keep = sorted(oks_nms(db, self.oks_thre, sigmas=self.sigmas))
        out = []
        for i in keep:
            entry = results[i].to_coco(0)
            entry["file_name"] = file_name
            if frame is not None:
                entry["frame_index"] = frame
            out.append(entry)
        self._record(key, out)
        return out, [results[i] for i in keep]

    def _record(self, key: str, entries: list[dict[str, Any]]) -> None:
        self.shard.outputs.setdefault(self._unit, []).append((key, entries))
        self.shard.people += len(entries)

    def _fail(self, path: Path, why: str) -> None:
        self.shard.failures.setdefault(self._unit, []).append((str(path), why))

    # counts and results of this process (a single process: the run's)
    @property
    def images_done(self) -> int:
        return self.shard.images_done

    @property
    def frames_done(self) -> int:
        return self.shard.frames_done

    @property
    def people(self) -> int:
        return self.shard.people

    @property
    def results(self) -> list[dict[str, Any]]:
        return merge([self.shard], self.ids)

    def process(self, plan: list[Input], units: Sequence[Unit], bar: ProgressBar | None) -> None:
        """Do ``units`` (all of the run's in a single process, this rank's share under torchrun)."""
        self.ids = image_ids(plan)
        if self.args.render:
            self.renderer = Renderer(self.args.render, self.predictor, self.args.kpt_thr, render_names(plan))
        last = {str(u.items[0].path): u.index for u in units if u.kind != "images"}
        try:
            for unit in units:
                self._unit = unit.index
                self.shard.outputs.setdefault(unit.index, [])
                if unit.kind == "images":
                    start = 0
                    while start < len(unit.items):  # frame_batch shrinks on out-of-memory errors
                        step = self.frame_batch
                        self._image_group(unit.items[start:start + step], bar)
                        start += step
                elif self.args.track:
                    self._video_tracked(unit.items[0], unit.frames, bar)
                else:
                    self._video(unit.items[0], unit.frames, bar)
                if unit.kind != "images" and last[str(unit.items[0].path)] == unit.index and unit.items[0].reader:
                    unit.items[0].reader.close()  # its last unit here: do not hold every video open
        finally:
            if self.renderer is not None:
                self.renderer.close()
            for item in plan:
                if item.reader is not None:
                    item.reader.close()

    def _image_group(self, group: list[Input], bar: ProgressBar | None) -> None:
        loaded: list[tuple[Input, np.ndarray]] = []
        for item in group:
            try:
                loaded.append((item, read_image(item.path)))
            except HRNetError as e:
                self._fail(item.path, str(e))
                if bar is not None:
                    bar.update(1)
        if not loaded:
            return
        poses = self._poses([im for _, im in loaded], [str(it.path) for it, _ in loaded])
        for (item, image), results in zip(loaded, poses):
            _, kept = self._entries(results, str(item.path), item.path.name, None)
            self.shard.images_done += 1
            if self.renderer is not None:
                self.renderer.image(item.path, image, kept)
            if bar is not None:
                bar.update(1, postfix=f"{self.people} people")

    def _video(self, item: Input, wanted: list[int], bar: ProgressBar | None) -> None:
        """Frames ``wanted`` of a video, in batches (a decoding error stops the video here)."""
        reader = item.reader
        assert reader is not None
        key = str(item.path)
        done = 0
        if key not in self._video_stopped:
            try:
                source: Iterator[tuple[int, np.ndarray]]
                if self.args.frame_step == 1 and wanted:
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
                self._video_stopped.add(key)
                self._fail(item.path, f"stopped after {self._video_done.get(key, 0) + done} frames: {e}")
        self._video_done[key] = self._video_done.get(key, 0) + done
        if bar is not None and done < len(wanted):
            bar.update(len(wanted) - done)

    def _video_tracked(self, item: Input, wanted: list[int], bar: ProgressBar | None) -> None:
        """``--track``: the wanted frames in order through :class:`~hrnet.propagation.VideoPoseTracker`
        (boxes propagated from the tracked poses, the detector only where needed, ``track_id`` per
        pose); with ``--smooth`` each track is smoothed once the video is done, then the entries are
        written (OKS NMS is the tracker's own)."""
        from hrnet.propagation import VideoPoseTracker, smooth_tracked_frames

        reader = item.reader
        assert reader is not None
        tracker = VideoPoseTracker(self.predictor, self.detector, detect_every=max(0, int(self.args.detect_every)))
        frames: list[tuple[int, np.ndarray | None, list[Any]]] = []
        done = found = 0
        try:
            for index in wanted:
                frame = reader.read(index)
                people = tracker.process(frame, image_key=index)
                frames.append((index, frame if self.renderer is not None else None, people))
                done += 1
                found += len(people)
                if bar is not None:
                    bar.update(1, postfix=f"{self.people + found} people")
        except HRNetError as e:
            self._fail(item.path, f"stopped after {done} frames: {e}")
        if self.args.smooth and frames:
            smooth_tracked_frames([p for _, _, p in frames], fps=reader.fps or 30.0)
        for index, frame, people in frames:
            entries = []
            for p in people:
                entry = p.result.to_coco(0)
                entry["file_name"] = item.path.name
                entry["frame_index"] = index
                entry["track_id"] = int(p.track_id)
                entries.append(entry)
            self._record(f"{item.path}#{index}", entries)
            self.shard.frames_done += 1
            if self.renderer is not None and frame is not None:
                self.renderer.frame(item.path, reader.fps, frame, [p.result for p in people])
        log.info("%s: %d detector call(s) for %d frame(s) (%s)", item.path.name, tracker.stats.detector_calls,
                 tracker.stats.frames, ", ".join(f"{k} {v}" for k, v in tracker.stats.reasons.items()) or "-")
        if bar is not None and done < len(wanted):
            bar.update(len(wanted) - done)

    def _video_batch(self, item: Input, reader: VideoReader, batch: list[tuple[int, np.ndarray]],
                     bar: ProgressBar | None) -> None:
        poses = self._poses([f for _, f in batch], [i for i, _ in batch])
        for (index, frame), results in zip(batch, poses):
            _, kept = self._entries(results, f"{item.path}#{index}", item.path.name, index)
            self.shard.frames_done += 1
            if self.renderer is not None:
                self.renderer.frame(item.path, reader.fps, frame, kept)
        if bar is not None:
            bar.update(len(batch), postfix=f"{self.people} people")


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
    if len(args.opts) % 2:
        parser.error("--opts takes KEY VALUE pairs")
    if args.frame_step < 1 or args.batch_frames < 1:
        parser.error("--frame-step and --batch-frames must be >= 1")
    if args.smooth and not args.track:
        parser.error("--smooth smooths tracks: use it with --track")
    if args.detect_every < 0:
        parser.error("--detect-every must be >= 0")
    if args.experiment is None and args.weights is None:
        parser.error("give --experiment (and --weights), or a registry --weights name")
    from hrnet.distributed import env_info

    try:
        info = env_info()
    except HRNetError as e:
        parser.error(str(e))
    if info.distributed and args.render and Path(args.render).suffix.lower() in VIDEO_EXTS:
        parser.error("--render VIDEO draws every frame into one video, which processes started by torchrun "
                     "cannot share: give a folder (one overlay per input image or video)")
    restore.append(setup_logging(args.debug, args.quiet or not info.is_main))
    if not info.distributed:
        return _execute(args, None)
    from hrnet.distributed import cleanup

    try:
        return _execute(args, info)
    finally:
        cleanup()


def _agree(failed: bool) -> bool:
    """Under torchrun: did any process fail (every process calls this at the same point)?"""
    from hrnet.distributed import all_reduce_max

    return all_reduce_max([1.0 if failed else 0.0])[0] > 0


def _execute(args: argparse.Namespace, info: Any) -> int:
    """Set up, do this process's units, merge on rank 0 and report. ``info``: torchrun's
    :class:`~hrnet.distributed.DistInfo`, None for a single process."""
    t0 = time.perf_counter()
    distributed = info is not None
    device = None
    setup_error: BaseException | None = None
    try:
        if distributed:
            from hrnet.distributed import init_distributed

            # a long timeout: ranks wait for each other at the end (torchrun stops them all when one fails)
            info, device = init_distributed(args.device, timeout_s=_GATHER_TIMEOUT_S)
            # int8: rank 0 calibrates and caches the quantised model, the others then load it
            if args.precision == "int8" and not info.is_main and _agree(False):
                print(f"hrnet-predict: error (rank {info.rank}): rank 0 could not start", file=sys.stderr)
                return EXIT_USAGE
        detector, predictor = setup_models(args, device)
    except KeyboardInterrupt:
        print("hrnet-predict: interrupted", file=sys.stderr)
        return 130
    except (HRNetError, ValueError, OSError) as e:
        if not distributed:
            if args.debug:
                traceback.print_exc()
            print(f"hrnet-predict: error: {e}", file=sys.stderr)
            return EXIT_USAGE
        setup_error = e
    if distributed:
        if args.precision == "int8" and info.is_main and _agree(setup_error is not None):
            print(f"hrnet-predict: error (rank 0): {setup_error}", file=sys.stderr)
            return EXIT_USAGE  # the others stopped at the same point
        if _agree(setup_error is not None):
            print(f"hrnet-predict: error (rank {info.rank}): {setup_error or 'another process could not start'}",
                  file=sys.stderr)
            return EXIT_USAGE
    failures: list[tuple[str, str]] = []
    plan = plan_inputs(expand_inputs(args.inputs, args.recursive, failures), args, failures)
    units = make_units(plan, args.batch_frames, whole_videos=bool(args.track or args.render))
    mine = shard_units(units, info.rank, info.world_size) if distributed else units
    if distributed:  # the videos of other ranks' units need no open reader here
        wanted = {str(u.items[0].path) for u in mine if u.kind != "images"}
        for item in plan:
            if item.reader is not None and str(item.path) not in wanted:
                item.reader.close()
    total = sum(u.size for u in units)
    log.info("%d image(s), %d video(s), %d frame(s) to process on %s with %s%s",
             sum(p.kind == "image" for p in plan), sum(p.kind == "video" for p in plan), total, predictor.device,
             args.detector, f" ({info.world_size} processes, this one {sum(u.size for u in mine)})"
             if distributed else "")
    run = _Run(args, predictor, detector)
    run.failures = failures
    size = sum(u.size for u in mine)
    bar = None if args.quiet or size == 0 or (distributed and not info.is_main) else ProgressBar(
        size, desc="hrnet-predict", unit="img")
    try:
        run.process(plan, mine, bar)
    except KeyboardInterrupt:
        run.shard.error, run.shard.exit_code = "interrupted", 130
    except _OutOfMemory as e:
        run.shard.error, run.shard.exit_code = str(e), EXIT_STOPPED
    except (HRNetError, ValueError, OSError) as e:
        if args.debug:
            traceback.print_exc()
        run.shard.error, run.shard.exit_code = str(e), EXIT_STOPPED
    except BaseException:  # a bug: the poses found so far are written all the same, then it goes on up
        if bar is not None:
            bar.close()
            bar = None
        if not distributed and run.images_done + run.frames_done:
            run.shard.error, run.shard.exit_code = "stopped by an unexpected error (below)", EXIT_STOPPED
            _report(args, run, [run.shard], t0)
        raise
    finally:
        if bar is not None:
            bar.close()
    if run.shard.exit_code == 130 and not distributed:
        _report(args, run, [run.shard], t0)
        print("hrnet-predict: interrupted", file=sys.stderr)
        return 130
    shards = gather_shards(run.shard) if distributed else [run.shard]
    if shards is None:  # not rank 0: rank 0 writes and reports
        if run.shard.error:
            print(f"hrnet-predict: error (rank {info.rank}): {run.shard.error}", file=sys.stderr)
        return run.shard.exit_code
    return _report(args, run, shards, t0)


def _report(args: argparse.Namespace, run: _Run, shards: list[Shard], t0: float) -> int:
    """Write the merged results of ``shards`` and say what was done (rank 0 / the single process)."""
    images = sum(s.images_done for s in shards)
    frames = sum(s.frames_done for s in shards)
    people = sum(s.people for s in shards)
    errors = [(rank, s) for rank, s in enumerate(shards) if s.error]
    processed = images + frames
    if processed:
        path = Path(args.out)
        try:
            write_json(path, merge(shards, run.ids), mkdir=True)
        except OSError as e:
            if not errors:
                print(f"hrnet-predict: error: {e}", file=sys.stderr)
                return EXIT_STOPPED
            print(f"hrnet-predict: cannot write the partial results to {path}: {e}", file=sys.stderr)
        else:
            if errors:
                print(f"hrnet-predict: stopped early; the {people} pose(s) of the {images} image(s) and "
                      f"{frames} video frame(s) done so far are in {path}", file=sys.stderr)
    for rank, s in errors:
        if s.exit_code != 130:
            where = f" (rank {rank})" if len(shards) > 1 else ""
            print(f"hrnet-predict: error{where}: {s.error}", file=sys.stderr)
    if any(s.exit_code == 130 for s in shards):
        return 130
    if errors:
        return EXIT_STOPPED if processed else EXIT_USAGE
    dt = time.perf_counter() - t0
    if processed:
        print(f"{images} image(s) and {frames} video frame(s) processed, {people} people, "
              f"{dt:.1f} s; results: {args.out}" + (f"; overlays: {args.render}" if args.render else ""),
              file=sys.stderr)
        if len(shards) > 1:
            print(f"shared by {len(shards)} processes: " + ", ".join(
                f"rank {r} {s.images_done + s.frames_done}" for r, s in enumerate(shards)), file=sys.stderr)
    failures = run.failures + merged_failures(shards)
    if failures:
        print(f"{len(failures)} input(s) skipped:", file=sys.stderr)
        for path_, why in failures:
            print(f"  {path_}: {why}", file=sys.stderr)
    if not processed:
        print("hrnet-predict: nothing could be processed", file=sys.stderr)
        return EXIT_NOTHING
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
