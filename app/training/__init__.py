"""Fine-tuning HRNet from the app: the "Train model" dialog and the ``hrnet-train`` process it runs.

- :class:`TrainDialog` — the dialog (data split, base weights, overrides, live curves, compare,
  load + re-run); signals ``model_ready(ModelSpec)`` and ``rerun_requested(ModelSpec)``.
- :class:`TrainingProcess` — ``hrnet-train --progress jsonl`` in a QProcess with typed signals.
- :class:`TrainCommand` — the exact command line (shown to the user, copyable).
- :func:`rerun_on_unreviewed` / :class:`RerunJob` — load a model and re-run it on the unreviewed
  frames off the GUI thread, applied as one undoable ApplyPredictions.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainDialog": "app.training.dialog",
    "TrainingProcess": "app.training.process",
    "TrainCommand": "app.training.command",
    "RerunJob": "app.training.rerun",
    "rerun_on_unreviewed": "app.training.rerun",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: importing the process layer does not load pyqtgraph
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'app.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
