"""int8 inference on the CPU: the pose network quantised statically with ONNX Runtime,
calibrated on person crops from the user's own frames, checked against fp32 before it is used.

>>> predictor = Predictor(experiment, weights="w32.pth", device="cpu", precision="int8",
...                       calibration=[(image_bgr, boxes_xyxy), ...])
>>> predictor.precision, predictor.int8_report.summary()

What happens on the first construction (later ones load the cached model in a second):

1. the calibration frames become crops exactly as :meth:`Predictor.preprocess` makes them
   (up to :data:`MAX_CALIBRATION_CROPS`, spread over all frames); every fourth crop is held back;
2. the network (BatchNorm folded) is exported to ONNX and quantised with
   ``onnxruntime.quantization.quantize_static``: QDQ format, per-channel symmetric int8 weights,
   uint8 activations, min/max ranges measured on the calibration crops; the nodes in
   :data:`KEEP_FLOAT` stay float (chosen by ``benchmarks/predictor_int8.py``);
3. **the gate**: fp32 and int8 heatmaps of the held-back crops are decoded the Predictor's way;
   the share of confident joints whose int8 position lies within
   :data:`AGREEMENT_RADIUS` x box size of the fp32 one must reach :data:`MIN_AGREEMENT`, and the
   heatmap peak heights must agree within :data:`MAX_PEAK_ERROR`. Otherwise the Predictor keeps
   fp32 and says why (:class:`GateReport`);
4. the int8 model and the gate's verdict are cached next to the weights
   (``<weights>.int8-<key>.onnx`` / ``.json``) or, where that folder is not writable, in
   ``cache_dir()/int8``. The key is the checkpoint's SHA-256, the model config, the opset, the
   ONNX Runtime version and :data:`RECIPE_VERSION`; new calibration frames do not change it
   (delete the files, or call :func:`clear_cache`, to calibrate again).

Pre- and post-processing are the Predictor's own; only the network call changes.
Needs ``onnx`` and ``onnxruntime`` (``pip install 'hrnet-pose-annotator[onnx]'``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hrnet.errors import HRNetError
from hrnet.utils.io import atomic_write_bytes

__all__ = [
    "AGREEMENT_RADIUS",
    "KEEP_FLOAT",
    "MAX_PEAK_ERROR",
    "MIN_AGREEMENT",
    "CalibrationError",
    "GateReport",
    "OrtHeatmapModel",
    "QuantizationError",
    "build_int8_model",
    "cache_key",
    "check_calibration_frames",
    "clear_cache",
    "compare_heatmaps",
    "export_fp32_onnx",
    "find_cached",
    "ort_session",
    "quantize_onnx",
]

log = logging.getLogger(__name__)

#: bump when the quantisation recipe changes: cached models of older recipes are not reused
RECIPE_VERSION = 1
DEFAULT_OPSET = 17
#: crops used in all (calibration + held back); more adds calibration time, not accuracy
MAX_CALIBRATION_CROPS = 128
#: every HOLD_BACK-th crop is kept out of calibration for the gate
HOLD_BACK = 4
MIN_CALIBRATION_CROPS = 4
#: a joint agrees when int8 puts it within this fraction of the box size (sqrt(w*h)) of fp32
AGREEMENT_RADIUS = 0.05
#: the gate: share of agreeing confident joints. Measured (benchmarks/predictor_int8.py): trained
#: models 95-96% (AP change -0.002 to +0.005 on held-out frames); a model int8 cannot represent
#: (one activation channel 1000x the others) 15% (AP 0.25 -> 0.00). 0.90 leaves room for the
#: sampling noise of a few dozen held-back crops (+-4%) and rejects one joint in ten moving.
MIN_AGREEMENT = 0.90
#: the gate: mean |peak_int8 - peak_fp32| / mean peak_fp32 over the confident joints
#: (trained models 4.5-5.2%, the broken one 74%)
MAX_PEAK_ERROR = 0.15
#: node-name patterns kept in float: the final 1x1 convolution that writes the heatmaps
#: (its output is what the decoder reads: a uint8 output would step the peaks)
KEEP_FLOAT: tuple[str, ...] = ("final_layer",)


class QuantizationError(HRNetError):
    """The int8 model cannot be built or loaded (missing packages, export or ORT failure)."""


class CalibrationError(QuantizationError, ValueError):
    """The calibration frames are missing or malformed."""


Frames = Sequence[tuple[np.ndarray, Any]]
Progress = Callable[[str, float], None]


# ----------------------------------------------------------------------------------------------
# Packages and calibration input
# ----------------------------------------------------------------------------------------------
def require_onnxruntime() -> None:
    """Raise :class:`QuantizationError` naming the install command when onnx/onnxruntime are missing."""
    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise QuantizationError(
            f"int8 needs {' and '.join(missing)}: pip install 'hrnet-pose-annotator[onnx]' "
            "(or pip install onnx onnxruntime)"
        )


def check_calibration_frames(frames: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """``frames`` as a list of ``(image_bgr uint8 HxWx3, boxes (N, 4) xyxy float64)`` pairs, or a
    :class:`CalibrationError` that says what is wrong and where. Frames without boxes are dropped;
    at least one box must remain."""
    if frames is None:
        raise CalibrationError(
            "int8 needs calibration frames the first time: a list of (image_bgr, boxes_xyxy) pairs "
            "from your own data (e.g. project frames with their person boxes)"
        )
    if isinstance(frames, (str, bytes, os.PathLike)) or not isinstance(frames, Sequence):
        raise CalibrationError(
            f"calibration must be a list of (image_bgr, boxes_xyxy) pairs, not {type(frames).__name__}"
        )
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for i, item in enumerate(frames):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise CalibrationError(f"calibration frame {i}: expected an (image_bgr, boxes_xyxy) pair")
        image, boxes = item
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[2] not in (3, 4)
        ) or min(image.shape[:2]) < 2:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise CalibrationError(
                f"calibration frame {i}: the image must be an HxWx3 uint8 BGR array (got {dtype}, shape {shape})"
            )
        try:
            b = np.asarray(boxes, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise CalibrationError(f"calibration frame {i}: boxes are not numbers ({e})") from e
        if b.size == 0:
            continue
        if b.ndim == 1 and b.shape[0] == 4:
            b = b[None]
        if b.ndim != 2 or b.shape[1] != 4:
            raise CalibrationError(f"calibration frame {i}: boxes must be (N, 4) x1, y1, x2, y2; got shape {b.shape}")
        if not np.isfinite(b).all():
            raise CalibrationError(f"calibration frame {i}: boxes contain NaN or infinite values")
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        if keep.any():
            out.append((image, b[keep]))
    boxes_total = sum(len(b) for _, b in out)
    if boxes_total < MIN_CALIBRATION_CROPS:
        raise CalibrationError(
            f"calibration needs at least {MIN_CALIBRATION_CROPS} person boxes with a positive size; "
            f"got {boxes_total} in {len(frames)} frame(s)"
        )
    return out


def select_boxes(frames: list[tuple[np.ndarray, np.ndarray]], limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """At most ``limit`` boxes in all, spread evenly over the frames and their people."""
    total = sum(len(b) for _, b in frames)
    if total <= limit:
        return frames
    wanted = set(np.linspace(0, total - 1, limit).round().astype(int).tolist())
    out, k = [], 0
    for image, b in frames:
        idx = [j for j in range(len(b)) if k + j in wanted]
        k += len(b)
        if idx:
            out.append((image, b[idx]))
    return out


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------
def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(weights: str | os.PathLike[str], cfg: Any, opset: int = DEFAULT_OPSET) -> str:
    """Hex key of (checkpoint SHA-256, model config, opset, ONNX Runtime version, recipe)."""
    import onnxruntime as ort

    h = hashlib.sha256()
    h.update(_file_sha256(Path(weights)).encode())
    h.update(cfg.MODEL.dump().encode())
    h.update(f"opset={opset};ort={ort.__version__};recipe={RECIPE_VERSION};keep={KEEP_FLOAT}".encode())
    return h.hexdigest()[:20]


def _cache_dirs(weights: Path) -> list[Path]:
    from hrnet.weights import cache_dir

    return [weights.parent, cache_dir() / "int8"]


def _names(weights: Path, key: str) -> tuple[str, str]:
    stem = f"{weights.stem}.int8-{key}"
    return stem + ".onnx", stem + ".json"


def find_cached(weights: str | os.PathLike[str], key: str) -> tuple[Path | None, GateReport] | None:
    """``(int8 model path or None when the gate rejected it, report)`` of a cached build, else None."""
    weights = Path(weights)
    onnx_name, meta_name = _names(weights, key)
    for d in _cache_dirs(weights):
        meta = d / meta_name
        if not meta.is_file():
            continue
        try:
            report = GateReport(**json.loads(meta.read_text(encoding="utf-8"))["gate"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("Ignoring unreadable int8 cache entry %s: %s", meta, e)
            continue
        model = d / onnx_name
        if report.passed and not model.is_file():
            continue
        return (model if report.passed else None), report
    return None


def clear_cache(weights: str | os.PathLike[str]) -> int:
    """Delete every cached int8 build of ``weights`` (all keys); returns the number of files removed."""
    weights = Path(weights)
    n = 0
    for d in _cache_dirs(weights):
        for f in d.glob(f"{weights.stem}.int8-*"):
            if f.suffix in (".onnx", ".json"):
                f.unlink(missing_ok=True)
                n += 1
    return n


def store_cached(weights: str | os.PathLike[str], key: str, model_bytes: bytes | None,
                 report: GateReport, extra: dict[str, Any]) -> Path | None:
    """Write the build next to the weights, else in the per-user cache; the folder used (None
    when neither is writable: the build is then used for this session only)."""
    weights = Path(weights)
    onnx_name, meta_name = _names(weights, key)
    meta = json.dumps({"gate": asdict(report), **extra}, indent=1).encode()
    for d in _cache_dirs(weights):
        try:
            d.mkdir(parents=True, exist_ok=True)
            if model_bytes is not None:
                atomic_write_bytes(d / onnx_name, model_bytes)
            atomic_write_bytes(d / meta_name, meta)
            return d
        except OSError as e:
            log.info("Cannot cache the int8 model in %s (%s)", d, e)
    log.warning("The int8 model could not be cached (no writable folder): it will be calibrated again next time")
    return None


# ----------------------------------------------------------------------------------------------
# Export, quantisation, sessions
# ----------------------------------------------------------------------------------------------
def export_fp32_onnx(model: nn.Module, input_hw: tuple[int, int], out: str | os.PathLike[str],
                     opset: int = DEFAULT_OPSET) -> Path:
    """Export an eval-mode network (NCHW, BatchNorm folded) with a dynamic batch: input
    ``input`` (N, 3, H, W) -> ``heatmaps`` (N, K, h, w)."""
    require_onnxruntime()
    out = Path(out)
    example = torch.randn(2, 3, *input_hw, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(out), dynamo=False, opset_version=opset,
                input_names=["input"], output_names=["heatmaps"],
                dynamic_axes={"input": {0: "batch"}, "heatmaps": {0: "batch"}},
            )
    except Exception as e:  # any exporter failure is one typed error here
        raise QuantizationError(f"ONNX export of the network failed: {type(e).__name__}: {e}") from e
    return out


def ort_session(path_or_bytes: str | os.PathLike[str] | bytes, threads: int | None = None) -> Any:
    """A CPU ``onnxruntime.InferenceSession`` with ``threads`` intra-op threads (default: torch's)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    src = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    try:
        return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types
        raise QuantizationError(f"ONNX Runtime cannot load the model: {e}") from e


class _Reader:
    """``CalibrationDataReader`` over crops, in small batches."""

    def __init__(self, crops: np.ndarray, batch: int, progress: Progress | None, cancel: Callable[[], bool] | None):
        self.crops, self.batch, self.i = crops, batch, 0
        self.progress, self.cancel = progress, cancel

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.crops):
            return None
        if self.cancel is not None and self.cancel():
            raise QuantizationError("int8 calibration cancelled")
        chunk = self.crops[self.i:self.i + self.batch]
        self.i += len(chunk)
        if self.progress is not None:
            self.progress("calibrating", self.i / len(self.crops))
        return {"input": np.ascontiguousarray(chunk)}

    def rewind(self) -> None:
        self.i = 0


