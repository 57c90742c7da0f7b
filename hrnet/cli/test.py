"""``hrnet-test``: evaluate a pose model as the official ``tools/test.py``.

::

    hrnet-test --cfg EXPERIMENT [TEST.MODEL_FILE path] [KEY VALUE ...] [--device D] [--output-dir DIR]
    torchrun --nproc_per_node=N -m hrnet.cli.test --cfg EXPERIMENT TEST.MODEL_FILE path ...

Loads ``TEST.MODEL_FILE`` (or the run folder's ``final_state.pth``, as official), runs the
validation set (``DATASET.TEST_SET``) with flip test and the heatmap shift when configured,
in fp32 (``TEST.AMP True`` asks for fp16 on CUDA; ``TRAIN.AMP`` does not apply), through
:func:`hrnet.engine.evaluation.validate_with_config` (the evaluation training and the app use),
decodes with the quarter-pixel offset (``TEST.POST_PROCESS``) or DARK (``TEST.DECODE dark``),
then the dataset's evaluation: for COCO-like data OKS rescoring + OKS NMS (soft with
``TEST.SOFT_NMS``), the results JSON ``DIR/results/keypoints_<set>_results_0.json`` and the
pycocotools stats; for MPII, PCKh@0.5 per joint group and the mean. Logs and tables go to
stdout (and ``DIR/test.log``), ``--metrics-json PATH`` writes the metrics as JSON too; errors go
to stderr as one line (``--debug`` for the traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import torch

from hrnet.engine.builders import atomic_write_text, build_criterion, build_datasets, build_loader, configure_cudnn
from hrnet.engine.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    add_official_arguments,
    error_kind,
    error_message,
    parse_args,
    resolve_config,
    run_directory,
)
from hrnet.errors import CheckpointError, HRNetError

__all__ = ["build_parser", "main"]

log = logging.getLogger("hrnet.test")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrnet-test",
        description="Evaluate a pose model on the validation set (official tools/test.py semantics).",
    )
    add_official_arguments(parser)
    parser.add_argument("--metrics-json", default=None, metavar="PATH",
                        help="also write the metrics (name -> value) to this JSON file")
    return parser


def _setup_logging(debug: bool, is_main: bool) -> list[logging.Handler]:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    h = logging.StreamHandler(sys.stdout if is_main else sys.stderr)
    h.setLevel(logging.DEBUG if debug else (logging.INFO if is_main else logging.WARNING))
    h.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(h)
    return [h]


def _evaluate(args: argparse.Namespace, handlers: list[logging.Handler]) -> dict[str, float]:
    """Evaluate as ``args`` say; returns the metrics (dataset metrics, then ``PCK``) on every rank."""
    from hrnet.distributed import ShardSampler, init_distributed
    from hrnet.engine.evaluation import validate_with_config
    from hrnet.models import build_model, load_checkpoint

    cfg = resolve_config(args)
    info, device = init_distributed(args.device)
    run_dir = run_directory(cfg, args.cfg, args.output_dir)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(run_dir / "test.log", encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)-15s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(fh)
        handlers.append(fh)
    configure_cudnn(cfg)
    log.info("Command: %s", " ".join(["hrnet-test", *(sys.argv[1:] if args.argv is None else args.argv)]))

    weights = Path(cfg.TEST.MODEL_FILE) if cfg.TEST.MODEL_FILE else run_dir / "final_state.pth"
    if not weights.is_file():
        hint = "" if cfg.TEST.MODEL_FILE else " (set TEST.MODEL_FILE to a checkpoint)"
        raise CheckpointError(f"Model file not found: {weights}{hint}")
    model = build_model(cfg, is_train=False)
    load_checkpoint(model, weights)
    model.to(device).eval()
    channels_last = bool(cfg.TRAIN.CHANNELS_LAST) and device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)

    _, dataset = build_datasets(cfg, train=False)
    loader = build_loader(dataset, batch_size=cfg.TEST.BATCH_SIZE_PER_GPU, workers=cfg.WORKERS, shuffle=False,
                          device=device, pin_memory=cfg.PIN_MEMORY,
                          sampler=ShardSampler(len(dataset), info.rank, info.world_size))
    log.info("Evaluating %d samples on %s (flip test %s, decode %s)", len(dataset), device,
             "on" if cfg.TEST.FLIP_TEST else "off", cfg.TEST.DECODE if cfg.TEST.POST_PROCESS else "arg-max")
    result = validate_with_config(
        cfg, model, loader, dataset, device, criterion=build_criterion(cfg).to(device), output_dir=str(run_dir),
        channels_last=channels_last, print_freq=int(cfg.PRINT_FREQ),
    )
    if info.is_main:
        results = sorted((run_dir / "results").glob("keypoints_*_results_*.json"))
        if results:
            log.info("=> results JSON: %s", results[-1])
        log.info("Validation loss %.6f, PCK (heatmap accuracy) %.4f", result.loss or float("nan"), result.accuracy)
    return dict(result.metrics)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hrnet-test``; returns the exit code."""
    from hrnet.distributed import cleanup, env_info

    args = parse_args(build_parser(), sys.argv[1:] if argv is None else argv)
    args.argv = None if argv is None else list(argv)
    info = env_info()
    handlers = _setup_logging(args.debug, info.is_main)
    code = 0
    try:
        metrics = _evaluate(args, handlers)
        if info.is_main and args.metrics_json:
            atomic_write_text(json.dumps(metrics, indent=1) + "\n", args.metrics_json)
    except KeyboardInterrupt:
        print("hrnet-test: interrupted", file=sys.stderr)
        code = 130
    except Exception as e:  # noqa: BLE001 - the CLI turns every error into a message and an exit code
        kind = error_kind(e)
        if args.debug or not (isinstance(e, HRNetError) or kind == "oom"):
            traceback.print_exc(file=sys.stderr)
        prefix = "" if info.is_main else f"[rank {info.rank}] "
        print(f"{prefix}hrnet-test: error: {error_message(e)}", file=sys.stderr)
        code = EXIT_CONFIG if kind == "config" else EXIT_FAILED
    finally:
        root = logging.getLogger()
        for h in handlers:
            root.removeHandler(h)
            h.close()
        cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
