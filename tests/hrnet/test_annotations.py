"""hrnet.annotations: COCO keypoint read/validate/write, exact round trip, typed errors (no Qt)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from hrnet.annotations import (
    APP_KEY,
    COCO_KEYPOINTS,
    Category,
    Frame,
    Instance,
    PoseDocument,
    bbox_from_keypoints,
    load_coco,
    save_coco,
    to_coco_dict,
)
from hrnet.errors import AnnotationError

K = 17


def _kps(rng: np.random.Generator, vis: np.ndarray | None = None) -> np.ndarray:
    v = rng.integers(0, 3, K) if vis is None else vis
    xy = rng.uniform(0, 200, (K, 2))
    xy[v == 0] = 0.0
    return np.c_[xy, v].astype(np.float64)


def rich_document() -> PoseDocument:
    """A document using every feature of the format."""
    rng = np.random.default_rng(0)
    edited = np.zeros(K, bool)
    edited[[0, 5, 16]] = True
    f1 = Frame(
        id=10, file_name="sub/a.jpg", width=640, height=480, reviewed=True,
        instances=[
            Instance(_kps(rng)),  # no box: derived on save, None again on load
            Instance(_kps(rng), bbox=[1.5, 2.25, 30.0, 40.0], score=0.875, track_id=7, edited=edited,
                     joint_scores=rng.random(K), id=99, extra={"attributes": {"occluded": True}}),
            Instance(_kps(rng), bbox=[5, 5, 50, 60], extra={"segmentation": [[1, 2, 3, 4, 5, 6]], "area": 123.5}),
        ],
        crowd=[{"id": 500, "image_id": 10, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 10, 10], "area": 100,
                "segmentation": {"counts": [0, 100], "size": [480, 640]}, "keypoints": [0] * 51, "num_keypoints": 0}],
        extra={"license": 3, "coco_url": "http://x/a.jpg"},
        other=[{"id": 600, "image_id": 10, "category_id": 2, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0}],
    )
    f2 = Frame(id=11, file_name="clip_000003.png", width=320, height=240, video="clip.mp4", frame_index=3,
               instances=[Instance(np.zeros((K, 3)))])
    f3 = Frame(id=12, file_name="empty.png", width=0, height=0)  # size not known yet
    return PoseDocument(
        frames=[f1, f2, f3],
        category=Category(extra={"sigmas": [0.05] * K}),
        extra={"info": {"year": 2024}, "licenses": [{"id": 3, "name": "CC"}], "custom_top": [1, 2]},
        other_categories=[{"id": 2, "name": "dog", "supercategory": "animal"}],
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    doc = rich_document()
    reference = copy.deepcopy(doc)
    path = tmp_path / "p.json"
    save_coco(doc, path)
    back = load_coco(path)
    assert back == doc
    # ids were assigned on save (written back into the document, the given one kept), the rest is untouched
    assert all(inst.id is not None for fr in doc.frames for inst in fr.instances)
    assert doc.frames[0].instances[1].id == 99
    assert reference != doc
    for a, b in zip(reference.frames, doc.frames):
        for ia, ib in zip(a.instances, b.instances):
            ia.id = ib.id
    assert reference == doc
    # saving again gives the same bytes (ids are stable)
    first = path.read_bytes()
    save_coco(back, path)
    assert path.read_bytes() == first
    assert back.frames[0].instances[0].bbox is None
    assert back.frames[0].instances[1].track_id == 7


def test_written_file_is_plain_coco(tmp_path: Path) -> None:
    pycocotools = pytest.importorskip("pycocotools.coco")
    doc = rich_document()
    path = tmp_path / "p.json"
    save_coco(doc, path)
    raw = json.loads(path.read_text())
    coco = pycocotools.COCO(str(path))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[10], catIds=[1], iscrowd=False))
    assert len(anns) == 3
    for ann, inst in zip(anns, doc.frames[0].instances):
        assert len(ann["keypoints"]) == 3 * K
        assert all(isinstance(v, float) for v in ann["keypoints"][0::3] + ann["keypoints"][1::3])
        assert all(isinstance(v, int) for v in ann["keypoints"][2::3])
        assert ann["num_keypoints"] == int((inst.keypoints[:, 2] > 0).sum())
        assert len(ann["bbox"]) == 4 and ann["area"] > 0 and ann["iscrowd"] == 0
    assert anns[1]["bbox"] == [1.5, 2.25, 30.0, 40.0] and anns[1]["area"] == 1200.0
    assert anns[2]["area"] == 123.5  # a segmentation area from the file is kept
    cat = coco.loadCats(1)[0]
    assert cat["keypoints"] == list(COCO_KEYPOINTS)
    assert cat["skeleton"][:3] == [[16, 14], [14, 12], [17, 15]]  # COCO's own 1-based skeleton
    assert min(min(p) for p in cat["skeleton"]) == 1
    img = coco.loadImgs(10)[0]
    assert (img["width"], img["height"]) == (640, 480)
    assert "width" not in coco.loadImgs(12)[0]  # unknown size is left out, not written as 0
    assert 500 in coco.getAnnIds(imgIds=[10]) and 500 not in coco.getAnnIds(imgIds=[10], iscrowd=False)
    # app state lives under the one extra key only
    assert raw[APP_KEY]["version"] == 1
    assert raw["images"][0][APP_KEY] == {"reviewed": True}
    assert raw["images"][1][APP_KEY] == {"video": "clip.mp4", "frame_index": 3}
    ann1 = next(a for a in raw["annotations"] if a["id"] == 99)
    assert ann1[APP_KEY]["edited"] == [0, 5, 16] and len(ann1[APP_KEY]["joint_scores"]) == K
    assert ann1["score"] == 0.875 and ann1["track_id"] == 7
    # without app state: no extra key anywhere
    plain = to_coco_dict(doc, include_app_state=False)
    assert APP_KEY not in json.dumps(plain)


def test_unknown_fields_of_foreign_file_are_preserved(tmp_path: Path) -> None:
    src = {
        "info": {"description": "foreign", "version": "1.0"},
        "licenses": [{"id": 1, "name": "x", "url": "u"}],
        "something_else": {"nested": [1, 2, {"a": None}]},
        "images": [{"id": 1, "file_name": "000001.jpg", "width": 100, "height": 50, "license": 1,
                    "flickr_url": "f", "date_captured": "2013"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "keypoints": [10, 20, 2] + [0, 0, 0] * (K - 1),
             "num_keypoints": 1, "bbox": [5, 5, 20, 30], "area": 321.25, "iscrowd": 0,
             "segmentation": [[5, 5, 25, 5, 25, 35]], "attributes": {"x": 1}},
            {"id": 6, "image_id": 1, "category_id": 1, "iscrowd": 1,
             "segmentation": {"counts": "abc", "size": [50, 100]}, "area": 10, "bbox": [0, 0, 5, 5],
             "keypoints": [0] * 51, "num_keypoints": 0},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_KEYPOINTS),
                        "skeleton": [[16, 14], [14, 12]], "sigmas": [0.1] * K}],
    }
    a = tmp_path / "foreign.json"
    a.write_text(json.dumps(src))
    b = tmp_path / "out.json"
    save_coco(load_coco(a), b)
    out = json.loads(b.read_text())
    for key in ("info", "licenses", "something_else"):
        assert out[key] == src[key]
    assert {k: v for k, v in out["images"][0].items() if k != APP_KEY} == src["images"][0]
    anns = {x["id"]: x for x in out["annotations"]}
    assert anns[6] == src["annotations"][1]  # crowd region verbatim
    a5 = anns[5]
    for k, v in src["annotations"][0].items():
        assert a5[k] == v, k
    assert out["categories"][0]["sigmas"] == [0.1] * K
    assert out["categories"][0]["skeleton"] == [[16, 14], [14, 12]]


def _valid() -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10},
                   {"id": 2, "file_name": "b.png", "width": 10, "height": 10}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 2] * K, "bbox": [0, 0, 5, 5],
                         "area": 25, "iscrowd": 0, "num_keypoints": K},
                        {"id": 2, "image_id": 2, "category_id": 1, "keypoints": [1, 1, 2] * K, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS), "skeleton": [[1, 2]]}],
    }


def _set(path: str, value):
    def mutate(d: dict) -> None:
        *parts, last = path.split(".")
        obj = d
        for p in parts:
            obj = obj[int(p)] if p.isdigit() else obj[p]
        if value is _DELETE:
            del obj[int(last) if last.isdigit() else last]
        else:
            obj[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()

MALFORMED = [
    ("missing images", _set("images", _DELETE), ["missing 'images'"]),
    ("missing annotations", _set("annotations", _DELETE), ["missing 'annotations'"]),
    ("missing categories", _set("categories", _DELETE), ["missing 'categories'"]),
    ("images not a list", _set("images", {}), ["'images' must be a list"]),
    ("short keypoints", _set("annotations.1.keypoints", [1, 1, 2] * (K - 1)),
     ["annotations[1] (id 2)", "image 2 (b.png)", "48 values, expected 51"]),
    ("image_id to nothing", _set("annotations.0.image_id", 77), ["annotations[0] (id 1)", "'image_id' 77"]),
    ("string coordinate", _set("annotations.0.keypoints", ["1"] + [1, 2] + [1, 1, 2] * (K - 1)),
     ["annotations[0] (id 1)", "joint 0, x", "must be a number", "'1'"]),
    ("null coordinate", _set("annotations.0.keypoints", [1, None, 2] + [1, 1, 2] * (K - 1)),
     ["joint 0, y", "None"]),
    ("bad visibility", _set("annotations.1.keypoints", [1, 1, 2] * 3 + [1, 1, 3] + [1, 1, 2] * (K - 4)),
     ["annotations[1] (id 2)", "visibility of joint 3", "0, 1 or 2", "got 3"]),
    ("duplicate annotation id", _set("annotations.1.id", 1), ["annotations[1] (id 1)", "duplicate annotation id 1"]),
    ("duplicate image id", _set("images.1.id", 1), ["images[1]", "duplicate image id 1"]),
    ("image without file_name", _set("images.0.file_name", _DELETE), ["images[0] (id 1)", "'file_name'"]),
    ("negative width", _set("images.0.width", -3), ["images[0] (id 1)", "'width' must be >= 0"]),
    ("bad bbox", _set("annotations.0.bbox", [0, 0, 5]), ["annotations[0] (id 1)", "'bbox'"]),
    ("no keypoint category", _set("categories.0.keypoints", _DELETE), ["no category defines 'keypoints'"]),
    ("bad skeleton", _set("categories.0.skeleton", [[0, 1]]), ["categories[0]", "'skeleton'[0]", "1-based"]),
    ("unknown category", _set("annotations.0.category_id", 5), ["'category_id' 5"]),
    ("string image id", _set("images.0.id", "1"), ["images[0]", "'id' must be an integer"]),
    ("app state not an object", _set("annotations.0." + APP_KEY, [1]), [f"'{APP_KEY}' must be an object"]),
    ("edited out of range", _set("annotations.0." + APP_KEY, {"edited": [17]}), [f"'{APP_KEY}.edited'"]),
    ("reviewed not bool", _set("images.0." + APP_KEY, {"reviewed": "yes"}), [f"'{APP_KEY}.reviewed'"]),
]


@pytest.mark.parametrize("name,mutate,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_names_file_record_and_field(tmp_path: Path, name, mutate, expected) -> None:
    data = _valid()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError) as info:
        load_coco(path)
    msg = str(info.value)
    assert str(path) in msg
    for part in expected:
        assert part in msg, (part, msg)


def test_valid_baseline_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(_valid()))
    doc = load_coco(path)
    assert len(doc.frames) == 2 and len(doc.frames[0].instances) == 1
    assert doc.category.skeleton == [(0, 1)]
    assert doc.frames[1].instances[0].bbox is None  # no box in the file: derived on save


@pytest.mark.parametrize("content,expected", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b"\xff\xfe\x00", "not valid JSON"),
])
def test_not_json(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(AnnotationError, match=expected) as info:
        load_coco(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="not found"):
        load_coco(tmp_path / "nope.json")


def test_save_refuses_values_coco_cannot_store(tmp_path: Path) -> None:
    kp = np.ones((K, 3)) * 2
    kp[4, 0] = np.nan
    doc = PoseDocument(frames=[Frame(1, "a.png", 10, 10, [Instance(kp)])])
    with pytest.raises(AnnotationError, match="image 1 .*NaN"):
        save_coco(doc, tmp_path / "x.json")
    assert not list(tmp_path.iterdir())  # nothing written, no temp file left
    doc.frames[0].instances = [Instance(np.ones((5, 3)))]
    with pytest.raises(AnnotationError, match="5 joints"):
        save_coco(doc, tmp_path / "x.json")


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.json"
    doc = rich_document()
    save_coco(doc, path)
    before = path.read_bytes()
    doc.frames[0].reviewed = False

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_coco(doc, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]


def test_ids_assigned_and_duplicates_fixed(tmp_path: Path) -> None:
    doc = PoseDocument(frames=[Frame(1, "a.png", 10, 10, [Instance(np.zeros((K, 3)), id=3),
                                                          Instance(np.zeros((K, 3)), id=3),
                                                          Instance(np.zeros((K, 3)))])])
    save_coco(doc, tmp_path / "a.json")
    ids = [i.id for i in doc.frames[0].instances]
    assert ids[0] == 3 and len(set(ids)) == 3
    assert load_coco(tmp_path / "a.json") == doc


def test_image_root_stored_relative_and_resolved(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    doc = PoseDocument(frames=[Frame(1, "a.png", 10, 10)], image_root=tmp_path / "imgs")
    save_coco(doc, tmp_path / "proj" / "p.json")
    raw = json.loads((tmp_path / "proj" / "p.json").read_text())
    assert raw[APP_KEY]["image_root"] == "../imgs"
    assert load_coco(tmp_path / "proj" / "p.json").image_root == tmp_path / "imgs"
    assert load_coco(tmp_path / "proj" / "p.json", image_root="/x").image_root == Path("/x")
    save_coco(doc, tmp_path / "proj" / "abs.json", absolute_paths=True)
    raw = json.loads((tmp_path / "proj" / "abs.json").read_text())
    assert raw[APP_KEY]["image_root"] == (tmp_path / "imgs").as_posix()


def test_bbox_from_keypoints() -> None:
    kp = np.zeros((K, 3))
    assert bbox_from_keypoints(kp) is None
    kp[0] = (10, 20, 2)
    kp[1] = (30, 60, 1)
    kp[2] = (500, 500, 0)  # not labelled: ignored
    box = bbox_from_keypoints(kp, margin=0.1)
    np.testing.assert_allclose(box, [8, 16, 24, 48])
    single = np.zeros((K, 3))
    single[3] = (5, 5, 2)
    b = bbox_from_keypoints(single)
    assert b[2] > 0 and b[3] > 0
    np.testing.assert_allclose(bbox_from_keypoints(kp, image_size=(30, 50)), [8, 16, 22, 34])  # clipped


def test_from_prediction() -> None:
    pred = np.c_[np.arange(K, dtype=float), np.arange(K, dtype=float) * 2, np.linspace(0, 1, K)]
    pred[3, 0] = np.nan
    inst = Instance.from_prediction(pred, score=0.7, box=[10, 20, 110, 220], min_confidence=0.1)
    np.testing.assert_allclose(inst.bbox, [10, 20, 100, 200])
    assert inst.score == 0.7 and not inst.is_edited and inst.is_prediction
    assert inst.keypoints[0, 2] == 0  # conf 0 < 0.1
    assert inst.keypoints[3].tolist() == [0, 0, 0]  # NaN position
    assert inst.keypoints[5].tolist() == [5, 10, 2]
    np.testing.assert_allclose(inst.joint_scores, np.nan_to_num(pred[:, 2]))

    class Result:
        keypoints = pred
        score = 0.5
        box = np.array([0, 0, 10, 10])

    r = Instance.from_pose_result(Result())
    assert r.score == 0.5 and r.bbox.tolist() == [0, 0, 10, 10]
    assert Instance.from_prediction(pred, box=[1, 2, 3, 4], box_format="xywh").bbox.tolist() == [1, 2, 3, 4]


def test_instance_equality_and_copy() -> None:
    a = Instance(np.ones((K, 3)), bbox=[1, 2, 3, 4], joint_scores=np.full(K, np.nan), extra={"a": [1]})
    b = a.copy()
    assert a == b
    b.extra["a"].append(2)
    assert a.extra == {"a": [1]}  # deep copy of extra
    b = a.copy()
    b.keypoints[0, 0] = 5
    assert a != b
    assert a != a.copy().__class__(np.ones((K, 3)))


def test_big_document_is_written_in_chunks_identical_to_json_dumps(tmp_path: Path) -> None:
    """Batched fast encoding gives compact JSON equal to json.dumps' (same values, same float text)."""
    from hrnet.annotations import write_json_atomic

    rng = np.random.default_rng(0)
    doc = PoseDocument(frames=[Frame(i + 1, f"{i}.png", 64, 48, [Instance(_kps(rng)) for _ in range(2)])
                               for i in range(700)])
    data = to_coco_dict(doc)
    write_json_atomic(data, tmp_path / "big.json")
    text = (tmp_path / "big.json").read_text(encoding="utf-8")
    assert json.loads(text) == data
    save_coco(doc, tmp_path / "fast.json", update_path=False)  # fast encoder: compact, json's float text
    fast = (tmp_path / "fast.json").read_text(encoding="utf-8")
    (tmp_path / "fast.json").unlink()
    assert fast == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    assert load_coco(tmp_path / "big.json") == doc
    with pytest.raises(ValueError):
        write_json_atomic({"a": [1.0, float("inf")]}, tmp_path / "inf.json")
    assert not (tmp_path / "inf.json").exists()
    doc.frames[0].instances[0].score = float("nan")
    with pytest.raises(AnnotationError, match="score"):
        save_coco(doc, tmp_path / "big.json")
    assert load_coco(tmp_path / "big.json").frames[0].instances[0].score is None  # previous file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json"]


