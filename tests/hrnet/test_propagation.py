"""hrnet.propagation: consecutive frames predicted from propagated boxes, the detector only where needed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hrnet import Predictor
from hrnet.dataset.synthetic import write_video
from hrnet.detect import Detections
from hrnet.propagation import VideoPoseTracker, smooth_tracked_frames

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "hrnet_w16_synthetic.pth"


class CountingOracle:
    """The true boxes of the current frame; counts its calls."""

    def __init__(self, video):
        self.video, self.frame, self.calls = video, 0, 0

    def __call__(self, image, *, image_key=None):
        self.calls += 1
        boxes = [[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]]
                 for p in self.video.frames[self.frame] if (p.keypoints[:, 2] == 2).sum() >= 3]
        b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        return Detections(boxes=b, scores=np.ones(len(b)))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    video = write_video(tmp_path_factory.mktemp("v") / "c.avi", num_frames=24, fps=12, image_size=(320, 240),
                        people=2, seed=0, scenario="crossing")
    cap = cv2.VideoCapture(str(video.path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    return video, frames


@pytest.fixture(scope="module")
def predictor():
    return Predictor("synthetic/hrnet_w16_128x96", weights=DEMO, device="cpu")


def _pck(video, t, people, thr=0.2):
    good = total = 0
    for gt in video.frames[t]:
        vis = gt.keypoints[:, 2] > 0
        if vis.sum() < 3:
            continue
        size = max(gt.bbox[2], gt.bbox[3])
        best = max((np.mean(np.linalg.norm(p.result.keypoints[vis, :2] - gt.keypoints[vis, :2], axis=1) < thr * size)
                    for p in people), default=0.0)
        good += best
        total += 1
    return good / max(total, 1)


def test_detector_runs_only_where_needed_and_poses_stay_good(clip, predictor):
    video, frames = clip
    oracle = CountingOracle(video)
    vt = VideoPoseTracker(predictor, oracle, detect_every=10)
    out = []
    for t, image in enumerate(frames):
        oracle.frame = t
        out.append(vt.process(image))
    assert oracle.calls <= 6, vt.stats  # first frame, periodic (t=10, 20), a few re-detections at most
    assert vt.stats.reasons.get("first frame") == 1 and vt.stats.reasons.get("periodic", 0) >= 2
    assert np.mean([_pck(video, t, people) for t, people in enumerate(out)]) > 0.6
    ids = {p.track_id for people in out for p in people if p.track_id >= 0}
    assert 2 <= len(ids) <= 3
    assert any(not p.detected for people in out[1:] for p in people)  # boxes came from the last frame


def test_detector_every_frame_when_asked(clip, predictor):
    video, frames = clip
    oracle = CountingOracle(video)
    vt = VideoPoseTracker(predictor, oracle, detect_every=10)
    for t, image in enumerate(frames[:5]):
        oracle.frame = t
        vt.process(image, force_detection=True)
    assert oracle.calls == 5


def test_collapsed_pose_triggers_a_redetection(clip, predictor):
    video, frames = clip
    oracle = CountingOracle(video)
    vt = VideoPoseTracker(predictor, oracle, detect_every=0)
    oracle.frame = 0
    vt.process(frames[0])
    for t in vt.tracker.tracks:  # make the followed boxes wrong: the people are no longer in them
        t.keypoints[:, 0] = np.clip(t.keypoints[:, 0] + 150, 0, 319)
    oracle.frame = 1
    people = vt.process(frames[1])
    assert vt.stats.redetections == 1 and oracle.calls == 2
    assert any(p.detected for p in people)


def test_without_detector_hand_boxes_start_people(clip, predictor):
    video, frames = clip
    vt = VideoPoseTracker(predictor, None)
    gt = video.frames[0][0]
    box = [gt.bbox[0], gt.bbox[1], gt.bbox[0] + gt.bbox[2], gt.bbox[1] + gt.bbox[3]]
    first = vt.process(frames[0], boxes=[box])
    assert len(first) == 1
    second = vt.process(frames[1])
    assert len(second) == 1 and second[0].track_id == first[0].track_id and not second[0].detected


def test_smoothing_tracked_frames_changes_only_tracked_joints(clip, predictor):
    video, frames = clip
    oracle = CountingOracle(video)
    vt = VideoPoseTracker(predictor, oracle)
    out = []
    for t, image in enumerate(frames[:12]):
        oracle.frame = t
        out.append(vt.process(image))
    before = [[p.result.keypoints.copy() for p in people] for people in out]
    smooth_tracked_frames(out, fps=12)
    changed = any(not np.allclose(b, p.result.keypoints) for bs, people in zip(before, out) for b, p in zip(bs, people))
    assert changed
    for bs, people in zip(before, out):
        for b, p in zip(bs, people):
            np.testing.assert_array_equal(b[:, 2], p.result.keypoints[:, 2])


def test_a_vanished_person_is_looked_for_again(clip, predictor):
    """A crossing: one person vanishes behind the other; the detector runs again 1, 2, 4, ... frames
    later (never without look_again) and the person comes back with their id."""
    video, frames = clip
    calls = {}
    last = {}
    for look_again in ((), (1, 2, 4, 8, 16)):
        oracle = CountingOracle(video)
        vt = VideoPoseTracker(predictor, oracle, detect_every=0, look_again=look_again)
        for t, image in enumerate(frames):
            oracle.frame = t
            people = vt.process(image)
        calls[look_again] = (oracle.calls, dict(vt.stats.reasons))
        last[look_again] = sorted(p.track_id for p in people)
    assert "look again" not in calls[()][1]
    assert calls[(1, 2, 4, 8, 16)][1].get("look again", 0) >= 1, calls
    assert last[(1, 2, 4, 8, 16)] == [0, 1], last  # both people, with the ids of the first frame


def test_without_detector_a_lost_person_is_found_by_their_motion(clip, predictor):
    """No detector: both people start from boxes on the first frame; the one hidden in the crossing is
    found again where their motion says they are (coasting), and keeps their id."""
    video, frames = clip
    boxes = [[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in video.frames[0]]
    found = {}
    for coast in (0, None):
        vt = VideoPoseTracker(predictor, None, coast_frames=coast)
        out = [vt.process(image, boxes if t == 0 else None) for t, image in enumerate(frames)]
        found[coast] = (vt.stats.reacquired, sorted(p.track_id for p in out[-1]))
    assert found[0] == (0, [0]), found  # without coasting the hidden person stays lost
    assert found[None][0] >= 1 and found[None][1] == [0, 1], found
    with pytest.raises(ValueError):
        VideoPoseTracker(predictor, None, coast_frames=-1)
