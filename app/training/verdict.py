"""Is the new model better than the current one? The guarded result of a run, decided without widgets.

:class:`TrainingVerdict` takes the two evaluations on the validation frames (same code for both
models) and the run's final event, and says in words whether the new model is better or worse and by
how much. When it is not better, keeping the current model is the default and both "Use new model"
and "re-run on the unreviewed frames" need the user's confirmation: :meth:`TrainingVerdict.needs_confirmation`
decides, :meth:`TrainingVerdict.confirmation` gives the question, the dialog only asks it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ACTION_KEEP", "ACTION_RERUN", "ACTION_USE", "TIE_TOLERANCE", "TrainingVerdict"]

ACTION_KEEP = "keep"
ACTION_USE = "use"
ACTION_RERUN = "rerun"

# Scores are shown with 3 decimals; a change below half of the last digit is "the same".
TIE_TOLERANCE = 0.0005

_PREFERRED_METRICS = ("AP", "PCK")


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


@dataclass(frozen=True)
class TrainingVerdict:
    """The comparison of the old and the new model on ``num_val_frames`` validation frames.

    ``old`` / ``new`` are metric dicts (``{"AP": 0.71, ...}``) or None (no current model, or its
    evaluation failed). ``best_is_base`` comes from hrnet-train's final event: True when no epoch
    beat the base weights, so ``model_best.pth`` holds the base weights.
    """

    old: Mapping[str, float] | None
    new: Mapping[str, float] | None
    num_val_frames: int = 0
    best_is_base: bool | None = None
    few_frames: bool = False
    old_failed: bool = False  # there is a current model, but it has no score (evaluation failed or not done)
    no_old_reason: str = ""  # why there is no old model (e.g. the current one predicts another keypoint set)
    fresh_head: bool = False  # the run started from a model of another keypoint set (its output layer new)

    # ------------------------------------------------------------------ numbers
    @property
    def metric(self) -> str | None:
        """The metric the verdict is about: AP, else PCK, among those both models have."""
        for name in _PREFERRED_METRICS:
            if self.new is not None and _finite(self.new.get(name)) and (
                    self.old is None or _finite(self.old.get(name))):
                return name
        return None

    @property
    def delta(self) -> float | None:
        m = self.metric
        if m is None or self.old is None or self.new is None:
            return None
        return float(self.new[m]) - float(self.old[m])

    @property
    def comparable(self) -> bool:
        return self.delta is not None

    @property
    def better(self) -> bool:
        """True only when the new model scores measurably higher than the current one."""
        d = self.delta
        return d is not None and d > TIE_TOLERANCE

    @property
    def worse(self) -> bool:
        d = self.delta
        return d is not None and d < -TIE_TOLERANCE

    # ------------------------------------------------------------------ decisions
    @property
    def default_action(self) -> str:
        """"use" when the new model is better, or when there is no current model to keep; else "keep"."""
        if self.old is None and not self.old_failed and self.new is not None and self.best_is_base is not True:
            return ACTION_USE  # nothing to keep: no current model (random init or a backbone)
        return ACTION_USE if self.better and self.best_is_base is not True else ACTION_KEEP

    def needs_confirmation(self, action: str) -> bool:
        """Whether ``action`` ("use" or "rerun") must be confirmed: it replaces a model that is not worse."""
        if action == ACTION_KEEP:
            return False
        return self.default_action == ACTION_KEEP

    def confirmation(self, action: str, unreviewed: int = 0) -> str:
        """The question to ask before ``action`` when :meth:`needs_confirmation` says so."""
        what = (f"use the new model and replace the predictions on {unreviewed} unreviewed frames with its output"
                if action == ACTION_RERUN else "use the new model")
        return f"{self.summary()}\n\nDo you still want to {what}?"

    # ------------------------------------------------------------------ words
    def summary(self) -> str:
        """One or two sentences: better / worse / the same, by how much, on how many frames."""
        n = self.num_val_frames
        frames = f"{n} validation frame{'s' if n != 1 else ''}"
        noise = (" With so few validation frames the difference may be chance." if self.few_frames and self.comparable
                 else "")
        base = (" No epoch beat the base weights, so the run's best model is the base model itself."
                if self.best_is_base else "")
        if self.best_is_base and self.fresh_head:
            base = (" No epoch beat the starting weights, whose output layer for this keypoint set is untrained, so "
                    "the run has not learnt these joints yet: label more frames or train longer.")
        m = self.metric
        if self.new is None:
            return ("The new model has not been evaluated on the validation frames (the evaluation failed or has not "
                    "finished), so it is not known whether it is better." + base)
        if m is None:
            return "The new model has no score on the validation frames." + base
        new_v = float(self.new[m])
        if self.old is None and self.old_failed:
            return (f"The new model scores {m} {new_v:.3f} on the {frames}, but the current model could not be "
                    "evaluated, so they cannot be compared. Keeping the current model is recommended." + base)
        if self.old is None:
            why = self.no_old_reason or "There is no current model to compare with."
            return f"The new model scores {m} {new_v:.3f} on the {frames}. {why}" + base
        old_v, d = float(self.old[m]), float(self.delta or 0.0)
        rel = f" ({d / old_v:+.0%})" if old_v > 1e-6 else ""
        if self.better:
            text = (f"The new model is better on the {frames}: {m} {new_v:.3f} against {old_v:.3f} for the current "
                    f"model, {d:+.3f}{rel}.")
        elif self.worse:
            text = (f"The new model is WORSE on the {frames}: {m} {new_v:.3f} against {old_v:.3f} for the current "
                    f"model, {d:+.3f}{rel}. Keeping the current model is recommended.")
        else:
            text = (f"The new model is no better on the {frames}: {m} {new_v:.3f} against {old_v:.3f} for the "
                    "current model. Keeping the current model is recommended.")
        return text + base + noise
