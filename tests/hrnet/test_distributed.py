"""Distributed training and evaluation with 2 CPU processes (torchrun, gloo).

- ``torchrun -m hrnet.train``: DistributedDataParallel with DistributedSampler, one JSON-lines
  stream and one set of files (rank 0 only);
- ``torchrun -m hrnet.cli.test``: every rank evaluates its shard, the predictions are gathered, and
  the metrics (COCO AP and the official batched PCK) equal those of a single process exactly.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hrnet.cli import test as hrnet_test
from tests.hrnet.test_train_helpers import EXPERIMENT, TINY_OPTS, make_dataset, of_kind, parse_jsonl

pytestmark = pytest.mark.slow

NPROC = 2


def _torchrun(module: str, args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={NPROC}",
           "-m", module, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("ddp")
    # 5 validation images: the shards differ in size (no padding, no duplicates)
    return root, make_dataset(root / "data", train_images=6, val_images=5)


def test_torchrun_trains_with_ddp_and_rank0_writes(data):
    root, opts = data
    run = root / "run"
    proc = _torchrun("hrnet.train", ["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run),
                                     "--progress", "jsonl", *TINY_OPTS, *opts, "TRAIN.END_EPOCH", "2",
                                     "TRAIN.SYNC_BN", "True"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = parse_jsonl(proc.stdout)  # only JSON lines, from rank 0 only
    assert len(of_kind(events, "start")) == 1 and len(of_kind(events, "end")) == 1
    start = of_kind(events, "start")[0]
    assert start["device"] == f"cpu x{NPROC}"
    # DistributedSampler: each rank gets ceil(N / 2) samples, batches of 8 per process
    assert start["steps_per_epoch"] == math.ceil(math.ceil(start["train_samples"] / NPROC) / 8)
    assert [e["epoch"] for e in of_kind(events, "epoch_end")] == [0, 1]
    steps = of_kind(events, "step")
    assert steps and all(s["steps"] == start["steps_per_epoch"] for s in steps)
    assert any("SYNC_BN" in e["message"] for e in of_kind(events, "log"))  # CPU: plain BN, with a warning
    assert of_kind(events, "end")[0]["status"] == "completed"
    names = sorted(p.name for p in run.iterdir())
    assert names == ["checkpoint.pth", "config.yaml", "final_state.pth", "model_best.pth", "results", "train.log"]
    assert [p.name for p in (run / "results").iterdir()] == ["keypoints_val_results_0.json"]
    ck = torch.load(run / "checkpoint.pth", weights_only=True)
    assert ck["epoch"] == 2 and not any(k.startswith("module.") for k in ck["state_dict"])
    log = (run / "train.log").read_text()
    assert "Distributed training: 2 processes (gloo)" in log

    # the gathered evaluation equals a single process's (same weights, same data)
    common = ["--cfg", EXPERIMENT, "TEST.MODEL_FILE", str(run / "final_state.pth"), *TINY_OPTS, *opts,
              "TEST.BATCH_SIZE_PER_GPU", "3", "--device", "cpu"]
    proc = _torchrun("hrnet.cli.test", [*common, "--output-dir", str(root / "eval2"),
                                        "--metrics-json", str(root / "m2.json")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = hrnet_test.main([*common, "--output-dir", str(root / "eval1"), "--metrics-json", str(root / "m1.json")])
    assert code == 0
    m1 = json.loads((root / "m1.json").read_text())
    m2 = json.loads((root / "m2.json").read_text())
    assert m1.keys() == m2.keys() and "AP" in m1
    assert m2 == m1  # exactly
    r1 = json.loads((root / "eval1" / "results" / "keypoints_val_results_0.json").read_text())
    r2 = json.loads((root / "eval2" / "results" / "keypoints_val_results_0.json").read_text())
    assert [(p["image_id"], p["category_id"]) for p in r1] == [(p["image_id"], p["category_id"]) for p in r2]
    for a, b in zip(r1, r2):  # batches differ between the runs: allow for float rounding in the convolutions
        assert a["keypoints"] == pytest.approx(b["keypoints"], rel=1e-4, abs=1e-3)
        assert a["score"] == pytest.approx(b["score"], rel=1e-4, abs=1e-5)
