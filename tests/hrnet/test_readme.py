"""Every ```python block of README.md runs, in order, in one namespace.

The files the example names are made in a temporary folder first: the checkpoint
(``pose_hrnet_w32_256x192.pth``) is a random W32 state_dict of the right layout, the photo a
random image and the project an empty COCO document.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_python_examples():
    assert _blocks(), "README.md has no ```python block"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    import hrnet

    names = set(re.findall(r"[\w./-]+\.(?:pth|jpg|json)", "\n".join(_blocks())))
    assert names <= {"pose_hrnet_w32_256x192.pth", "people.jpg", "project.json"}, (
        f"the README names files this test does not make: {sorted(names)}")
    torch.manual_seed(0)
    cfg = hrnet.load_config("coco/hrnet/w32_256x192_adam_lr1e-3")
    torch.save(hrnet.build_model(cfg).state_dict(), tmp_path / "pose_hrnet_w32_256x192.pth")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "people.jpg"), rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    hrnet.save_coco(hrnet.PoseDocument(), tmp_path / "project.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))  # never touch the user's cache
    torch.set_num_threads(1)
    namespace: dict = {"__name__": "__readme__"}
    for i, code in enumerate(_blocks()):
        exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)  # the traceback names the block
