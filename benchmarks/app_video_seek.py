"""Time to show a frame of a 1080p H.264 video in the app: stepping (next frame) and jumping.

    python benchmarks/app_video_seek.py [--frames 300] [--ffmpeg PATH]

The test video (1920x1080, 30 fps, GOP 60) is encoded with H.264 (libx264) by an ffmpeg binary
when one is found (``--ffmpeg``, ``$FFMPEG``, ``ffmpeg`` on PATH, or the one the ``imageio-ffmpeg``
package ships); opencv-python-headless has no H.264 *encoder* (its 'avc1'/'H264' fourccs fail),
so without ffmpeg the video is written with 'mp4v' (MPEG-4 Part 2) and the script says so.
Decoding is OpenCV's FFmpeg in both cases.

"Show" = from ``document.set_current_index(i)`` until the frame's pixels are on the canvas and
the view has repainted (decode on the loader thread + conversion + paint). Stepping is measured
back to back (the next key press as soon as the frame is shown) and paced like a person holding
the arrow key (80 ms between presses, so read-ahead can work); jumping goes to random frames.
A direct ``VideoReader.read`` baseline is printed for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def find_ffmpeg(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("FFMPEG"), shutil.which("ffmpeg")):
        if candidate and Path(candidate).exists():
            return candidate
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - optional
        return None


def frames(n: int, w: int = 1920, h: int = 1080):
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    for i in range(n):
        frame = np.roll(base, 6 * i, axis=1).copy()
        cv2.putText(frame, f"frame {i}", (80, 200), cv2.FONT_HERSHEY_SIMPLEX, 5, (255, 255, 255), 12)
        cv2.circle(frame, (int(200 + 5 * i) % w, 600), 90, (0, 0, 255), -1)
        yield frame


def make_video(path: Path, n: int, ffmpeg: str | None) -> str:
    if ffmpeg:
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "1920x1080",
               "-r", "30", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60",
               "-pix_fmt", "yuv420p", str(path)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        for frame in frames(n):
            proc.stdin.write(frame.tobytes())
        proc.stdin.close()
        if proc.wait() == 0:
            return "H.264 (libx264 via ffmpeg, GOP 60)"
        print("ffmpeg failed; falling back to mp4v")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (1920, 1080))
    for frame in frames(n):
        writer.write(frame)
    writer.release()
    return "MPEG-4 Part 2 ('mp4v': no H.264 encoder in opencv-python-headless and no ffmpeg found)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--ffmpeg")
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-bench-video-"))
    video = tmp / "clip_1080p.mp4"
    t0 = time.perf_counter()
    codec = make_video(video, args.frames, find_ffmpeg(args.ffmpeg))
    print(f"video: {video.name}, {args.frames} frames 1920x1080 @30 fps, {codec}, "
          f"{video.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - t0:.0f} s")

    from hrnet.media import VideoReader

    rng = np.random.default_rng(1)
    jumps = [int(v) for v in rng.integers(0, args.frames, args.samples)]
    with VideoReader(video) as reader:
        reader.read(0)
        t = []
        for i in range(1, args.samples + 1):
            t0 = time.perf_counter()
            reader.read(i)
            t.append(time.perf_counter() - t0)
        step_direct = statistics.median(t)
        t = []
        for i in jumps:
            t0 = time.perf_counter()
            reader.read(i)
            t.append(time.perf_counter() - t0)
        jump_direct = statistics.median(t)

    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    from app import qt_fixes

    qt_fixes.apply()  # once per process, as app.main does
    app = QApplication.instance() or QApplication(sys.argv[:1])
    QStandardPaths.setTestModeEnabled(True)
    from app.main_window import MainWindow
    from app.settings import AppSettings

    window = MainWindow(settings=AppSettings(tmp / "settings.ini"), recovery_dir=tmp / "recovery")
    window.resize(1400, 900)
    window.show()
    assert window.open_paths([video])
    view, doc = window.view, window.document

    def show(i: int) -> float:
        t0 = time.perf_counter()
        doc.set_current_index(i)
        while view.shown_index != i:
            app.processEvents()
            time.sleep(0.0005)
        view.viewport().repaint()
        return time.perf_counter() - t0

    show(0)
    step_b2b = [show(i) for i in range(1, args.samples + 1)]
    paced = []
    start = args.samples + 5
    for i in range(start, start + args.samples):
        t_end = time.perf_counter() + 0.08
        while time.perf_counter() < t_end:  # the user's 80 ms between key presses
            app.processEvents()
            time.sleep(0.002)
        paced.append(show(i))
    jump = [show(i) for i in jumps]
    window.document.undo_stack.setClean()
    window.close()

    ms = lambda v: f"{statistics.median(v) * 1000:.1f} ms"  # noqa: E731
    print(f"direct VideoReader.read: next frame {step_direct * 1000:.1f} ms, random jump {jump_direct * 1000:.1f} ms")
    print(f"app, next frame back to back: median {ms(step_b2b)} (p90 {np.percentile(step_b2b, 90) * 1000:.1f} ms)")
    print(f"app, next frame at 80 ms/key: median {ms(paced)} (p90 {np.percentile(paced, 90) * 1000:.1f} ms)")
    print(f"app, random jump: median {ms(jump)} (p90 {np.percentile(jump, 90) * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