def test_copies_are_independent() -> None:
    doc = rich_document()
    snap = doc.copy()
    assert snap == doc
    snap.frames[0].instances[1].keypoints[0, 0] = -1
    snap.frames[0].instances[1].extra["attributes"]["occluded"] = False
    snap.frames[0].crowd[0]["area"] = 1
    snap.extra["info"]["year"] = 1
    assert doc == rich_document()


def test_shallow_snapshot_keeps_structure_independent(tmp_path: Path) -> None:
    doc = rich_document()
    snap = doc.copy(share_arrays=True)
    assert snap == doc
    doc.frames[0].instances.pop()
    doc.frames[0].instances[0].id = 1234
    doc.frames[0].reviewed = False
    doc.frames[1].instances[0].keypoints = np.ones((K, 3))  # replaced, as commands do
    assert snap == rich_document()
    save_coco(snap, tmp_path / "s.json")  # ids assigned to the snapshot's people only
    assert doc.frames[0].instances[1].id == 99 and doc.frames[0].instances[0].id == 1234


def test_people_are_written_with_the_documents_category(tmp_path: Path) -> None:
    data = _valid()
    data["categories"][0]["id"] = 7
    for ann in data["annotations"]:
        ann["category_id"] = 7
    (tmp_path / "in.json").write_text(json.dumps(data))
    doc = load_coco(tmp_path / "in.json")
    doc.frames[1].instances.append(Instance.from_prediction(np.ones((K, 3))))  # category_id 1 by default
    save_coco(doc, tmp_path / "out.json")
    back = load_coco(tmp_path / "out.json")
    assert back == doc and len(back.frames[1].instances) == 2
    assert {a["category_id"] for a in json.loads((tmp_path / "out.json").read_text())["annotations"]} == {7}


