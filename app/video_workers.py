"""Worker threads for video: prediction with propagated boxes and tracking of existing poses.

- :class:`VideoInferenceWorker` is an :class:`~app.workers.InferenceWorker` whose runs of
  consecutive video frames go through :class:`hrnet.VideoPoseTracker`: each person's box in the next
  frame comes from their pose in this one, the person detector runs only on the first frame, every
  ``detect_every`` frames and where a followed person is lost or vanished (the library's
  ``look_again``); without a detector (``seeded``) people start from the boxes of the frames that
  have some, and a vanished person is looked for where their motion says they are (the library's
  coasting); every pose gets a track id. Besides
  ``result(frame, results)`` it emits ``tracked(frame, ids)``. Other jobs (single frames, given boxes)
  are predicted as before.
- :class:`TrackWorker` runs :func:`hrnet.track_poses` over the poses already in the document, one
  sequence at a time, with progress and cancel; it emits ``done(changes)`` with the
  ``{(frame, person): track id}`` for :class:`app.track_commands.SetTrackIds`.

Neither touches the document: they read snapshots and the GUI thread applies ONE undoable command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from app import texts
from app.model_manager import describe_error
from app.workers import InferenceJob, InferenceWorker
from hrnet import VideoPoseTracker, track_poses

log = logging.getLogger(__name__)

DETECT_EVERY = 30  # as hrnet-predict --track: a new person is found within ~1 s at 30 fps
# Where a followed person vanishes (two people crossing), the library looks again: with a detector
# it runs again 1, 2, 4, 8 and 16 frames later (hrnet.propagation.LOOK_AGAIN); without one
# ('Existing boxes only', or the whole-image fallback on a video whose people are labelled somewhere)
# the lost person's box coasts on their motion and the pose found there is taken when confident.


@dataclass
class _Boxes:
    boxes: np.ndarray


class _DetectorAdapter:
    """The worker's detector (built lazily, filtered by the box score; the whole image when the model
    panel says so) in the form :class:`hrnet.VideoPoseTracker` calls."""

    def __init__(self, worker: InferenceWorker) -> None:
        self.worker = worker

    def __call__(self, image: np.ndarray, *, image_key=None) -> _Boxes:
        boxes, _scores = self.worker._detect(image, image_key=image_key)
        return _Boxes(np.asarray(boxes, np.float64).reshape(-1, 4))


class VideoInferenceWorker(InferenceWorker):
    tracked = Signal(int, object)  # frame index, list[int] track ids (one per result)

    def __init__(self, predictor, runs: Sequence[Sequence[InferenceJob]], read_image: Callable[[int], np.ndarray],
                 first_track_id: int = 0, detect_every: int = DETECT_EVERY, seeded: bool = False, **kwargs) -> None:
        """``runs``: jobs grouped into runs of consecutive frames of one video (a run of one is
        predicted as a still image); ``first_track_id``: ids of new tracks start here. ``seeded``:
        no detector in the video runs ('Existing boxes only', the whole-image fallback): people
        start from the jobs' boxes where a frame has some and are followed from there."""
        self.seeded = bool(seeded)
        self.runs = [list(r) for r in runs]
        super().__init__(predictor, [j for r in self.runs for j in r], read_image, **kwargs)
        self.next_track_id = int(first_track_id)
        self.detect_every = int(detect_every)
        self.detector_calls = 0
        self.reacquired = 0

    def _detect(self, image: np.ndarray, image_key=None) -> tuple[np.ndarray, np.ndarray | None]:
        """As the base class, passing the frame index on as ``image_key`` (detections read from a
        file, the tests' oracle detector)."""
        if self.detector is None or image_key is None:
            return super()._detect(image)
        det = self.detector(image, image_key=image_key)
        boxes = np.asarray(det.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(det.scores, dtype=np.float32).reshape(-1)
        keep = scores >= self.min_box_score
        return boxes[keep], scores[keep]

    def _run(self, total: int) -> None:
        self.progress.emit(0, total, "starting")
        for run in self.runs:
            if self._interrupted():
                return
            if len(run) == 1 or (not self.seeded and any(j.boxes is not None for j in run)):
                self._run_jobs(run, total)  # still images, or boxes given: frame by frame
            else:
                self._run_video(run, total)

    def _run_jobs(self, jobs: Sequence[InferenceJob], total: int) -> None:
        for job in jobs:
            if self._interrupted():
                return
            image = self._read(job.frame, total)
            if image is None:
                continue
            boxes, scores = job.boxes, job.box_scores
            if boxes is None:
                boxes, scores = self._detect(image)
            boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
            results = self.predictor.predict(image, boxes, box_scores=scores,
                                             return_heatmaps=self.return_heatmaps) if len(boxes) else []
            self.result.emit(job.frame, list(results))
            self._done(job.frame, total, len(results))

    def _read(self, frame: int, total: int) -> np.ndarray | None:
        try:
            return self.read_image(frame)
        except Exception as e:  # noqa: BLE001 - an unreadable frame is skipped and reported
            self.frame_failed.emit(frame, describe_error(e))
            self.frames_done += 1
            self.progress.emit(self.frames_done, total, f"frame {frame + 1}: unreadable")
            return None

    def _done(self, frame: int, total: int, people: int) -> None:
        self.frames_done += 1
        self.progress.emit(self.frames_done, total, f"frame {frame + 1}: {texts.people(people)}")

    def _run_video(self, run: Sequence[InferenceJob], total: int) -> None:
        detector = None if self.seeded else _DetectorAdapter(self)
        video = VideoPoseTracker(self.predictor, detector, detect_every=self.detect_every,
                                 tracker_options={"first_id": self.next_track_id})
        try:
            for job in run:
                if self._interrupted():
                    return
                image = self._read(job.frame, total)
                if image is None:
                    video.reset()  # a hole in the video: do not carry boxes across it
                    continue
                people = video.process(image, job.boxes, image_key=job.frame)
                self.result.emit(job.frame, [p.result for p in people])
                self.tracked.emit(job.frame, [p.track_id for p in people])
                self._done(job.frame, total, len(people))
        finally:
            self.next_track_id = max(self.next_track_id, video.tracker.next_id)
            self.detector_calls += video.stats.detector_calls
            self.reacquired += video.stats.reacquired
            log.info("video run of %d frames: %d detector calls (%s), %d lost people found again by their motion",
                     len(run), video.stats.detector_calls, video.stats.reasons, video.stats.reacquired)


class TrackingCancelled(Exception):
    """Raised inside :func:`hrnet.track_poses` (through the frames it iterates) to stop it."""


class _ProgressFrames(Sequence):
    """The poses of one sequence as :func:`hrnet.track_poses` reads them, reporting progress and
    stopping on cancel as it iterates."""

    def __init__(self, poses: list[np.ndarray], tick: Callable[[], None]) -> None:
        self.poses = poses
        self.tick = tick

    def __len__(self) -> int:
        return len(self.poses)

    def __getitem__(self, i):
        return self.poses[i]

    def __iter__(self) -> Iterator[np.ndarray]:
        for p in self.poses:
            self.tick()
            yield p


class TrackWorker(QThread):
    """Track the people already in the document (see the module docstring)."""

    progress = Signal(int, int, str)
    done = Signal(object)  # {(frame, person): track id or None}
    failed = Signal(str)

    def __init__(self, sequences: Sequence[Sequence[tuple[int, np.ndarray, tuple[int, int]]]],
                 parent: QObject | None = None) -> None:
        """``sequences``: per sequence, in playback order, (frame, (N, K, 3) poses, (width, height))."""
        super().__init__(parent)
        self.sequences = [list(s) for s in sequences]
        self.total = sum(len(s) for s in self.sequences)
        self.frames_done = 0
        self.was_cancelled = False
        self.stop_requested = False
        self.tracks = 0
        self.elapsed_s = 0.0

    def cancel(self) -> None:
        """Stop at the next frame (also before the thread has started: ``start`` clears Qt's flag)."""
        self.stop_requested = True
        self.requestInterruption()

    def _tick(self) -> None:
        if self.stop_requested or self.isInterruptionRequested():
            self.was_cancelled = True
            raise TrackingCancelled
        self.frames_done = min(self.frames_done + 1, self.total)
        if self.frames_done % 25 == 0 or self.frames_done == self.total:
            self.progress.emit(self.frames_done, self.total, f"tracking: frame {self.frames_done}/{self.total}")

    def run(self) -> None:
        t0 = time.perf_counter()
        changes: dict[tuple[int, int], int | None] = {}
        offset = 0
        try:
            self.progress.emit(0, self.total, "tracking")
            for seq in self.sequences:
                poses = [p for _f, p, _s in seq]
                sizes = [s for _f, _p, s in seq if s[0] > 0 and s[1] > 0]
                options = {"image_size": sizes[0]} if sizes else {}
                ids = track_poses(_ProgressFrames(poses, self._tick), **options)
                for (f, _p, _s), row in zip(seq, ids):
                    for i, t in enumerate(row):
                        changes[(f, i)] = None if t < 0 else int(t) + offset
                used = [int(t) for row in ids for t in row if t >= 0]
                offset += max(used) + 1 if used else 0
            self.tracks = offset
        except TrackingCancelled:
            return
        except Exception as e:  # reported as a message, the app stays alive
            log.exception("Tracking failed")
            self.failed.emit(describe_error(e))
            return
        finally:
            self.elapsed_s = time.perf_counter() - t0
        self.done.emit(changes)
