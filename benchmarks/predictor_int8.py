"""int8 (ONNX Runtime, static QDQ) against fp32: speed, and accuracy on held-out synthetic frames.

    nice -n 10 python benchmarks/predictor_int8.py [--w32 CKPT] [--w32-size 96 128] [--frames 60]

Accuracy (every figure on trained weights, never random ones), per model: the bundled demo W16
and, with ``--w32``, a W32 (``coco/hrnet/w32_256x192_adam_lr1e-3`` architecture) trained by
``hrnet-train`` on synthetic people, evaluated at the input size it was trained at (``--w32-size``):

  * calibration: person boxes of synthetic frames (seed 103), as a user's project frames would be;
  * held out: ``--frames`` synthetic images (seed 104) the models never saw, ground-truth boxes;
  * COCO keypoint AP (pycocotools) of the fp32 Predictor and of each int8 recipe, the gate's
    figures for that recipe, and the share of confident joints (fp32 confidence > 0.2) whose
    image position moves by more than 1 px and by more than 0.05 x box size (sqrt(w*h)).

Recipes: ``default`` (hrnet.quantize: min/max calibration, the final 1x1 layer kept float),
``all-int8`` (no layer kept float), ``+resize`` (also the fuse layers' upsampling kept float),
``percentile`` (99.999th percentile ranges instead of min/max).

Speed, on the W32 at 256x192 (trained weights when given), 8 people in a 640x480 image, in CPU
time (``time.process_time``) on one thread and on all threads this process may use:
torch fp32 eager (network alone, the official test loop's forward), our fp32 Predictor (whole
predict), ORT fp32 and ORT int8 (network alone), and the int8 Predictor (whole predict); on one
thread also both Predictors with the flip test (crops and mirrored crops in one network call) and
where a whole predict's time goes (pre-processing, network, decoding). What bounds the int8
speed-up on a given CPU: ``benchmarks/int8_gemm.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hrnet import quantize
from hrnet.config import load_config
from hrnet.dataset.synthetic import generate_dataset, render_scene
from hrnet.models import build_model
from hrnet.models.checkpoint import load_checkpoint
from hrnet.models.optimize import optimize_for_inference
from hrnet.predictor import Predictor

DEMO = (Path(__file__).resolve().parent.parent / "resources" / "models" / "hrnet_w16_synthetic.pth")
RECIPES = {
    "default": {},
    "all-int8": {"keep_float": ()},
    "+resize": {"keep_float": ("final_layer", "Resize")},
    "percentile": {"method": "percentile"},
}


def calibration_frames(n: int, seed: int = 103) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        scene = render_scene(rng, people=(1, 3), occlusion=0.3)
        boxes = np.array([[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in scene.people])
        out.append((scene.image, boxes))
    return out


def held_out(tmp: Path, n: int) -> tuple[Path, list[tuple[int, np.ndarray, np.ndarray]]]:
    import cv2

    ann = generate_dataset(tmp / "heldout", n, seed=104, split_name="test", people=(1, 3), occlusion=0.3)
    doc = json.loads(ann.read_text())
    by_image: dict[int, list] = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["bbox"])
    frames = []
    for im in doc["images"]:
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in by_image.get(im["id"], [])], np.float64)
        image = cv2.imread(str(tmp / "heldout" / "images" / "test" / im["file_name"]))
        frames.append((im["id"], image, boxes))
    return ann, frames


def coco_ap(ann: Path, results: list[dict]) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def predict_all(predictor: Predictor, frames) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    results, kps, boxes = [], [], []
    for image_id, image, b in frames:
        for r in predictor.predict(image, b):
            results.append(r.to_coco(image_id))
            kps.append(r.keypoints)
            boxes.append(r.box)
    k = np.stack(kps)
    return results, k[..., :2], k[..., 2:], np.stack(boxes)


def accuracy(name: str, experiment: str, ckpt: Path, opts: list[str], cal, frames, ann: Path,
             recipes: list[str]) -> None:
    cfg = load_config(experiment, opts)
    fp32 = Predictor(cfg, weights=ckpt, device="cpu")
    res32, p32, v32, boxes = predict_all(fp32, frames)
    ap32 = coco_ap(ann, res32)
    print(f"\n== {name}: {len(res32)} held-out people in {len(frames)} frames; calibration: "
          f"{sum(len(b) for _, b in cal)} boxes in {len(cal)} frames ==")
    print(f"  fp32 Predictor                  AP {ap32:.4f}")
    print(f"  {'int8 recipe':<14}{'AP':>8}{'dAP':>9}{'moved>1px':>11}{'>0.05box':>10}"
          f"{'gate agree':>12}{'peak err':>10}{'gate':>6}{'build s':>9}")
    for recipe in recipes:
        kw = RECIPES[recipe]
        q = Predictor(cfg, weights=ckpt, device="cpu")
        t0 = time.perf_counter()
        runner, report, _ = quantize.build_int8_model(q, ckpt, cal, use_cache=False, **kw)
        dt = time.perf_counter() - t0
        if runner is None:  # the gate rejected it: measure the int8 model anyway (verdict kept)
            runner, forced, _ = quantize.build_int8_model(q, ckpt, cal, use_cache=False, min_agreement=0.0,
                                                          max_peak_error=1e9, **kw)
            report.agreement, report.peak_error = forced.agreement, forced.peak_error
        q.model, q.channels_last = runner, False
        res8, p8, _, _ = predict_all(q, frames)
        ap8 = coco_ap(ann, res8)
        m = quantize.compare_heatmaps((p32, v32), (p8, v32), boxes, 0.2)
        print(f"  {recipe:<14}{ap8:8.4f}{ap8 - ap32:+9.4f}{m['moved_1px']:11.1%}{m['moved_radius']:10.1%}"
              f"{report.agreement:12.1%}{report.peak_error:10.1%}{'pass' if report.passed else 'FAIL':>6}{dt:9.1f}")


def _cpu(fn, repeats: int) -> tuple[float, float]:
    """(median CPU s, median wall s) per call after one warm-up call."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def stages(p: Predictor, image: np.ndarray, boxes: np.ndarray, repeats: int) -> dict[str, float]:
    """Median CPU seconds of a predict's three stages (pre-processing, network, decoding + results)."""
    out: dict[str, list[float]] = {"preprocess": [], "network": [], "decode": []}
    for _ in range(repeats + 1):
        c0 = time.process_time()
        crops, centers, scales = p.preprocess([image], [boxes])
        c1 = time.process_time()
        heatmaps = p.forward(crops)
        c2 = time.process_time()
        p.decode_heatmaps(heatmaps, centers, scales)
        c3 = time.process_time()
        for k, dt in zip(out, (c1 - c0, c2 - c1, c3 - c2)):
            out[k].append(dt)
    return {k: statistics.median(v[1:]) for k, v in out.items()}


