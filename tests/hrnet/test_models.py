"""Model tests, parametrised over the shipped experiments and the model registry.

The fixtures in tests/hrnet/data were generated from the OFFICIAL networks
(deep-high-resolution-net.pytorch ``lib/models``, ``get_pose_net(cfg, is_train=False)``) with the
helpers in tests/hrnet/model_utils.py, so these tests prove equality with the official code:

- official_coco_w32_256x192_keys.json.gz: the ordered [key, shape] list of HRNet-W32 256x192;
- official_architectures.json: per shipped experiment, sha256 of that list, tensor and parameter counts;
- official_outputs_64x64.npz: official heatmaps for deterministic weights and input (64x64 image).
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hrnet.config import list_experiments, load_config
from hrnet.errors import CheckpointError
from hrnet.models import (
    MODELS,
    VARIANTS,
    PoseHighResolutionNet,
    PoseResNet,
    build_model,
    create_variant,
    list_models,
    model_kwargs,
)
from hrnet.models.pose_hrnet import StageSpec, hrnet_stages
from tests.hrnet.model_utils import deterministic_input, deterministic_state, key_shapes, key_shapes_sha256

DATA = Path(__file__).parent / "data"
OFFICIAL = json.loads((DATA / "official_architectures.json").read_text())["experiments"]
EXPERIMENTS = list_experiments()
W32 = "coco/hrnet/w32_256x192_adam_lr1e-3"


def _cfg(name: str, *opts: str):
    return load_config(name, ["MODEL.PRETRAINED", "", *opts])


@pytest.fixture(autouse=True)
def _few_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_shipped_experiment_has_an_official_fixture():
    assert set(EXPERIMENTS) == set(OFFICIAL)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_state_dict_layout_matches_official(name):
    model = build_model(_cfg(name), is_train=False)
    sd = model.state_dict()
    expected = OFFICIAL[name]
    assert type(model) is MODELS[expected["model"]]
    assert len(sd) == expected["num_tensors"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"]
    assert key_shapes_sha256(sd) == expected["sha256"]
    assert model.num_joints == expected["num_joints"]


def test_w32_key_list_equals_official():
    with gzip.open(DATA / "official_coco_w32_256x192_keys.json.gz", "rt") as f:
        official = json.load(f)
    model = build_model(_cfg(W32), is_train=False)
    ours = key_shapes(model.state_dict())
    assert len(ours) == len(official) == 1754
    for i, (a, b) in enumerate(zip(ours, official)):
        assert a == b, f"entry {i}: {a} != official {b}"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        (W32, 28_536_113),
        ("coco/hrnet/w48_256x192_adam_lr1e-3", 63_595_745),
        ("coco/resnet/res50_256x192_d256x3_adam_lr1e-3", 33_999_697),
        ("coco/resnet/res101_256x192_d256x3_adam_lr1e-3", 52_991_825),
        ("coco/resnet/res152_256x192_d256x3_adam_lr1e-3", 68_635_473),
        ("mpii/hrnet/w32_256x256_adam_lr1e-3", 28_536_080),
        ("synthetic/hrnet_w16_128x96", 1_602_273),
    ],
)
def test_parameter_counts(name, params):
    # The published sizes (official README: W32 28.5M, W48 63.6M, ResNet-50 34.0M ...) against the
    # fixture that test_state_dict_layout_matches_official checks every built network against:
    # no network is built again here.
    assert OFFICIAL[name]["num_params"] == params


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("synthetic_w16", "synthetic/hrnet_w16_128x96"),
        ("coco_res50", "coco/resnet/res50_256x192"),
        ("coco_w32", "coco/hrnet/w32_256x192"),
    ],
)
def test_outputs_equal_official(key, name):
    expected = torch.from_numpy(np.load(DATA / "official_outputs_64x64.npz")[key])
    model = build_model(_cfg(name), is_train=False)
    model.load_state_dict(deterministic_state(model.state_dict()), strict=True)
    model.eval()
    with torch.inference_mode():
        out = model(deterministic_input((1, 3, 64, 64)))
    assert out.shape == expected.shape
    scale = expected.abs().max()
    assert scale > 0.01  # the weights exercise the network
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5 * float(scale))


def test_synthetic_output_shape_at_configured_size():
    cfg = load_config("synthetic/hrnet_w16_128x96")
    model = build_model(cfg).eval()
    w, h = cfg.MODEL.IMAGE_SIZE
    with torch.inference_mode():
        out = model(torch.randn(2, 3, h, w))
    assert tuple(out.shape) == (2, cfg.MODEL.NUM_JOINTS, *reversed(cfg.MODEL.HEATMAP_SIZE))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_forward_shape(variant):
    model = create_variant(variant, num_joints=5).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 64, 96))
    assert tuple(out.shape) == (1, 5, 16, 24)


def test_registry():
    assert list_models() == ["pose_hrnet", "pose_resnet"]
    assert MODELS["pose_hrnet"] is PoseHighResolutionNet and MODELS["pose_resnet"] is PoseResNet
    name, kwargs = model_kwargs(_cfg(W32))
    assert name == "pose_hrnet"
    assert kwargs["stages"] == hrnet_stages(32)
    assert kwargs["num_joints"] == 17
    name, kwargs = model_kwargs(_cfg("mpii/resnet/res101_256x256"))
    assert (name, kwargs["num_layers"], kwargs["num_joints"]) == ("pose_resnet", 101, 16)


def test_models_take_explicit_arguments():
    model = PoseHighResolutionNet(hrnet_stages(8, num_blocks=1), num_joints=3, final_conv_kernel=3)
    assert model.final_layer.weight.shape == (3, 8, 3, 3)
    with pytest.raises(ValueError, match="num_branches"):
        StageSpec(1, 2, "BASIC", (4,), (32, 64))
    with pytest.raises(ValueError, match="block"):
        StageSpec(1, 1, "WIDE", (4,), (32,))
    with pytest.raises(ValueError, match="num_layers"):
        PoseResNet(num_layers=42)
    resnet = PoseResNet(18, num_joints=4, deconv_filters=(32, 32), deconv_kernels=(4, 3), deconv_with_bias=True)
    with torch.inference_mode():
        assert tuple(resnet.eval()(torch.randn(1, 3, 64, 64)).shape) == (1, 4, 8, 8)


def _bn_and_convs(model: nn.Module):
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    return convs, bns


def test_official_init_hrnet():
    torch.manual_seed(0)
    model = build_model(load_config("synthetic/hrnet_w16_128x96"), is_train=True)
    convs, bns = _bn_and_convs(model)
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.std().item() - 0.001) < 5e-5
    assert all(c.bias is None or not c.bias.any() for c in convs)
    assert all((b.weight == 1).all() and not b.bias.any() for b in bns)


def test_official_init_resnet_keeps_default_final_bias():
    torch.manual_seed(0)
    model = build_model(_cfg("coco/resnet/res50_256x192", "MODEL.EXTRA.NUM_LAYERS", "18"), is_train=True)
    convs, bns = _bn_and_convs(model)
    assert abs(torch.cat([c.weight.flatten() for c in convs]).std().item() - 0.001) < 5e-5
    assert all((b.weight == 1).all() and not b.bias.any() for b in bns)
    # As in the official code, the random init leaves the final conv bias at PyTorch's default.
    assert model.final_layer.bias.abs().max() > 0


def test_is_train_false_skips_init_and_pretrained(tmp_path):
    cfg = load_config(W32)  # PRETRAINED names a file that does not exist here
    model = build_model(cfg, is_train=False)
    assert model.conv1.weight.std() > 0.01  # PyTorch default init, not N(0, 0.001)


def test_plain_build_is_for_inference_whatever_pretrained_says():
    # The README's example: a shipped COCO experiment names an ImageNet file most users do not have.
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.PRETRAINED", "models/pytorch/imagenet/missing.pth"])
    assert isinstance(build_model(cfg), PoseHighResolutionNet)


def test_explicit_pretrained_overrides_the_config(tmp_path):
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.PRETRAINED", str(tmp_path / "missing.pth")])
    imagenet = _imagenet_hrnet_state(build_model(cfg))
    path = tmp_path / "backbone.pth"
    torch.save(imagenet, path)
    model = build_model(cfg, pretrained=path)  # no is_train needed: asking for a backbone means training init
    assert torch.equal(model.state_dict()["conv1.weight"], imagenet["conv1.weight"])
    random = build_model(cfg, is_train=True, pretrained="")  # official random init, config's file ignored
    assert random.final_layer.weight.std().item() < 0.01
    with pytest.raises(CheckpointError, match="Pretrained backbone file not found"):
        build_model(cfg, pretrained=tmp_path / "nope.pth")


def test_missing_pretrained_file_is_an_error(tmp_path):
    missing = tmp_path / "hrnet_w32-36af842e.pth"
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.PRETRAINED", str(missing)])
    with pytest.raises(CheckpointError, match="hrnet_w32-36af842e.pth"):
        build_model(cfg, is_train=True)


def test_init_weights_false_builds_without_pretrained(tmp_path):
    cfg = load_config("synthetic/hrnet_w16_128x96",
                      ["MODEL.INIT_WEIGHTS", "False", "MODEL.PRETRAINED", str(tmp_path / "nope.pth")])
    assert isinstance(build_model(cfg, is_train=True), PoseHighResolutionNet)


# -- ImageNet backbones through MODEL.PRETRAINED -------------------------------------------------

def _imagenet_hrnet_state(pose_model: PoseHighResolutionNet) -> dict[str, torch.Tensor]:
    """A synthetic classification-HRNet state_dict with the key names of hrnet_w32-36af842e.pth: the
    pose backbone, stage4's last module with all fusion outputs, plus incre_modules, downsamp_modules,
    a final_layer (conv + BN) and a classifier."""
    g = torch.Generator().manual_seed(3)
    sd = {k: (torch.randn(v.shape, generator=g) if v.dtype.is_floating_point else v.clone())
          for k, v in pose_model.state_dict().items() if not k.startswith("final_layer")}
    w = pose_model.width
    last = len(pose_model.stage4) - 1
    for i in (1, 2, 3):  # the classification net's last stage keeps every resolution
        for j in range(4):
            if j != i:
                sd[f"stage4.{last}.fuse_layers.{i}.{j}.0.weight"] = torch.randn(w * 2**i, w * 2**j, 1, 1)
    sd["incre_modules.0.0.conv1.weight"] = torch.randn(32, w, 1, 1)
    sd["downsamp_modules.0.0.weight"] = torch.randn(64, 128, 3, 3)
    sd["final_layer.0.weight"] = torch.randn(64, 32, 1, 1)
    sd["final_layer.1.weight"] = torch.ones(64)
    sd["classifier.weight"] = torch.randn(10, 64)
    sd["classifier.bias"] = torch.zeros(10)
    return sd


OFFICIAL_LAYERS = str(["conv1", "bn1", "conv2", "bn2", "layer1", "transition1", "stage2", "transition2", "stage3",
                       "transition3", "stage4"])


@pytest.mark.parametrize("layers", [OFFICIAL_LAYERS, "['*']", "['conv1','bn1','layer1']"])
def test_imagenet_hrnet_backbone_initialises_training(tmp_path, layers):
    cfg0 = load_config("synthetic/hrnet_w16_128x96")
    imagenet = _imagenet_hrnet_state(build_model(cfg0, is_train=False))
    path = tmp_path / "hrnet_w16-imagenet.pth"
    torch.save(imagenet, path)
    cfg = load_config("synthetic/hrnet_w16_128x96",
                      ["MODEL.PRETRAINED", str(path), "MODEL.EXTRA.PRETRAINED_LAYERS", layers])
    model = build_model(cfg, is_train=True)
    sd = model.state_dict()
    kept = ast.literal_eval(layers)
    for k, v in sd.items():
        top = k.split(".")[0]
        if top == "final_layer":
            assert not torch.equal(v, imagenet.get(k, torch.empty(0)))
        elif kept[0] == "*" or top in kept:
            assert torch.equal(v, imagenet[k]), k
        elif k.endswith("weight") and v.ndim == 4:
            assert v.std() < 0.01, k  # official random init
    assert abs(model.final_layer.weight.std().item() - 0.001) < 3e-4
    assert not any(k.startswith(("incre_modules", "classifier")) for k in sd)


def test_imagenet_resnet_backbone_initialises_training(tmp_path):
    cfg_opts = ["MODEL.EXTRA.NUM_LAYERS", "18"]
    base = build_model(_cfg("coco/resnet/res50_256x192", *cfg_opts), is_train=False)
    g = torch.Generator().manual_seed(4)
    imagenet = {k: torch.randn(v.shape, generator=g) if v.dtype.is_floating_point else v
                for k, v in base.state_dict().items() if k.startswith(("conv1", "bn1", "layer"))}
    imagenet["fc.weight"] = torch.randn(1000, 512)
    imagenet["fc.bias"] = torch.randn(1000)
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet, path)
    model = build_model(load_config("coco/resnet/res50_256x192", ["MODEL.PRETRAINED", str(path), *cfg_opts]),
                        is_train=True)
    sd = model.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in imagenet.items() if not k.startswith("fc"))
    assert abs(model.final_layer.weight.std().item() - 0.001) < 3e-4
    assert not model.final_layer.bias.any()  # with a backbone the head bias is zeroed
    assert all((m.weight == 1).all() for m in model.deconv_layers if isinstance(m, nn.BatchNorm2d))


def test_pretrained_file_of_another_network_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, path)
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.PRETRAINED", str(path)])
    with pytest.raises(CheckpointError, match="no weights for this model"):
        build_model(cfg, is_train=True)
    big = _imagenet_hrnet_state(build_model(_cfg(W32), is_train=False))
    torch.save(big, path)
    with pytest.raises(CheckpointError, match="different shape"):
        build_model(cfg, is_train=True)


# -- summary and hrnet-info ------------------------------------------------------------------------

def test_summary_w32():
    from hrnet.models.summary import summarize_config

    s = summarize_config(_cfg(W32))
    assert s.num_params == 28_536_113
    assert s.output_shape == (17, 64, 48)
    assert s.input_size == (192, 256)
    # Conv/deconv/linear multiply-accumulates per image; equals torch.utils.flop_counter / 2.
    assert s.macs == 7_645_003_776
    assert round(s.gflops, 2) == 7.65
    assert sum(layer.macs for layer in s.layers) == s.macs
    assert sum(layer.num_params for layer in s.layers) == s.num_params
    assert s.details["architecture"] == "HRNet-W32"


def test_summary_counts_deconvs_like_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from hrnet.models.summary import summarize

    model = PoseResNet(18, num_joints=3, deconv_filters=(32, 16), deconv_kernels=(4, 3), deconv_with_bias=True)
    s = summarize(model, (64, 96))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, 96, 64))
    assert 2 * s.macs == counter.get_total_flops()
    assert s.output_shape == (3, 12, 8)


def test_hrnet_info_cli(capsys, tmp_path):
    from hrnet.cli.info import main

    assert main(["--list"]) == 0
    assert capsys.readouterr().out.split() == EXPERIMENTS

    assert main(["--cfg", W32, "--no-layers"]) == 0
    out = capsys.readouterr().out
    assert "28,536,113" in out and "GFLOPs:       7.65" in out and "17 x 64 x 48" in out

    model = build_model(load_config("synthetic/hrnet_w16_128x96"), is_train=True)
    torch.save({"epoch": 4, "state_dict": model.state_dict()}, tmp_path / "w16.pth")
    assert main(["--cfg", "synthetic/hrnet_w16_128x96", "--weights", str(tmp_path / "w16.pth"), "--json",
                 "MODEL.IMAGE_SIZE", "[64, 64]"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_size"] == [64, 64] and data["checkpoint"]["epoch"] == 4

    assert main(["--cfg", "synthetic/hrnet_w16_128x96", "MODEL.NUM_JOINTS", "5",
                 "--weights", str(tmp_path / "w16.pth")]) == 1
    assert "checkpoint has 17 joints, model has 5" in capsys.readouterr().err
    assert main(["--cfg", "no/such/experiment"]) == 1
    assert main([]) == 2


def test_public_api_reexports():
    import hrnet

    assert hrnet.build_model is build_model
