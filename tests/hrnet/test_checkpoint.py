from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import hrnet
from hrnet.config import load_config
from hrnet.errors import CheckpointError
from hrnet.models import build_model, create_variant
from hrnet.models.checkpoint import infer_architecture, load_checkpoint, normalize_state_dict

SYNTH = "synthetic/hrnet_w16_128x96"


@pytest.fixture(scope="module")
def source():
    """A W16 model with distinctive weights, and its state_dict."""
    torch.manual_seed(0)
    model = build_model(load_config(SYNTH), is_train=True)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def target():
    return build_model(load_config(SYNTH), is_train=False)


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


def _assert_loaded(model, sd):
    own = model.state_dict()
    assert own.keys() == sd.keys()
    for k, v in sd.items():
        assert torch.equal(own[k], v), k


def _official_training_checkpoint(sd, epoch=7):
    model = build_model(load_config(SYNTH), is_train=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(1, 3, 64, 64)).mean().backward()
    opt.step()
    return {
        "epoch": epoch,
        "model": "pose_hrnet",
        "state_dict": {f"module.{k}": v for k, v in sd.items()},
        "best_state_dict": dict(sd),
        "perf": 0.731,
        "optimizer": opt.state_dict(),
    }


def test_bare_state_dict(tmp_path, source, target):
    _, sd = source
    info = load_checkpoint(target, _save(sd, tmp_path / "pose_hrnet_w16.pth"))
    _assert_loaded(target, sd)
    assert info.format == "state_dict"
    assert info.epoch is None
    assert info.num_tensors == len(sd)


def test_public_reexport(tmp_path, source, target):
    assert hrnet.load_checkpoint is load_checkpoint
    hrnet.load_checkpoint(target, _save(source[1], tmp_path / "w.pth"))
    _assert_loaded(target, source[1])


def test_official_training_checkpoint(tmp_path, source, target):
    _, sd = source
    info = load_checkpoint(target, _save(_official_training_checkpoint(sd), tmp_path / "checkpoint.pth"))
    _assert_loaded(target, sd)
    assert info.epoch == 7
    assert info.metadata["perf"] == pytest.approx(0.731)
    assert "optimizer" not in info.metadata
    assert "module." in info.format


def test_project_training_checkpoint(tmp_path, source, target):
    _, sd = source
    ckpt = {"epoch": 3, "state_dict": sd, "optimizer": {}, "config": "MODEL:\n  NAME: pose_hrnet\n",
            "best_metric": 0.5}
    info = load_checkpoint(target, _save(ckpt, tmp_path / "ckpt.pth"))
    _assert_loaded(target, sd)
    assert info.epoch == 3
    assert info.metadata["config"].startswith("MODEL")
    # a 'model' entry holding the weights works too
    load_checkpoint(target, _save({"model": sd, "epoch": 1}, tmp_path / "m.pth"))


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes(tmp_path, source, target, prefix):
    _, sd = source
    load_checkpoint(target, _save({prefix + k: v for k, v in sd.items()}, tmp_path / "ddp.pth"))
    _assert_loaded(target, sd)


@pytest.mark.parametrize(("head", "version"), [("keypoint_head", "0.x"), ("head", "1.x")])
def test_mmpose_hrnet(tmp_path, source, target, head, version):
    _, sd = source
    mm = {(f"{head}.{k}" if k.startswith("final_layer") else f"backbone.{k}"): v for k, v in sd.items()}
    ckpt = {"meta": {"epoch": 210, "mmpose_version": "1.3.0"}, "state_dict": mm}
    info = load_checkpoint(target, _save(ckpt, tmp_path / "mmpose.pth"))
    _assert_loaded(target, sd)
    assert f"MMPose {version}" in info.format
    assert info.epoch == 210


@pytest.mark.parametrize("head", ["keypoint_head", "head"])
def test_mmpose_simplebaseline(tmp_path, head):
    src = create_variant("resnet_18", num_joints=17)
    sd = src.state_dict()
    mm = {(f"{head}.{k}" if k.startswith(("deconv_layers", "final_layer")) else f"backbone.{k}"): v
          for k, v in sd.items()}
    dst = create_variant("resnet_18", num_joints=17, init=False)
    load_checkpoint(dst, _save({"state_dict": mm}, tmp_path / "res18.pth"))
    _assert_loaded(dst, sd)


def test_missing_num_batches_tracked_is_filled(tmp_path, source, target):
    _, sd = source
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    load_checkpoint(target, _save(old, tmp_path / "old.pth"))
    _assert_loaded(target, old | {k: target.state_dict()[k] for k in sd if k not in old})


