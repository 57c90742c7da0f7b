"""The app's side of the int8 speed choice: calibration frames from the open project, read on the
model-loading thread, and how the panel describes the gate's verdict.

Planning (:func:`hrnet.calibration.plan_from_document`) is cheap and runs on the GUI thread where
the document lives; reading the frames runs on the loading thread, with progress.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SPEEDS = (("fp32", "standard"), ("int8", "fast (int8, CPU)"))

NO_FRAMES = ("The fast (int8) model is calibrated on your project's frames the first time: open a project "
             "with a few people boxed or labelled (or predicted with the standard model), then load again.")


def int8_available() -> bool:
    """True when onnx and onnxruntime are installed (the ``onnx`` extra)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def project_plan(document: Any) -> list[Any]:
    """Frames of the project (a :class:`hrnet.annotations.PoseDocument`) to calibrate on."""
    from hrnet import plan_calibration

    return plan_calibration(document) if document is not None else []


def calibration_reader(plan: Any, progress: Callable[[str, float], None] | None) -> Callable[[], list]:
    """The callable the Predictor calls when no calibrated model is cached: reads ``plan``."""

    def read() -> list:
        from hrnet import CalibrationError, read_calibration

        if not plan:
            raise CalibrationError(NO_FRAMES)
        report = None if progress is None else (lambda i, n: progress("reading frames", i / max(n, 1)))
        return read_calibration(plan, progress=report)

    return read


def precision_text(predictor: Any) -> str:
    """``""`` for a standard model; for an int8 request the gate's verdict in a few words."""
    report = getattr(predictor, "int8_report", None)
    if report is None:
        return ""
    if getattr(predictor, "precision", "") == "int8":
        return f", fast int8 ({report.agreement:.0%} of joints agree with fp32)"
    return (f", standard fp32: int8 rejected ({report.agreement:.0%} of joints agree, "
            f"needs {report.min_agreement:.0%})")


def stage_text(stage: str, fraction: float) -> str:
    return f"Fast model: {stage} {fraction:.0%}" if fraction > 0 else f"Fast model: {stage}…"
