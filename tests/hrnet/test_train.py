"""Training building blocks without a dataset: argument parsing, config resolution, optimizer and
LR schedule (official boundaries, exact resume), atomic saves, stop requests, error messages, and
train_one_epoch / validate on a tiny model with in-memory data."""

from __future__ import annotations

import argparse
import os
import signal
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hrnet.core.evaluate import accuracy
from hrnet.core.function import (
    AverageMeter,
    TrainingDiverged,
    _batched_pck,
    _sample_dists,
    train_one_epoch,
    validate,
)
from hrnet.core.loss import JointsMSELoss, JointsOHKMMSELoss
from hrnet.errors import ConfigError, DatasetError
from hrnet.train import (
    StopRequest,
    _restore_scheduler,
    atomic_save,
    build_criterion,
    build_optimizer,
    build_parser,
    build_scheduler,
    error_kind,
    error_message,
    parse_args,
    resolve_config,
    run_directory,
    step_scheduler,
)

EXP = "synthetic/hrnet_w16_128x96"


def _args(*argv: str) -> argparse.Namespace:
    return parse_args(build_parser(), ["--cfg", EXP, *argv])


# ----------------------------------------------------------------------------- command line / config
def test_parse_official_style_and_intermixed_options():
    a = _args("TRAIN.LR", "0.01", "--device", "cpu", "TRAIN.END_EPOCH", "3", "--progress", "jsonl")
    assert a.opts == ["TRAIN.LR", "0.01", "TRAIN.END_EPOCH", "3"]
    assert a.device == "cpu" and a.progress == "jsonl" and a.resume is None
    assert _args("--resume").resume == ""
    assert _args("--resume", "x/checkpoint.pth").resume == "x/checkpoint.pth"
    # a config key right after a bare --resume belongs to the overrides
    b = _args("--resume", "TRAIN.LR", "0.1")
    assert b.resume == "" and b.opts == ["TRAIN.LR", "0.1"]
    with pytest.raises(SystemExit):
        parse_args(build_parser(), ["--progress", "xml", "--cfg", EXP])


def test_resolve_config_applies_official_dirs(tmp_path):
    a = _args("--modelDir", str(tmp_path / "m"), "--logDir", str(tmp_path / "l"), "--dataDir", str(tmp_path),
              "DATASET.TRAIN_ANNOTATIONS", "train.json", "TRAIN.END_EPOCH", "2")
    cfg = resolve_config(a)
    assert cfg.is_frozen()
    assert cfg.OUTPUT_DIR == str(tmp_path / "m") and cfg.LOG_DIR == str(tmp_path / "l")
    assert cfg.DATASET.TRAIN_ANNOTATIONS == os.path.join(str(tmp_path), "train.json")
    assert cfg.MODEL.PRETRAINED == ""  # empty stays empty (official would make it DATA_DIR/)
    assert cfg.TRAIN.END_EPOCH == 2
    # official run folder: OUTPUT_DIR/dataset/model/cfg_name
    assert run_directory(cfg, a.cfg) == tmp_path / "m" / "coco_json" / "pose_hrnet" / "hrnet_w16_128x96"
    assert run_directory(cfg, a.cfg, str(tmp_path / "run")) == tmp_path / "run"


def test_unknown_key_is_a_config_error():
    with pytest.raises(ConfigError, match="TRAIN.NOT_A_KEY"):
        resolve_config(_args("TRAIN.NOT_A_KEY", "1"))


# ----------------------------------------------------------------------------- optimizer / schedule
def _cfg(*opts: str):
    return resolve_config(_args(*opts))


