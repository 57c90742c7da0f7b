"""The checks of ``benchmarks/gpu_smoke.sh``, one sub-command each (run from the repository root).

    python benchmarks/gpu_smoke.py demo     --device cuda   # demo model: cuda vs cpu keypoints (fp32, fp16)
    python benchmarks/gpu_smoke.py worker   --device cuda   # the app's InferenceWorker thread on the device
    python benchmarks/gpu_smoke.py release  --device cuda   # VRAM after the app swaps / clears a model
    python benchmarks/gpu_smoke.py train    --device cuda --work DIR   # AMP + channels_last, resume, scaler
    python benchmarks/gpu_smoke.py video    --work DIR      # a video of the sample project's images
    python benchmarks/gpu_smoke.py compare  A.json B.json   # hrnet-predict results: same poses?
    python benchmarks/gpu_smoke.py onnx     --device cuda --work DIR   # ONNX export of a model on the device

Each prints one ``OK <check>: <figures>`` line, or ``FAIL <check>: <why>`` and exits 1.
Tolerances: fp32 on CUDA is IEEE fp32 (the Predictor turns TF32 off), so cuda and cpu keypoints
agree to float32 rounding (>= 99% of joints within 0.05 px); fp16 keypoints agree with fp32 ones
within the heatmap's quantisation (>= 95% of joints within 1 px). Nothing is downloaded: the bundled
demo model, the sample project and synthetic data only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEMO_EXPERIMENT = "synthetic/hrnet_w16_128x96"
DEMO_WEIGHTS = ROOT / "resources" / "models" / "hrnet_w16_synthetic.pth"
SAMPLE = ROOT / "resources" / "sample" / "project.json"


class SmokeFailure(Exception):
    pass


def ok(check: str, text: str) -> None:
    print(f"OK {check}: {text}", flush=True)


def require(condition: bool, text: str) -> None:
    if not condition:
        raise SmokeFailure(text)


def sample_frames(limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, person boxes xyxy) of the sample project's annotated frames."""
    import cv2

    doc = json.loads(SAMPLE.read_text())
    boxes: dict[int, list[list[float]]] = {}
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    out = []
    for im in doc["images"]:
        if im["id"] not in boxes:
            continue
        image = cv2.imread(str(SAMPLE.parent / "images" / im["file_name"]))
        if image is not None:
            out.append((image, np.array(boxes[im["id"]], np.float64)))
        if limit and len(out) >= limit:
            break
    if not out:
        raise SmokeFailure(f"no annotated frames readable in {SAMPLE}")
    return out


def _keypoints(predictor, frames) -> np.ndarray:
    results = predictor.predict_batch([f for f, _ in frames], [b for _, b in frames])
    return np.concatenate([np.stack([r.keypoints for r in rs]) for rs in results])


def _within(a: np.ndarray, b: np.ndarray, px: float) -> tuple[float, float]:
    d = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
    return float((d <= px).mean()), float(d.max())


def cmd_demo(args: argparse.Namespace) -> None:
    from hrnet import Predictor

    frames = sample_frames(args.frames)
    ref = _keypoints(Predictor(DEMO_EXPERIMENT, weights=DEMO_WEIGHTS, device="cpu"), frames)
    fp32 = _keypoints(Predictor(DEMO_EXPERIMENT, weights=DEMO_WEIGHTS, device=args.device, half=False), frames)
    share32, max32 = _within(fp32, ref, 0.05)
    require(share32 >= 0.99, f"fp32 on {args.device} vs cpu: only {share32:.1%} of joints within 0.05 px")
    text = f"{len(ref)} people; fp32 {args.device} vs cpu: {share32:.1%} within 0.05 px (max {max32:.3g} px)"
    if args.device != "cpu":
        fp16 = _keypoints(Predictor(DEMO_EXPERIMENT, weights=DEMO_WEIGHTS, device=args.device, half=True), frames)
        share16, max16 = _within(fp16, ref, 1.0)
        require(share16 >= 0.95, f"fp16 vs cpu fp32: only {share16:.1%} of joints within 1 px")
        text += f"; fp16 vs cpu: {share16:.1%} within 1 px (max {max16:.3g} px)"
    ok("demo model", text)


