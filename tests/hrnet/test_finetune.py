"""The fine-tuning recipe's guarantees (hrnet-train --finetune): base validation before any update,
model_best.pth never worse than the base (and the end event says so), explicit options win, the
recipe scales with the data; one evaluation (the comparison's AP = training's best AP), fp32
evaluation under TRAIN.AMP."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

import hrnet
from hrnet.config import load_config
from hrnet.engine.finetune import finetune_overrides
from hrnet.train import main
from tests.hrnet.test_train_helpers import EXPERIMENT, make_dataset, of_kind, parse_jsonl

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "resources" / "models" / "hrnet_w16_synthetic.pth"


def _steps(pairs: list[tuple[str, str]], n: int) -> int:
    d = dict(pairs)
    batch = int(d["TRAIN.BATCH_SIZE_PER_GPU"])
    return -(-n // batch) * int(d["TRAIN.EPOCH_REPEATS"]) * int(d["TRAIN.END_EPOCH"])


def test_overrides_scale_with_the_data_and_are_real_config_keys() -> None:
    cfg = load_config(EXPERIMENT)
    small, mid, large, huge = (finetune_overrides(cfg, n) for n in (8, 128, 800, 100_000))
    assert hrnet.finetune_overrides is finetune_overrides
    # the same keys, in the same order, for every size
    assert [k for k, _ in small] == [k for k, _ in large]
    assert int(dict(small)["TRAIN.BATCH_SIZE_PER_GPU"]) <= 8
    assert int(dict(finetune_overrides(cfg, 3))["TRAIN.BATCH_SIZE_PER_GPU"]) == 3  # never more than the data
    # 8 frames: many passes per epoch; 800 frames: about one or two
    assert int(dict(small)["TRAIN.EPOCH_REPEATS"]) > int(dict(large)["TRAIN.EPOCH_REPEATS"]) >= 1
    steps = [_steps(small, 8), _steps(mid, 128), _steps(large, 800), _steps(huge, 100_000)]
    assert steps[0] <= steps[1] < steps[2] <= 3200 and steps[0] >= 100
    assert dict(huge)["TRAIN.END_EPOCH"] == "1" and steps[3] == 100_000 // 8  # one pass over a big set
    assert float(dict(small)["TRAIN.LR"]) < float(cfg.TRAIN.LR)
    assert dict(small)["TRAIN.VALIDATE_BASE"] == "True" and dict(small)["TRAIN.FREEZE_BN"] == "True"
    # every pair is a valid override of the experiment
    cfg2 = load_config(EXPERIMENT, [x for kv in large for x in kv])
    assert cfg2.TRAIN.LR_SCHEDULE == "cosine" and cfg2.TRAIN.VALIDATE_BASE


def test_explicit_options_win_over_the_recipe(tmp_path: Path) -> None:
    from hrnet.cli.train import apply_finetune_recipe, build_parser
    from hrnet.engine.common import parse_args, resolve_config

    opts = make_dataset(tmp_path / "d", train_images=4, val_images=1)
    args: argparse.Namespace = parse_args(build_parser(), [
        "--cfg", EXPERIMENT, "--weights", str(BASE), "--finetune", *opts, "TRAIN.LR", "0.123",
        "TRAIN.END_EPOCH", "3", "WORKERS", "0"])
    recipe = apply_finetune_recipe(args)
    cfg = resolve_config(args)
    assert cfg.TRAIN.LR == pytest.approx(0.123) and cfg.TRAIN.END_EPOCH == 3  # explicit
    assert cfg.TRAIN.WARMUP_STEPS == int(dict(recipe)["TRAIN.WARMUP_STEPS"]) > 0  # recipe
    assert cfg.TRAIN.FREEZE_BN and cfg.TRAIN.LR_SCHEDULE == "cosine"


def test_finetune_needs_trained_weights(capsys) -> None:
    code = main(["--cfg", EXPERIMENT, "--finetune", "--device", "cpu", "--progress", "jsonl"])
    out, err = capsys.readouterr()
    assert code == 2 and "--finetune needs --weights" in err
    assert parse_jsonl(out)[-1]["event"] == "end"


def test_harmful_lr_keeps_the_base_and_says_so(tmp_path: Path, capsys) -> None:
    """Base validation comes first; a learning rate that wrecks the model leaves model_best.pth =
    the base weights, the end event reports best_is_base, early stopping ends the run, and the
    one evaluation of model_best.pth gives exactly training's best AP."""
    opts = make_dataset(tmp_path / "d", train_images=6, val_images=3, seed=3)
    run = tmp_path / "run"
    code = main(["--cfg", EXPERIMENT, "--weights", str(BASE), "--finetune", "--device", "cpu", "--output-dir",
                 str(run), "--progress", "jsonl", *opts, "WORKERS", "0", "TRAIN.SEED", "0", "TRAIN.EPOCH_REPEATS",
                 "1", "TRAIN.END_EPOCH", "3", "TRAIN.EARLY_STOP_PATIENCE", "1", "TRAIN.LR", "5.0",
                 "TRAIN.WARMUP_STEPS", "0"])
    out, err = capsys.readouterr()
    assert code in (0, 3), err  # completed (early stop) or diverged: either way the base is kept
    events = parse_jsonl(out)
    kinds = [e["event"] for e in events if e["event"] not in ("log", "step")]
    assert kinds[:2] == ["start", "base_validation"]  # validated before any update
    base = of_kind(events, "base_validation")[0]
    assert base["metric_name"] == "AP" and base["metric"] > 0 and "AP .5" in base["metrics"]
    end = events[-1]
    assert end["event"] == "end" and end["best_is_base"] is True and end["best_epoch"] is None
    assert end["base_metric"] == end["best_metric"] == base["metric"]
    assert not any(e["is_best"] for e in of_kind(events, "epoch_end"))
    if code == 0:
        assert end["epochs_done"] == 1 and "Early stop" in err  # patience 1
    best = torch.load(run / "model_best.pth", weights_only=True)
    assert best["epoch"] == 0 and best["keypoint_set"]["names"]  # the starting weights, with their set
    best = best["state_dict"]
    model = hrnet.build_model(load_config(EXPERIMENT))
    hrnet.load_checkpoint(model, BASE)
    for k, v in model.state_dict().items():
        assert torch.equal(best[k], v), k

    # the comparison's evaluation of model_best.pth = training's best validation AP
    result = hrnet.evaluate_model(str(run / "config.yaml"), run / "model_best.pth", device="cpu")
    assert result.metrics["AP"] == end["best_metric"]
    assert result.metrics == base["metrics"]


