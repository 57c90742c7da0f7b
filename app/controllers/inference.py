"""Predictions from the window's model: :class:`InferenceController`.

It owns the :class:`~app.workers.InferenceWorker` of the running prediction, the person detector
(built once per detector and device, on the worker thread, then re-used) and the run's state
(:class:`InferenceRun`, a typed record instead of a dict of string keys). Results become ONE
undoable step on the GUI thread. Three kinds of run:

- ``"apply"``: predict frames and replace their untouched predictions (:meth:`predict`). Each
  frame's result is applied as soon as the worker reports the frame done (results that arrive
  within ``live_interval_s`` of the last update together), so the canvas and the frame list show
  it at once; the frames' commands share the run's token and merge into ONE undo step
  (:class:`app.commands.ApplyPredictions` ``run=``). Tracked video runs are applied the same
  way with the tracker's provisional ids; at the end the ids that continue a track the document
  already has (a person corrected by hand) are reconciled, merged into the same step. Undoing the
  run while it runs cancels it. When the user edits during the run, the frames after their edit
  form a second step above it (the stack stays consistent; the status line says so);
- ``"add"``: the pose inside a box drawn by hand becomes a new person (:meth:`predict_in_box`);
- ``"heatmaps"``: quietly compute the heatmaps of one person for the overlay (:meth:`request_heatmaps`).

Signals: ``started(mode, total, quiet)``, ``progress(done, total, text)`` (not for quiet runs),
``finished(mode)``, ``person_added(frame, index)``, ``error(title, text)``, ``message(text, ms)``,
``queued(frames)`` (an apply run's frames at its start, ``[]`` at its end) and ``frame_done(frame)``
(that frame's result was applied, or it was unreadable).
Anything with a ``predict(image, boxes, box_scores=, return_heatmaps=)`` method and
``num_joints``/``device`` attributes serves as the predictor, so tests use a fake one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app import commands as C
from app import texts
from app.canvas.heatmaps import HeatmapStore, xyxy_to_xywh
from app.document import AnnotationDocument
from app.keypoint_set_editor import model_fit
from app.review import existing_boxes
from app.tracks import (
    consecutive_runs,
    ids_for_kept_people,
    ids_from_neighbours,
    reconcile_track_ids,
    video_neighbours,
)
from app.video_workers import VideoInferenceWorker
from app.workers import InferenceJob, InferenceWorker
from hrnet import Instance

log = logging.getLogger(__name__)

WHOLE_IMAGE, EXISTING_BOXES = "full_image", "existing"


@dataclass
class InferenceRun:
    """One prediction run: what it is for and what came back so far."""

    mode: str  # 'apply' | 'add' | 'heatmaps'
    worker: InferenceWorker
    total: int
    quiet: bool = False
    scope: str = "current"  # 'apply': the scope predicted (decides whether reviewed frames are kept)
    box: np.ndarray | None = None  # 'add': the xyxy box drawn by hand
    person: int | None = None  # 'replace': the person re-predicted
    replace_hand: bool = False  # 'replace': their hand-edited / ground-truth joints too
    results: dict[int, list] = field(default_factory=dict)  # frame -> list[PoseResult]
    track_ids: dict[int, list] = field(default_factory=dict)  # frame -> a track id per result (video runs)
    frame_errors: list[str] = field(default_factory=list)
    failure: str | None = None  # the run stopped with this message
    # 'apply' runs: results are applied frame by frame as one undo step
    token: object = field(default_factory=object)  # the run's commands merge on it
    skip_reviewed: bool = False
    arrived: list[int] = field(default_factory=list)  # frames whose result is in, not yet reported done
    pending: list[int] = field(default_factory=list)  # frames done (result and track ids in), to be applied
    predictions: dict[int, list] = field(default_factory=dict)  # frame -> the Instances made of its results
    changed: set[int] = field(default_factory=set)  # frames whose people the run replaced
    steps: int = 0  # undo steps made (more than one only when the user edited during the run)
    step_index: int = 0  # the undo stack's index after the run's last step (lower: the user undid it)
    undone: bool = False  # the user undid the run while it ran: cancelled, later results dropped
    applied_at: float = -1e9  # time.perf_counter() of the last live update
    neighbours: dict[int, tuple] | None = None  # video frame -> (previous, next) frame, found once per run


def _skips_reviewed(scope: str, frames: int) -> bool:
    """A run over many frames leaves the frames marked reviewed alone."""
    return scope in ("all", "unreviewed", "selected") and frames > 1


class InferenceController(QObject):
    started = Signal(str, int, bool)  # mode, frames, quiet
    progress = Signal(int, int, str)  # done, total, text (not emitted for quiet runs)
    finished = Signal(str)  # mode
    person_added = Signal(int, int)  # frame, person index ('add' runs)
    error = Signal(str, str)  # title, text
    message = Signal(str, int)  # status text, timeout in ms
    queued = Signal(object)  # list[int]: the frames an apply run will predict ([] when it ends)
    frame_done = Signal(int)  # an apply run applied this frame's result (or could not read it)

    # Apply each frame's result as it arrives (False: all at once at the end, as before; kept for
    # benchmarks/live_apply.py, which measures what the live updates cost). Results that arrive
    # within ``live_interval_s`` of the last update are applied together: a frame of the CPU demo
    # model takes ~30-40 ms, a GPU frame a few ms, and each update costs the GUI thread ~1 ms.
    live_apply = True
    live_interval_s = 0.1

    def __init__(self, document: AnnotationDocument, model, heatmaps: HeatmapStore,
                 parent: QObject | None = None) -> None:
        """``model``: a :class:`~app.model_manager.ModelManager` (``predictor``, ``spec``, ``is_loaded``)."""
        super().__init__(parent)
        self.document = document
        self.model = model
        self.heatmaps = heatmaps
        self.run: InferenceRun | None = None
        self._workers: set[InferenceWorker] = set()  # referenced until their thread has finished
        self._detector = None
        self._detector_key: tuple[str, str] | None = None
        self._heatmap_requested: tuple[int, tuple] | None = None
        self._pushing = False  # the run itself is pushing a step
        document.undo_stack.indexChanged.connect(self._on_undo_index)
        self._live_timer = QTimer(self)  # applies what arrived since the last update, ``live_interval_s`` later
        self._live_timer.setSingleShot(True)
        self._live_timer.timeout.connect(self._apply_live)

    # ------------------------------------------------------------------ state
    @property
    def is_running(self) -> bool:
        return self.run is not None

    @property
    def worker(self) -> InferenceWorker | None:
        return self.run.worker if self.run is not None else None

    def reset_model_state(self) -> None:
        """A new model: forget the cached detector (device may differ), heatmaps and requests."""
        self._detector = None
        self._detector_key = None
        self.heatmaps.clear()
        self._heatmap_requested = None

    def mismatch(self) -> str | None:
        """Why the loaded model cannot predict this project's keypoints (None: it can)."""
        why = model_fit(getattr(self.model.predictor, "keypoint_set", None), self.document.keypoint_set())
        k_model = getattr(self.model.predictor, "num_joints", None)
        k_doc = len(self.document.keypoint_names())
        if not why and k_model is not None and k_doc and int(k_model) != k_doc:  # a predictor without a set
            why = f"the model predicts {k_model} joints, this project's skeleton has {k_doc}"
        if why:
            return (f"{why[0].upper()}{why[1:]}. Choose a model trained for these keypoints, or fine-tune this one "
                    "for them (Model > Train model…).")
        return None

    def detector_for_run(self, detector: str) -> tuple[object | None, Callable[[], object] | None]:
        """(detector, factory) for the detector named ``detector``; (None, None) = whole image."""
        if detector in (WHOLE_IMAGE, EXISTING_BOXES):
            return None, None
        device = str(getattr(self.model.predictor, "device", "cpu"))
        cache_key = (detector, device)
        if self._detector is not None and self._detector_key == cache_key:
            return self._detector, None

        def factory():
            from hrnet import build_detector

            return build_detector(detector, device=device)

        self._detector_key = cache_key
        return None, factory

    # ------------------------------------------------------------------ runs
    def jobs_for(self, frames: Sequence[int], detector: str, reuse_boxes: bool = False) -> list[InferenceJob]:
        """The jobs for ``frames``: with ``detector == 'existing'`` only frames with boxes (the people's
        boxes); with ``reuse_boxes`` the boxes of untouched predictions where a frame has some, the
        detector elsewhere (a re-run of a fine-tuned model); with 'whole image' the people's boxes on
        frames that have people (the whole image is ONE person only where nobody is annotated yet:
        predicting it on a frame of four people would add a fifth); else the detector everywhere."""
        doc = self.document
        if reuse_boxes and detector != EXISTING_BOXES:
            jobs = []
            for f in frames:
                xyxy = existing_boxes(doc.frame(f), predictions_only=True)
                jobs.append(InferenceJob(f, boxes=xyxy) if len(xyxy) else InferenceJob(f))
            return jobs
        if detector == EXISTING_BOXES:
            return [InferenceJob(f, boxes=xyxy) for f in frames if len(xyxy := existing_boxes(doc.frame(f)))]
        if detector == WHOLE_IMAGE:
            jobs = []
            for f in frames:  # an earlier whole-image guess is replaced, not followed
                xyxy = existing_boxes(doc.frame(f), whole_image_guesses=False)
                jobs.append(InferenceJob(f, boxes=xyxy) if len(xyxy) else InferenceJob(f))
            return jobs
        return [InferenceJob(f) for f in frames]

    def predict(self, frames: Sequence[int], scope: str = "current", detector: str = WHOLE_IMAGE,
                min_box_score: float = 0.0, reuse_boxes: bool = False) -> bool:
        """Predict ``frames`` and apply the result as one undo step. False (with a message) when it
        cannot start; a running quiet heatmap request is cancelled first."""
        if self.run is not None:
            if self.run.mode == "heatmaps":
                self.cancel(wait=True)
            else:
                self.message.emit("A prediction is already running", 4000)
                return False
        if not frames:
            self.message.emit("No frames to predict", 4000)
            return False
        jobs = self.jobs_for(frames, detector, reuse_boxes)
        runs, seeded = None, False
        if detector in (EXISTING_BOXES, WHOLE_IMAGE) and not reuse_boxes:
            # on a video the people's boxes where there are some start tracks that the following
            # frames continue (e.g. people labelled on the first frame, then Predict all frames); with
            # the whole-image fallback the frames before the first labelled one stay whole-image jobs
            grouped = consecutive_runs(self.document.data.frames, list(frames))
            with_boxes = {j.frame: j for j in jobs if j.boxes is not None}
            video = []
            for r in grouped:
                seeds = [i for i, f in enumerate(r) if f in with_boxes]
                start = seeds[0] if seeds and detector == WHOLE_IMAGE else 0
                if seeds and len(r) - start > 1:
                    video.append([with_boxes.get(f, InferenceJob(f)) for f in r[start:]])
            if video:
                in_video = {j.frame for r in video for j in r}
                runs = video + [[j] for j in jobs if j.frame not in in_video]
                jobs, seeded = [j for r in runs for j in r], True
        if not jobs:
            self.error.emit("No boxes", "'Existing boxes only' needs people with boxes in the chosen frames.")
            return False
        if all(j.boxes is None for j in jobs):  # consecutive video frames: propagated boxes + tracking
            by_frame = {j.frame: j for j in jobs}
            grouped = consecutive_runs(self.document.data.frames, list(by_frame))
            if any(len(r) > 1 for r in grouped):
                runs = [[by_frame[f] for f in r] for r in grouped]
        self._start(jobs, "apply", detector, min_box_score, scope=scope, video_runs=runs, seeded=seeded)
        return True

    def predict_in_box(self, frame: int, xyxy: np.ndarray) -> bool:
        """The pose inside a box drawn by hand, added as a new person. False when busy."""
        if self.run is not None:
            return False
        box = np.asarray(xyxy, np.float32)
        self._start([InferenceJob(frame, boxes=box[None])], "add", WHOLE_IMAGE, 0.0, box=box)
        return True

    def repredict_person(self, frame: int, person: int, replace_hand: bool = False) -> bool:
        """Predict again inside one person's box and replace their model joints (with
        ``replace_hand`` their hand-edited / ground-truth joints too). False (with a message) when
        it cannot start; a running quiet heatmap request is cancelled first."""
        if self.run is not None:
            if self.run.mode == "heatmaps":
                self.cancel(wait=True)
            else:
                self.message.emit("A prediction is already running", 4000)
                return False
        fr = self.document.frame(frame)
        if not 0 <= person < len(fr.instances):
            return False
        size = (fr.width, fr.height) if fr.width > 0 else None
        box = fr.instances[person].box_or_auto(size)
        if box is None or box[2] < 2 or box[3] < 2:
            self.error.emit("No box", f"Person #{person + 1} has no box and too few joints to make one: "
                                      "draw a box (B) or place some joints first.")
            return False
        x, y, w, h = (float(v) for v in box)
        xyxy = np.array([x, y, x + w, y + h], np.float32)
        self._start([InferenceJob(frame, boxes=xyxy[None])], "replace", WHOLE_IMAGE, 0.0, box=xyxy,
                    person=person, replace_hand=replace_hand)
        return True

    def request_heatmaps(self, frame: int, box_xywh: np.ndarray) -> None:
        """Quietly compute the heatmaps of the person in ``box_xywh`` (once per frame and box)."""
        key = (frame, tuple(np.round(box_xywh, 1)))
        if self.run is not None or self._heatmap_requested == key:
            return
        if self.mismatch():
            return
        self._heatmap_requested = key
        x, y, w, h = (float(v) for v in box_xywh)
        if w < 2 or h < 2:
            return
        self._start([InferenceJob(frame, boxes=np.array([[x, y, x + w, y + h]], np.float32))], "heatmaps",
                    WHOLE_IMAGE, 0.0, quiet=True)

    def _start(self, jobs: list[InferenceJob], mode: str, detector: str, min_box_score: float,
               quiet: bool = False, scope: str = "current", box: np.ndarray | None = None,
               video_runs: list[list[InferenceJob]] | None = None, seeded: bool = False,
               person: int | None = None, replace_hand: bool = False) -> None:
        det, factory = (None, None)
        if any(j.boxes is None for j in jobs):
            det, factory = self.detector_for_run(detector)
        # No Qt parent: referenced here until the thread has finished (a QThread destroyed while
        # running aborts the process).
        if video_runs:
            worker = VideoInferenceWorker(self.model.predictor, video_runs, self.document.image,
                                          first_track_id=self._first_new_track(jobs, scope), detector=det,
                                          detector_factory=factory, min_box_score=min_box_score,
                                          return_heatmaps=True, seeded=seeded)
        else:
            worker = InferenceWorker(self.model.predictor, jobs, self.document.image, detector=det,
                                     detector_factory=factory, min_box_score=min_box_score, return_heatmaps=True)
        run = InferenceRun(mode, worker, len(jobs), quiet=quiet, scope=scope, box=box, person=person,
                           replace_hand=replace_hand, skip_reviewed=_skips_reviewed(scope, len(jobs)))
        if video_runs:
            worker.tracked.connect(lambda f, ids, r=run: r.track_ids.__setitem__(f, list(ids)))
        self._workers.add(worker)
        self.run = run
        # Queued connections (the worker emits from its thread): for each frame result, then
        # tracked (video runs), then progress arrive in this order on the GUI thread.
        worker.result.connect(lambda f, res, r=run: self._on_result(r, f, res))
        worker.progress.connect(lambda done, total, text, r=run: self._on_progress(r, done, total, text))
        worker.frame_failed.connect(lambda f, m, r=run: self._on_frame_failed(r, f, m))
        worker.failed.connect(lambda m, r=run: setattr(r, "failure", m))
        worker.detector_ready.connect(self._on_detector_ready)
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.started.emit(mode, len(jobs), quiet)
        if mode == "apply":
            self.queued.emit([j.frame for j in jobs])
        worker.start()

    def _first_new_track(self, jobs: Sequence[InferenceJob], scope: str) -> int:
        """New tracks get ids no person keeps after the run (the untouched predictions of the
        predicted frames are replaced, so their ids are free again; reviewed frames that the run
        leaves alone keep theirs)."""
        frames = self.document.data.frames
        skip_reviewed = _skips_reviewed(scope, len(jobs))
        predicted = {j.frame for j in jobs if not (skip_reviewed and frames[j.frame].reviewed)}
        kept = [p.track_id for f, fr in enumerate(self.document.data.frames) for p in fr.instances
                if p.track_id is not None and not (f in predicted and p.is_prediction)]
        return max(kept) + 1 if kept else 0

    def _on_detector_ready(self, detector) -> None:
        self._detector = detector

    def _on_result(self, run: InferenceRun, frame: int, results: list) -> None:
        self.heatmaps.put_results(frame, results)
        if run is not self.run or run.undone:
            return
        run.results[frame] = results
        if run.mode == "apply":
            run.arrived.append(frame)  # its track ids (video runs) follow; progress says the frame is done

    def _on_progress(self, run: InferenceRun, done: int, total: int, text: str) -> None:
        """The worker finished a frame: its result (and track ids) are in; apply it now, or with the
        next update when the last one was less than ``live_interval_s`` ago."""
        if run is self.run and run.mode == "apply":
            run.pending.extend(run.arrived)
            run.arrived.clear()
        if run is self.run and run.mode == "apply" and self.live_apply and run.pending and not run.undone:
            wait = run.applied_at + self.live_interval_s - time.perf_counter()
            if wait <= 0:
                self._apply_live()
            elif not self._live_timer.isActive():
                self._live_timer.start(int(wait * 1000) + 1)
        if not run.quiet:
            self.progress.emit(done, total, text)

    def _apply_live(self) -> None:
        self._live_timer.stop()
        run = self.run
        if run is not None and run.mode == "apply" and run.pending and not run.undone:
            self._apply_pending(run)
            run.applied_at = time.perf_counter()

    def _on_frame_failed(self, run: InferenceRun, frame: int, message: str) -> None:
        run.frame_errors.append(f"frame {frame + 1}: {message}")
        if run.mode == "apply":
            self.frame_done.emit(frame)

    def _on_undo_index(self, index: int) -> None:
        """Undo of a running apply run's step: the user wants it gone, so stop it (the frames it
        applied come back with Redo; the frames still to come would otherwise keep arriving)."""
        run = self.run
        if run is None or self._pushing or run.mode != "apply" or run.steps == 0 or run.undone:
            return
        if index < run.step_index:
            run.undone = True
            run.pending.clear()
            run.arrived.clear()
            self.cancel()

    def cancel(self, wait: bool = False) -> None:
        """Stop after the current frame (the frames done so far are applied); ``wait``: block until then."""
        run = self.run
        if run is None:
            return
        run.worker.requestInterruption()
        self.message.emit("Cancelling after the current frame…", 0)
        if wait:
            run.worker.wait(60000)
            self._on_finished(run.worker)

    def shutdown(self, timeout_ms: int = 60000) -> None:
        """Cancel and wait for every worker thread (at close)."""
        self.cancel(wait=True)
        for worker in list(self._workers):
            worker.requestInterruption()
            worker.wait(timeout_ms)

    def _on_finished(self, worker: InferenceWorker) -> None:
        if worker.isFinished():
            self._workers.discard(worker)
        run = self.run
        if run is None or worker is not run.worker:  # already handled (cancel with wait) or superseded
            return
        self.run = None
        if run.failure:
            self.error.emit("Prediction failed", run.failure)
        elif run.frame_errors and not run.quiet:
            self.error.emit("Some frames could not be read", "\n".join(run.frame_errors[:10]))
        if run.mode == "apply":
            self._finish_apply(run, worker.cancelled, worker.elapsed_s)
        elif run.mode == "add" and run.results:
            self._add(run)
        elif run.mode == "replace" and run.results:
            self._replace(run)
        self.finished.emit(run.mode)

    def _people(self, run: InferenceRun, frame: int) -> list[Instance]:
        """The people of ``frame``'s result, with the tracker's ids (video runs); on a video frame
        predicted alone they continue the tracks of the frames next to it."""
        ids = run.track_ids.get(frame, [])
        people = [Instance.from_pose_result(r, track_id=ids[k] if k < len(ids) and ids[k] >= 0 else None)
                  for k, r in enumerate(run.results[frame])]
        frames = self.document.data.frames
        if frame not in run.track_ids and people and frames[frame].video is not None:
            if run.neighbours is None:
                run.neighbours = video_neighbours(frames)
            for p, t in zip(people, ids_from_neighbours(frames, frame, people,
                                                        neighbours=run.neighbours.get(frame, (None, None)))):
                p.track_id = t
        return people

    def _apply_pending(self, run: InferenceRun) -> None:
        """Apply the results that arrived since the last call (live: one frame) as a command that
        merges into the run's undo step."""
        frames = [f for f in run.pending if f in run.results and f < self.document.num_frames()]
        run.pending.clear()
        if not frames:
            return
        predictions = {f: self._people(run, f) for f in frames}
        try:
            cmd = C.ApplyPredictions(self.document, predictions, skip_reviewed=run.skip_reviewed, run=run.token)
        except ValueError as e:  # the project's keypoint set was changed during the run
            log.warning("prediction results not applied: %s", e)
            if not run.failure:
                run.failure = f"The results no longer fit the project ({e}); the prediction was stopped."
                run.worker.requestInterruption()
            return
        run.predictions.update(predictions)
        run.changed.update(cmd.changed_frames)
        self._push_step(run, cmd)
        for f in frames:
            self.frame_done.emit(f)

    def _push_step(self, run: InferenceRun, cmd: C.ApplyPredictions | C.SetRunTrackIds) -> None:
        """Push one of the run's commands: it merges into the run's step when that is on top of the
        undo stack, else (the user pushed an edit meanwhile) it starts a new step."""
        if cmd.isObsolete():
            return
        stack = self.document.undo_stack
        before = stack.index()
        self._pushing = True
        try:
            self.document.push(cmd)
        finally:
            self._pushing = False
        if stack.index() != before:
            run.steps += 1
        run.step_index = stack.index()

    def _finish_apply(self, run: InferenceRun, cancelled: bool, elapsed: float) -> None:
        self._live_timer.stop()
        self.queued.emit([])
        if run.undone:
            done = len(run.predictions)
            self.message.emit(f"Prediction stopped: you undid it after {texts.frames(done)} "
                              f"(Redo brings {'it' if done == 1 else 'them'} back)", 10000)
            return
        if not run.results:
            return
        run.pending.extend(run.arrived)
        run.arrived.clear()
        self._apply_pending(run)  # what is left (everything, when not applied live)
        if run.track_ids:
            self._reconcile_tracks(run)
        doc = self.document
        people = sum(len(v) for v in run.predictions.values())
        frames = [doc.frame(f) for f in run.predictions]
        reviewed = sum(fr.reviewed for fr in frames) if run.skip_reviewed else 0
        kept = sum(not p.is_prediction for fr in frames if not (run.skip_reviewed and fr.reviewed)
                   for p in fr.instances)
        spec = self.model.spec
        demo = " — RANDOM weights (demo), not real predictions" if spec is not None and spec.is_random else ""
        self.message.emit(apply_summary(people, len(run.predictions), len(run.changed), kept, reviewed, elapsed,
                                        cancelled, steps=run.steps) + demo, 10000)

    def _reconcile_tracks(self, run: InferenceRun) -> None:
        """A tracked run's provisional ids become the ids of the tracks the document already has
        where a new track lands on a person the run kept (hand work, ground truth), and kept people
        without a track join the track found on them; merged into the run's undo step."""
        doc = self.document
        frames = doc.data.frames
        same = reconcile_track_ids(frames, run.predictions, keep_reviewed=run.skip_reviewed)
        changes: dict[tuple[int, int], int | None] = {}
        for f, preds in run.predictions.items():
            fr = frames[f]
            if run.skip_reviewed and fr.reviewed:
                continue
            people = list(fr.instances)
            for i, p in enumerate(people):
                if p.track_id in same:  # one of the run's people (provisional ids are new ones)
                    changes[(f, i)] = same[p.track_id]
                    people[i] = p.copy()
                    people[i].track_id = same[p.track_id]
            renamed = []
            for p in preds:
                q = p.copy()
                q.track_id = same.get(p.track_id, p.track_id)
                renamed.append(q)
            view = fr.cow_copy()
            view.instances = people
            changes.update({(f, i): t for i, t in ids_for_kept_people(view, renamed).items()})
        if changes:
            self._push_step(run, C.SetRunTrackIds(doc, changes, "Join tracks of the prediction run", run=run.token))

    def _replace(self, run: InferenceRun) -> None:
        frame, res = next(iter(run.results.items()))
        doc = self.document
        if not res or frame >= doc.num_frames() or run.person >= len(doc.frame(frame).instances):
            self.message.emit("Nothing re-predicted: the model found no pose in the box", 6000)
            return
        cmd = C.RepredictPerson(doc, frame, run.person, res[0], replace_hand=run.replace_hand)
        if cmd.replaced == 0:
            self.message.emit(f"Nothing changed: every joint of #{run.person + 1} is hand-edited or ground truth "
                              "(answer Yes to replace them too)", 8000)
            return
        doc.push(cmd)
        self.message.emit(f"Re-predicted {texts.count(cmd.replaced, 'joint')} of #{run.person + 1} — Ctrl+Z undoes it",
                          6000)

    def _add(self, run: InferenceRun) -> None:
        frame, res = next(iter(run.results.items()))
        if not res or frame >= self.document.num_frames():
            return
        inst = Instance.from_pose_result(res[0])
        inst.bbox = xyxy_to_xywh(run.box)
        self.document.push(C.AddInstance(self.document, frame, inst))
        self.person_added.emit(frame, len(self.document.frame(frame).instances) - 1)
        self.message.emit("Pose predicted inside the box — drag joints to correct", 5000)


