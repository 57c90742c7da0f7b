"""One-Euro smoothing of tracked joints: jitter and error against the truth on noisy synthetic tracks.

Tracks are the true joints of synthetic walkers (``write_video``, 30 fps) plus per-frame Gaussian
noise of ``--noise`` x the person's height (HRNet's frame-to-frame jitter is about 1-2 %). Jitter is
the mean acceleration |x[t] - 2 x[t-1] + x[t-2]| in px; error the RMS distance to the truth in px.
The grid shows how ``min_cutoff`` and ``beta`` trade the two; the default is the lowest error.

    python benchmarks/smoothing.py [--noise 0.015] [--frames 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hrnet.dataset.synthetic import write_video
from hrnet.temporal import smooth_track


def tracks(frames: int, fps: float, seeds: int):
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            for scenario in ("crossing", "occlusion"):
                v = write_video(Path(tmp) / f"{scenario}{seed}.avi", num_frames=frames, fps=fps, image_size=(640, 360),
                                people=2, seed=seed, scenario=scenario)
                ids = sorted({p.track_id for f in v.frames for p in f})
                for tid in ids:
                    arr = np.full((frames, 17, 3), np.nan)
                    height = []
                    for t, people in enumerate(v.frames):
                        for p in people:
                            if p.track_id == tid:
                                arr[t] = p.keypoints
                                height.append(p.bbox[3])
                    # keep the longest run of frames where the person is fully in view
                    ok = np.isfinite(arr[:, :, 0]).all(axis=1) & (arr[:, :, 2] > 0).all(axis=1)
                    runs, start = [], None
                    for t, good in enumerate(list(ok) + [False]):
                        if good and start is None:
                            start = t
                        elif not good and start is not None:
                            runs.append((start, t))
                            start = None
                    if runs:
                        a, b = max(runs, key=lambda r: r[1] - r[0])
                        if b - a >= 30:
                            out.append((arr[a:b], float(np.median(height))))
    return out


def measure(truth, noisy, smoothed):
    err = np.sqrt(np.nanmean(((smoothed[:, :, :2] - truth[:, :, :2]) ** 2).sum(axis=2)))
    acc = smoothed[2:, :, :2] - 2 * smoothed[1:-1, :, :2] + smoothed[:-2, :, :2]
    jitter = np.nanmean(np.hypot(acc[..., 0], acc[..., 1]))
    return err, jitter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", type=float, default=0.015)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    data = tracks(args.frames, args.fps, args.seeds)
    rng = np.random.default_rng(0)
    noisy = []
    for truth, height in data:
        n = truth.copy()
        n[:, :, :2] += rng.normal(0, args.noise * height, n[:, :, :2].shape)
        n[:, :, 2] = 0.9
        noisy.append(n)
    print(f"{len(data)} tracks, {sum(len(t) for t, _ in data)} frames, noise {args.noise:.3f} x height, "
          f"{args.fps:g} fps")
    raw = np.mean([measure(t, n, n) for (t, _), n in zip(data, noisy)], axis=0)
    print(f"{'raw':<28} error {raw[0]:6.2f} px   jitter {raw[1]:6.2f} px")
    results = []
    for mc in (0.3, 0.5, 1.0, 2.0, 4.0):
        for beta in (0.0, 0.01, 0.05, 0.2, 1.0):
            t0 = time.process_time()
            r = np.mean([measure(t, n, smooth_track(n, args.fps, min_cutoff=mc, beta=beta))
                         for (t, _), n in zip(data, noisy)], axis=0)
            results.append((r[0], r[1], mc, beta, time.process_time() - t0))
    results.sort()
    for err, jit, mc, beta, _secs in results[:10]:
        print(f"min_cutoff {mc:<4} beta {beta:<5}          error {err:6.2f} px   jitter {jit:6.2f} px "
              f"({err / raw[0]:.2f}x, {jit / raw[1]:.2f}x of raw)")
    default = np.mean([measure(t, n, smooth_track(n, args.fps)) for (t, _), n in zip(data, noisy)], axis=0)
    print(f"{'default':<28} error {default[0]:6.2f} px   jitter {default[1]:6.2f} px "
          f"({default[0] / raw[0]:.2f}x, {default[1] / raw[1]:.2f}x of raw)")


if __name__ == "__main__":
    main()