def test_columnar_writer_and_reader_match_the_per_record_rules(tmp_path: Path) -> None:
    """Vectorised auto boxes equal bbox_from_keypoints; the fast reader still names bad records."""
    rng = np.random.default_rng(3)
    people = []
    for n in range(60):
        kp = _kps(rng)
        kp[rng.random(K) < 0.5, 2] = 0.0
        if n % 7 == 0:
            kp[:, 2] = 0.0  # nothing labelled: a zero box
        if n % 5 == 0:
            kp[: K - 1, 2] = 0.0  # one joint: the min_size box
        people.append(Instance(kp, score=float(rng.random()) if n % 2 else None))
    doc = PoseDocument(frames=[Frame(i + 1, f"{i}.png", 64 if i % 2 else 0, 48 if i % 2 else 0, people[i * 3:i * 3 + 3])
                               for i in range(20)])
    data = to_coco_dict(doc)
    for ann, inst in zip(data["annotations"], people):
        fr = next(f for f in doc.frames if any(p is inst for p in f.instances))
        size = (fr.width, fr.height) if fr.width else None
        want = bbox_from_keypoints(inst.keypoints, image_size=size)
        assert ann["bbox"] == (want.tolist() if want is not None else [0.0] * 4)
        assert all(type(v) is int for v in ann["keypoints"][2::3])
    save_coco(doc, tmp_path / "a.json")
    assert load_coco(tmp_path / "a.json") == doc

    raw = json.loads((tmp_path / "a.json").read_text())
    raw["annotations"][5]["keypoints"][4] = True
    (tmp_path / "b.json").write_text(json.dumps(raw))
    with pytest.raises(AnnotationError, match=r"annotations\[5\].*'keypoints'\[4\]"):
        load_coco(tmp_path / "b.json")
    raw["annotations"][5]["keypoints"][4] = 1.0
    raw["annotations"][7]["bbox"] = [0, 0, -1, 3]
    raw["annotations"][7].pop("hrnet_annotator", None)  # a stored box, not an auto one
    (tmp_path / "b.json").write_text(json.dumps(raw))
    with pytest.raises(AnnotationError, match=r"annotations\[7\].*'bbox' width and height"):
        load_coco(tmp_path / "b.json")
    doc.frames[3].extra["weird"] = [1.0, float("nan")]
    with pytest.raises(AnnotationError, match=r"image 4 .*NaN"):
        save_coco(doc, tmp_path / "a.json")