def quantize_onnx(fp32_path: str | os.PathLike[str], out: str | os.PathLike[str], crops: np.ndarray, *,
                  keep_float: Sequence[str] = KEEP_FLOAT, method: str = "minmax",
                  progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> Path:
    """Static QDQ quantisation of ``fp32_path`` calibrated on ``crops`` (N, 3, H, W) float32:
    per-channel symmetric int8 weights, uint8 activations; nodes whose name contains one of
    ``keep_float`` stay float. ``method``: ``minmax``, ``entropy`` or ``percentile``."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}, not {method!r}")
    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    exclude = [n.name for n in graph.node if any(k in n.name for k in keep_float)]

    class Reader(_Reader, CalibrationDataReader):
        pass

    # the histogram calibrators (entropy, percentile) need batches of one size
    reader = Reader(crops, 8 if method == "minmax" else 1, progress, cancel)
    out = Path(out)
    try:
        quantize_static(
            str(fp32_path), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
            calibrate_method=methods[method],
        )
    except QuantizationError:
        raise
    except Exception as e:  # ORT's quantiser raises assorted types
        raise QuantizationError(f"int8 quantisation failed: {type(e).__name__}: {e}") from e
    return out


class OrtHeatmapModel(nn.Module):
    """The Predictor's network call through an ONNX Runtime session: a float32 NCHW crop batch
    (torch) in, heatmaps (torch float32) out."""

    def __init__(self, session: Any, precision: str) -> None:
        super().__init__()
        self.session = session
        self.precision = precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (out,) = self.session.run(["heatmaps"], {"input": arr})
        return torch.from_numpy(out)

    def extra_repr(self) -> str:
        return f"onnxruntime {self.precision}"


# ----------------------------------------------------------------------------------------------
# The gate
# ----------------------------------------------------------------------------------------------
@dataclass
class GateReport:
    """int8 against fp32 on held-back crops. ``agreement``: share of confident fp32 joints whose
    int8 position is within ``radius`` x box size; ``peak_error``: mean |peak_int8 - peak_fp32| /
    mean peak_fp32; ``moved_1px``: share moving more than one image pixel."""

    passed: bool
    agreement: float
    peak_error: float
    moved_1px: float
    moved_radius: float
    joints: int
    crops: int
    calibration_crops: int
    radius: float = AGREEMENT_RADIUS
    min_agreement: float = MIN_AGREEMENT
    max_peak_error: float = MAX_PEAK_ERROR

    def summary(self) -> str:
        verdict = "int8 in use" if self.passed else "int8 rejected, using fp32"
        return (f"{verdict}: {self.agreement:.1%} of {self.joints} joints on {self.crops} held-back crops within "
                f"{self.radius:g} x box size of fp32 (needs {self.min_agreement:.0%}), peak heights off by "
                f"{self.peak_error:.1%} (allowed {self.max_peak_error:.0%})")


def compare_heatmaps(ref: tuple[np.ndarray, np.ndarray], got: tuple[np.ndarray, np.ndarray], boxes: np.ndarray,
                     conf_threshold: float, radius: float = AGREEMENT_RADIUS) -> dict[str, float]:
    """Agreement of decoded keypoints ``got`` = (preds (N, K, 2), maxvals (N, K, 1)) with ``ref``
    on ``boxes`` (N, 4) xyxy. Joints with ``ref`` confidence above ``conf_threshold`` count
    (all joints when none is)."""
    p_ref, v_ref = np.asarray(ref[0], np.float64), np.asarray(ref[1], np.float64)[..., 0]
    p_got, v_got = np.asarray(got[0], np.float64), np.asarray(got[1], np.float64)[..., 0]
    b = np.asarray(boxes, np.float64)
    size = np.sqrt(np.maximum(b[:, 2] - b[:, 0], 1.0) * np.maximum(b[:, 3] - b[:, 1], 1.0))
    dist = np.linalg.norm(p_got - p_ref, axis=2)
    mask = v_ref > conf_threshold
    if not mask.any():
        mask = np.ones_like(mask)
    rel = dist / size[:, None]
    return {
        "agreement": float((rel[mask] <= radius).mean()),
        "moved_1px": float((dist[mask] > 1.0).mean()),
        "moved_radius": float((rel[mask] > radius).mean()),
        "peak_error": float(np.abs(v_got - v_ref)[mask].mean() / max(float(v_ref[mask].mean()), 1e-6)),
        "joints": int(mask.sum()),
    }


def _run(session: Any, crops: np.ndarray, batch: int = 16) -> np.ndarray:
    outs = [session.run(["heatmaps"], {"input": np.ascontiguousarray(crops[i:i + batch])})[0]
            for i in range(0, len(crops), batch)]
    return np.concatenate(outs)


# ----------------------------------------------------------------------------------------------
# Everything together, for the Predictor
# ----------------------------------------------------------------------------------------------
def build_int8_model(
    predictor: Any,
    weights: str | os.PathLike[str],
    calibration: Any,
    *,
    opset: int = DEFAULT_OPSET,
    min_agreement: float | None = None,
    max_peak_error: float | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    keep_float: Sequence[str] | None = None,
    method: str = "minmax",
    use_cache: bool = True,
) -> tuple[OrtHeatmapModel | None, GateReport, bool]:
    """The int8 network for ``predictor`` (``None`` when the gate keeps fp32), its
    :class:`GateReport` and whether it came from the cache. ``calibration``: (image_bgr,
    boxes_xyxy) pairs, or a callable returning them (called only when nothing is cached).
    ``keep_float``, ``method``: the recipe (default :data:`KEEP_FLOAT`, min/max calibration);
    ``use_cache=False`` neither reads nor writes the cache (the benchmark's recipe variants)."""
    require_onnxruntime()
    min_agreement = MIN_AGREEMENT if min_agreement is None else float(min_agreement)
    max_peak_error = MAX_PEAK_ERROR if max_peak_error is None else float(max_peak_error)
    weights = Path(weights)
    cfg = predictor.cfg
    key = cache_key(weights, cfg, opset)
    threads = torch.get_num_threads()
    keep = tuple(KEEP_FLOAT if keep_float is None else keep_float)
    if keep != KEEP_FLOAT or method != "minmax":
        use_cache = False
    cached = find_cached(weights, key) if use_cache else None
    if cached is not None:
        path, report = cached
        log.info("int8: cached build %s (%s)", path or "(gate rejected)", report.summary())
        return (None if path is None else OrtHeatmapModel(ort_session(path, threads), "int8")), report, True

    if callable(calibration):
        calibration = calibration()
    frames = select_boxes(check_calibration_frames(calibration), MAX_CALIBRATION_CROPS)
    if progress is not None:
        progress("preparing crops", 0.0)
    images = [im for im, _ in frames]
    boxes = [b for _, b in frames]
    crops_t, centers, scales = predictor.preprocess(images, boxes)
    crops = crops_t.float().contiguous().cpu().numpy()
    all_boxes = np.concatenate(boxes)
    held = np.zeros(len(crops), bool)
    held[HOLD_BACK - 1::HOLD_BACK] = True
    if held.sum() == 0:
        held[-1] = True
    calib = crops[~held]

    from hrnet.models import build_model
    from hrnet.models.checkpoint import load_checkpoint
    from hrnet.models.optimize import optimize_for_inference

    model = build_model(cfg, is_train=False)
    load_checkpoint(model, weights)
    model = optimize_for_inference(model.eval(), channels_last=False, inplace=True)
    h, w = crops.shape[2:]
    with tempfile.TemporaryDirectory(prefix="hrnet-int8-") as tmp:
        if progress is not None:
            progress("exporting", 0.0)
        fp32_path = export_fp32_onnx(model, (h, w), Path(tmp) / "fp32.onnx", opset)
        int8_path = quantize_onnx(fp32_path, Path(tmp) / "int8.onnx", calib, keep_float=keep, method=method,
                                  progress=progress, cancel=cancel)
        if progress is not None:
            progress("checking", 0.0)
        fp32 = ort_session(fp32_path, threads)
        int8_bytes = int8_path.read_bytes()
    int8 = ort_session(int8_bytes, threads)
    hc = crops[held]
    ref_hm, got_hm = _run(fp32, hc), _run(int8, hc)
    dec = predictor.decode_heatmaps
    ref = dec(torch.from_numpy(ref_hm), centers[held], scales[held])
    got = dec(torch.from_numpy(got_hm), centers[held], scales[held])
    m = compare_heatmaps(ref, got, all_boxes[held], float(cfg.TEST.IN_VIS_THRE))
    passed = m["agreement"] >= min_agreement and m["peak_error"] <= max_peak_error
    report = GateReport(passed=passed, agreement=m["agreement"], peak_error=m["peak_error"],
                        moved_1px=m["moved_1px"], moved_radius=m["moved_radius"], joints=m["joints"],
                        crops=int(held.sum()), calibration_crops=len(calib),
                        min_agreement=min_agreement, max_peak_error=max_peak_error)
    import onnxruntime as ort

    if use_cache:
        store_cached(weights, key, int8_bytes if passed else None, report,
                     {"weights": weights.name, "opset": opset, "onnxruntime": ort.__version__,
                      "recipe": RECIPE_VERSION, "keep_float": list(KEEP_FLOAT)})
    if progress is not None:
        progress("done", 1.0)
    log.info("int8: %s", report.summary())
    return (OrtHeatmapModel(int8, "int8") if passed else None), report, False
