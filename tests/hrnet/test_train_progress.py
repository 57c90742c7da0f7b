"""Progress reporters (JSON lines protocol, bar), ETA, and the distributed helpers in one process."""

from __future__ import annotations

import io
import json
import logging
import math

import pytest
import torch

from hrnet.core.progress import BarReporter, EtaEstimator, JsonlReporter, ProgressReporter, format_duration
from hrnet.distributed import (
    DistInfo,
    ShardSampler,
    all_gather_object,
    all_reduce_sum,
    broadcast_object,
    env_info,
    resolve_device,
    unwrap,
)
from hrnet.errors import ConfigError


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_jsonl_every_event_is_one_strict_json_line():
    buf = io.StringIO()
    r = JsonlReporter(buf, min_interval=0.0)
    r.start(run_dir="/r", begin_epoch=0, end_epoch=2, steps_per_epoch=3, train_samples=40, val_samples=10,
            device="cpu", command="hrnet-train --cfg x")
    r.step(epoch=0, step=0, steps=3, loss=0.5, lr=1e-3, images_per_s=12.5, eta_s=None)
    r.epoch_end(epoch=0, train_loss=0.4, val_loss=float("nan"), metrics={"AP": 0.5, "PCK": 0.7},
                best_metric=0.5, is_best=True, time_s=3.0)
    r.checkpoint(epoch=0, path="/r/checkpoint.pth", best_path="/r/model_best.pth")
    r.log("info", "hello\nworld")
    r.error("nan", "diverged")
    r.end(status="completed", epochs_done=2, best_metric=0.5, best_path="/r/model_best.pth", final_path=None)
    text = buf.getvalue()
    assert text.endswith("\n")
    events = _lines(buf)
    assert [e["event"] for e in events] == ["start", "step", "epoch_end", "checkpoint", "log", "error", "end"]
    assert events[0]["steps_per_epoch"] == 3 and events[0]["command"] == "hrnet-train --cfg x"
    assert events[1] == {"event": "step", "epoch": 0, "step": 0, "steps": 3, "loss": 0.5, "lr": 1e-3,
                         "images_per_s": 12.5, "eta_s": None}
    assert events[2]["val_loss"] is None  # NaN is not JSON
    assert events[2]["metrics"] == {"AP": 0.5, "PCK": 0.7} and events[2]["is_best"] is True
    assert events[4]["message"] == "hello\nworld"
    assert events[6]["final_path"] is None and events[6]["status"] == "completed"
    assert "NaN" not in text and "Infinity" not in text


def test_jsonl_numpy_values_and_rate_limit():
    np = pytest.importorskip("numpy")
    buf = io.StringIO()
    r = JsonlReporter(buf, min_interval=3600.0)
    for i in range(5):
        r.step(epoch=np.int64(1), step=i, steps=5, loss=np.float32(0.25), lr=1e-3, images_per_s=1.0, eta_s=1.0)
    events = _lines(buf)
    # first and last step always, the others are rate limited
    assert [e["step"] for e in events] == [0, 4]
    assert events[0]["epoch"] == 1 and isinstance(events[0]["epoch"], int)
    assert events[0]["loss"] == 0.25


def test_bar_reporter_plain_stream_and_log_handler():
    buf = io.StringIO()
    bar = BarReporter(buf, line_interval=0.0)
    bar.start(run_dir="/r", begin_epoch=0, end_epoch=3, steps_per_epoch=4, train_samples=8, val_samples=2,
              device="cpu", command="x")
    for i in range(4):
        bar.step(epoch=0, step=i, steps=4, loss=0.1, lr=1e-3, images_per_s=5.0, eta_s=75.0)
    logger = logging.getLogger("test.bar")
    h = bar.handler()
    logger.addHandler(h)
    logger.propagate = False
    try:
        logger.warning("careful")
    finally:
        logger.removeHandler(h)
    bar.epoch_end(epoch=0, train_loss=0.1, val_loss=None, metrics={"AP": 0.25}, best_metric=0.25, is_best=True,
                  time_s=10)
    bar.end(status="completed", epochs_done=1, best_metric=0.25, best_path="/r/model_best.pth", final_path=None)
    out = buf.getvalue()
    assert "[" + "#" * 24 + "]" in out and "[" + "#" * 6 + "-" * 18 + "]" in out  # 1/4 and 4/4
    assert "4/4" in out and "ETA 1:15" in out and "careful" in out
    assert "AP 0.2500" in out and "new best" in out and "completed" in out
    assert bar.min_interval == 0.0 and BarReporter(io.StringIO()).min_interval == 30.0  # not a terminal


def test_null_reporter_accepts_everything():
    r = ProgressReporter()
    r.start(anything=1)
    r.step(epoch=0, step=0, steps=1, loss=0.0, lr=0.0, images_per_s=0.0, eta_s=None)
    r.end(status="failed", epochs_done=0, best_metric=None, best_path=None, final_path=None)
    r.close()


def test_format_duration():
    assert format_duration(3725) == "1:02:05"
    assert format_duration(65) == "1:05"
    assert format_duration(None) == "?" and format_duration(math.nan) == "?"


def test_eta_uses_step_time_then_epoch_time():
    eta = EtaEstimator(begin_epoch=0, end_epoch=3, steps_per_epoch=10)
    eta.epoch_started(0, now=100.0)
    assert eta.eta(0, now=100.0) is None
    # 2 s per step: 9 steps left in this epoch + 2 more epochs of 10 steps
    assert eta.eta(1, now=102.0) == pytest.approx(18 + 40)
    eta.epoch_finished(30.0)  # the measured epoch (with validation) took 30 s
    eta.epoch_started(1, now=200.0)
    assert eta.eta(5, now=205.0) == pytest.approx(5 + 30)


def test_single_process_collectives_are_identities():
    assert all_reduce_sum([1, 2.5]) == [1.0, 2.5]
    assert all_gather_object({"a": 1}) == [{"a": 1}]
    assert broadcast_object((1, "x")) == (1, "x")
    m = torch.nn.Linear(2, 2)
    assert unwrap(torch.nn.DataParallel(m)) is m


def test_shard_sampler_is_a_partition_without_padding():
    parts = [list(ShardSampler(10, r, 3)) for r in range(3)]
    assert sorted(sum(parts, [])) == list(range(10))
    assert [len(ShardSampler(10, r, 3)) for r in range(3)] == [4, 3, 3]
    assert list(ShardSampler(2, 2, 3)) == [] and len(ShardSampler(2, 2, 3)) == 0


def test_env_info(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert env_info() == DistInfo(0, 1, 0) and env_info().is_main and not env_info().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert env_info() == DistInfo(3, 4, 1) and env_info().distributed
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError):
        env_info()


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    with pytest.raises(ConfigError):
        resolve_device("not a device")
    if not torch.cuda.is_available():
        assert resolve_device("auto", distributed=True) == torch.device("cpu")
        with pytest.raises(ConfigError, match="CUDA"):
            resolve_device("cuda:0")
