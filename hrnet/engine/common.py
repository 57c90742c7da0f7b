"""What both training CLIs share (``hrnet-train`` and ``hrnet-test``): the official arguments,
config resolution, the run folder, exit codes and one-line error messages."""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from yacs.config import CfgNode

from hrnet.errors import CheckpointError, ConfigError, DatasetError, MediaError, WeightsError

__all__ = [
    "EXIT_ABORTED",
    "EXIT_CONFIG",
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "add_official_arguments",
    "error_kind",
    "error_message",
    "parse_args",
    "resolve_config",
    "run_directory",
    "tensorboard_directory",
]

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DIVERGED = 3
EXIT_ABORTED = 130

_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


# ----------------------------------------------------------------------------------------------
# Command line and config
# ----------------------------------------------------------------------------------------------
def add_official_arguments(parser: argparse.ArgumentParser) -> None:
    """The official ``--cfg`` / ``opts`` / ``--modelDir`` / ``--logDir`` / ``--dataDir`` / ``--prevModelDir``."""
    parser.add_argument("--cfg", required=True, help="experiment file or shipped experiment name "
                        "(e.g. coco/hrnet/w32_256x192_adam_lr1e-3)")
    parser.add_argument("--modelDir", default="", help="model directory (sets OUTPUT_DIR, as official)")
    parser.add_argument("--logDir", default="", help="log directory (sets LOG_DIR, as official)")
    parser.add_argument("--dataDir", default="", help="data directory (sets DATA_DIR; DATASET.ROOT, "
                        "MODEL.PRETRAINED and TEST.MODEL_FILE are relative to it, as official)")
    parser.add_argument("--prevModelDir", default="", help="accepted for compatibility (unused, as official)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--output-dir", default=None, help="the run folder (default: the official "
                        "OUTPUT_DIR/dataset/model/cfg_name)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    # torch.distributed.launch passes --local-rank; torchrun uses the LOCAL_RANK variable instead.
    parser.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs="*", default=[], metavar="KEY VALUE",
                        help="config overrides, e.g. TRAIN.LR 0.0005 TRAIN.END_EPOCH 10")


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse with options and ``KEY VALUE`` overrides in any order."""
    argv = list(argv)
    for i, token in enumerate(argv[:-1]):
        nxt = argv[i + 1]
        if token == "--resume" and _KEY_RE.match(nxt) and not Path(nxt).exists():
            # "--resume TRAIN.LR 0.1": the key belongs to the overrides, --resume has no value
            argv[i] = "--resume="
    return parser.parse_intermixed_args(argv)


def _join_data_dir(data_dir: str, value: str) -> str:
    return os.path.join(data_dir, value) if value else value


def resolve_config(args: argparse.Namespace) -> CfgNode:
    """Load ``--cfg`` with the overrides and apply ``--modelDir/--logDir/--dataDir`` as the official
    ``update_config`` does (empty paths stay empty). Raises :class:`ConfigError`."""
    from hrnet.config import load_config

    cfg = load_config(args.cfg, list(args.opts or []))
    cfg = cfg.clone()
    cfg.defrost()
    if args.modelDir:
        cfg.OUTPUT_DIR = args.modelDir
    if args.logDir:
        cfg.LOG_DIR = args.logDir
    if args.dataDir:
        cfg.DATA_DIR = args.dataDir
    if cfg.DATA_DIR:
        cfg.DATASET.ROOT = _join_data_dir(cfg.DATA_DIR, cfg.DATASET.ROOT)
        cfg.MODEL.PRETRAINED = _join_data_dir(cfg.DATA_DIR, cfg.MODEL.PRETRAINED)
        cfg.TEST.MODEL_FILE = _join_data_dir(cfg.DATA_DIR, cfg.TEST.MODEL_FILE)
        for key in ("TRAIN_ANNOTATIONS", "TRAIN_IMAGES", "TEST_ANNOTATIONS", "TEST_IMAGES"):
            cfg.DATASET[key] = _join_data_dir(cfg.DATA_DIR, cfg.DATASET[key])
    cfg.freeze()
    return cfg


def _dataset_model_names(cfg: CfgNode) -> tuple[str, str]:
    dataset = cfg.DATASET.DATASET
    if cfg.DATASET.HYBRID_JOINTS_TYPE:
        dataset = f"{dataset}_{cfg.DATASET.HYBRID_JOINTS_TYPE}"
    return dataset.replace(":", "_"), cfg.MODEL.NAME


def run_directory(cfg: CfgNode, cfg_arg: str, output_dir: str | None = None) -> Path:
    """``--output-dir`` or the official ``OUTPUT_DIR/dataset/model/cfg_name``."""
    if output_dir:
        return Path(output_dir).expanduser()
    dataset, model = _dataset_model_names(cfg)
    cfg_name = os.path.basename(str(cfg_arg)).split(".")[0]
    return Path(cfg.OUTPUT_DIR or ".") / dataset / model / cfg_name


def tensorboard_directory(cfg: CfgNode, cfg_arg: str, run_dir: Path, explicit_output: bool) -> Path:
    """``RUN_DIR/tensorboard`` with ``--output-dir``, else the official ``LOG_DIR/dataset/model/cfg_name_time``."""
    if explicit_output or not cfg.LOG_DIR:
        return run_dir / "tensorboard"
    dataset, model = _dataset_model_names(cfg)
    cfg_name = os.path.basename(str(cfg_arg)).split(".")[0]
    return Path(cfg.LOG_DIR) / dataset / model / f"{cfg_name}_{time.strftime('%Y-%m-%d-%H-%M')}"


def error_message(e: BaseException) -> str:
    """A one-line message for an exception (for DataLoader worker errors, the original message)."""
    text = str(e).strip() or type(e).__name__
    if "Original Traceback" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = lines[-1] if lines else text
        text = re.sub(r"^[\w.]+(Error|Exception): ", "", last)
    return " ".join(text.split())


def error_kind(e: BaseException) -> str:
    oom_types: tuple[type[BaseException], ...] = (MemoryError,)
    for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)):
        if isinstance(t, type):
            oom_types += (t,)
    text = str(e)
    if isinstance(e, oom_types) or "out of memory" in text.lower():
        return "oom"
    if isinstance(e, ConfigError):
        return "config"
    if isinstance(e, (DatasetError, MediaError)) or "DatasetError" in text or "MediaError" in text:
        return "data"
    if isinstance(e, (CheckpointError, WeightsError)):
        return "checkpoint"
    from hrnet.core.function import TrainingDiverged

    if isinstance(e, TrainingDiverged):
        return "nan"
    return "other"

