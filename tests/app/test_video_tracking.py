"""Predict-all-frames on a video tracks people (propagated boxes, detector only where needed, one
undo step), and "Track people" tracks the poses already in a document — with the bundled demo
model on a synthetic crossing clip and an oracle detector (no detector weights offline)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from app.bundled import DEMO_EXPERIMENT, demo_weights
from app.canvas.heatmaps import HeatmapStore
from app.controllers.inference import InferenceController
from app.controllers.tracking import TrackController
from app.document import AnnotationDocument
from hrnet import Predictor
from hrnet.dataset.synthetic import write_video

FRAMES = 36


@dataclass
class _Detections:
    boxes: np.ndarray
    scores: np.ndarray


class OracleDetector:
    """The true boxes of the rendered people, by frame index (``image_key``)."""

    def __init__(self, truth) -> None:
        self.truth = truth
        self.calls: list[object] = []

    def __call__(self, image, *, image_key=None):
        self.calls.append(image_key)
        people = self.truth[image_key]
        boxes = np.array([[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in people],
                         np.float32).reshape(-1, 4)
        return _Detections(boxes, np.ones(len(boxes), np.float32))


class Model:
    def __init__(self, predictor) -> None:
        self.predictor, self.spec, self.is_loaded = predictor, None, True


@pytest.fixture(scope="module")
def predictor():
    if not demo_weights().is_file():
        pytest.skip("the bundled demo model is not in this checkout")
    return Predictor(DEMO_EXPERIMENT, weights=demo_weights(), device="cpu")


@pytest.fixture
def crossing(qtbot, tmp_path):
    video = write_video(tmp_path / "crossing.mp4", num_frames=FRAMES, image_size=(320, 240), people=2,
                        scenario="crossing")
    doc = AnnotationDocument()
    doc.open([video.path])
    yield doc, video
    doc.close()


def _centre(kp: np.ndarray) -> np.ndarray:
    ok = kp[:, 2] > 0
    return kp[ok, :2].mean(axis=0) if ok.any() else np.array([np.inf, np.inf])


def identity_pairs(doc: AnnotationDocument, video) -> Counter:
    """(true id, predicted track id) per frame, true and predicted people matched one to one by
    the distance of their centres (closer than 15 px)."""
    pairs: Counter = Counter()
    for f, people in enumerate(video.frames):
        preds = doc.frame(f).instances
        people = [p for p in people if p.num_keypoints >= 8]
        if not preds or not people:
            continue
        d = np.array([[np.linalg.norm(_centre(q.keypoints) - _centre(p.keypoints)) for q in preds] for p in people])
        for r, c in zip(*linear_sum_assignment(np.minimum(d, 1e6))):
            if d[r, c] < 15:
                pairs[(people[r].track_id, preds[c].track_id)] += 1
    return pairs


def assert_consistent(pairs: Counter) -> None:
    true_ids = {t for t, _ in pairs}
    assert len(true_ids) >= 2, pairs
    mapping = {}
    for t in true_ids:
        counts = {k: n for (tt, k), n in pairs.items() if tt == t}
        top = max(counts, key=counts.get)
        assert top is not None, pairs
        assert counts[top] >= 0.95 * sum(counts.values()), f"true person {t} changes identity: {pairs}"
        mapping[t] = top
    assert len(set(mapping.values())) == len(mapping), f"two people share a track: {pairs}"


def test_predict_all_frames_tracks_through_a_crossing(qtbot, crossing, predictor):
    doc, video = crossing
    ctrl = InferenceController(doc, Model(predictor), HeatmapStore())
    oracle = OracleDetector(video.frames)
    ctrl._detector, ctrl._detector_key = oracle, ("oracle", str(predictor.device))
    with qtbot.waitSignal(ctrl.finished, timeout=240000):
        assert ctrl.predict(list(range(FRAMES)), scope="all", detector="oracle")
    assert doc.undo_stack.count() == 1  # one undoable step
    assert all(p.track_id is not None for fr in doc.data.frames for p in fr.instances)
    assert_consistent(identity_pairs(doc, video))
    assert len(oracle.calls) <= FRAMES // 3, oracle.calls  # the detector only where needed
    assert oracle.calls[0] == 0
    doc.undo()
    assert all(not fr.instances for fr in doc.data.frames)


def test_repredicting_keeps_the_track_of_a_corrected_person(qtbot, crossing, predictor):
    from app.commands import MoveKeypoint

    doc, video = crossing
    ctrl = InferenceController(doc, Model(predictor), HeatmapStore())
    ctrl._detector, ctrl._detector_key = OracleDetector(video.frames), ("oracle", str(predictor.device))
    with qtbot.waitSignal(ctrl.finished, timeout=240000):
        ctrl.predict(list(range(FRAMES)), scope="all", detector="oracle")
    person = doc.frame(5).instances[0]
    track = person.track_id
    doc.push(MoveKeypoint(doc, 5, 0, 0, person.keypoints[0, :2] + 1))  # now hand work: a re-run keeps it
    with qtbot.waitSignal(ctrl.finished, timeout=240000):
        ctrl.predict(list(range(FRAMES)), scope="all", detector="oracle")
    assert sum(p.track_id == track for p in doc.frame(5).instances) == 1
    assert all(sum(p.track_id == track for p in doc.frame(f).instances) == 1 for f in range(8))
    assert_consistent(identity_pairs(doc, video))


def test_boxes_on_the_first_frame_seed_tracks_without_a_detector(qtbot, crossing, predictor):
    """'Existing boxes only' on a video: the people labelled on frame 0 are followed through the clip,
    and the one hidden in the crossing is found again by coasting their box on their motion."""
    from hrnet import Instance

    doc, video = crossing
    doc.frame(0).instances = [Instance(p.keypoints.copy(), bbox=p.bbox.copy()) for p in video.frames[0]]
    ctrl = InferenceController(doc, Model(predictor), HeatmapStore())
    with qtbot.waitSignal(ctrl.finished, timeout=240000):
        assert ctrl.predict(list(range(FRAMES)), scope="all", detector="existing")
    assert doc.undo_stack.count() == 1
    assert sorted(p.track_id for p in doc.frame(0).instances) == [0, 1]  # the labelled people joined their tracks
    assert all(len(doc.frame(f).instances) >= 1 for f in range(FRAMES))
    pairs = identity_pairs(doc, video)
    assert pairs[(0, 0)] >= FRAMES - 4 and pairs[(1, 1)] >= FRAMES - 10, pairs
    assert sum(n for (t, k), n in pairs.items() if t != k) <= 1, pairs
    doc.undo()
    assert [p.track_id for p in doc.frame(0).instances] == [None, None]
    assert all(not doc.frame(f).instances for f in range(1, FRAMES))


def test_sample_video_offline_predict_all_frames_keeps_both_people(qtbot, tmp_path, predictor):
    """The "Done when" demo, offline: the sample project's video (two people crossing, frame 1
    labelled), Predict all frames with the whole-image fallback (no detector weights) and the demo
    model: two tracks, each on nearly every frame, through the crossing."""
    import shutil

    from app.bundled import sample_dir
    from app.controllers.detector_check import FALLBACK

    copy = tmp_path / "sample"
    shutil.copytree(sample_dir(), copy)
    doc = AnnotationDocument()
    doc.open([copy / "project.json"])
    try:
        frames = [i for i, f in enumerate(doc.data.frames) if f.video]
        assert len(frames) >= 36 and len(doc.frame(frames[0]).instances) == 2
        ctrl = InferenceController(doc, Model(predictor), HeatmapStore())
        # seen walking the sample: an earlier whole-image guess on an unlabelled frame became a
        # ghost track; a new run replaces it instead of following it
        assert not doc.frame(frames[1]).instances
        with qtbot.waitSignal(ctrl.finished, timeout=240000):
            assert ctrl.predict([frames[1]], scope="current", detector=FALLBACK)
        assert len(doc.frame(frames[1]).instances) == 1
        with qtbot.waitSignal(ctrl.finished, timeout=240000):
            assert ctrl.predict(frames, scope="all", detector=FALLBACK)
        assert doc.undo_stack.count() == 2
        per_track = Counter(p.track_id for f in frames for p in doc.frame(f).instances)
        assert sorted(per_track) == [0, 1], per_track
        for track, n in per_track.items():  # each person on nearly every frame (one is hidden for a few)
            assert n >= 0.85 * len(frames), per_track
            assert all(sum(p.track_id == track for p in doc.frame(f).instances) <= 1 for f in frames)
        # against the truth (the sample's video, rendered again): nobody changes identity
        truth = write_video(tmp_path / "truth.mp4", num_frames=len(frames), fps=12.0, image_size=(320, 240),
                            people=2, seed=0, scenario="crossing")
        pairs: Counter = Counter()
        for f, people in zip(frames, truth.frames):
            preds = doc.frame(f).instances
            for p in people:
                if p.num_keypoints < 8 or not preds:
                    continue
                d = [np.linalg.norm(_centre(q.keypoints) - _centre(p.keypoints)) for q in preds]
                if min(d) < 15:
                    pairs[(p.track_id, preds[int(np.argmin(d))].track_id)] += 1
        assert_consistent(pairs)
        assert sum(pairs.values()) >= 0.85 * 2 * len(frames), pairs
    finally:
        doc.close()


def test_track_people_on_existing_poses(qtbot, crossing):
    doc, video = crossing
    # the true poses, in shuffled order per frame and without ids, as another tool would give them
    from hrnet import Instance

    rng = np.random.default_rng(0)
    for f, people in enumerate(video.frames):
        doc.frame(f).instances = [Instance(p.keypoints.copy()) for p in rng.permutation(people)]
    tracker = TrackController(doc)
    with qtbot.waitSignal(tracker.finished, timeout=60000):
        assert tracker.track_all()
    assert doc.undo_stack.count() == 1
    assert_consistent(identity_pairs(doc, video))
    doc.undo()
    assert all(p.track_id is None for fr in doc.data.frames for p in fr.instances)


def test_track_people_cancel_changes_nothing(qtbot, crossing):
    doc, video = crossing
    from hrnet import Instance

    for f, people in enumerate(video.frames):
        doc.frame(f).instances = [Instance(p.keypoints.copy()) for p in people]
    tracker = TrackController(doc)
    tracker.worker_factory_hook = lambda w: w.cancel()  # cancelled before it starts
    with qtbot.waitSignal(tracker.finished, timeout=60000):
        assert tracker.track_all()
    assert doc.undo_stack.count() == 0
    assert not tracker.is_running