def cmd_worker(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.workers import InferenceJob, InferenceWorker
    from hrnet import Predictor

    app = QApplication.instance() or QApplication([])
    frames = sample_frames(args.frames)
    predictor = Predictor(DEMO_EXPERIMENT, weights=DEMO_WEIGHTS, device=args.device)
    jobs = [InferenceJob(i, boxes=b.astype(np.float32)) for i, (_, b) in enumerate(frames)]
    worker = InferenceWorker(predictor, jobs, lambda i: frames[i][0])
    got: dict[int, list] = {}
    failed: list[str] = []
    worker.result.connect(lambda i, r: got.__setitem__(i, r))
    worker.failed.connect(failed.append)
    loop = QEventLoop()
    worker.finished.connect(loop.quit)
    QTimer.singleShot(int(args.timeout * 1000), loop.quit)
    t0 = time.perf_counter()
    worker.start()
    loop.exec()
    worker.wait(5000)
    require(not failed, f"worker failed: {failed[:1]}")
    require(len(got) == len(frames), f"worker returned {len(got)} of {len(frames)} frames")
    direct = _keypoints(predictor, frames)
    threaded = np.concatenate([np.stack([r.keypoints for r in got[i]]) for i in range(len(frames))])
    share, dmax = _within(threaded, direct, 1e-3)
    require(share == 1.0, f"worker-thread keypoints differ from the main thread's (max {dmax:.3g} px)")
    del app
    ok("worker thread", f"{len(frames)} frames on {predictor.device} in {time.perf_counter() - t0:.2f} s, "
       "keypoints equal to a main-thread predict")


def cmd_release(args: argparse.Namespace) -> None:
    import os

    import torch

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.model_manager import ModelManager, ModelSpec
    from hrnet import Predictor

    app = QApplication.instance() or QApplication([])
    cuda = args.device.startswith("cuda")
    mib = 2**20

    def reserved() -> float:
        return torch.cuda.memory_reserved() / mib if cuda else 0.0

    base = reserved()
    manager = ModelManager()
    spec = ModelSpec(args.cfg, None, args.device)
    predictor = Predictor(args.cfg, device=args.device, batch_size=args.batch)
    image = np.zeros((480, 640, 3), np.uint8)
    predictor.predict(image, np.tile([[10.0, 10.0, 200.0, 400.0]], (args.batch, 1)))
    manager.set_predictor(spec, predictor)
    del predictor
    loaded = reserved()
    manager.clear()
    after = reserved()
    if cuda:
        require(loaded - base > 1, f"the model reserved nothing on {args.device} ({loaded:.0f} MiB)")
        require(after - base <= 0.1 * (loaded - base) + 8,
                f"after clearing, {after:.0f} MiB stay reserved (loaded {loaded:.0f}, before {base:.0f})")
    del app
    ok("memory release", f"{args.cfg} on {args.device}: reserved {base:.0f} MiB before, {loaded:.0f} MiB loaded "
       f"(after a batch of {args.batch}), {after:.0f} MiB after clear()")


def cmd_train(args: argparse.Namespace) -> None:
    import torch

    from hrnet.dataset.synthetic import generate_dataset
    from hrnet.train import main as train_main

    work = Path(args.work)
    data = work / "data"
    train = generate_dataset(data, args.images, image_size=(160, 120), seed=0, split_name="train")
    val = generate_dataset(data, max(1, args.images // 4), image_size=(160, 120), seed=1, split_name="val")
    opts = [
        "DATASET.TRAIN_ANNOTATIONS", str(train), "DATASET.TRAIN_IMAGES", str(data / "images" / "train"),
        "DATASET.TEST_ANNOTATIONS", str(val), "DATASET.TEST_IMAGES", str(data / "images" / "val"),
        "TRAIN.AMP", "True", "TRAIN.CHANNELS_LAST", "True", "TRAIN.BATCH_SIZE_PER_GPU", str(args.batch),
        "TEST.BATCH_SIZE_PER_GPU", str(args.batch), "WORKERS", "0", "PRINT_FREQ", "10", "TRAIN.SEED", "0",
    ]
    if args.tiny:  # the CPU dry run
        opts += ["MODEL.IMAGE_SIZE", "[64, 64]", "MODEL.HEATMAP_SIZE", "[16, 16]"]
    run = work / "run"
    base = ["--cfg", DEMO_EXPERIMENT, "--device", args.device, "--output-dir", str(run), "--progress", "jsonl"]
    t0 = time.perf_counter()
    code = train_main([*base, *opts, "TRAIN.END_EPOCH", "1"])
    require(code == 0, f"hrnet-train exited {code}")
    ckpt_path = run / "checkpoint.pth"
    require(ckpt_path.is_file(), f"no {ckpt_path}")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    scaler = ckpt.get("scaler")
    if args.device.startswith("cuda"):
        require(bool(scaler) and "scale" in scaler, f"AMP run without GradScaler state in the checkpoint: {scaler!r}")
    code = train_main([*base, "--resume", *opts, "TRAIN.END_EPOCH", "2"])
    require(code == 0, f"resumed hrnet-train exited {code}")
    ckpt2 = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    epoch = ckpt2.get("epoch")
    require(int(epoch or -1) == 2, f"resume did not continue to epoch 2 (checkpoint epoch {epoch})")
    saved = f"saved (scale {scaler['scale']:.0f})" if scaler else "none (AMP is CUDA only)"
    ok("train AMP + channels_last + resume",
       f"2 epochs on {args.device} in {time.perf_counter() - t0:.1f} s; scaler state {saved}")


def cmd_video(args: argparse.Namespace) -> None:
    import cv2

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out = work / "sample.avi"
    frames = sample_frames(args.frames)
    h, w = frames[0][0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    require(writer.isOpened(), f"cannot write {out}")
    for image, _ in frames:
        writer.write(cv2.resize(image, (w, h)))
    writer.release()
    print(out)


def cmd_compare(args: argparse.Namespace) -> None:
    a = json.loads(Path(args.a).read_text())
    b = json.loads(Path(args.b).read_text())
    require(len(a) == len(b) and len(a) > 0, f"{len(a)} vs {len(b)} poses")
    ka = np.array([r["keypoints"] for r in a]).reshape(len(a), -1, 3)
    kb = np.array([r["keypoints"] for r in b]).reshape(len(b), -1, 3)
    require([r["frame_index"] for r in a] == [r["frame_index"] for r in b], "different frames")
    share, dmax = _within(ka, kb, args.px)
    require(share >= args.share, f"only {share:.1%} of joints within {args.px} px (max {dmax:.3g} px)")
    ok("hrnet-predict video", f"{len(a)} poses, {share:.1%} of joints within {args.px} px (max {dmax:.3g} px)")


def cmd_onnx(args: argparse.Namespace) -> None:
    import torch

    from hrnet.cli.export import check_export, export_onnx, load_export_model

    model, cfg = load_export_model(DEMO_EXPERIMENT, str(DEMO_WEIGHTS))
    device = torch.device(args.device)
    model = model.to(device)
    w, h = (int(v) for v in cfg.MODEL.IMAGE_SIZE)
    g = torch.Generator().manual_seed(0)
    example = torch.randn(1, 3, h, w, generator=g).to(device)
    out = export_onnx(model, example, Path(args.work) / "demo.onnx")
    x = torch.randn(3, 3, h, w, generator=g).to(device)
    err = check_export(out, "onnx", model, x)
    if err is None:
        ok("onnx export", f"exported from {device} (onnxruntime not installed: not compared)")
        return
    require(err < 1e-3, f"ONNX Runtime differs from the {device} model (max relative error {err:.2g})")
    ok("onnx export", f"exported from a model on {device}; ONNX Runtime (CPU) vs {device}: "
       f"max relative error {err:.2g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("demo", "worker", "release", "train", "onnx"):
        p = sub.add_parser(name)
        p.add_argument("--device", default="cuda")
        p.add_argument("--work", default="smoke_work")
        p.add_argument("--frames", type=int, default=None)
        p.add_argument("--timeout", type=float, default=120.0)
        p.add_argument("--cfg", default="coco/hrnet/w32_256x192_adam_lr1e-3")
        p.add_argument("--batch", type=int, default=32)
        p.add_argument("--images", type=int, default=64)
        p.add_argument("--tiny", action="store_true", help="train: 64x64 inputs (the CPU dry run)")
    p = sub.add_parser("video")
    p.add_argument("--work", default="smoke_work")
    p.add_argument("--frames", type=int, default=None)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--px", type=float, default=0.05)
    p.add_argument("--share", type=float, default=0.99)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        globals()[f"cmd_{args.cmd}"](args)
    except SmokeFailure as e:
        print(f"FAIL {args.cmd}: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
