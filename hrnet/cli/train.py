"""The training program (official ``tools/train.py``): ``hrnet-train`` / ``python -m hrnet.train``.

::

    hrnet-train --cfg EXPERIMENT [--device auto|cpu|cuda|cuda:N|mps] [--output-dir DIR]
                [--weights POSE_CKPT [--finetune]] [--resume [CKPT]] [--progress bar|jsonl] [--stop-file PATH]
                [--modelDir D] [--logDir D] [--dataDir D] [KEY VALUE ...]
    torchrun --nproc_per_node=N [--nnodes ...] -m hrnet.train --cfg EXPERIMENT ...

What it does, per the official recipe: Adam (lr) or SGD (lr, momentum, weight decay, nesterov)
as ``TRAIN.OPTIMIZER`` says, ``MultiStepLR(TRAIN.LR_STEP, TRAIN.LR_FACTOR)`` stepped at the start
of every epoch (so epoch ``e`` runs at ``LR * LR_FACTOR ** #{m in LR_STEP: m <= e + 1}``, exactly
as the official loop), JointsMSELoss (or OHKM with ``LOSS.USE_OHKM``), validation every epoch
(official PCK ``accuracy`` and the dataset's metric: COCO AP / MPII PCKh) and, in the run folder,
``checkpoint.pth`` (every epoch), ``model_best.pth`` (bare state_dict, when the metric is at
least the best so far) and ``final_state.pth`` (bare state_dict, at the end).

Beyond the official code: any device, AMP on CUDA (``TRAIN.AMP``), channels_last
(``TRAIN.CHANNELS_LAST``), DistributedDataParallel under torchrun (NCCL on GPUs, gloo on CPU;
``TRAIN.SYNC_BN``), exact ``--resume`` (optimizer, scheduler and scaler state), atomic checkpoint
writes, graceful stop (``--stop-file`` or the first SIGINT/SIGTERM: finish the epoch, then exit
with status ``stopped``), NaN detection (status ``diverged``; the last good checkpoint is kept),
and ``--progress jsonl``: one JSON object per stdout line for the app (events start, step,
epoch_end, checkpoint, log, error, end; see :mod:`hrnet.core.progress`).

``--finetune`` (with ``--weights`` of a trained pose model) applies the fine-tuning recipe of
:mod:`hrnet.engine.finetune` before the explicit ``KEY VALUE`` options: base validation (the
starting weights compete for ``model_best.pth``), a lower LR with warm-up and cosine decay, steps
scaled to the training set, frozen BatchNorm statistics and early stopping.

Exit codes: 0 completed or stopped, 1 failed, 2 bad config / arguments, 3 diverged, 130 aborted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hrnet.config import check_training_sizes
from hrnet.core.progress import BarReporter, JsonlReporter, ProgressReporter
from hrnet.distributed import DistInfo
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
)
from hrnet.engine.fit import StopRequest, TrainingState, fit
from hrnet.errors import ConfigError, HRNetError

__all__ = ["build_parser", "build_train_parser", "main"]

log = logging.getLogger("hrnet.train")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrnet-train",
        description="Train an HRNet / SimpleBaseline pose network (official tools/train.py semantics).",
    )
    add_official_arguments(parser)
    parser.add_argument("--weights", default=None, help="initialise the whole pose model from this checkpoint "
                        "(fine-tuning)")
    parser.add_argument("--finetune", action="store_true",
                        help="fine-tune trained pose weights (--weights) with the fine-tuning recipe: base "
                        "validation, lower LR with warm-up and cosine decay, steps scaled to the data, frozen "
                        "BatchNorm statistics, early stopping (see hrnet.finetune_overrides); KEY VALUE options "
                        "still override it")
    parser.add_argument("--resume", nargs="?", const="", default=None, metavar="CKPT",
                        help="resume from CKPT (default: RUN_DIR/checkpoint.pth): weights, optimizer, LR "
                        "schedule, epoch and best metric")
    parser.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                        help="bar: progress bar with ETA on stderr (default); jsonl: one JSON event per "
                        "stdout line (for programs)")
    parser.add_argument("--stop-file", default=None, help="stop after the current epoch once this file exists")
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    """hrnet-train's argument parser, public as ``hrnet.build_train_parser``: the app's Train dialog
    builds its command from it, so its flags are written once, here."""
    return build_parser()


# ----------------------------------------------------------------------------------------------
# Logging and reporting
# ----------------------------------------------------------------------------------------------
class _ReporterLogHandler(logging.Handler):
    """Forwards log records to the JSON-lines reporter as ``log`` events: the trainer's own INFO
    messages and every library WARNING and above."""

    def __init__(self, reporter: ProgressReporter) -> None:
        super().__init__(logging.INFO)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and not record.name.startswith(("hrnet.train", "hrnet.engine")):
            return
        if getattr(record, "no_event", False):
            return
        try:
            level = "warning" if record.levelno >= logging.WARNING else "info"
            self.reporter.log(level, record.getMessage())
        except Exception:  # noqa: BLE001 # pragma: no cover - logging must never raise (logging.Handler convention)
            self.handleError(record)


@dataclass
class _Session:
    """Logging set-up of one run (undone by :meth:`close`)."""

    reporter: ProgressReporter
    handlers: list[logging.Handler] = field(default_factory=list)
    file_handler: logging.Handler | None = None
    stdout: TextIO | None = None
    previous_level: int = logging.WARNING

    def add_file(self, path: Path) -> None:
        if self.file_handler is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        h = logging.FileHandler(path, encoding="utf-8")
        h.setLevel(logging.DEBUG)
        h.setFormatter(logging.Formatter("%(asctime)-15s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(h)
        self.handlers.append(h)
        self.file_handler = h

    def close(self) -> None:
        root = logging.getLogger()
        for h in self.handlers:
            root.removeHandler(h)
            try:
                h.close()
            except (OSError, ValueError):  # pragma: no cover - a file handler whose disk went away
                pass
        self.handlers.clear()
        root.setLevel(self.previous_level)
        self.reporter.close()
        if self.stdout is not None:
            sys.stdout = self.stdout
            self.stdout = None


def _open_session(progress: str, info: DistInfo, debug: bool) -> _Session:
    root = logging.getLogger()
    session = _Session(reporter=ProgressReporter(), previous_level=root.level)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not info.is_main:
        # torchrun merges every rank's stdout: keep the JSON-lines stream of rank 0 clean
        session.stdout = sys.stdout
        sys.stdout = sys.stderr
        h: logging.Handler = logging.StreamHandler(sys.stderr)
        h.setLevel(logging.WARNING)
        h.setFormatter(logging.Formatter(f"[rank {info.rank}] %(levelname)s: %(message)s"))
        root.addHandler(h)
        session.handlers.append(h)
        return session
    if progress == "jsonl":
        # stdout carries the JSON lines only: everything else printed (pycocotools' tables...) goes
        # to stderr for as long as the run lasts.
        reporter: ProgressReporter = JsonlReporter(sys.stdout)
        session.stdout = sys.stdout
        sys.stdout = sys.stderr
        console: logging.Handler = logging.StreamHandler(sys.stderr)
        forward = _ReporterLogHandler(reporter)
        root.addHandler(forward)
        session.handlers.append(forward)
    else:
        bar = BarReporter(sys.stderr)
        reporter = bar
        console = bar.handler()
    console.setLevel(logging.DEBUG if debug else logging.INFO)
    console.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(console)
    session.handlers.append(console)
    session.reporter = reporter
    return session


def _command_line(argv: Sequence[str] | None) -> str:
    if argv is None:
        prog = os.path.basename(sys.argv[0])
        if prog in ("__main__.py", "train.py") or prog.endswith(".py"):
            return shlex.join([sys.executable, "-m", "hrnet.train", *sys.argv[1:]])
        return shlex.join(sys.argv)
    return shlex.join(["hrnet-train", *argv])


def _usage_error_events(argv: Sequence[str], code: int) -> None:
    """A bad command line in ``--progress jsonl`` mode still ends with error + end events."""
    argv = list(argv)
    jsonl = "--progress=jsonl" in argv or any(a == "--progress" and b == "jsonl" for a, b in zip(argv, argv[1:]))
    if jsonl and code != 0:
        reporter = JsonlReporter(sys.stdout)
        reporter.error("config", "invalid command line (see the usage message on stderr)")
        reporter.end(status="failed", epochs_done=0, best_metric=None, best_path=None, final_path=None)


def apply_finetune_recipe(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Put the recipe's ``KEY VALUE`` pairs before the explicit ones in ``args.opts`` (so the
    user's win); returns the recipe. Raises :class:`ConfigError` without trained weights."""
    from hrnet.engine.builders import build_datasets
    from hrnet.engine.finetune import finetune_overrides
    from hrnet.models.checkpoint_sets import starts_new_head

    if not args.weights and args.resume is None:
        raise ConfigError("--finetune needs --weights BASE.pth: the trained pose model to fine-tune "
                          "(to train from ImageNet or random weights, leave --finetune out)")
    cfg = resolve_config(args)  # the experiment with the explicit options (e.g. the batch size)
    train_ds, _ = build_datasets(cfg)
    new_head = bool(args.weights) and starts_new_head(args.weights, getattr(train_ds, "keypoint_set", None),
                                                      int(cfg.MODEL.NUM_JOINTS))
    recipe = finetune_overrides(cfg, len(train_ds), new_head=new_head)
    explicit = {str(k) for k in list(args.opts or [])[0::2]}
    log.info("Fine-tuning recipe for %d training samples%s: %s%s", len(train_ds),
             " (a base of another keypoint set: new output layer)" if new_head else "",
             " ".join(f"{k} {v}" for k, v in recipe),
             f" (overridden here: {', '.join(sorted(explicit & {k for k, _ in recipe}))})"
             if explicit & {k for k, _ in recipe} else "")
    args.opts = [x for kv in recipe for x in kv] + list(args.opts or [])
    return recipe


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hrnet-train``; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    raw = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(parser, raw)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed on stderr
        code = e.code if isinstance(e.code, int) else EXIT_CONFIG
        _usage_error_events(raw, code)
        return code
    if args.local_rank is not None and "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    command = _command_line(argv)

    from hrnet.distributed import cleanup, env_info, init_distributed

    info = env_info()
    session = _open_session(args.progress, info, args.debug)
    reporter = session.reporter
    state = TrainingState()
    stop = StopRequest(args.stop_file)
    status, code = "failed", EXIT_FAILED
    try:
        with stop.installed():
            try:
                if args.finetune:
                    apply_finetune_recipe(args)
                cfg = resolve_config(args)
                check_training_sizes(cfg)
                info, device = init_distributed(args.device)
                status = fit(args, cfg, info, device, session, stop, command, state)
                code = 0
            except KeyboardInterrupt:
                log.error("Aborted", extra={"no_event": True})
                reporter.error("other", "Training aborted by a second interrupt; the last checkpoint is kept")
                status, code = "failed", EXIT_ABORTED
            except Exception as e:  # noqa: BLE001 - reported as an event, a message and an exit code
                kind = error_kind(e)
                message = error_message(e)
                if kind == "oom" and "out of memory" not in message.lower():
                    message = f"Out of memory: {message}"
                status = "diverged" if kind == "nan" else "failed"
                code = {"nan": EXIT_DIVERGED, "config": EXIT_CONFIG}.get(kind, EXIT_FAILED)
                user_error = isinstance(e, HRNetError) or kind == "oom"
                if session.file_handler is not None:
                    # the full story goes to train.log only
                    record = logging.LogRecord("hrnet.train", logging.ERROR, __file__, 0, "%s",
                                               (traceback.format_exc(),), None)
                    session.file_handler.handle(record)
                if args.debug or (not user_error and session.file_handler is None):
                    print(traceback.format_exc(), file=sys.stderr, end="")
                elif not user_error:
                    message += " (details in train.log)"
                if info.is_main:
                    reporter.error(kind, message)
                    if isinstance(reporter, JsonlReporter):
                        print(f"hrnet-train: error: {message}", file=sys.stderr)
                else:
                    print(f"[rank {info.rank}] hrnet-train: error: {message}", file=sys.stderr)
                if kind == "nan" and state.last_epoch_done is not None:
                    log.warning("The last good checkpoint (epoch %d) is kept; resume it with a lower TRAIN.LR",
                                state.last_epoch_done + 1, extra={"no_event": True})
            reporter.end(status=status, epochs_done=state.epochs_done, final_path=state.final_path,
                         **state.end_fields())
    finally:
        session.close()
        cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
