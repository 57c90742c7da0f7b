"""``hrnet-export``: a pose network as ONNX (dynamic batch) or TorchScript, checked against PyTorch.

::

    hrnet-export --experiment coco/hrnet/w32_256x192 --weights pose_hrnet_w32_256x192.pth \\
        --format onnx --out hrnet_w32.onnx

The exported model maps a normalised image batch ``input`` (N, 3, H, W) float32 — the crops the
Predictor makes: affine-warped person boxes in the experiment's colour order, ImageNet mean/std
normalised — to ``heatmaps`` (N, K, H/4, W/4). BatchNorm is folded into the convolutions (same
numbers up to float rounding). After writing, the file is loaded back and its heatmaps compared
with the PyTorch model's on a random batch of a different size than the one traced (TorchScript
always; ONNX with onnxruntime when it is installed: ``pip install onnxruntime``).
ONNX export needs the ``onnx`` package (``pip install onnx``).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hrnet.errors import HRNetError
from hrnet.utils.io import atomic_path

__all__ = ["build_parser", "export_onnx", "export_torchscript", "load_export_model", "main", "max_relative_error"]

log = logging.getLogger("hrnet.export")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hrnet-export", description="Export a pose network to ONNX or TorchScript.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--experiment", "--cfg", default=None,
                   help="shipped experiment name or YAML path (optional with a registry --weights name)")
    p.add_argument("--weights", default=None, help="pose checkpoint path or registry name; none = random weights")
    p.add_argument("--format", choices=("onnx", "torchscript"), required=True)
    p.add_argument("--out", required=True, help="file to write (.onnx / .pt)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset")
    p.add_argument("--batch", type=int, default=1, help="batch size of the example input used for tracing")
    p.add_argument("--no-check", action="store_true", help="do not compare the exported model with PyTorch")
    p.add_argument("--int8", action="store_true",
                   help="ONNX only: a statically quantised int8 model (QDQ) for ONNX Runtime on the CPU, calibrated "
                        "on --calibration and checked against fp32 (refused when the check fails)")
    p.add_argument("--calibration", default=None, metavar="IMAGES_OR_COCO_JSON",
                   help="with --int8: your own data, a COCO keypoint JSON (boxes) or a folder of person crops")
    p.add_argument("--opts", nargs="*", default=[], metavar="KEY VALUE", help="config overrides")
    p.add_argument("--debug", action="store_true")
    return p


def load_export_model(experiment: Any, weights: str | None, opts: Sequence[str] = ()) -> tuple[nn.Module, Any]:
    """The eval-mode network of ``experiment`` with ``weights`` (BatchNorm folded, contiguous
    layout, no gradients) and its config."""
    from hrnet.config import load_config
    from hrnet.models import build_model
    from hrnet.models.checkpoint import load_checkpoint
    from hrnet.models.optimize import optimize_for_inference
    from hrnet.weights import resolve_weights, weights_experiment

    if experiment is None:
        if weights is None:
            raise HRNetError("give --experiment (and --weights), or a registry --weights name")
        experiment = weights_experiment(weights)
    cfg = load_config(experiment, list(opts))
    model = build_model(cfg, is_train=False)
    if weights is None:
        log.warning("No --weights: exporting random weights")
    else:
        load_checkpoint(model, resolve_weights(weights))
    model = optimize_for_inference(model.eval(), channels_last=False, inplace=True)
    return model, cfg


def _example(cfg: Any, batch: int, seed: int = 0) -> torch.Tensor:
    w, h = (int(v) for v in cfg.MODEL.IMAGE_SIZE)
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


def max_relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a - b| / max |b|`` (on the CPU: ``a`` and ``b`` may live on different devices)."""
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-12)


def export_torchscript(model: nn.Module, example: torch.Tensor, out: str | os.PathLike[str]) -> Path:
    """Trace ``model`` on ``example`` and save it (atomically). The traced graph takes any batch size."""
    out = Path(out)
    with atomic_path(out, mkdir=True) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated in recent torch, still works
        traced = torch.jit.trace(model, example, check_trace=False)
        torch.jit.save(traced, str(tmp))
    return out


def export_onnx(model: nn.Module, example: torch.Tensor, out: str | os.PathLike[str], opset: int = 17) -> Path:
    """Export ``model`` to ONNX with a dynamic batch dimension (input ``input``, output
    ``heatmaps``), atomically. Needs the ``onnx`` package."""
    if importlib.util.find_spec("onnx") is None:
        raise HRNetError("ONNX export needs the onnx package: pip install onnx (and onnxruntime to check the result)")
    out = Path(out)
    with atomic_path(out, mkdir=True) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:  # the TorchScript-based exporter: needs only the onnx package
            torch.onnx.export(
                model, (example,), str(tmp), dynamo=False, opset_version=opset,
                input_names=["input"], output_names=["heatmaps"],
                dynamic_axes={"input": {0: "batch"}, "heatmaps": {0: "batch"}},
            )
        except (TypeError, RuntimeError, NotImplementedError) as e:
            if importlib.util.find_spec("onnxscript") is None:
                raise HRNetError(f"ONNX export failed ({e}); the torch.export-based exporter needs onnxscript: "
                                 "pip install onnxscript") from e
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(
                model, (example,), str(tmp), dynamo=True, opset_version=opset,
                input_names=["input"], output_names=["heatmaps"], dynamic_shapes=({0: batch},),
            )
    return out


