"""Time to open a folder of 5,000 images in the app and show the first one.

    python benchmarks/app_open_folder.py [--images 5000] [--size 1280x720]

Opening is lazy: the folder is listed and naturally sorted, image sizes are read from the file
headers only when needed, pixels only for the frame on screen. Prints the time of
``AnnotationDocument.open`` alone, of the whole window (document + canvas + frame list), and
until the first image is painted, plus the per-image cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_folder(folder: Path, n: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    w, h = size
    image = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    payload = data.tobytes()
    for i in range(n):  # same pixels, distinct files: the cost measured is the app's, not the codec's
        (folder / f"img_{i}.jpg").write_bytes(payload)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    from app import qt_fixes

    qt_fixes.apply()  # once per process, as app.main does
    app = QApplication.instance() or QApplication(sys.argv[:1])
    QStandardPaths.setTestModeEnabled(True)
    from app.document import AnnotationDocument
    from app.main_window import MainWindow
    from app.settings import AppSettings

    tmp = Path(tempfile.mkdtemp(prefix="hrnet-bench-open-"))
    folder = tmp / "images"
    folder.mkdir()
    t0 = time.perf_counter()
    make_folder(folder, args.images, size)
    print(f"made {args.images} JPEG files of {size[0]}x{size[1]} in {time.perf_counter() - t0:.1f} s")

    doc_times, window_times, shown_times = [], [], []
    for _ in range(args.repeats):
        doc = AnnotationDocument()
        t0 = time.perf_counter()
        doc.open([folder])
        doc_times.append(time.perf_counter() - t0)
        assert doc.num_frames() == args.images

        window = MainWindow(settings=AppSettings(tmp / "settings.ini"), recovery_dir=tmp / "recovery")
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        t0 = time.perf_counter()
        assert window.open_paths([folder])
        t1 = time.perf_counter()
        while window.view.shown_index != 0:
            app.processEvents()
        window.view.viewport().repaint()
        t2 = time.perf_counter()
        window_times.append(t1 - t0)
        shown_times.append(t2 - t0)
        window.close()
        window.deleteLater()
        app.processEvents()

    med = statistics.median
    print(f"images: {args.images}")
    print(f"document open (list + sort + frames): median {med(doc_times) * 1000:.0f} ms "
          f"({med(doc_times) / args.images * 1e6:.1f} us per image)")
    print(f"window open (document + canvas + frame list): median {med(window_times) * 1000:.0f} ms")
    print(f"window open until the first image is painted: median {med(shown_times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