def test_parsing_in_pieces_equals_one_piece(tmp_path: Path) -> None:
    from hrnet import fastjson

    rng = np.random.default_rng(5)
    doc = PoseDocument(frames=[Frame(i + 1, f"{i}.png", 64, 48, [Instance(_kps(rng)) for _ in range(3)])
                               for i in range(3000)], extra={"info": {"a": [1, 2.5, None, "é"]}})
    save_coco(doc, tmp_path / "a.json")
    raw = (tmp_path / "a.json").read_bytes()
    assert len(raw) > (1 << 20)
    seen: list[float] = []
    assert fastjson.loads_in_pieces(raw, batch=500, progress=seen.append) == json.loads(raw)
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] <= 1.0
    assert fastjson.loads_in_pieces(b"[1, 2]") == [1, 2]
    steps: list[float] = []
    assert load_coco(tmp_path / "a.json", progress=steps.append) == doc
    assert steps[0] == 0.0 and steps == sorted(steps)


def test_reading_and_writing_pause_the_cyclic_gc_and_restore_it(tmp_path) -> None:
    import gc

    from hrnet.annotations.schema import gc_paused

    seen = []
    probe = gc_paused(lambda: seen.append(gc.isenabled()) or 7)
    assert gc.isenabled()
    assert probe() == 7 and seen == [False] and gc.isenabled()  # paused inside, on again after
    gc.disable()
    try:
        probe()
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
    doc = PoseDocument(frames=[Frame(1, "a.png", 10, 10)])
    save_coco(doc, tmp_path / "a.json")
    assert load_coco(tmp_path / "a.json") == doc and gc.isenabled()
