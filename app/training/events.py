"""Typed events of ``hrnet-train --progress jsonl``: the protocol is defined once, in
:mod:`hrnet.core.events`; this module re-exports it for the app."""

from __future__ import annotations

from hrnet.core.events import (
    BaseValidated,
    CheckpointWritten,
    EpochEnded,
    Event,
    LogMessage,
    RunFinished,
    RunStarted,
    StepProgress,
    TrainError,
    parse_event,
)

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