def test_evaluation_is_fp32_under_train_amp(monkeypatch) -> None:
    """TRAIN.AMP is for training: validation and hrnet-test run fp32 unless TEST.AMP asks."""
    import hrnet.core.function as function
    from hrnet.engine.evaluation import evaluation_amp, validate_with_config

    cuda = torch.device("cuda")
    assert not evaluation_amp(load_config(EXPERIMENT, ["TRAIN.AMP", "True"]), cuda)
    assert evaluation_amp(load_config(EXPERIMENT, ["TEST.AMP", "True"]), cuda)
    assert not evaluation_amp(load_config(EXPERIMENT, ["TEST.AMP", "True"]), torch.device("cpu"))
    seen = {}
    monkeypatch.setattr(function, "validate", lambda *a, **kw: seen.update(kw))
    cfg = load_config(EXPERIMENT, ["TRAIN.AMP", "True", "TEST.DECODE", "dark"])
    validate_with_config(cfg, torch.nn.Identity(), [], None, cuda)
    assert seen["amp"] is False and seen["decode"] == "dark" and seen["flip_test"] is True


def test_warmup_ramps_then_restores_the_scheduled_lr() -> None:
    from hrnet.engine.fit import WarmUp

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    w = WarmUp(opt, steps=4, factor=0.2)
    w.epoch_started()
    lrs = []
    for i in range(6):
        w.before_step(i)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8]) and lrs[4:] == [1.0, 1.0]
    w2 = WarmUp(opt, steps=4, factor=0.2)
    w2.epoch_started()
    w2.before_step(0)
    w2.epoch_finished()  # the scheduler never sees a warmed-up LR
    assert opt.param_groups[0]["lr"] == 1.0


