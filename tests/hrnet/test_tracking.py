"""hrnet.tracking: identities through crossings, occlusion gaps, entries/exits, a camera pan and spurious
poses, on synthetic videos with true identities (hrnet.dataset.synthetic.write_video scenarios)."""

from __future__ import annotations

import numpy as np
import pytest

from hrnet.dataset.synthetic import write_video
from hrnet.tracking import PoseTracker, identity_metrics, keypoint_box, track_poses


def _poses(video, seed=0, miss=0.05, false_per_frame=0.5):
    """Detector-like poses from the truth: 2 % noise, scores by visibility, people with fewer than 3
    visible joints missed (behind the pillar), ``miss`` of the rest missed, false low-score poses."""
    rng = np.random.default_rng(seed)
    w, h = video.size
    frames, truth = [], []
    for people in video.frames:
        kps, ids = [], []
        for p in people:
            v = p.keypoints[:, 2]
            if (v == 2).sum() < 3 or rng.random() < miss:
                continue
            size = p.bbox[3]
            kp = np.zeros((17, 3))
            kp[:, :2] = p.keypoints[:, :2] + rng.normal(0, 0.02 * size, (17, 2))
            kp[:, 2] = np.where(v == 2, rng.uniform(0.6, 0.95, 17), np.where(v == 1, rng.uniform(0.2, 0.5, 17), 0.05))
            centre = p.bbox[:2] + p.bbox[2:] / 2
            kp[v == 0, :2] = centre
            kps.append(kp)
            ids.append(p.track_id)
        for _ in range(rng.poisson(false_per_frame)):
            kp = np.zeros((17, 3))
            kp[:, 0], kp[:, 1] = rng.uniform(0, w, 17), rng.uniform(0, h, 17)
            kp[:, 2] = rng.uniform(0.0, 0.25, 17)
            kps.append(kp)
            ids.append(None)
        order = rng.permutation(len(kps))
        frames.append(np.array([kps[i] for i in order]).reshape(-1, 17, 3))
        truth.append([ids[i] for i in order])
    return frames, truth


@pytest.mark.parametrize(("scenario", "max_switches"), [("crossing", 0), ("occlusion", 0), ("pan", 2)])
def test_identities_hold(tmp_path, scenario, max_switches):
    # the pan's walkers are scattered at random: two can overlap in the image for a while, which
    # only pose shape tells apart (benchmarks/tracking.py: 0-5 switches per 90-frame pan clip)
    video = write_video(tmp_path / "v.avi", num_frames=60, fps=15, image_size=(480, 270), people=2, seed=3,
                        scenario=scenario)
    frames, truth = _poses(video)
    ids = track_poses(frames)
    assert [len(i) for i in ids] == [len(f) for f in frames]
    m = identity_metrics(truth, ids)
    assert m["id_switches"] <= max_switches, m
    assert m["idf1"] >= 0.9, m


def test_crossing_people_really_cross_and_keep_their_ids(tmp_path):
    video = write_video(tmp_path / "v.avi", num_frames=60, fps=15, image_size=(480, 270), people=2, seed=0,
                        scenario="crossing")
    x = {0: [], 1: []}
    for people in video.frames:
        for p in people:
            x[p.track_id].append(p.bbox[0] + p.bbox[2] / 2)
    assert (x[0][0] - x[1][0]) * (x[0][-1] - x[1][-1]) < 0  # they swapped sides
    frames, truth = _poses(video, miss=0.0, false_per_frame=0.0)
    ids = track_poses(frames)
    first = {g: i for g, i in zip(truth[0], ids[0])}
    last = {g: i for g, i in zip(truth[-1], ids[-1])}
    assert first == last and len(set(first.values())) == 2


def test_occlusion_gap_is_bridged(tmp_path):
    video = write_video(tmp_path / "v.avi", num_frames=60, fps=15, image_size=(480, 270), people=1, seed=1,
                        scenario="occlusion")
    hidden = [t for t, people in enumerate(video.frames) if all((p.keypoints[:, 2] == 2).sum() < 3 for p in people)]
    assert len(hidden) >= 8  # ~0.8 s behind the pillar
    frames, truth = _poses(video, miss=0.0, false_per_frame=0.0)
    ids = track_poses(frames)
    seen = {int(i) for row in ids for i in row if i >= 0}
    assert seen == {0}


