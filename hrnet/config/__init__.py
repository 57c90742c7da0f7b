"""yacs configuration: the official defaults, the shipped official experiment files, and one
loader that validates every key.

>>> cfg = load_config("coco/hrnet/w32_256x192_adam_lr1e-3", opts=["TRAIN.LR", "0.0005"])
>>> cfg.MODEL.IMAGE_SIZE
[192, 256]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import yaml
from yacs.config import CfgNode

from hrnet.config.defaults import MODEL_EXTRAS, get_defaults
from hrnet.errors import ConfigError

__all__ = [
    "CfgNode",
    "EXPERIMENTS_DIR",
    "MODEL_EXTRAS",
    "ConfigError",
    "get_defaults",
    "list_experiments",
    "load_config",
    "check_training_sizes",
    "resolve_experiment",
]

log = logging.getLogger(__name__)

EXPERIMENTS_DIR = Path(__file__).resolve().parent / "experiments"


def list_experiments() -> list[str]:
    """Names of the shipped experiments, e.g. ``coco/hrnet/w32_256x192_adam_lr1e-3``."""
    return sorted(p.relative_to(EXPERIMENTS_DIR).with_suffix("").as_posix()
                  for p in EXPERIMENTS_DIR.rglob("*.yaml"))


def resolve_experiment(name_or_path: str | PathLike[str]) -> Path:
    """Map a YAML path or a shipped experiment name to an existing file.

    A name may omit the ``.yaml`` suffix and, where unambiguous, the optimiser suffix
    (``coco/hrnet/w32_256x192`` finds ``coco/hrnet/w32_256x192_adam_lr1e-3``).
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") and (path.is_absolute() or path.parent != Path(".")):
        if not (EXPERIMENTS_DIR / text).is_file():
            raise ConfigError(f"Config file not found: {path}")
    stem = text[:-5] if text.endswith(".yaml") else text
    shipped = EXPERIMENTS_DIR / f"{stem}.yaml"
    if shipped.is_file():
        return shipped
    names = list_experiments()
    matches = [n for n in names if n.startswith(stem + "_")]
    if len(matches) == 1:
        return EXPERIMENTS_DIR / f"{matches[0]}.yaml"
    hint = f" Did you mean one of: {', '.join(matches)}?" if matches else ""
    raise ConfigError(
        f"Config not found: {text!r} is neither a YAML file nor a shipped experiment.{hint}"
        f" Shipped experiments: {', '.join(names)}"
    )


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"Cannot read config file {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {path} is not valid YAML: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of keys, not {type(data).__name__}")
    return data


def _merge(cfg: CfgNode, other: CfgNode, source: str) -> None:
    try:
        cfg.merge_from_other_cfg(other)
    except KeyError as e:
        msg = str(e.args[0]) if e.args else str(e)
        raise ConfigError(f"{source}: unknown config key ({msg.replace('Non-existent config key: ', '')})") from e
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from e


def _validate_extra(cfg: CfgNode, source: str) -> None:
    name = cfg.MODEL.NAME
    if name not in MODEL_EXTRAS:
        raise ConfigError(f"{source}: unknown MODEL.NAME {name!r}; known: {', '.join(sorted(MODEL_EXTRAS))}")
    schema = MODEL_EXTRAS[name].clone()
    given = cfg.MODEL.EXTRA
    try:
        # Fills keys the file leaves out with the official model defaults, refuses unknown ones.
        schema.merge_from_other_cfg(CfgNode(given))
    except KeyError as e:
        key = str(e.args[0]).replace("Non-existent config key: ", "")
        raise ConfigError(f"{source}: unknown config key MODEL.EXTRA.{key} for MODEL.NAME {name!r}") from e
    except ValueError as e:
        raise ConfigError(f"{source}: MODEL.EXTRA: {e}") from e
    cfg.MODEL.EXTRA = schema
    _check_stages(cfg, source)


def _check_stages(cfg: CfgNode, source: str) -> None:
    if cfg.MODEL.NAME != "pose_hrnet":
        return
    for stage in ("STAGE2", "STAGE3", "STAGE4"):
        s = cfg.MODEL.EXTRA[stage]
        n = s.NUM_BRANCHES
        for key in ("NUM_BLOCKS", "NUM_CHANNELS"):
            if len(s[key]) != n:
                raise ConfigError(
                    f"{source}: MODEL.EXTRA.{stage}.{key} has {len(s[key])} entries but "
                    f"NUM_BRANCHES is {n}"
                )
        if s.BLOCK not in ("BASIC", "BOTTLENECK"):
            raise ConfigError(f"{source}: MODEL.EXTRA.{stage}.BLOCK must be BASIC or BOTTLENECK, not {s.BLOCK!r}")


