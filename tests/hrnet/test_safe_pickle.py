"""MMPose 1.x / mmengine checkpoints load without mmengine and without running anything from the file.

The stand-in files are built the way mmengine's ``Runner.save_checkpoint`` and MMPose's
``publish_model.py`` write them: ``meta.dataset_meta`` with numpy arrays, ``message_hub`` with
``HistoryBuffer`` objects whose statistics methods pickle as ``getattr(HistoryBuffer, 'min')``
(protocol 2), ``param_schedulers`` with a ``collections.Counter``, weights under ``backbone.``/``head.``.
"""

from __future__ import annotations

import os
import pickle
import sys
import types
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch

import hrnet
from hrnet.config import load_config
from hrnet.errors import CheckpointError
from hrnet.models import build_model
from hrnet.models.checkpoint import load_checkpoint, read_checkpoint
from hrnet.models.safe_pickle import Placeholder
from hrnet.weights import REGISTRY, find_entry, weights_experiment

SYNTH = "synthetic/hrnet_w16_128x96"


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(1)
    model = build_model(load_config(SYNTH), is_train=False)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def fake_mmengine(monkeypatch, tmp_path):
    """A module named like mmengine's, whose objects leave a marker file if their code ever runs."""
    marker = tmp_path / "mmengine-code-ran"
    mod = types.ModuleType("mmengine.logging.history_buffer")

    class HistoryBuffer:
        def __init__(self):
            self._log_history = np.array([0.5, 0.25])
            self._count_history = np.array([1, 1])
            self._statistics_methods = {"min": HistoryBuffer.min, "mean": HistoryBuffer.mean}

        def min(self, window_size=None):
            return float(self._log_history.min())

        def mean(self, window_size=None):
            return float(self._log_history.mean())

        def __setstate__(self, state):  # would run on a real unpickle of the class
            marker.write_text("setstate")
            self.__dict__.update(state)

    HistoryBuffer.__module__ = mod.__name__
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    for fn in (HistoryBuffer.min, HistoryBuffer.mean):
        fn.__module__, fn.__qualname__ = mod.__name__, f"HistoryBuffer.{fn.__name__}"
    mod.HistoryBuffer = HistoryBuffer
    for name in ("mmengine", "mmengine.logging"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return HistoryBuffer, marker


def _mmpose1_checkpoint(sd, HistoryBuffer, extra_meta=None, extra_hub=None):
    weights = OrderedDict()
    for k, v in sd.items():
        weights[("head." + k) if k.startswith("final_layer") else ("backbone." + k)] = v
    meta = {
        "epoch": 210, "iter": 1000, "seed": 0, "mmengine_version": "0.8.4",
        "dataset_meta": {
            "dataset_name": "coco", "num_keypoints": 17,
            "sigmas": np.array([0.026, 0.025, 0.025] + [0.035] * 14, dtype=np.float32),
            "keypoint_colors": np.zeros((17, 3), dtype=np.uint8),
            "flip_indices": [0, 2, 1, 4, 3] + list(range(5, 17)),
        },
        **(extra_meta or {}),
    }
    hub = {"log_scalars": {"train/loss": HistoryBuffer(), "train/lr": HistoryBuffer()}, **(extra_hub or {})}
    return {
        "meta": meta,
        "state_dict": weights,
        "message_hub": hub,
        "param_schedulers": [{"milestones": Counter({170: 1, 200: 1}), "gamma": 0.1, "last_step": 210}],
    }


def test_mmpose1_file_is_refused_by_weights_only_but_loads_the_same_weights(tmp_path, official, fake_mmengine):
    HistoryBuffer, marker = fake_mmengine
    path = tmp_path / "td-hm_hrnet-w16_coco-128x96-00000000_20220909.pth"
    torch.save(_mmpose1_checkpoint(official, HistoryBuffer), path)
    with pytest.raises(pickle.UnpicklingError):  # the case this module exists for
        torch.load(path, weights_only=True)
    # Loaded with the fake module still importable: its code must not run even then.
    model = build_model(load_config(SYNTH), is_train=False)
    info = load_checkpoint(model, path)
    assert "MMPose 1.x" in info.format and info.epoch == 210
    own = model.state_dict()
    for k, v in official.items():
        assert torch.equal(own[k], v), k
    assert not marker.exists()
    # the numpy metadata is real, the mmengine objects are inert placeholders
    ds = info.metadata["meta"]["dataset_meta"]
    np.testing.assert_allclose(ds["sigmas"][:3], [0.026, 0.025, 0.025])
    assert ds["keypoint_colors"].shape == (17, 3)
    obj = read_checkpoint(path)
    buf = obj["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buf, Placeholder) and "HistoryBuffer" in buf.pickled_as
    assert isinstance(obj["param_schedulers"][0]["milestones"], Counter)


def test_mmpose1_file_loads_without_mmengine(tmp_path, official, fake_mmengine, monkeypatch):
    HistoryBuffer, marker = fake_mmengine
    path = tmp_path / "ckpt.pth"
    torch.save(_mmpose1_checkpoint(official, HistoryBuffer), path)
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.delitem(sys.modules, name)
    model = build_model(load_config(SYNTH), is_train=False)
    load_checkpoint(model, path)
    assert torch.equal(model.state_dict()["final_layer.weight"], official["final_layer.weight"])
    assert not marker.exists()


def _payload(marker):
    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    return Payload()


def _exec_payload(marker):
    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    return Payload()


@pytest.mark.parametrize("where", ["meta", "message_hub", "object_array"])
def test_hostile_object_anywhere_never_runs(tmp_path, official, fake_mmengine, where):
    HistoryBuffer, _ = fake_mmengine
    marker = tmp_path / "code-ran"
    if where == "meta":
        ckpt = _mmpose1_checkpoint(official, HistoryBuffer, extra_meta={"cfg": _payload(marker)})
    elif where == "message_hub":
        ckpt = _mmpose1_checkpoint(official, HistoryBuffer, extra_hub={"runtime_info": {"x": _exec_payload(marker)}})
    else:
        arr = np.empty(2, dtype=object)
        arr[0], arr[1] = 1, _payload(marker)
        ckpt = _mmpose1_checkpoint(official, HistoryBuffer, extra_meta={"arr": arr})
    path = tmp_path / "evil.pth"
    torch.save(ckpt, path)
    assert not marker.exists()
    model = build_model(load_config(SYNTH), is_train=False)
    with pytest.raises(CheckpointError, match=r"Refused to load .*evil.pth.*(mkdir|exec)"):
        load_checkpoint(model, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="Refused to load"):  # the experiment lookup says why, too
        weights_experiment(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "refused"),
    [
        # getattr(shutil.rmtree, '__call__')('/x'): a code-running global behind builtins.getattr
        (b"cbuiltins\ngetattr\n(cshutil\nrmtree\nV__call__\ntR(V/nonexistent\ntR.", True),
        # getattr(some_lab.Thing, 'run')('x'): unknown names only ever give placeholders, calls included
        (b"cbuiltins\ngetattr\n(csome_lab\nThing\nVrun\ntR(Vx\ntR.", False),
        # copyreg._reconstructor(posix.system ...) style: refused by name
        (b"cposix\nsystem\n(Vtrue\ntR.", True),
    ],
)
def test_restricted_unpickler_on_raw_opcodes(data, refused):
    from hrnet.models.safe_pickle import UnsafeCheckpointError, _pickle_module

    loads = _pickle_module().loads
    if refused:
        with pytest.raises(UnsafeCheckpointError):
            loads(data)
    else:
        out = loads(data)
        assert isinstance(out, Placeholder)


def test_unknown_class_code_never_runs_even_when_importable(tmp_path, official, monkeypatch):
    """A class the file names that is not on the allow-list becomes a placeholder: its ``__reduce__``
    target, ``__init__`` and ``__setstate__`` are never called, even though it can be imported."""
    marker = tmp_path / "ran"
    mod = types.ModuleType("some_lab_tools")

    class Recorder:
        def __init__(self, *a):
            marker.write_text("init")

        def __setstate__(self, state):
            marker.write_text("setstate")

    Recorder.__module__, Recorder.__qualname__ = "some_lab_tools", "Recorder"
    mod.Recorder = Recorder
    monkeypatch.setitem(sys.modules, "some_lab_tools", mod)
    rec = Recorder.__new__(Recorder)
    rec.__dict__["x"] = 1
    path = tmp_path / "lab.pth"
    torch.save({"state_dict": official, "extra": rec}, path)
    obj = read_checkpoint(path)
    assert isinstance(obj["extra"], Placeholder) and obj["extra"].pickled_as == "some_lab_tools.Recorder"
    assert not marker.exists()
    # placeholders are inert when called too
    assert isinstance(obj["extra"](1, 2), Placeholder)


def test_predictor_reports_the_refusal_reason(tmp_path, official, fake_mmengine):
    HistoryBuffer, _ = fake_mmengine
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save(_mmpose1_checkpoint(official, HistoryBuffer, extra_meta={"x": _payload(marker)}), path)
    with pytest.raises(CheckpointError, match="Refused to load .*evil.pth") as info:
        hrnet.Predictor(None, weights=path, device="cpu")
    assert "Cannot tell which experiment" not in str(info.value)
    assert not marker.exists()


def test_older_torch_wording_still_falls_back(tmp_path, official, fake_mmengine, monkeypatch):
    """torch 2.2/2.3 word the refusal "Unsupported class ..." instead of "Unsupported global: GLOBAL ..."."""
    HistoryBuffer, _ = fake_mmengine
    path = tmp_path / "ckpt.pth"
    torch.save(_mmpose1_checkpoint(official, HistoryBuffer), path)
    real_load = torch.load

    def old_torch_load(*args, **kwargs):
        if kwargs.get("weights_only"):
            raise pickle.UnpicklingError(
                "Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely "
                "succeed, but it can result in arbitrary code execution. Do it only if you get the file from a "
                "trusted source. WeightsUnpickler error: Unsupported class numpy.core.multiarray._reconstruct"
            )
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", old_torch_load)
    model = build_model(load_config(SYNTH), is_train=False)
    load_checkpoint(model, path)
    assert torch.equal(model.state_dict()["final_layer.weight"], official["final_layer.weight"])


def test_registry_has_the_mmpose1_hrnet_checkpoints():
    v1 = {k: e for k, e in REGISTRY.items() if k.startswith("mmpose1_")}
    assert len(v1) == 8
    for e in v1.values():
        assert e.url.startswith("https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/")
        assert e.url.endswith(e.file_name) and e.sha256 and len(e.sha256) == 8 and e.sha256 in e.file_name
        assert find_entry(e.aliases[0]) is e and find_entry(f"/tmp/{e.file_name}") is e
        cfg = load_config(e.experiment, e.opts)
        assert tuple(cfg.MODEL.IMAGE_SIZE) == e.input_size
        assert (cfg.TEST.DECODE == "dark") == e.name.endswith("_dark")
    assert find_entry("td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth").name == (
        "mmpose1_hrnet_w32_coco_256x192")


# -- the keypoint set of an MMPose 1.x checkpoint: meta.dataset_meta ------------------------------
def _dataset_meta(kset, name, links=None):
    """``dataset_meta`` as mmengine's runner stores it (MMPose's parse_pose_metainfo): id<->name
    maps, skeleton links as id tuples, flip indices and pairs, float32 sigmas and weights, colours."""
    k = len(kset)
    flip = list(range(k))
    for a, b in kset.flip_pairs:
        flip[a], flip[b] = b, a
    links = list(kset.skeleton) if links is None else links
    return {
        "dataset_name": name, "num_keypoints": k,
        "keypoint_id2name": {i: n for i, n in enumerate(kset.names)},
        "keypoint_name2id": {n: i for i, n in enumerate(kset.names)},
        "upper_body_ids": list(kset.upper_body_ids), "lower_body_ids": list(kset.lower_body_ids),
        "flip_indices": flip, "flip_pairs": [list(p) for p in kset.flip_pairs],
        "keypoint_colors": np.full((k, 3), 255, dtype=np.uint8),
        "num_skeleton_links": len(links), "skeleton_links": [tuple(e) for e in links],
        "skeleton_link_colors": np.zeros((len(links), 3), dtype=np.uint8),
        "dataset_keypoint_weights": np.ones(k, dtype=np.float32),
        "sigmas": np.array(kset.oks_sigmas(), dtype=np.float32),
    }


def test_mmpose1_checkpoint_carries_its_keypoint_set(tmp_path, official, fake_mmengine):
    from hrnet.keypoints import COCO_17, KeypointSet
    from hrnet.models.checkpoint import predicted_keypoint_set, read_keypoint_set

    HistoryBuffer, marker = fake_mmengine
    # MMPose's COCO metadata lists the official edges in its own order: still COCO-17, with its weights
    links = [tuple(e) for e in reversed(COCO_17.skeleton)]
    path = tmp_path / "coco.pth"
    ck = _mmpose1_checkpoint(official, HistoryBuffer)
    ck["meta"]["dataset_meta"] = _dataset_meta(COCO_17, "coco", links)
    torch.save(ck, path)
    assert read_keypoint_set(path) is COCO_17 and predicted_keypoint_set(path) is COCO_17
    pred = hrnet.Predictor(SYNTH, weights=path, device="cpu", optimize=False)
    assert pred.keypoint_set is COCO_17
    assert not marker.exists()

    # a set of its own (an animal), with a placeholder object beside the metadata
    animal = KeypointSet.from_names(
        ["nose", "l_ear", "r_ear", "neck", "tail_base", "L_front_paw", "R_front_paw", "l_back_paw", "r_back_paw",
         "tail_tip", "back", "belly", "chin", "head_top", "withers", "croup", "hock"],
        skeleton=[(0, 12), (12, 3), (3, 14), (14, 10), (10, 15), (15, 4), (4, 9), (3, 5), (3, 6), (15, 7), (15, 8)],
        sigmas=[0.05] * 17, name="zoo")
    meta = _dataset_meta(animal, "zoo_animals")
    meta["dataset_keypoint_weights"] = np.linspace(1, 2, 17).astype(np.float32)
    ck = _mmpose1_checkpoint(official, HistoryBuffer, extra_meta={"dataset_meta": meta})
    path = tmp_path / "zoo.pth"
    torch.save(ck, path)
    got = read_keypoint_set(path)
    assert got.names == animal.names and got.skeleton == animal.skeleton and got.name == "zoo_animals"
    assert set(got.flip_pairs) == {(1, 2), (5, 6), (7, 8)} and got.oks_sigmas() == (0.05,) * 17
    assert got.joints_weight[0] == 1.0 and got.joints_weight[-1] == 2.0
    pred = hrnet.Predictor(SYNTH, weights=path, device="cpu", optimize=False)
    assert pred.keypoint_names[:3] == ["nose", "l_ear", "r_ear"] and pred.flip_pairs == list(got.flip_pairs)
    # ... so a model for another set starts from its channels by name
    from hrnet.models.checkpoint import load_for_keypoint_set

    target = KeypointSet.from_names(["tail_tip", "nose", "wing"])
    cfg = load_config(SYNTH, ["MODEL.NUM_JOINTS", "3"])
    res = load_for_keypoint_set(build_model(cfg, is_train=False), path, target)
    assert res.copied_joints == ["tail_tip", "nose"] and res.new_joints == ["wing"]
    assert not marker.exists()


def test_mmpose1_dataset_meta_that_is_partial_or_malformed():
    from hrnet.keypoints import default_sigma
    from hrnet.models.checkpoint import checkpoint_keypoint_set, keypoint_set_from_mmpose
    from hrnet.models.safe_pickle import Placeholder

    names = {0: "head", 1: "left_hand", 2: "right_hand"}
    # names only (from either map): flip pairs by the left/right rule, default sigmas
    for meta in ({"keypoint_id2name": names}, {"keypoint_name2id": {v: k for k, v in names.items()}}):
        kset = keypoint_set_from_mmpose(meta)
        assert kset.names == ("head", "left_hand", "right_hand") and kset.flip_pairs == ((1, 2),)
    # malformed optional fields are dropped, the names stay
    kset = keypoint_set_from_mmpose({"keypoint_id2name": names, "skeleton_links": [(0, 7)], "flip_indices": [0, 5, 1],
                                     "sigmas": np.array([0.1, 0.2]), "dataset_name": "odd"})
    assert kset.skeleton == () and kset.flip_pairs == ((1, 2),)
    assert kset.oks_sigmas() == tuple(default_sigma(n) for n in names.values()) and kset.name == "odd"
    # no usable names: not known (never an exception)
    for meta in ({}, {"keypoint_id2name": {1: "a", 2: "b"}}, {"keypoint_id2name": Placeholder("x.Y")},
                 {"keypoint_id2name": {"zero": "a"}}):
        assert keypoint_set_from_mmpose(meta) is None
    assert checkpoint_keypoint_set({"meta": {"dataset_meta": Placeholder("x.Y")}}) is None
    assert checkpoint_keypoint_set({"meta": {"epoch": 3}}) is None
