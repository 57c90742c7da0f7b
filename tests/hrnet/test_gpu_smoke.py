"""``DEV=cpu benchmarks/gpu_smoke.sh``: the GPU smoke script's CI-sized dry run on the CPU, so the
script is known to work when the first GPU arrives (each check runs on a tiny model)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# ~9 short Python processes (each imports torch): about 90 s of CPU time in all, measured on the
# shared development machine; the timeout only catches a hang.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_smoke_dry_run(tmp_path):
    env = dict(os.environ, DEV="cpu", PYTHON=sys.executable, WORK=str(tmp_path / "work"), OUT=str(tmp_path / "out"),
               QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_smoke.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=880)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "gpu_smoke: all checks passed" in log
    for check in ("OK demo model", "OK worker thread", "OK memory release", "OK train AMP", "OK hrnet-predict video",
                  "OK onnx export", "fp16 vs fp32 keypoints", "persons/s"):
        assert check in log, check
    assert "FAIL" not in log
    assert (tmp_path / "out" / "predictor_gpu.json").is_file() and (tmp_path / "out" / "gpu_smoke.log").is_file()
