"""hrnet-train end to end on a tiny synthetic coco_json dataset: the JSON-lines protocol, the run
folder, exact resume, graceful stop, divergence, and one-line user errors."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import hrnet.engine.fit as fit_module
import hrnet.train as train_module
from hrnet.config import load_config
from hrnet.models import build_model, load_checkpoint
from hrnet.train import main
from tests.hrnet.test_train_helpers import EXPERIMENT, TINY_OPTS, make_dataset, of_kind, parse_jsonl


@pytest.fixture(scope="module")
def data_opts(tmp_path_factory) -> list[str]:
    return make_dataset(tmp_path_factory.mktemp("synth"))


def _train(capsys, run_dir: Path, data_opts: list[str], *extra: str, progress: str = "jsonl"):
    argv = ["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run_dir), "--progress", progress,
            *TINY_OPTS, *data_opts, *extra]
    code = main(argv)
    out, err = capsys.readouterr()
    events = parse_jsonl(out) if progress == "jsonl" else []
    return code, events, out, err


def test_jsonl_run_writes_the_protocol_and_the_run_folder(tmp_path, data_opts, capsys):
    run = tmp_path / "run"
    code, events, _, err = _train(capsys, run, data_opts, "TRAIN.END_EPOCH", "2")
    assert code == 0, err
    main_events = [e for e in events if e["event"] != "log"]
    assert main_events[0]["event"] == "start" and main_events[-1]["event"] == "end"
    start = main_events[0]
    assert start["begin_epoch"] == 0 and start["end_epoch"] == 2 and start["device"] == "cpu"
    assert start["run_dir"] == str(run.resolve()) and start["command"].startswith("hrnet-train --cfg")
    steps_per_epoch = start["steps_per_epoch"]
    assert steps_per_epoch == math.ceil(start["train_samples"] / 8) and start["val_samples"] > 0

    steps = of_kind(events, "step")
    for epoch in (0, 1):
        mine = [s for s in steps if s["epoch"] == epoch]
        assert mine[0]["step"] == 0 and mine[-1]["step"] == steps_per_epoch - 1
        assert all(s["steps"] == steps_per_epoch and s["lr"] == pytest.approx(0.002) for s in mine)
        assert all(math.isfinite(s["loss"]) and s["images_per_s"] > 0 and s["eta_s"] >= 0 for s in mine)
    assert of_kind(events, "step")[-1]["eta_s"] == 0

    ends = of_kind(events, "epoch_end")
    assert [e["epoch"] for e in ends] == [0, 1]
    for e in ends:
        assert {"AP", "AP .5", "AR", "PCK"} <= set(e["metrics"]) and isinstance(e["val_loss"], float)
        assert e["best_metric"] == max(x["metrics"]["AP"] for x in ends if x["epoch"] <= e["epoch"])
    assert ends[0]["is_best"] is True  # official: >= best, starting from 0
    cks = of_kind(events, "checkpoint")
    assert [c["epoch"] for c in cks] == [0, 1] and cks[0]["path"] == str((run / "checkpoint.pth").resolve())
    assert cks[0]["best_path"] == str((run / "model_best.pth").resolve())
    end = main_events[-1]
    assert end == {"event": "end", "status": "completed", "epochs_done": 2, "best_metric": ends[-1]["best_metric"],
                   "best_path": str((run / "model_best.pth").resolve()),
                   "final_path": str((run / "final_state.pth").resolve()), "metric_name": "AP",
                   "best_epoch": max(e["epoch"] for e in ends if e["is_best"]), "best_is_base": False,
                   "base_metric": None}  # no base validation without TRAIN.VALIDATE_BASE

    # the run folder
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("tensorboard")) == [
        "checkpoint.pth", "config.yaml", "final_state.pth", "model_best.pth", "results", "train.log"]
    cfg = load_config(run / "config.yaml")
    assert cfg.MODEL.IMAGE_SIZE == [64, 64] and cfg.TRAIN.END_EPOCH == 2
    log_text = (run / "train.log").read_text()
    assert "Command: hrnet-train --cfg synthetic/hrnet_w16_128x96" in log_text
    ck = torch.load(run / "checkpoint.pth", weights_only=True)
    assert ck["epoch"] == 2 and ck["model"] == "pose_hrnet" and ck["best_metric_name"] == "AP"
    assert {"state_dict", "optimizer", "scheduler", "perf", "best_perf", "config", "metrics"} <= set(ck)
    assert ck["scheduler"]["last_epoch"] == 2 and ck["config"] == (run / "config.yaml").read_text()
    assert ck["perf"] == ends[-1]["metrics"]["AP"]
    final = torch.load(run / "final_state.pth", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in final.values())  # bare state_dict, as official
    model = build_model(cfg, is_train=False)
    load_checkpoint(model, run / "final_state.pth")
    load_checkpoint(model, run / "model_best.pth")
    assert torch.equal(final["final_layer.weight"], ck["state_dict"]["final_layer.weight"])


def test_resume_continues_the_lr_schedule_and_epoch_count(tmp_path, data_opts, capsys):
    run = tmp_path / "run"
    sched = ["TRAIN.LR_STEP", "[2, 3]", "TRAIN.LR_FACTOR", "0.1"]
    code, events, _, err = _train(capsys, run, data_opts, "TRAIN.END_EPOCH", "1", *sched)
    assert code == 0, err
    steps_per_epoch = of_kind(events, "start")[0]["steps_per_epoch"]
    assert torch.load(run / "checkpoint.pth", weights_only=True)["epoch"] == 1

    code, events, _, err = _train(capsys, run, data_opts, "--resume", "TRAIN.END_EPOCH", "3", *sched)
    assert code == 0, err
    start = of_kind(events, "start")[0]
    assert start["begin_epoch"] == 1 and start["end_epoch"] == 3
    lrs = {s["epoch"]: s["lr"] for s in of_kind(events, "step")}
    # official boundaries: epoch e runs at LR * 0.1 ** #{m <= e + 1}
    assert lrs == {1: pytest.approx(0.0002), 2: pytest.approx(0.00002)}
    assert of_kind(events, "end")[0]["epochs_done"] == 2
    ck = torch.load(run / "checkpoint.pth", weights_only=True)
    assert ck["epoch"] == 3
    adam_steps = {int(s["step"]) for s in ck["optimizer"]["state"].values()}
    assert adam_steps == {3 * steps_per_epoch}  # the optimizer state went on from the checkpoint


@pytest.mark.parametrize("how", ["stop_file", "sigint"])
def test_stop_finishes_the_epoch_and_exits_cleanly(tmp_path, data_opts, how):
    run, stop = tmp_path / "run", tmp_path / "STOP"
    stop.write_text("stale")  # left over from an earlier run: removed at start
    cmd = [sys.executable, "-u", "-m", "hrnet.train", "--cfg", EXPERIMENT, "--device", "cpu", "--output-dir",
           str(run), "--progress", "jsonl", "--stop-file", str(stop), *TINY_OPTS, *data_opts,
           "TRAIN.END_EPOCH", "20", "WORKERS", "1"]  # a worker process: Ctrl+C must not kill it
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    lines = []
    asked = False
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if json.loads(line)["event"] == "step" and not asked:
            asked = True
            if how == "stop_file":
                stop.write_text("stop please")
            else:  # as a terminal's Ctrl+C: to the whole process group, DataLoader workers included
                os.killpg(proc.pid, signal.SIGINT)
    rc = proc.wait(timeout=120)
    err = proc.stderr.read() if proc.stderr else ""
    events = parse_jsonl("".join(lines))
    assert rc == 0, err
    end = of_kind(events, "end")[0]
    assert end["status"] == "stopped" and end["epochs_done"] == 1 and end["final_path"] is None
    assert [e["epoch"] for e in of_kind(events, "epoch_end")] == [0]
    assert torch.load(run / "checkpoint.pth", weights_only=True)["epoch"] == 1
    assert not (run / "final_state.pth").exists()
    assert "Traceback" not in err
    if how == "sigint":
        assert any("SIGINT received: stopping after this epoch" in e["message"] for e in of_kind(events, "log"))


class _NaNLoss(nn.Module):
    def forward(self, output, target, target_weight):
        return (output * float("nan")).mean()


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, data_opts, capsys, monkeypatch):
    run = tmp_path / "run"
    code, _, _, err = _train(capsys, run, data_opts, "TRAIN.END_EPOCH", "1")
    assert code == 0, err
    before = (run / "checkpoint.pth").read_bytes()
    best_before = (run / "model_best.pth").read_bytes()
    monkeypatch.setattr(fit_module, "build_criterion", lambda cfg: _NaNLoss())
    code, events, _, err = _train(capsys, run, data_opts, "--resume", "TRAIN.END_EPOCH", "3")
    assert code == train_module.EXIT_DIVERGED
    error = of_kind(events, "error")[0]
    assert error["kind"] == "nan" and "diverged" in error["message"] and "\n" not in error["message"]
    end = of_kind(events, "end")[0]
    assert end["status"] == "diverged" and end["epochs_done"] == 0
    assert (run / "checkpoint.pth").read_bytes() == before  # not overwritten
    assert (run / "model_best.pth").read_bytes() == best_before
    assert "Traceback" not in err
    assert "Traceback" in (run / "train.log").read_text()  # the details are in the log


def test_weights_initialise_a_new_run(tmp_path, data_opts, capsys):
    first = tmp_path / "first"
    code, _, _, err = _train(capsys, first, data_opts, "TRAIN.END_EPOCH", "1")
    assert code == 0, err
    code, events, _, err = _train(capsys, tmp_path / "second", data_opts, "TRAIN.END_EPOCH", "1",
                                  "--weights", str(first / "final_state.pth"))
    assert code == 0, err
    assert of_kind(events, "start")[0]["begin_epoch"] == 0  # a new run, not a resume
    assert any("Initialised the model from" in e["message"] for e in of_kind(events, "log"))

    bogus = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bogus)
    code, events, _, err = _train(capsys, tmp_path / "third", data_opts, "--weights", str(bogus))
    assert code == 1 and of_kind(events, "error")[0]["kind"] == "checkpoint" and "Traceback" not in err


def test_user_errors_are_one_line_events(tmp_path, data_opts, capsys):
    code, events, _, err = _train(capsys, tmp_path / "a", data_opts, "TRAIN.NO_SUCH_KEY", "1")
    assert code == train_module.EXIT_CONFIG
    assert of_kind(events, "error")[0]["kind"] == "config" and "TRAIN.NO_SUCH_KEY" in err
    assert of_kind(events, "end")[0]["status"] == "failed" and "Traceback" not in err

    code, events, _, err = _train(capsys, tmp_path / "a", data_opts, "MODEL.HEATMAP_SIZE", "[10, 10]")
    assert code == train_module.EXIT_CONFIG and "IMAGE_SIZE / 4" in err and "Traceback" not in err

    code, events, _, err = _train(capsys, tmp_path / "a", data_opts, "--device")  # argparse: missing value
    assert code == 2 and [e["event"] for e in events] == ["error", "end"] and "usage:" in err

    code, events, _, err = _train(capsys, tmp_path / "b", data_opts, "DATASET.TRAIN_ANNOTATIONS", "/no/such.json")
    assert code != 0 and of_kind(events, "error")[0]["kind"] == "config" and "/no/such.json" in err

    code, events, _, err = _train(capsys, tmp_path / "c", data_opts, "--resume", str(tmp_path / "none.pth"))
    assert code == 1 and of_kind(events, "error")[0]["kind"] == "checkpoint" and "none.pth" in err
    assert "Traceback" not in err


def test_corrupt_image_is_a_data_error_naming_the_file(tmp_path, capsys):
    opts = make_dataset(tmp_path / "data", train_images=2, val_images=1)
    image = sorted((tmp_path / "data" / "images" / "train").iterdir())[0]
    image.write_bytes(b"not an image")
    code, events, _, err = _train(capsys, tmp_path / "run", opts, "TRAIN.END_EPOCH", "1")
    assert code == 1
    error = of_kind(events, "error")[0]
    assert error["kind"] == "data" and image.name in error["message"] and "\n" not in error["message"]
    assert "Traceback" not in err


def test_default_progress_bar_keeps_stdout_clean(tmp_path, data_opts, capsys):
    t0 = time.perf_counter()
    code, _, out, err = _train(capsys, tmp_path / "run", data_opts, "TRAIN.END_EPOCH", "1", progress="bar")
    assert code == 0, err
    assert out == ""
    assert "Epoch 0" in err and "ETA" in err and "Training completed after 1 epoch(s)" in err
    assert time.perf_counter() - t0 < 60
