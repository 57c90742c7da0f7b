"""PoseTrack 2018 style import/export, and track ids through the project's COCO round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrnet.annotations import from_coco_dict, load_coco, save_coco
from hrnet.dataset.synthetic import write_video
from hrnet.errors import AnnotationError
from hrnet.posetrack import load_posetrack, save_posetrack, to_posetrack


@pytest.fixture
def video_doc(tmp_path):
    video = write_video(tmp_path / "walk.avi", num_frames=6, fps=12, image_size=(160, 120), people=2, seed=0,
                        scenario="crossing")
    data = video.to_coco()
    for im in data["images"]:
        im["hrnet_annotator"] = {"video": "walk.avi", "frame_index": im.pop("frame_index")}
        im["file_name"] = "walk.avi"
    doc = from_coco_dict(data, base_dir=tmp_path, image_root=tmp_path)
    doc.frames[0].instances[0].track_id = None  # an untracked person
    return doc


def test_track_ids_survive_the_project_round_trip(tmp_path, video_doc):
    save_coco(video_doc, tmp_path / "p.json")
    back = load_coco(tmp_path / "p.json")
    assert [[i.track_id for i in f.instances] for f in back.frames] == \
        [[i.track_id for i in f.instances] for f in video_doc.frames]


def test_posetrack_export_layout_and_import(tmp_path, video_doc):
    data = to_posetrack(video_doc)
    assert len(data["images"]) == 6
    ims = data["images"]
    assert all(im["vid_id"] == "000001" and im["nframes"] == 6 and im["id"] == im["frame_id"] for im in ims)
    assert [im["file_name"] for im in ims] == [f"walk/{i:06d}.jpg" for i in range(6)]
    assert len({im["frame_id"] for im in ims}) == 6
    ids = {im["id"] for im in ims}
    assert all(a["image_id"] in ids and isinstance(a["track_id"], int) for a in data["annotations"])
    assert len({a["track_id"] for a in data["annotations"]}) == 3  # two people + a fresh id for the untracked one
    out = save_posetrack(video_doc, tmp_path / "pt" / "walk_posetrack.json", write_frames=True)
    assert (tmp_path / "pt" / "walk" / "000005.jpg").is_file()
    doc = load_posetrack(out)
    assert len(doc.frames) == 6
    tracks = [[i.track_id for i in f.instances] for f in doc.frames]
    assert tracks[1] == [i.track_id for i in video_doc.frames[1].instances]
    np.testing.assert_allclose(doc.frames[2].instances[0].keypoints[:, :2],
                               video_doc.frames[2].instances[0].keypoints[:, :2], atol=1e-3)


def test_load_posetrack_refuses_plain_coco(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}))
    with pytest.raises(AnnotationError, match="vid_id"):
        load_posetrack(p)
    p.write_text("{nope")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_posetrack(p)