def test_lazy_loss_reading_matches_and_still_catches_divergence() -> None:
    """The CUDA loop (loss kept on the device, read on print steps only) run on the CPU: same
    mean loss as reading every step, and a non-finite loss still stops the run with finite weights."""
    from hrnet.core.function import TrainingDiverged, train_one_epoch
    from hrnet.core.loss import JointsMSELoss

    def data(n: int = 6) -> list:
        g = torch.Generator().manual_seed(0)
        return [(torch.randn(2, 3, 16, 16, generator=g), torch.rand(2, 2, 16, 16, generator=g),
                 torch.ones(2, 2, 1), {}) for _ in range(n)]

    def run(lazy: bool, criterion: torch.nn.Module) -> tuple[float, torch.nn.Module]:
        torch.manual_seed(0)
        model = torch.nn.Conv2d(3, 2, 3, padding=1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        res = train_one_epoch(model, data(), criterion, opt, "cpu", 0, print_freq=4, lazy_loss=lazy)
        return res.loss, model

    crit = JointsMSELoss(use_target_weight=True)
    eager_loss, eager_model = run(False, crit)
    lazy_loss, lazy_model = run(True, crit)
    assert lazy_loss == pytest.approx(eager_loss, rel=1e-6)
    for a, b in zip(eager_model.parameters(), lazy_model.parameters()):
        assert torch.allclose(a, b)

    class NaNAfter(torch.nn.Module):
        calls = 0

        def forward(self, out, target, weight):
            NaNAfter.calls += 1
            loss = crit(out, target, weight)
            return loss * float("nan") if NaNAfter.calls >= 2 else loss

    with pytest.raises(TrainingDiverged):
        _, model = run(True, NaNAfter())
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 2, 3, padding=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    NaNAfter.calls = 0
    with pytest.raises(TrainingDiverged):
        train_one_epoch(model, data(), NaNAfter(), opt, "cpu", 0, print_freq=4, lazy_loss=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the non-finite steps were skipped


def test_a_base_of_another_keypoint_set_trains_its_new_head_at_the_experiments_lr(tmp_path: Path, capsys) -> None:
    """A fresh output layer (a COCO model for an animal set): the experiment's LR and BatchNorm
    statistics of the new data (benchmarks/new_set_recipe.py); the same step budget."""
    from hrnet.dataset.synthetic import generate_dataset
    from hrnet.engine.finetune import NEW_HEAD_FREEZE_BN, NEW_HEAD_LR_SCALE
    from hrnet.keypoints import COCO_17, KeypointSet
    from hrnet.models import build_model
    from hrnet.models.checkpoint import starts_new_head
    from tests.hrnet.test_train_helpers import TINY_OPTS

    cfg = load_config(EXPERIMENT)
    same, new = finetune_overrides(cfg, 8), finetune_overrides(cfg, 8, new_head=True)
    assert [k for k, _ in same] == [k for k, _ in new] and _steps(same, 8) == _steps(new, 8)
    assert float(dict(new)["TRAIN.LR"]) == pytest.approx(float(cfg.TRAIN.LR) * NEW_HEAD_LR_SCALE)
    assert dict(new)["TRAIN.FREEZE_BN"] == str(NEW_HEAD_FREEZE_BN)

    # which bases start a new head: another set or another number of joints, not the same set
    quad = tmp_path / "q"
    train = generate_dataset(quad, 3, image_size=(160, 120), split_name="train", keypoints="quadruped")
    val = generate_dataset(quad, 2, image_size=(160, 120), split_name="val", keypoints="quadruped")
    from hrnet.dataset.synthetic_sets import QUADRUPED_15

    assert starts_new_head(BASE, QUADRUPED_15, 15) and not starts_new_head(BASE, COCO_17, 17)
    mine = tmp_path / "quad.pth"
    model = build_model(load_config(EXPERIMENT, ["MODEL.NUM_JOINTS", "15"]), is_train=False)
    torch.save({"state_dict": model.state_dict(), "keypoint_set": QUADRUPED_15.to_dict()}, mine)
    assert not starts_new_head(mine, QUADRUPED_15, 15) and starts_new_head(mine, KeypointSet.from_names("abc"), 3)
    unknown = tmp_path / "five.pth"  # a bare 5-joint state_dict: only the count can tell
    torch.save(build_model(load_config(EXPERIMENT, ["MODEL.NUM_JOINTS", "5"]), is_train=False).state_dict(), unknown)
    assert not starts_new_head(unknown, None, 5) and starts_new_head(unknown, None, 15)
    assert not starts_new_head(tmp_path / "missing.pth", None, 5)

    # hrnet-train --finetune finds it out itself and says so
    run = tmp_path / "run"
    code = main(["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run), "--weights", str(BASE),
                 "--finetune", *TINY_OPTS, "MODEL.NUM_JOINTS", "15", "TRAIN.END_EPOCH", "1", "TRAIN.EPOCH_REPEATS",
                 "1", "DATASET.TRAIN_ANNOTATIONS", str(train), "DATASET.TRAIN_IMAGES", str(quad / "images" / "train"),
                 "DATASET.TEST_ANNOTATIONS", str(val), "DATASET.TEST_IMAGES", str(quad / "images" / "val")])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    assert "a base of another keypoint set: new output layer" in out + err
    saved = load_config(run / "config.yaml")
    assert saved.TRAIN.LR == pytest.approx(float(cfg.TRAIN.LR) * NEW_HEAD_LR_SCALE)
    assert bool(saved.TRAIN.FREEZE_BN) is NEW_HEAD_FREEZE_BN
