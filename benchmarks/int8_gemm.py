"""How much faster can int8 be than fp32 on this CPU at all? int8 vs fp32 matrix products, and the
bound they put on the int8 Predictor.

    nice -n 10 python benchmarks/int8_gemm.py [--repeats 5] [--people 8]

On one thread, in CPU time (``time.process_time``), multiply-accumulates per second (GMAC/s) of:

* ONNX Runtime (MLAS, the kernels the int8 Predictor runs): fp32 ``MatMul`` against uint8 x int8
  ``MatMulInteger`` (the u8s8 kernel QLinearConv uses; u8u8 for comparison);
* PyTorch: fp32 ``mm`` (oneDNN / MKL) against fbgemm's quantised ``Linear`` (uint8 x int8 with
  int32 accumulation and requantisation), a second, independent int8 implementation;

on a square product and on the shapes of HRNet-W32's convolutions as GEMMs (im2col: M = output
pixels of a batch of 8, K = input channels x 3 x 3, N = output channels).

Then the bound: our fp32 Predictor runs W32 256x192 at P persons/s = P x 7.65 GMAC/s (counted
here with forward hooks). A whole int8 predict cannot be faster than its convolutions at the best
int8 GEMM rate measured, so its speed-up over the fp32 Predictor is at most
best_int8_GMAC/s / (P x GMAC per person). On AVX2 without VNNI int8 multiply-adds go through
``vpmaddubsw`` + ``vpmaddwd`` (two instructions per 32 products, where one FMA does 8 fp32
products), so the ratio is about 2, not the 3-4 of VNNI / AMX machines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

SHAPES = [  # (M, K, N)
    (1024, 1024, 1024),
    (24576, 288, 32),  # 3x3 conv, 32 -> 32 channels at 64x48 (branch 1), 8 crops
    (6144, 576, 64),  # 3x3 conv, 64 -> 64 at 32x24 (branch 2)
    (1536, 1152, 128),  # 3x3 conv, 128 -> 128 at 16x12 (branch 3)
    (384, 2304, 256),  # 3x3 conv, 256 -> 256 at 8x6 (branch 4)
    (24576, 64, 256),  # 1x1 conv, 64 -> 256 (stem bottlenecks)
]


def _cpu(fn, repeats: int) -> float:
    fn()
    ts = []
    for _ in range(repeats):
        c = time.process_time()
        fn()
        ts.append(time.process_time() - c)
    return statistics.median(ts)


def _ort_session(graph):
    import onnxruntime as ort
    from onnx import helper

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def ort_rates(m: int, k: int, n: int, repeats: int, rng) -> dict[str, float]:
    from onnx import TensorProto, helper, numpy_helper

    out = {}
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "fp32",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
                          [numpy_helper.from_array(b, "b")])
    s = _ort_session(g)
    out["ORT fp32"] = m * k * n / _cpu(lambda: s.run(None, {"a": a}), repeats) / 1e9
    au = rng.integers(0, 256, (m, k), dtype=np.uint8)
    bs = rng.integers(-127, 128, (k, n), dtype=np.int8)
    for name, bq, bz in (("ORT u8s8", bs, np.array(0, np.int8)),
                         ("ORT u8u8", (bs.astype(np.int16) + 128).astype(np.uint8), np.array(128, np.uint8))):
        g = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])], "int8",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])],
                              [numpy_helper.from_array(bq, "b"), numpy_helper.from_array(np.array(128, np.uint8), "az"),
                               numpy_helper.from_array(bz, "bz")])
        s = _ort_session(g)
        out[name] = m * k * n / _cpu(lambda s=s: s.run(None, {"a": au}), repeats) / 1e9
    return out


def torch_rates(m: int, k: int, n: int, repeats: int) -> dict[str, float]:
    out = {}
    x = torch.randn(m, k)
    w = torch.randn(n, k)
    with torch.inference_mode():
        out["torch fp32"] = m * k * n / _cpu(lambda: torch.mm(x, w.t()), repeats) / 1e9
    try:
        import torch.ao.nn.quantized as nnq

        if "fbgemm" not in torch.backends.quantized.supported_engines:
            return out
        torch.backends.quantized.engine = "fbgemm"
        lin = nnq.Linear(k, n)
        lin.set_weight_bias(torch.quantize_per_tensor(w / 8, 0.05, 0, torch.qint8), None)
        lin.scale, lin.zero_point = 1.0, 128
        xq = torch.quantize_per_tensor(x.abs(), 0.05, 0, torch.quint8)
        with torch.inference_mode():
            out["fbgemm u8s8"] = m * k * n / _cpu(lambda: lin(xq), repeats) / 1e9
    except (RuntimeError, ImportError) as e:  # a torch build without quantised kernels
        print(f"  (fbgemm unavailable: {e})")
    return out


def predictor_rate(people: int, repeats: int) -> tuple[float, float]:
    """(fp32 Predictor persons/s on W32 256x192, GMAC per person)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import realistic_weights

    from hrnet.config import load_config
    from hrnet.dataset.synthetic import render_scene
    from hrnet.models import build_model
    from hrnet.predictor import Predictor

    cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3")
    net = build_model(cfg, is_train=False).eval()
    macs = []

    def hook(mod, inp, out):
        kh, kw = mod.kernel_size
        macs.append(out[0].numel() * (mod.in_channels // mod.groups) * kh * kw)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        net(torch.zeros(1, 3, 256, 192))
    for h in handles:
        h.remove()
    per_person = sum(macs) / 1e9
    realistic_weights(net)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(net.state_dict(), f"{tmp}/w32.pth")
        p = Predictor(cfg, weights=f"{tmp}/w32.pth", device="cpu", num_threads=1)
    scene = render_scene(np.random.default_rng(5), image_size=(640, 480), people=(3, 3))
    rng = np.random.default_rng(0)
    x1, y1 = rng.uniform(0, 500, people), rng.uniform(0, 200, people)
    boxes = np.stack([x1, y1, x1 + rng.uniform(60, 140, people), y1 + rng.uniform(150, 270, people)], 1)
    t = _cpu(lambda: p.predict(scene.image, boxes), repeats)
    return people / t, per_person


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--people", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    names = ["ORT fp32", "ORT u8s8", "ORT u8u8", "torch fp32", "fbgemm u8s8"]
    print("GMAC/s, one thread, CPU time")
    print(f"  {'M x K x N':<20}" + "".join(f"{n:>13}" for n in names) + f"{'u8s8/fp32 ORT':>15}")
    best_int8 = best_fp32 = 0.0
    for m, k, n in SHAPES:
        r = {**ort_rates(m, k, n, args.repeats, rng), **torch_rates(m, k, n, args.repeats)}
        best_int8 = max(best_int8, r["ORT u8s8"], r.get("fbgemm u8s8", 0.0))
        best_fp32 = max(best_fp32, r["ORT fp32"], r["torch fp32"])
        print(f"  {f'{m}x{k}x{n}':<20}" + "".join(f"{r.get(c, float('nan')):13.1f}" for c in names)
              + f"{r['ORT u8s8'] / r['ORT fp32']:15.2f}")
    pps, gmac = predictor_rate(args.people, max(3, args.repeats // 2))
    rate = pps * gmac
    print(f"\nour fp32 Predictor, W32 256x192, {args.people} people per call: {pps:.2f} persons/s x {gmac:.2f} GMAC "
          f"= {rate:.1f} GMAC/s ({rate / best_fp32:.0%} of the best fp32 GEMM rate, {best_fp32:.1f})")
    print(f"best int8 GEMM rate measured: {best_int8:.1f} GMAC/s -> an int8 predict is at most "
          f"{best_int8 / rate:.2f}x the fp32 Predictor on this CPU (2.5x needs {2.5 * rate:.1f} GMAC/s of int8)")


if __name__ == "__main__":
    main()
