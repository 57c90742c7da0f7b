"""The demo model in resources/models loads into its experiment and really finds synthetic people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hrnet.dataset.synthetic import render_scene
from hrnet.predictor import Predictor

DEMO = Path(__file__).resolve().parents[2] / "resources" / "models" / "hrnet_w16_synthetic.pth"
EXPERIMENT = "synthetic/hrnet_w16_128x96"


def _pck(predictor: Predictor, seeds: range) -> float:
    hits, total = 0, 0
    for seed in seeds:
        scene = render_scene(seed, (320, 240), people=(1, 2), occlusion=0.0)
        boxes, gts = [], []
        for person in scene.people:
            kp = np.asarray(person.keypoints, dtype=float).reshape(-1, 3)
            x, y, w, h = person.bbox
            boxes.append([x, y, x + w, y + h])
            gts.append((kp, max(w, h)))
        results = predictor.predict(scene.image, np.array(boxes, dtype=np.float32))
        for r, (kp, size) in zip(results, gts):
            vis = kp[:, 2] > 0
            d = np.linalg.norm(r.keypoints[vis, :2] - kp[vis, :2], axis=1)
            hits += int((d < 0.1 * size).sum())
            total += int(vis.sum())
    return hits / max(total, 1)


@pytest.mark.skipif(not DEMO.is_file(), reason="bundled demo model not present")
def test_bundled_demo_model_finds_synthetic_people():
    trained = Predictor(EXPERIMENT, weights=str(DEMO), device="cpu")
    untrained = Predictor(EXPERIMENT, weights=None, device="cpu")
    seeds = range(500, 506)
    pck_trained, pck_untrained = _pck(trained, seeds), _pck(untrained, seeds)
    assert pck_trained > 0.5, (pck_trained, pck_untrained)
    assert pck_trained > 3 * pck_untrained, (pck_trained, pck_untrained)