def test_people_entering_and_leaving_get_new_ids(tmp_path):
    video = write_video(tmp_path / "v.avi", num_frames=90, fps=15, image_size=(480, 270), people=2, seed=0,
                        scenario="enter_exit")
    true_ids = {p.track_id for people in video.frames for p in people}
    assert len(true_ids) >= 4
    frames, truth = _poses(video, false_per_frame=0.0)
    m = identity_metrics(truth, track_poses(frames))
    assert m["predicted_ids"] >= len(true_ids) - 1 and m["idf1"] >= 0.8, m


def test_spurious_low_score_poses_are_not_tracked():
    rng = np.random.default_rng(0)
    person = np.zeros((17, 3))
    person[:, 0], person[:, 1], person[:, 2] = rng.uniform(100, 140, 17), rng.uniform(50, 200, 17), 0.9
    frames = []
    for t in range(10):
        p = person.copy()
        p[:, 0] += 5 * t
        junk = np.zeros((17, 3))
        junk[:, 0], junk[:, 1], junk[:, 2] = rng.uniform(300, 400, 17), rng.uniform(0, 100, 17), 0.1
        frames.append(np.stack([junk, p]) if t % 2 else np.stack([p, junk]))
    ids = track_poses(frames)
    for t, row in enumerate(ids):
        real = 1 if t % 2 else 0
        assert row[real] == 0 and row[1 - real] == -1


def test_online_tracker_api():
    tr = PoseTracker(first_id=7)
    a = np.zeros((1, 17, 3))
    a[0, :, 0], a[0, :, 1], a[0, :, 2] = np.linspace(10, 50, 17), np.linspace(10, 150, 17), 0.9
    assert tr.update(a).tolist() == [7]
    assert tr.update(np.zeros((0, 17, 3))).tolist() == []  # a frame with nobody
    b = a.copy()
    b[0, :, 0] += 8
    assert tr.update(b, boxes=np.array([[10, 10, 60, 150]])).tolist() == [7]
    with pytest.raises(ValueError, match="boxes"):
        tr.update(b, boxes=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="17-joint"):
        tr.update(np.zeros((1, 5, 3)))
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        tr.update(np.zeros((3, 3)))
    tr.reset()
    assert tr.update(b).tolist() == [8]  # after a cut: a new track, ids keep counting


def test_track_poses_defaults_and_empty():
    assert track_poses([]) == []
    out = track_poses([np.zeros((0, 17, 3)), np.zeros((0, 17, 3))])
    assert [o.tolist() for o in out] == [[], []]


def test_identity_metrics_hand_case():
    truth = [["a", "b"], ["a", "b"], ["a", "b", None]]
    pred = [[0, 1], [0, 1], [1, 0, 2]]  # a and b swap ids in the last frame
    m = identity_metrics(truth, pred)
    assert m["id_switches"] == 2
    assert m["idtp"] == 4 and m["idfp"] == 3 and m["idfn"] == 2
    assert m["idf1"] == pytest.approx(8 / 13)
    with pytest.raises(ValueError):
        identity_metrics([["a"]], [[0, 1]])


def test_keypoint_box():
    kp = np.array([[10, 20, 0.9], [30, 60, 0.9], [500, 500, 0.01]])
    assert keypoint_box(kp, 0.2).tolist() == [10, 20, 30, 60]
    assert keypoint_box(kp, 0.2, enlarge=2.0).tolist() == [0, 0, 40, 80]
    assert keypoint_box(np.zeros((0, 3))) is None


def test_unknown_scenario_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown video scenario"):
        write_video(tmp_path / "v.avi", num_frames=4, scenario="juggling")


def test_certain_poses_start_tracks_however_weak():
    """A pose known to be a person (inside a box drawn by hand) starts a track even below
    new_track_score; without the flag it would not."""
    from hrnet.tracking import PoseTracker

    kp = np.zeros((1, 17, 3))
    kp[0, :, 0] = np.linspace(100, 140, 17)
    kp[0, :, 1] = np.linspace(50, 200, 17)
    kp[0, :, 2] = 0.25  # valid (>= min_pose_score) but too weak to start a track
    assert PoseTracker().update(kp).tolist() == [-1]
    tracker = PoseTracker()
    assert tracker.update(kp, certain=[True]).tolist() == [0]
    assert tracker.update(kp).tolist() == [0]  # and continues it
    with pytest.raises(ValueError):
        tracker.update(kp, certain=[True, False])
