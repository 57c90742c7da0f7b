"""Which int8 recipe / ONNX Runtime setting runs the W32 fastest on this CPU? (speed only)

    nice -n 10 python benchmarks/int8_variants.py [--crops 16] [--rounds 4]

HRNet-W32 256x192 (realistic random weights: speed does not depend on training), exported as
hrnet.quantize does, calibrated on person crops of synthetic frames, then quantised in several
ways and timed on one thread, 8 crops per call, in CPU time, interleaved over ``--rounds``
rounds (medians; a shared machine moves single figures by ~10%):

  qdq per-channel     hrnet.quantize's recipe (QDQ, per-channel symmetric int8 weights, uint8
                      activations, every op ORT quantises: Conv, Add, Resize...; final 1x1 float)
  qoperator           the same in QOperator format (QLinearConv / QLinearAdd nodes written out)
  per-tensor          one weight scale per tensor
  conv only           only Conv quantised (Add / Resize run in float between DQ / Q pairs)
  zero point -1       the default's weights stored with zero point -1 (same values): ORT's
                      QLinearConv then leaves its symmetric indirect-conv kernel for im2col + QGEMM
  opt extended/basic  the default at lower ORT graph optimisation levels (no NHWC transformer)
  batch 1 / 32        the default, 1 or 32 crops per call instead of 8

and ORT fp32 for reference. reduce_range (7-bit weights) is not listed: MLAS runs the same u8s8
kernels either way (it only avoids vpmaddubsw saturation), and it costs accuracy.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _common import realistic_weights
from predictor_int8 import calibration_frames

from hrnet import quantize
from hrnet.config import load_config
from hrnet.models import build_model
from hrnet.models.optimize import optimize_for_inference
from hrnet.predictor import Predictor


def quantise(fp32: Path, out: Path, crops: np.ndarray, *, fmt: str = "qdq", per_channel: bool = True,
             ops: list[str] | None = None) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(crops):
                return None
            self.i += 8
            return {"input": crops[self.i - 8:self.i]}

    graph = onnx.load(str(fp32)).graph
    exclude = [n.name for n in graph.node if any(k in n.name for k in quantize.KEEP_FLOAT)]
    quantize_static(str(fp32), str(out), Reader(),
                    quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                    per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=exclude, op_types_to_quantize=ops)
    return out


def shift_zero_point(src: Path, dst: Path) -> int:
    """Symmetric int8 weights q (zero point 0) stored as q - 1 with zero point -1: same values."""
    m = onnx.load(str(src))
    inits = {i.name: i for i in m.graph.initializer}
    n = 0
    for node in m.graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) < 3 or node.input[0] not in inits:
            continue
        q, zp = numpy_helper.to_array(inits[node.input[0]]), numpy_helper.to_array(inits[node.input[2]])
        if q.dtype != np.int8 or np.any(zp != 0) or q.min() < -127:
            continue
        inits[node.input[0]].CopyFrom(numpy_helper.from_array((q.astype(np.int16) - 1).astype(np.int8), node.input[0]))
        inits[node.input[2]].CopyFrom(numpy_helper.from_array(np.full_like(zp, -1), node.input[2]))
        n += 1
    onnx.save(m, str(dst))
    return n


def session(path: Path, level: str = "all"):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                     "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}[level]
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", type=int, default=16, help="calibration crops (speed does not depend on them)")
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(1)
    cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3")
    net = build_model(cfg, is_train=False).eval()
    realistic_weights(net)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        torch.save(net.state_dict(), tmp / "w32.pth")
        p = Predictor(cfg, weights=tmp / "w32.pth", device="cpu", num_threads=1)
        cal = calibration_frames(max(4, args.crops // 2))
        crops = p.preprocess([im for im, _ in cal], [b for _, b in cal])[0].contiguous().numpy()[:args.crops]
        fp32 = quantize.export_fp32_onnx(optimize_for_inference(net, channels_last=False, inplace=True),
                                         (256, 192), tmp / "fp32.onnx")
        t0 = time.perf_counter()
        default = quantise(fp32, tmp / "qdq.onnx", crops)
        models = {
            "ORT fp32": (fp32, "all", 8),
            "qdq per-channel": (default, "all", 8),
            "qoperator": (quantise(fp32, tmp / "qop.onnx", crops, fmt="qop"), "all", 8),
            "per-tensor": (quantise(fp32, tmp / "pt.onnx", crops, per_channel=False), "all", 8),
            "conv only": (quantise(fp32, tmp / "conv.onnx", crops, ops=["Conv"]), "all", 8),
        }
        shift_zero_point(default, tmp / "zp.onnx")
        models["zero point -1"] = (tmp / "zp.onnx", "all", 8)
        models["opt extended"] = (default, "extended", 8)
        models["opt basic"] = (default, "basic", 8)
        models["batch 1"] = (default, "all", 1)
        models["batch 32"] = (default, "all", 32)
        print(f"(quantised 5 ways in {time.perf_counter() - t0:.0f} s wall)")
        data = np.concatenate([crops] * (32 // len(crops) + 1))[:32]
        sessions = {k: (session(path, level), np.ascontiguousarray(data[:batch])) for k, (path, level, batch)
                    in models.items()}
        for s, x in sessions.values():
            s.run(None, {"input": x})
        times: dict[str, list[float]] = {k: [] for k in sessions}
        names = list(sessions)
        for r in range(args.rounds):
            for k in names[r % len(names):] + names[:r % len(names)]:
                s, x = sessions[k]
                c = time.process_time()
                s.run(None, {"input": x})
                times[k].append((time.process_time() - c) / len(x))
    per = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nW32 256x192, one thread, CPU time, median of {args.rounds} interleaved rounds")
    print(f"  {'':<18}{'persons/s':>10}{'x default':>11}{'x ORT fp32':>12}")
    for k, v in per.items():
        print(f"  {k:<18}{1 / v:10.2f}{per['qdq per-channel'] / v:11.2f}{per['ORT fp32'] / v:12.2f}")


if __name__ == "__main__":
    main()