def _unchanged(model, before):
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_other_joint_count_is_refused_without_partial_load(tmp_path, source):
    _, sd = source
    model = build_model(load_config(SYNTH, ["MODEL.NUM_JOINTS", "16"]), is_train=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(model, _save(sd, tmp_path / "coco17.pth"))
    msg = str(e.value)
    assert "checkpoint has 17 joints, model has 16" in msg
    assert "final_layer.weight [17, 16, 1, 1] vs model [16, 16, 1, 1]" in msg
    assert "coco17.pth" in msg
    assert _unchanged(model, before)


def test_other_architecture_is_refused_with_a_summary(tmp_path, source):
    _, sd = source
    w32 = build_model(load_config("coco/hrnet/w32_256x192", ["MODEL.PRETRAINED", ""]), is_train=False)
    before = {k: v.clone() for k, v in w32.state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(w32, _save(sd, tmp_path / "w16.pth"))
    msg = str(e.value)
    assert "checkpoint looks like pose_hrnet W16, model is pose_hrnet W32" in msg
    assert "missing key(s)" in msg and "different shape" in msg and "more)" in msg
    assert len(msg) < 1500
    assert _unchanged(w32, before)

    resnet = create_variant("resnet_18", init=False)
    with pytest.raises(CheckpointError, match=r"missing key\(s\).*unexpected key\(s\)"):
        load_checkpoint(resnet, tmp_path / "w16.pth")


def test_unexpected_extra_keys_are_refused(tmp_path, source, target):
    _, sd = source
    with pytest.raises(CheckpointError, match=r"1 unexpected key\(s\): extra.weight"):
        load_checkpoint(target, _save(sd | {"extra.weight": torch.zeros(1)}, tmp_path / "x.pth"))


def test_malicious_pickle_does_not_run(tmp_path, target):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = _save({"state_dict": {"w": torch.zeros(1)}, "payload": Payload()}, tmp_path / "evil.pth")
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="Refused to load .*evil.pth"):
        load_checkpoint(target, path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", "truncated"])
def test_corrupt_files(tmp_path, source, target, content):
    path = tmp_path / "bad.pth"
    if content == "truncated":
        torch.save(source[1], path)
        path.write_bytes(path.read_bytes()[:5000])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="Cannot read checkpoint .*bad.pth"):
        load_checkpoint(target, path)


def test_missing_file_and_non_weight_content(tmp_path, target):
    with pytest.raises(CheckpointError, match="not found: .*nope.pth"):
        load_checkpoint(target, tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="no model weights"):
        load_checkpoint(target, _save({"epoch": 1, "perf": 0.3}, tmp_path / "meta.pth"))
    with pytest.raises(CheckpointError, match="expected a dict"):
        load_checkpoint(target, _save([torch.zeros(1)], tmp_path / "list.pth"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SYNTH, {"model_name": "pose_hrnet", "width": 16, "num_joints": 17, "num_modules": [1, 1, 1, 1],
                 "num_blocks": 2, "block": "BASIC"}),
        ("coco/hrnet/w48_256x192", {"model_name": "pose_hrnet", "width": 48, "num_joints": 17,
                                    "num_modules": [1, 1, 4, 3], "num_branches": [1, 2, 3, 4], "num_blocks": 4}),
        ("mpii/resnet/res152_256x256", {"model_name": "pose_resnet", "num_layers": 152, "num_joints": 16,
                                        "deconv_filters": [256] * 3, "deconv_kernels": [4] * 3,
                                        "deconv_with_bias": False}),
    ],
)
def test_infer_architecture(name, expected):
    sd = build_model(load_config(name, ["MODEL.PRETRAINED", ""]), is_train=False).state_dict()
    arch = infer_architecture(sd)
    assert arch.items() >= expected.items()
    mm = {f"backbone.{k}": v for k, v in sd.items()}
    assert infer_architecture(mm)["model_name"] == expected["model_name"]


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_infer_resnet_depth(depth):
    sd = create_variant(f"resnet_{depth}", num_joints=14, init=False).state_dict()
    for state in (sd, {f"module.{k}": v for k, v in sd.items()}):
        arch = infer_architecture(state)
        assert (arch["model_name"], arch["num_layers"], arch["num_joints"]) == ("pose_resnet", depth, 14)


def test_infer_architecture_unknown():
    assert infer_architecture({"encoder.weight": torch.zeros(2)}) == {}


def test_normalize_reports_conversions():
    sd, applied = normalize_state_dict({"module.backbone.conv1.weight": torch.zeros(1),
                                        "module.keypoint_head.final_layer.weight": torch.zeros(1)})
    assert set(sd) == {"conv1.weight", "final_layer.weight"}
    assert applied == ["'module.' prefix", "MMPose 0.x"]