def check_export(path: Path, fmt: str, model: nn.Module, x: torch.Tensor) -> float | None:
    """Relative max difference between the exported model's heatmaps and ``model``'s on ``x``;
    None when it cannot be checked (ONNX without onnxruntime). ``model`` and ``x`` may be on a GPU:
    the TorchScript file is loaded onto ``x``'s device, ONNX Runtime gets a CPU copy of ``x``."""
    with torch.no_grad():
        ref = model(x)
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            loaded = torch.jit.load(str(path), map_location=x.device)
        with torch.no_grad():
            return max_relative_error(loaded(x), ref)
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(["heatmaps"], {"input": x.detach().float().cpu().numpy()})
    return max_relative_error(torch.from_numpy(out), ref)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s")
    if len(args.opts) % 2:
        parser.error("--opts takes KEY VALUE pairs")
    if args.int8:
        if args.format != "onnx":
            parser.error("--int8 needs --format onnx")
        if not args.calibration:
            parser.error("--int8 needs --calibration IMAGES_OR_COCO_JSON (your own frames: a COCO keypoint JSON or "
                         "a folder of person crops)")
        if args.weights is None:
            parser.error("--int8 needs --weights (the model is calibrated and checked against them)")
        return _export_int8(args)
    try:
        model, cfg = load_export_model(args.experiment, args.weights, args.opts)
        example = _example(cfg, max(1, args.batch))
        out = Path(args.out)
        if args.format == "onnx":
            export_onnx(model, example, out, args.opset)
        else:
            export_torchscript(model, example, out)
        size = out.stat().st_size / 2**20
        print(f"wrote {out} ({args.format}, {size:.1f} MiB): input 'input' (N, 3, {cfg.MODEL.IMAGE_SIZE[1]}, "
              f"{cfg.MODEL.IMAGE_SIZE[0]}) float32 normalised crops -> 'heatmaps' (N, {cfg.MODEL.NUM_JOINTS}, "
              f"{cfg.MODEL.HEATMAP_SIZE[1]}, {cfg.MODEL.HEATMAP_SIZE[0]})")
        if not args.no_check:
            x = _example(cfg, max(1, args.batch) + 2, seed=1)  # another batch size: the batch is dynamic
            err = check_export(out, args.format, model, x)
            if err is None:
                print("not checked: onnxruntime is not installed (pip install onnxruntime)")
            elif err > 1e-3:
                print(f"hrnet-export: error: the exported model differs from PyTorch (max relative error {err:.2g})",
                      file=sys.stderr)
                return 1
            else:
                print(f"checked: heatmaps match PyTorch on a batch of {x.shape[0]} (max relative error {err:.2g})")
    except (HRNetError, ValueError, OSError) as e:
        if args.debug:
            traceback.print_exc()
        print(f"hrnet-export: error: {e}", file=sys.stderr)
        return 2
    return 0


def _export_int8(args: argparse.Namespace) -> int:
    """``--int8``: calibrate (or take the cached build), gate, copy the int8 model to ``--out``."""
    import shutil

    try:
        from hrnet import quantize
        from hrnet.calibration import load_calibration
        from hrnet.config import load_config
        from hrnet.predictor import Predictor
        from hrnet.weights import resolve_weights, weights_experiment

        experiment = args.experiment if args.experiment is not None else weights_experiment(args.weights)
        cfg = load_config(experiment, list(args.opts))
        weights = resolve_weights(args.weights)
        frames = load_calibration(args.calibration)
        predictor = Predictor(cfg, weights=weights, device="cpu")
        _runner, report, cached = quantize.build_int8_model(predictor, weights, frames, opset=args.opset)
        print(("cached build: " if cached else "") + report.summary())
        if not report.passed:
            print("hrnet-export: error: the int8 model is not accurate enough for these weights (see above); "
                  "use the fp32 export", file=sys.stderr)
            return 1
        found = quantize.find_cached(weights, quantize.cache_key(weights, cfg, args.opset))
        if found is None or found[0] is None:
            raise HRNetError("the int8 model could not be stored (no writable cache folder)")
        out = Path(args.out)
        with atomic_path(out, mkdir=True) as tmp:
            shutil.copyfile(found[0], tmp)
        print(f"wrote {out} (onnx int8 QDQ, {out.stat().st_size / 2**20:.1f} MiB): input 'input' (N, 3, "
              f"{cfg.MODEL.IMAGE_SIZE[1]}, {cfg.MODEL.IMAGE_SIZE[0]}) float32 normalised crops -> 'heatmaps'")
    except (HRNetError, ValueError, OSError) as e:
        if args.debug:
            traceback.print_exc()
        print(f"hrnet-export: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