def test_official_optimizers():
    m = nn.Conv2d(3, 4, 3)
    adam = build_optimizer(_cfg("TRAIN.OPTIMIZER", "adam", "TRAIN.LR", "0.002"), m)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.param_groups[0]["lr"] == 0.002 and adam.param_groups[0]["weight_decay"] == 0  # official: no WD
    sgd = build_optimizer(_cfg("TRAIN.OPTIMIZER", "sgd", "TRAIN.LR", "0.1", "TRAIN.WD", "0.0005",
                               "TRAIN.NESTEROV", "True"), m)
    g = sgd.param_groups[0]
    assert isinstance(sgd, torch.optim.SGD) and g["momentum"] == 0.9 and g["weight_decay"] == 0.0005 and g["nesterov"]
    with pytest.raises(ConfigError, match="OPTIMIZER"):
        build_optimizer(_cfg("TRAIN.OPTIMIZER", "rmsprop"), m)


def test_criterion_follows_config():
    assert type(build_criterion(_cfg())) is JointsMSELoss
    ohkm = build_criterion(_cfg("LOSS.USE_OHKM", "True", "LOSS.TOPK", "4"))
    assert isinstance(ohkm, JointsOHKMMSELoss) and ohkm.topk == 4


def _lrs(cfg, epochs, resume_at=None, with_state=True):
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=cfg.TRAIN.LR)
    sched = build_scheduler(cfg, opt)
    out = []
    for e in range(epochs):
        if resume_at is not None and e == resume_at:
            ck = {"epoch": e, "optimizer": opt.state_dict()}
            if with_state:
                ck["scheduler"] = sched.state_dict()
            opt = torch.optim.Adam([p], lr=cfg.TRAIN.LR)
            opt.load_state_dict(ck["optimizer"])
            sched = _restore_scheduler(cfg, opt, ck, e)
        step_scheduler(sched)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_lr_schedule_official_boundaries_and_exact_resume():
    cfg = _cfg("TRAIN.LR", "1.0", "TRAIN.LR_STEP", "[3, 5]", "TRAIN.LR_FACTOR", "0.1")
    full = _lrs(cfg, 8)
    # official loop: scheduler.step() at the start of epoch e -> decays once e + 1 reaches a milestone
    assert full == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01])
    for at in range(1, 8):
        assert _lrs(cfg, 8, resume_at=at) == pytest.approx(full), at
        # official checkpoints carry no scheduler state: the schedule is replayed
        assert _lrs(cfg, 8, resume_at=at, with_state=False) == pytest.approx(full), at


# ----------------------------------------------------------------------------- files / stop / errors
def test_atomic_save_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"epoch": 1}, path)
    atomic_save({"epoch": 2, "w": torch.ones(2)}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]

    class Boom:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        atomic_save({"x": Boom()}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 2  # old file intact
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_stop_request_file_and_signals(tmp_path):
    stop = StopRequest(str(tmp_path / "STOP"))
    assert not stop.requested
    (tmp_path / "STOP").write_text("x")
    assert stop.requested and "stop file" in stop.reason()
    stop2 = StopRequest(None)
    seen = []
    stop2.on_request = seen.append
    with stop2.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop2.requested and seen == []  # the handler itself does nothing else
        stop2.announce()
        stop2.announce()
        assert seen == ["SIGTERM"]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_error_messages_are_one_line():
    worker = DatasetError("Caught DatasetError in DataLoader worker process 0.\nOriginal Traceback (most recent "
                          "call last):\n  File x\nhrnet.errors.DatasetError: Cannot read image /a/b.png: broken")
    assert error_message(worker) == "Cannot read image /a/b.png: broken"
    assert error_kind(worker) == "data"
    assert error_kind(ConfigError("x")) == "config"
    assert error_kind(TrainingDiverged("nan", epoch=0, step=1)) == "nan"
    assert error_kind(RuntimeError("CUDA out of memory. Tried to allocate")) == "oom"
    assert error_kind(RuntimeError("something")) == "other"


# ----------------------------------------------------------------------------- the loops
class _TinyPose(nn.Module):
    def __init__(self, joints: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, joints, 3, stride=2, padding=1))

    def forward(self, x):
        return self.body(x)


