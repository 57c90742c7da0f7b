"""Fine-tuning HRNet from the app: the "Train model" dialog and the ``hrnet-train`` process it runs.

- :class:`TrainDialog` — the dialog (data split, base weights, overrides, live curves, compare,
  load + re-run); signals ``model_ready(ModelSpec)`` and ``rerun_requested(ModelSpec)``.
- :class:`TrainingProcess` — ``hrnet-train --progress jsonl`` in a QProcess with typed signals.
- :class:`TrainCommand` — the exact command line (shown to the user, copyable), flags taken from
  hrnet-train's own argument parser.
- :class:`TrainingPlan` — Qt-free: what a run will do (inputs, checks, fine-tuning recipe, command).
- :class:`TrainingVerdict` — Qt-free: is the new model better, and which actions need confirmation.

"Re-run on the unreviewed frames" is the main window's own inference path
(``rerun_requested`` -> ``MainWindow.rerun_unreviewed``), so there is one way to predict.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainDialog": "app.training.dialog",
    "TrainingProcess": "app.training.process",
    "TrainCommand": "app.training.command",
    "TrainingPlan": "app.training.plan",
    "TrainingVerdict": "app.training.verdict",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: importing the process layer does not load pyqtgraph
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
