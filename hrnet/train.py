"""``python -m hrnet.train``: the training program (see :mod:`hrnet.cli.train`).

The program lives in :mod:`hrnet.cli.train` and the engine in :mod:`hrnet.engine`; this module
keeps ``python -m hrnet.train`` (and ``torchrun -m hrnet.train``) working and re-exports the names
earlier code imported from here.
"""

from __future__ import annotations

import sys

from hrnet.cli.train import build_parser, main
from hrnet.engine.builders import (
    atomic_save,
    atomic_write_text,
    build_criterion,
    build_datasets,
    build_loader,
    build_optimizer,
    build_scheduler,
    configure_cudnn,
    step_scheduler,
)
from hrnet.engine.checkpoints import restore_scheduler as _restore_scheduler
from hrnet.engine.common import (
    EXIT_ABORTED,
    EXIT_CONFIG,
    EXIT_DIVERGED,
    EXIT_FAILED,
    add_official_arguments,
    error_kind,
    error_message,
    parse_args,
    resolve_config,
    run_directory,
)
from hrnet.engine.fit import StopRequest, TrainingState

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CONFIG",
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "StopRequest",
    "TrainingState",
    "_restore_scheduler",
    "add_official_arguments",
    "atomic_save",
    "atomic_write_text",
    "build_criterion",
    "build_datasets",
    "build_loader",
    "build_optimizer",
    "build_parser",
    "build_scheduler",
    "configure_cudnn",
    "error_kind",
    "error_message",
    "main",
    "parse_args",
    "resolve_config",
    "run_directory",
    "step_scheduler",
]

if __name__ == "__main__":
    sys.exit(main())