def _check_values(cfg: CfgNode, source: str) -> None:
    for key in ("IMAGE_SIZE", "HEATMAP_SIZE"):
        v = cfg.MODEL[key]
        if len(v) != 2 or any(int(x) <= 0 for x in v):
            raise ConfigError(f"{source}: MODEL.{key} must be [width, height] of positive ints, not {list(v)}")
    if cfg.MODEL.NAME in ("pose_hrnet", "pose_resnet"):
        w, h = (int(x) for x in cfg.MODEL.IMAGE_SIZE)
        if w % 32 or h % 32:
            raise ConfigError(
                f"{source}: MODEL.IMAGE_SIZE {[w, h]} must be multiples of 32 for {cfg.MODEL.NAME} (its "
                f"branches run at 1/4 ... 1/32 of the input), e.g. {[max(32, round(v / 32) * 32) for v in (w, h)]}"
            )
    if cfg.MODEL.NUM_JOINTS <= 0:
        raise ConfigError(f"{source}: MODEL.NUM_JOINTS must be positive, not {cfg.MODEL.NUM_JOINTS}")
    if cfg.TEST.DECODE not in ("default", "dark"):
        raise ConfigError(f"{source}: TEST.DECODE must be 'default' or 'dark', not {cfg.TEST.DECODE!r}")
    if cfg.TRAIN.LR_SCHEDULE not in ("multistep", "cosine"):
        raise ConfigError(f"{source}: TRAIN.LR_SCHEDULE must be 'multistep' or 'cosine', not {cfg.TRAIN.LR_SCHEDULE!r}")
    for key, low in (("WARMUP_STEPS", 0), ("EPOCH_REPEATS", 1), ("EARLY_STOP_PATIENCE", 0)):
        if int(cfg.TRAIN[key]) < low:
            raise ConfigError(f"{source}: TRAIN.{key} must be at least {low}, not {cfg.TRAIN[key]}")


def load_config(
    name_or_path: str | PathLike[str] | CfgNode,
    opts: Sequence[str] | Iterable[str] = (),
) -> CfgNode:
    """Load an experiment into the official defaults and return a frozen :class:`CfgNode`.

    ``name_or_path`` is a YAML path, a shipped experiment name such as
    ``"coco/hrnet/w32_256x192_adam_lr1e-3"``, or an existing CfgNode (validated and copied).
    ``opts`` is the official ``KEY VALUE`` override list (``["TRAIN.LR", "0.0005"]``).
    Unknown keys, wrong value types and missing files raise :class:`ConfigError` naming them.
    """
    cfg = get_defaults()
    if isinstance(name_or_path, CfgNode):
        source = "config"
        _merge(cfg, name_or_path.clone(), source)
    else:
        path = resolve_experiment(name_or_path)
        source = str(path)
        data = _read_yaml(path)
        _merge(cfg, CfgNode(data), source)
    opts = list(opts)
    if opts:
        if len(opts) % 2:
            raise ConfigError(f"opts must be KEY VALUE pairs; got an odd number of items: {opts}")
        # MODEL.EXTRA.* keys are validated against the schema first so that they can be overridden.
        _validate_extra(cfg, source)
        try:
            cfg.merge_from_list(opts)
        except (AssertionError, KeyError) as e:
            raise ConfigError(f"opts: unknown config key: {e}") from e
        except ValueError as e:
            raise ConfigError(f"opts: {e}") from e
    _validate_extra(cfg, source)
    _check_values(cfg, source)
    cfg.freeze()
    return cfg


def check_training_sizes(cfg: CfgNode) -> None:
    """Training compares the network's output (a quarter of MODEL.IMAGE_SIZE) with targets drawn at
    MODEL.HEATMAP_SIZE: refuse a config where they differ, with a message instead of a tensor error."""
    w, h = (int(x) for x in cfg.MODEL.IMAGE_SIZE)
    if [int(x) for x in cfg.MODEL.HEATMAP_SIZE] != [w // 4, h // 4]:
        raise ConfigError(
            f"MODEL.HEATMAP_SIZE {list(cfg.MODEL.HEATMAP_SIZE)} must be MODEL.IMAGE_SIZE / 4 = {[w // 4, h // 4]} "
            "(the network outputs heatmaps at a quarter of the input size)"
        )
