"""Proof that it learns: train the shipped small experiment on synthetic people on the CPU, then
check COCO AP and PCK on held-out images far above chance (an untrained network scores AP 0.000,
PCK ~0.01-0.07).

It runs the real training program (``hrnet.train.main`` with ``--progress jsonl``: datasets,
augmentation, train_one_epoch, per-epoch validation with flip test and COCO evaluation,
checkpoints), then ``hrnet-test`` with the official decoding and with DARK on the same weights.

Settings for a budget of about 5 minutes on 2 cores (8,000 training samples): 1,600 images of
one person each with light occlusion (80 held-out images for validation), batch 8 at the official
Adam LR 1e-3 (more updates per image than batch 16), no rotation / half-body augmentation (they
slow the first epochs down; flip and scale stay), 5 epochs with the LR decayed 10x for the last
one. Training uses one compute thread plus one data-loading worker process: on 2 cores that keeps
both busy without oversubscribing them (two OpenMP threads next to a worker, or on a shared
machine, lose far more waiting for each other than they gain).

Measured on the team machine (a shared 2-core VM): in-process data and one thread: 289 s of
training (296 s in all); AP by epoch 0.003 / 0.026 / 0.127 / 0.152 / 0.312, PCK 0.33 -> 0.68,
DARK AP 0.332. As committed (one thread + one worker; that run was slowed down 4x by other jobs,
355 s of CPU time): AP by epoch 0.001 / 0.037 / 0.104 / 0.194 / 0.327, AP .5 0.756, PCK 0.27 ->
0.70; DARK decoding AP 0.351 (+0.024 over the official quarter offset). The thresholds (AP 0.15,
PCK 0.50) leave a wide margin under those values.
"""

from __future__ import annotations

import io
import json
import sys
import time

import pytest
import torch

from hrnet.cli import test as hrnet_test
from hrnet.dataset.synthetic import generate_dataset
from hrnet.train import main as train_main
from tests.hrnet.test_train_helpers import EXPERIMENT, of_kind, parse_jsonl

pytestmark = pytest.mark.slow

TRAIN_IMAGES = 1600
VAL_IMAGES = 80
EPOCHS = 5
OPTS = [
    "TRAIN.END_EPOCH", str(EPOCHS), "TRAIN.LR_STEP", f"[{EPOCHS}]", "TRAIN.LR", "0.001",
    "TRAIN.BATCH_SIZE_PER_GPU", "8", "TRAIN.SEED", "0", "WORKERS", "1",
    "DATASET.ROT_FACTOR", "0", "DATASET.PROB_HALF_BODY", "0.0",
]
MIN_AP = 0.15
MIN_PCK = 0.50


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_hrnet_learns_synthetic_people(tmp_path, one_thread):
    t0 = time.perf_counter()
    data = tmp_path / "data"
    kw = {"people": (1, 1), "occlusion": 0.2}
    train_ann = generate_dataset(data, TRAIN_IMAGES, seed=0, split_name="train", **kw)
    val_ann = generate_dataset(data, VAL_IMAGES, seed=1, split_name="val", **kw)  # held out
    data_opts = [
        "DATASET.TRAIN_ANNOTATIONS", str(train_ann), "DATASET.TRAIN_IMAGES", str(data / "images" / "train"),
        "DATASET.TEST_ANNOTATIONS", str(val_ann), "DATASET.TEST_IMAGES", str(data / "images" / "val"),
    ]
    run = tmp_path / "run"
    buf, stdout = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        code = train_main(["--cfg", EXPERIMENT, "--device", "cpu", "--output-dir", str(run), "--progress", "jsonl",
                           *data_opts, *OPTS])
    finally:
        sys.stdout = stdout
    events = parse_jsonl(buf.getvalue())
    assert code == 0, of_kind(events, "error")
    t_train = time.perf_counter() - t0
    epochs = of_kind(events, "epoch_end")
    assert [e["epoch"] for e in epochs] == list(range(EPOCHS))
    first, last = epochs[0]["metrics"], epochs[-1]["metrics"]

    decoded = {}
    for decode in ("default", "dark"):
        out = tmp_path / f"metrics_{decode}.json"
        assert hrnet_test.main(["--cfg", EXPERIMENT, "TEST.MODEL_FILE", str(run / "final_state.pth"), *data_opts,
                                "WORKERS", "1", "TEST.DECODE", decode, "--device", "cpu",
                                "--output-dir", str(tmp_path / f"test_{decode}"), "--metrics-json", str(out)]) == 0
        decoded[decode] = json.loads(out.read_text())
    summary = {
        "train_samples": of_kind(events, "start")[0]["train_samples"], "epochs": EPOCHS,
        "AP_by_epoch": [round(e["metrics"]["AP"], 3) for e in epochs],
        "PCK_by_epoch": [round(e["metrics"]["PCK"], 3) for e in epochs],
        "AP": round(decoded["default"]["AP"], 3), "AP .5": round(decoded["default"]["AP .5"], 3),
        "PCK": round(decoded["default"]["PCK"], 3), "AP_dark": round(decoded["dark"]["AP"], 3),
        "train_s": round(t_train), "total_s": round(time.perf_counter() - t0),
    }
    print("learning test:", json.dumps(summary))

    # hrnet-test on the final weights reproduces the last epoch's validation
    assert decoded["default"] == pytest.approx(last)
    assert last["AP"] >= MIN_AP, summary
    assert last["PCK"] >= MIN_PCK, summary
    assert last["AP"] > first["AP"] and last["PCK"] > first["PCK"], summary
    # DARK decodes the same heatmaps: it must be in the same range (its gain is measured, not assumed)
    assert decoded["dark"]["AP"] >= 0.5 * MIN_AP, summary
    assert decoded["dark"]["PCK"] == pytest.approx(decoded["default"]["PCK"])  # PCK uses the arg-max only
