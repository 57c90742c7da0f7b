from __future__ import annotations

import pytest

from hrnet.config import list_experiments, load_config
from hrnet.errors import ConfigError

OFFICIAL = [
    "coco/hrnet/w32_256x192_adam_lr1e-3",
    "coco/hrnet/w32_384x288_adam_lr1e-3",
    "coco/hrnet/w48_256x192_adam_lr1e-3",
    "coco/hrnet/w48_384x288_adam_lr1e-3",
    "coco/resnet/res50_256x192_d256x3_adam_lr1e-3",
    "coco/resnet/res101_256x192_d256x3_adam_lr1e-3",
    "coco/resnet/res152_256x192_d256x3_adam_lr1e-3",
    "coco/resnet/res50_384x288_d256x3_adam_lr1e-3",
    "coco/resnet/res101_384x288_d256x3_adam_lr1e-3",
    "coco/resnet/res152_384x288_d256x3_adam_lr1e-3",
    "mpii/hrnet/w32_256x256_adam_lr1e-3",
    "mpii/hrnet/w48_256x256_adam_lr1e-3",
    "mpii/resnet/res50_256x256_d256x3_adam_lr1e-3",
    "mpii/resnet/res101_256x256_d256x3_adam_lr1e-3",
    "mpii/resnet/res152_256x256_d256x3_adam_lr1e-3",
]


def test_all_official_experiments_are_shipped():
    assert set(OFFICIAL) <= set(list_experiments())


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_experiments_load(name):
    cfg = load_config(name)
    assert cfg.is_frozen()
    assert cfg.MODEL.NAME in ("pose_hrnet", "pose_resnet")
    assert cfg.MODEL.NUM_JOINTS == (17 if name.startswith("coco") else 16)


def test_w32_values_match_official_file():
    cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3")
    assert cfg.MODEL.IMAGE_SIZE == [192, 256]
    assert cfg.MODEL.HEATMAP_SIZE == [48, 64]
    assert cfg.GPUS == (0, 1, 2, 3)
    assert cfg.MODEL.EXTRA.STAGE3.NUM_MODULES == 4
    assert cfg.MODEL.EXTRA.STAGE4.NUM_CHANNELS == [32, 64, 128, 256]
    assert cfg.TRAIN.LR_STEP == [170, 200]
    assert cfg.TRAIN.END_EPOCH == 210
    assert cfg.DATASET.PROB_HALF_BODY == 0.3
    assert cfg.TEST.OKS_THRE == 0.9
    # defaults of keys the file leaves out
    assert cfg.LOSS.USE_OHKM is False
    assert cfg.MODEL.EXTRA.STEM_INPLANES == 64


def test_short_name_and_opts():
    cfg = load_config("coco/hrnet/w32_256x192", opts=["TRAIN.LR", "0.0005", "MODEL.EXTRA.STAGE4.NUM_MODULES", "1"])
    assert cfg.TRAIN.LR == 0.0005
    assert cfg.MODEL.EXTRA.STAGE4.NUM_MODULES == 1


def test_resnet_extra_defaults_filled():
    cfg = load_config("coco/resnet/res50_256x192_d256x3_adam_lr1e-3")
    assert cfg.MODEL.EXTRA.NUM_LAYERS == 50
    assert cfg.MODEL.EXTRA.PRETRAINED_LAYERS == ["*"]


def test_unknown_key_in_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("MODEL:\n  NAME: pose_hrnet\n  NUM_JOINT: 17\n")
    with pytest.raises(ConfigError, match="MODEL.NUM_JOINT"):
        load_config(p)


def test_unknown_extra_key(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("MODEL:\n  NAME: pose_resnet\n  EXTRA:\n    NUM_LAYER: 50\n")
    with pytest.raises(ConfigError, match="MODEL.EXTRA.NUM_LAYER"):
        load_config(p)


def test_unknown_opt_key():
    with pytest.raises(ConfigError, match="TRAIN.LRR"):
        load_config("coco/hrnet/w32_256x192_adam_lr1e-3", opts=["TRAIN.LRR", "0.1"])


def test_wrong_type(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("TRAIN:\n  END_EPOCH: ten\n")
    with pytest.raises(ConfigError, match="END_EPOCH"):
        load_config(p)


def test_missing_file():
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config("/tmp/does/not/exist/nope.yaml")


def test_malformed_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("MODEL: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(p)


def test_roundtrip_dump(tmp_path):
    cfg = load_config("mpii/hrnet/w32_256x256_adam_lr1e-3")
    p = tmp_path / "cfg.yaml"
    p.write_text(cfg.dump())
    assert load_config(p) == cfg


def test_image_size_must_suit_the_network():
    with pytest.raises(ConfigError, match="multiples of 32"):
        load_config("coco/hrnet/w32_256x192", opts=["MODEL.IMAGE_SIZE", "[48, 64]", "MODEL.HEATMAP_SIZE", "[12, 16]"])
    from hrnet.config import check_training_sizes

    check_training_sizes(load_config("coco/hrnet/w32_256x192"))
    with pytest.raises(ConfigError, match="IMAGE_SIZE / 4"):
        check_training_sizes(load_config("coco/hrnet/w32_256x192", opts=["MODEL.HEATMAP_SIZE", "[64, 64]"]))