def conv_gmac(model: torch.nn.Module, input_hw: tuple[int, int]) -> float:
    """Multiply-accumulates of the convolutions for one person, in G (W32 256x192: 7.65)."""
    macs: list[int] = []

    def hook(mod, inp, out):
        kh, kw = mod.kernel_size
        macs.append(out[0].numel() * (mod.in_channels // mod.groups) * kh * kw)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, 3, *input_hw))
    finally:
        for h in handles:
            h.remove()
    return sum(macs) / 1e9


def speed(ckpt: Path | None, cal, people: int, repeats: int) -> None:
    exp = "coco/hrnet/w32_256x192_adam_lr1e-3"
    cfg = load_config(exp)
    with tempfile.TemporaryDirectory() as tmp:
        if ckpt is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from _common import realistic_weights

            m = build_model(cfg, is_train=False)
            realistic_weights(m)
            ckpt = Path(tmp) / "w32.pth"
            torch.save(m.state_dict(), ckpt)
            print("\n(speed with realistic random weights: no --w32 given)")
        work = Path(tmp) / ckpt.name
        work.write_bytes(Path(ckpt).read_bytes())  # the int8 cache goes next to this copy
        rng = np.random.default_rng(0)
        scene = render_scene(np.random.default_rng(5), image_size=(640, 480), people=(3, 3))
        image = scene.image
        x1 = rng.uniform(0, 500, people)
        y1 = rng.uniform(0, 200, people)
        boxes = np.stack([x1, y1, x1 + rng.uniform(60, 140, people), y1 + rng.uniform(150, 270, people)], 1)
        allowed = len(os.sched_getaffinity(0))
        eager = build_model(cfg, is_train=False)
        gmac = conv_gmac(eager, (256, 192))
        load_checkpoint(eager, work)
        eager.eval()
        load = build_model(cfg, is_train=False)
        load_checkpoint(load, work)
        folded = optimize_for_inference(load.eval(), channels_last=False, inplace=True)
        onnx32 = quantize.export_fp32_onnx(folded, (256, 192), Path(tmp) / "fp32.onnx")
        t0 = time.perf_counter()
        torch.set_num_threads(1)
        q = Predictor(cfg, weights=work, device="cpu", num_threads=1)
        # speed only: the gate is switched off here (its figures are in the accuracy part)
        _, report, _ = quantize.build_int8_model(q, work, cal, min_agreement=0.0, max_peak_error=float("inf"))
        print(f"\nint8 build (W32 256x192, {report.calibration_crops} calibration crops): "
              f"{time.perf_counter() - t0:.0f} s wall")
        onnx8 = next(Path(tmp).glob("*.int8-*.onnx"))
        crops, _, _ = q.preprocess([image], [boxes])
        x = crops.contiguous()
        xn = x.numpy()
        for threads in sorted({1, allowed}):
            torch.set_num_threads(threads)
            fp = Predictor(cfg, weights=work, device="cpu", num_threads=threads)
            i8 = Predictor(cfg, weights=work, device="cpu", precision="int8", num_threads=threads)
            s32 = quantize.ort_session(onnx32, threads)
            s8 = quantize.ort_session(onnx8, threads)

            def eager_fwd():
                with torch.no_grad():
                    eager(x)

            rows = {
                "torch fp32 eager (network)": eager_fwd,
                "fp32 Predictor (whole predict)": lambda fp=fp: fp.predict(image, boxes),
                "ORT fp32 (network)": lambda s=s32: s.run(["heatmaps"], {"input": xn}),
                "ORT int8 (network)": lambda s=s8: s.run(["heatmaps"], {"input": xn}),
                "int8 Predictor (whole predict)": lambda p=i8: p.predict(image, boxes),
            }
            if threads == 1:  # the flip test: crops and mirrored crops go through the network in one call
                fpf = Predictor(cfg, weights=work, device="cpu", num_threads=threads, flip_test=True)
                i8f = Predictor(cfg, weights=work, device="cpu", precision="int8", num_threads=threads,
                                flip_test=True)
                rows["fp32 Predictor, flip test"] = lambda p=fpf: p.predict(image, boxes)
                rows["int8 Predictor, flip test"] = lambda p=i8f: p.predict(image, boxes)
            times = {k: _cpu(fn, repeats) for k, fn in rows.items()}
            base = times["fp32 Predictor (whole predict)"][0]
            print(f"\n-- {threads} thread(s), {people} people per call, median of {repeats} --")
            print(f"  {'':<32}{'CPU ms':>9}{'persons/s CPU':>15}{'wall ms':>9}{'x fp32 Predictor':>18}"
                  f"{'conv GMAC/s':>13}")
            for k, (c, w) in times.items():
                ref = times["fp32 Predictor, flip test"][0] if "flip" in k else base
                rate = people * (2 if "flip" in k else 1) * gmac / c
                print(f"  {k:<32}{c * 1000:9.1f}{people / c:15.2f}{w * 1000:9.1f}{ref / c:18.2f}{rate:13.1f}")
            if threads == 1:
                print("  where a whole predict's CPU time goes:")
                for name, p in (("fp32", fp), ("int8", i8)):
                    parts = stages(p, image, boxes, repeats)
                    total = sum(parts.values())
                    print(f"    {name} Predictor: " + ", ".join(
                        f"{k} {v * 1000:.1f} ms ({v / total:.1%})" for k, v in parts.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--w32", type=Path, default=None, help="W32 checkpoint trained on synthetic people")
    ap.add_argument("--w32-size", type=int, nargs=2, default=(96, 128), metavar=("W", "H"),
                    help="input size the W32 was trained at (accuracy is measured there)")
    ap.add_argument("--frames", type=int, default=60, help="held-out synthetic images")
    ap.add_argument("--calibration-frames", type=int, default=48)
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--skip-demo", action="store_true", help="accuracy of the --w32 model only")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    cal = calibration_frames(args.calibration_frames)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_accuracy:
            ann, frames = held_out(Path(tmp), args.frames)
            demo = Path(tmp) / DEMO.name
            demo.write_bytes(DEMO.read_bytes())
            if not args.skip_demo:
                accuracy("demo W16 128x96 (bundled)", "synthetic/hrnet_w16_128x96", demo, [], cal, frames, ann,
                         args.recipes)
            if args.w32 is not None:
                w, h = args.w32_size
                opts = ["MODEL.IMAGE_SIZE", f"[{w},{h}]", "MODEL.HEATMAP_SIZE", f"[{w // 4},{h // 4}]",
                        "MODEL.SIGMA", "1" if w < 192 else "2", "MODEL.INIT_WEIGHTS", "False"]
                accuracy(f"W32 {w}x{h} ({args.w32.name})", "coco/hrnet/w32_256x192_adam_lr1e-3", args.w32, opts,
                         cal, frames, ann, args.recipes)
    if not args.skip_speed:
        speed(args.w32, cal, args.people, args.repeats)


if __name__ == "__main__":
    main()
