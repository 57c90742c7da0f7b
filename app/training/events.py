"""Typed events of ``hrnet-train --progress jsonl``: the protocol is defined once, in hrnet
(``hrnet.core.events``, re-exported by ``hrnet``); this module re-exports it for the app."""

from __future__ import annotations

from hrnet import (
    BaseValidated,
    CheckpointWritten,
    EpochEnded,
    LogMessage,
    RunFinished,
    RunStarted,
    StepProgress,
    TrainError,
)
from hrnet import ProgressEvent as Event
from hrnet import parse_progress_event as parse_event

__all__ = [
    "BaseValidated",
    "CheckpointWritten",
    "EpochEnded",
    "Event",
    "LogMessage",
    "RunFinished",
    "RunStarted",
    "StepProgress",
    "TrainError",
    "parse_event",
]