def apply_summary(people: int, frames: int, changed: int, kept: int, reviewed: int, elapsed: float,
                  cancelled: bool = False, steps: int = 1) -> str:
    """The status line after a prediction run, true to what it did: when nothing changed it says so
    and why (and does not offer an undo that has nothing to undo); ``steps``: the undo steps it
    made (more than one when the user edited during the run)."""
    what = "Cancelled: kept" if cancelled else "Predicted"
    head = f"{what} {people} {'person' if people == 1 else 'people'} in {frames} frame{'' if frames == 1 else 's'}"
    kept_text = (f"{kept} ground-truth or hand-edited {'person was' if kept == 1 else 'people were'} kept "
                 "(predictions never replace them; 'Re-predict selected person' does)") if kept else ""
    if changed == 0:
        reasons = [r for r in (
            kept_text,
            f"{reviewed} reviewed {'frame was' if reviewed == 1 else 'frames were'} left alone" if reviewed else "",
            "the model found nobody" if people == 0 else "",
        ) if r]
        why = "; ".join(reasons) or "the predictions equal what the frames already hold"
        return f"{head} in {elapsed:.1f} s — nothing changed: {why}"
    extra = f"; {kept_text}" if kept_text else ""
    undo = ("Ctrl+Z undoes it" if steps <= 1 else
            f"{steps} undo steps (split where you edited or saved during the run)")
    return f"{head} ({changed} changed) in {elapsed:.1f} s — {undo}{extra}"
