"""Heatmaps -> keypoints.

- :func:`get_max_preds`: arg-max location and value per joint (official ``get_max_preds``).
- :func:`get_final_preds`: arg-max, the official quarter-pixel shift towards the higher
  neighbour (``post_process``), and the map back to image coordinates; or ``decode='dark'``:
  distribution-aware refinement (DARK, Zhang et al., CVPR 2020: Gaussian blur with the training
  sigma, log, Newton step of the second-order Taylor expansion at the maximum).
- :func:`decode_heatmaps_torch`: the same numbers from torch tensors, the heavy part (arg-max,
  neighbour look-ups, blur) running on the tensors' device; used by the predictor.

Everything is vectorised over people and joints; the default decoding returns exactly the
official numbers (the quarter-pixel shift is computed in float32 as official; the final affine
map agrees to ~1e-12 px).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from hrnet.utils.transforms import transform_preds_batch

logger = logging.getLogger(__name__)

__all__ = [
    "Decode",
    "dark_blur_kernel",
    "decode_heatmaps_torch",
    "get_final_preds",
    "get_max_preds",
    "post_process_dark",
    "post_process_quarter_offset",
]

Decode = Literal["default", "dark"]
_DECODES = ("default", "dark")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scales(s: np.ndarray, n: int) -> np.ndarray:
    """(N, 2) scales; a scalar scale per box (N,) means a square box, as official."""
    s = s.reshape(n, -1) if n else s.reshape(0, 2)
    return np.repeat(s, 2, axis=1) if s.shape[1] == 1 else s


def get_max_preds(heatmaps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Arg-max of each heatmap. ``heatmaps`` (N, K, H, W) numpy (or torch) ->
    ``preds`` (N, K, 2) float32 ``(x, y)`` heatmap pixels, zeroed where the maximum is <= 0 (as
    official), and ``maxvals`` (N, K, 1) in the heatmaps' dtype."""
    hm = _to_numpy(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have 4 dimensions (N, K, H, W), got shape {hm.shape}")
    n, k, h, w = hm.shape
    if h * w == 0:
        raise ValueError(f"heatmaps have no pixels: shape {hm.shape}")
    flat = hm.reshape(n, k, h * w)
    idx = np.argmax(flat, axis=2)[..., None]
    # the value at the (first) arg-max equals np.amax, NaN included, in one pass less
    maxvals = np.take_along_axis(flat, idx, axis=2)
    fidx = idx.astype(np.float32)
    preds = np.concatenate([fidx % w, np.floor(fidx / w)], axis=2)
    preds *= (maxvals > 0.0).astype(np.float32)
    return preds, maxvals


def post_process_quarter_offset(coords: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Official post-processing: move each arg-max by 0.25 px towards the higher neighbour along
    x and y (only where the rounded location is strictly inside ``1 < px < W-1``, ``1 < py <
    H-1``, as official). ``coords`` (N, K, 2) float32, returns a new array."""
    n, k, h, w = heatmaps.shape
    out = np.array(coords, copy=True)
    px = np.floor(out[..., 0] + 0.5).astype(np.int64)
    py = np.floor(out[..., 1] + 0.5).astype(np.int64)
    ok = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    if not ok.any():
        return out
    ni, ki = np.nonzero(ok)
    x, y = px[ok], py[ok]
    flat = heatmaps.reshape(n, k, h * w)
    base = y * w + x
    dx = flat[ni, ki, base + 1] - flat[ni, ki, base - 1]
    dy = flat[ni, ki, base + w] - flat[ni, ki, base - w]
    out[ni, ki] += np.sign(np.stack([dx, dy], axis=1)) * 0.25
    return out


def dark_blur_kernel(sigma: float) -> int:
    """Default DARK blur kernel for a training ``sigma``: ``6*sigma - 1`` rounded to an odd
    integer, so that OpenCV's automatic Gaussian sigma for that size (``0.3*((k-1)/2 - 1) + 0.8``)
    equals ``sigma``, as the paper prescribes (sigma 2 -> 11, the DARK reference default; sigma 3
    -> 17, where the reference configs keep 11: pass ``blur_kernel=11`` to reproduce them)."""
    k = int(round(6 * float(sigma) - 1))
    if k % 2 == 0:
        k += 1
    return max(k, 3)


def _gaussian_weights(kernel: int) -> np.ndarray:
    import cv2

    return cv2.getGaussianKernel(kernel, 0, cv2.CV_64F).reshape(-1)


def _blur_torch(hm: Any, kernel: int) -> Any:
    """Separable Gaussian blur of (N, K, H, W) with zero padding (what DARK's zero border +
    ``cv2.GaussianBlur`` computes inside the original map)."""
    import torch
    import torch.nn.functional as F

    n, k, h, w = hm.shape
    g = torch.as_tensor(_gaussian_weights(kernel), dtype=hm.dtype, device=hm.device)
    pad = (kernel - 1) // 2
    x = hm.reshape(n * k, 1, h, w)
    x = F.conv2d(x, g.view(1, 1, 1, kernel), padding=(0, pad))
    x = F.conv2d(x, g.view(1, 1, kernel, 1), padding=(pad, 0))
    return x.reshape(n, k, h, w)


def _dark_log_maps(hm: Any, kernel: int, work_dtype: Any) -> Any:
    """Blur (in ``work_dtype``), rescale every map to its original maximum, clamp at 1e-10,
    log; returned in the heatmaps' dtype (as DARK stores it)."""
    import torch

    n, k, h, w = hm.shape
    orig_max = hm.reshape(n, k, h * w).amax(dim=2)
    blurred = _blur_torch(hm.to(work_dtype), kernel).to(hm.dtype)
    new_max = blurred.reshape(n, k, h * w).amax(dim=2)
    # DARK divides by the blurred maximum unguarded; maps that blur to all-zero keep their values
    ratio = torch.where(new_max != 0, orig_max / torch.where(new_max != 0, new_max, 1), torch.ones_like(new_max))
    blurred = blurred * ratio[..., None, None]
    return torch.log(torch.clamp(blurred, min=1e-10))


def _taylor_offsets(logmaps: Any, px: Any, py: Any) -> tuple[Any, Any, Any]:
    """Newton step ``-H^-1 g`` at integer (px, py) of (N, K, H, W) log-maps, for the joints
    strictly inside ``1 < px < W-2``, ``1 < py < H-2`` with a non-singular Hessian (DARK's
    ``taylor``). Returns (offset_x, offset_y, applied mask)."""
    import torch

    n, k, h, w = logmaps.shape
    inside = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    flat = logmaps.reshape(n, k, h * w)
    base = (py.clamp(2, max(h - 3, 2)) * w + px.clamp(2, max(w - 3, 2))).long()

    def at(dx: int, dy: int) -> Any:
        idx = (base + dy * w + dx).clamp(0, h * w - 1)
        return torch.gather(flat, 2, idx[..., None])[..., 0]

    c = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    hyy = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    det = hxx * hyy - hxy**2
    ok = inside & (det != 0) & torch.isfinite(det)
    safe = torch.where(ok, det, torch.ones_like(det))
    ox = -(hyy * gx - hxy * gy) / safe
    oy = -(-hxy * gx + hxx * gy) / safe
    zero = torch.zeros_like(ox)
    return torch.where(ok, ox, zero), torch.where(ok, oy, zero), ok


def post_process_dark(
    coords: np.ndarray, heatmaps: np.ndarray, sigma: float = 2.0, blur_kernel: int | None = None
) -> np.ndarray:
    """DARK refinement of arg-max ``coords`` (N, K, 2) on ``heatmaps`` (N, K, H, W): blur with
    ``blur_kernel`` (default :func:`dark_blur_kernel` of ``sigma``), log, and one Newton step of
    the Taylor expansion around the arg-max. Returns new float coordinates (heatmap pixels)."""
    import torch

    kernel = dark_blur_kernel(sigma) if blur_kernel is None else int(blur_kernel)
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"blur kernel must be a positive odd integer, got {kernel}")
    hm = torch.from_numpy(np.ascontiguousarray(heatmaps))
    if not hm.is_floating_point():
        hm = hm.float()
    logmaps = _dark_log_maps(hm, kernel, torch.float64)
    c = torch.from_numpy(np.ascontiguousarray(coords))
    px = c[..., 0].long()
    py = c[..., 1].long()
    ox, oy, _ = _taylor_offsets(logmaps, px, py)
    out = np.array(coords, copy=True)
    out[..., 0] += ox.numpy().astype(out.dtype)
    out[..., 1] += oy.numpy().astype(out.dtype)
    return out


def get_final_preds(
    heatmaps: Any,
    center: Any,
    scale: Any,
    post_process: bool = True,
    decode: Decode = "default",
    sigma: float = 2.0,
    blur_kernel: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints in image coordinates from heatmaps of N crops.

    ``heatmaps`` (N, K, H, W); ``center`` (N, 2) and ``scale`` (N, 2) of each crop (as from
    :func:`hrnet.utils.transforms.box_to_center_scale`). ``decode='default'`` is the official
    ``get_final_preds`` (quarter-pixel shift when ``post_process``, i.e. ``TEST.POST_PROCESS``);
    ``decode='dark'`` refines with DARK using the training ``sigma`` (``post_process`` must be on
    for any refinement). Returns ``preds`` (N, K, 2) image pixels, float32 as official, and
    ``maxvals`` (N, K, 1).
    """
    if decode not in _DECODES:
        raise ValueError(f"decode must be one of {_DECODES}, got {decode!r}")
    hm = _to_numpy(heatmaps)
    coords, maxvals = get_max_preds(hm)
    n, _, h, w = hm.shape
    if post_process:
        if decode == "dark":
            coords = post_process_dark(coords, hm, sigma=sigma, blur_kernel=blur_kernel)
        else:
            coords = post_process_quarter_offset(coords, hm)
    c = _to_numpy(center)
    s = _to_numpy(scale)
    if c.shape[0] != n or s.shape[0] != n:
        raise ValueError(f"center/scale must have one row per heatmap set ({n}), got {c.shape} and {s.shape}")
    # the official code writes the float64 image coordinates back into the float32 coords array
    preds = transform_preds_batch(coords, c.reshape(n, 2), _scales(s, n), [w, h]).astype(coords.dtype)
    return preds, maxvals


def decode_heatmaps_torch(
    heatmaps: Any,
    center: Any,
    scale: Any,
    post_process: bool = True,
    decode: Decode = "default",
    sigma: float = 2.0,
    blur_kernel: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`get_final_preds` for a torch tensor ``heatmaps`` (N, K, H, W) on any device: the
    arg-max, the neighbour look-ups and (DARK) the blur run on that device; only the (N, K, 2)
    coordinates come back to the CPU for the affine map. Returns the same numpy arrays as
    :func:`get_final_preds` (``maxvals`` as float32 (N, K, 1))."""
    import torch

    if decode not in _DECODES:
        raise ValueError(f"decode must be one of {_DECODES}, got {decode!r}")
    hm = torch.as_tensor(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must have 4 dimensions (N, K, H, W), got shape {tuple(hm.shape)}")
    if not hm.is_floating_point() or hm.dtype in (torch.float16, torch.bfloat16):
        hm = hm.float()
    n, k, h, w = hm.shape
    with torch.no_grad():
        flat = hm.reshape(n, k, h * w)
        # argmax returns the first maximal index, as numpy (torch.max makes no such promise)
        idx = flat.argmax(dim=2, keepdim=True)
        maxvals = torch.gather(flat, 2, idx)
        fidx = idx.to(torch.float32)
        coords = torch.cat([torch.remainder(fidx, w), torch.floor(fidx / w)], dim=2)
        coords = coords * (maxvals > 0).to(torch.float32)
        if post_process and decode == "dark":
            kernel = dark_blur_kernel(sigma) if blur_kernel is None else int(blur_kernel)
            if kernel < 1 or kernel % 2 == 0:
                raise ValueError(f"blur kernel must be a positive odd integer, got {kernel}")
            work = torch.float64 if hm.device.type == "cpu" else torch.float32
            logmaps = _dark_log_maps(hm, kernel, work)
            ox, oy, _ = _taylor_offsets(logmaps, coords[..., 0].long(), coords[..., 1].long())
            coords = coords + torch.stack([ox, oy], dim=2).to(coords.dtype)
        elif post_process:
            px = torch.floor(coords[..., 0] + 0.5).long()
            py = torch.floor(coords[..., 1] + 0.5).long()
            ok = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
            base = (py.clamp(1, max(h - 2, 1)) * w + px.clamp(1, max(w - 2, 1)))[..., None]
            top = h * w - 1

            def at(offset: int) -> Any:
                return torch.gather(flat, 2, (base + offset).clamp(0, top))[..., 0]

            dx = at(1) - at(-1)
            dy = at(w) - at(-w)
            shift = torch.sign(torch.stack([dx, dy], dim=2)) * 0.25
            coords = torch.where(ok[..., None], coords + shift, coords)
        coords_np = coords.cpu().numpy()
        maxvals_np = maxvals.cpu().numpy()
    c = _to_numpy(center)
    s = _to_numpy(scale)
    preds = transform_preds_batch(coords_np, c.reshape(n, 2), _scales(s, n), [w, h]).astype(coords_np.dtype)
    return preds, maxvals_np