class _FakeDataset(torch.utils.data.Dataset):
    """Samples whose heatmap target is a blob at a position the image encodes."""

    flip_pairs = [[0, 1]]

    def __init__(self, n: int = 12, joints: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, 32, 24, generator=g)
        self.t = torch.rand(n, joints, 8, 6, generator=g)
        self.w = torch.ones(n, joints, 1)
        self.w[0, 2] = 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        meta = {"image": f"img{i}.png", "center": np.array([50.0, 60.0 + i], np.float32),
                "scale": np.array([1.0, 1.3], np.float32), "score": 1.0}
        return self.x[i], self.t[i], self.w[i], meta


def test_train_one_epoch_steps_and_callbacks():
    torch.manual_seed(0)
    model = _TinyPose()
    loader = torch.utils.data.DataLoader(_FakeDataset(), batch_size=5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    steps = []
    res = train_one_epoch(model, loader, JointsMSELoss(True), opt, "cpu", 4, on_step=steps.append, print_freq=1,
                          channels_last=True)
    assert res.steps == 3 and res.images == 12 and res.epoch == 4 and np.isfinite(res.loss)
    assert [s.step for s in steps] == [0, 1, 2] and [s.batch_size for s in steps] == [5, 5, 2]
    assert all(s.steps == 3 and s.lr == 1e-3 for s in steps)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_train_one_epoch_stops_on_nan_before_the_step():
    model = _TinyPose()
    ds = _FakeDataset()
    ds.t[6] = float("nan")  # second batch
    loader = torch.utils.data.DataLoader(ds, batch_size=5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    with pytest.raises(TrainingDiverged) as ei:
        train_one_epoch(model, loader, JointsMSELoss(True), opt, "cpu", 0, on_step=seen.append)
    assert ei.value.step == 1 and len(seen) == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_validate_pck_is_official_batched_accuracy_and_flip():
    torch.manual_seed(0)
    model = _TinyPose().eval()
    ds = _FakeDataset(n=11)
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    res = validate(model, loader, ds, "cpu", flip_test=False, criterion=JointsMSELoss(True))
    # the official loop: accuracy() per batch, AverageMeter.update(avg_acc, cnt)
    meter = AverageMeter()
    with torch.no_grad():
        for x, t, _, _ in loader:
            _, avg, cnt, _ = accuracy(model(x).numpy(), t.numpy())
            meter.update(avg, cnt)
    assert res.accuracy == pytest.approx(meter.avg)
    assert res.metrics == OrderedDict(PCK=res.accuracy) and res.perf_indicator == res.accuracy
    assert res.preds.shape == (11, 4, 3) and res.num_samples == 11 and res.loss is not None
    assert res.image_paths == [f"img{i}.png" for i in range(11)]
    np.testing.assert_allclose(res.boxes[:, 4], 200 * 200 * 1.3)
    # _batched_pck is independent of how the samples were split
    with torch.no_grad():
        dists = _sample_dists(model(ds.x).numpy(), ds.t.numpy())
    assert _batched_pck(dists, 4) == pytest.approx(meter.avg)
    flipped = validate(model, loader, ds, "cpu", flip_test=True, shift_heatmap=True)
    assert flipped.preds.shape == (11, 4, 3) and flipped.loss is None


def test_validate_uses_dataset_evaluate(tmp_path: Path):
    model = _TinyPose().eval()

    class _WithEval(_FakeDataset):
        def evaluate(self, preds, output_dir, all_boxes, img_path):
            assert output_dir == str(tmp_path) and len(preds) == len(all_boxes) == len(img_path) == 12
            return OrderedDict([("AP", 0.25), ("AP .5", 0.5)]), 0.25

    ds = _WithEval()
    loader = torch.utils.data.DataLoader(ds, batch_size=5)
    res = validate(model, loader, ds, "cpu", flip_test=True, output_dir=str(tmp_path))
    assert list(res.metrics) == ["AP", "AP .5", "PCK"] and res.perf_indicator == 0.25
