"""What a training run from the app will do, decided without widgets: :class:`TrainingPlan`.

The Train dialog only shows and edits a plan. The plan holds the inputs (the project's reviewed
frames and their split, the experiment, the base weights, the device, the user's overrides and the
run folder) and answers everything the dialog asks:

- :meth:`TrainingPlan.problems` — what must be fixed before Start (empty: ready) and
  :meth:`TrainingPlan.warnings` — what the user should know but may ignore (few frames);
- :attr:`TrainingPlan.uses_finetune` — hrnet-train's ``--finetune`` recipe is used whenever the
  run starts from trained pose weights (current model, registry entry, checkpoint); random
  initialisation and an ImageNet backbone keep the experiment's full schedule;
- :meth:`TrainingPlan.effective_values` — the values the run will use (recipe, experiment or the
  user's override) for the settings the dialog shows;
- :meth:`TrainingPlan.command` — the exact ``hrnet-train`` command line;
- :meth:`TrainingPlan.base_transfer` — whether the base weights predict another keypoint set than
  the project's (a COCO registry model for a hand project): then the run is hrnet-train's cross-set
  start (``--weights BASE.pth`` + ``MODEL.NUM_JOINTS K``: every tensor that fits is loaded, the
  output layer starts fresh and the channels of joints the base knows by name are copied), with the
  fine-tuning recipe, and there is no old model to compare the new one with.

The recipe itself lives in hrnet (``hrnet.finetune_overrides``): the plan only asks it. User
overrides go last as explicit ``KEY VALUE`` pairs, which win over the recipe.
"""

from __future__ import annotations

import functools
import logging
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.training.command import TrainCommand, supports_option
from app.training.data import ExportedData, ReviewedSummary, planned_data, planned_split, summarize_reviewed
from app.training.transfer import SetTransfer, entry_keypoint_set, file_keypoint_set, set_label, set_transfer
from hrnet import HRNetError, KeypointSet

__all__ = [
    "AUGMENTATION_PRESETS",
    "BASE_BACKBONE",
    "BASE_CURRENT",
    "BASE_POSE_FILE",
    "BASE_RANDOM",
    "BASE_REGISTRY",
    "DATA_DIR_NAME",
    "EffectiveValue",
    "FEW_TRAIN_FRAMES",
    "SetTransfer",
    "TrainingPlan",
    "available_devices",
    "default_run_dir",
    "entry_keypoint_set",
    "file_keypoint_set",
    "recipe_overrides",
    "registry_entries",
    "same_network",
    "set_transfer",
]

log = logging.getLogger(__name__)

# Augmentation strength -> (SCALE_FACTOR, ROT_FACTOR, FLIP, PROB_HALF_BODY); None = the experiment's
# (or, when fine-tuning, the recipe's) values.
AUGMENTATION_PRESETS: dict[str, tuple[float, float, bool, float] | None] = {
    "Off": (0.0, 0.0, False, 0.0),
    "Light": (0.15, 15.0, True, 0.0),
    "Experiment default": None,
    "Strong (official COCO)": (0.35, 45.0, True, 0.3),
}
DEFAULT_AUGMENTATION = "Experiment default"

BASE_CURRENT = "current"
BASE_POSE_FILE = "pose_file"
BASE_BACKBONE = "backbone"
BASE_RANDOM = "random"
BASE_REGISTRY = "registry:"  # + a name of hrnet.weights

DATA_DIR_NAME = "data"

# Below this many training frames the validation frames are few too: one frame more or less right
# moves the AP a lot. Training is allowed; the plan warns.
FEW_TRAIN_FRAMES = 4

# The settings the dialog shows and lets the user override, with their labels.
SHOWN_SETTINGS: dict[str, str] = {
    "TRAIN.END_EPOCH": "Epochs",
    "TRAIN.LR": "Learning rate",
    "TRAIN.BATCH_SIZE_PER_GPU": "Batch size",
}


@dataclass(frozen=True)
class EffectiveValue:
    """One setting of the run: its config key, value, and where the value comes from."""

    key: str
    value: str
    source: str  # "recipe" | "override" | "experiment"


def recipe_overrides(cfg: Any, num_train_samples: int, new_head: bool = False) -> list[tuple[str, str]]:
    """hrnet's fine-tuning recipe (``hrnet-train --finetune``) for ``cfg`` and this many training
    samples (labelled people, as hrnet-train counts them); ``new_head``: the base predicts another
    keypoint set (hrnet-train finds that out from the files; the plan from :meth:`TrainingPlan.base_transfer`)."""
    from hrnet import finetune_overrides

    pairs = (finetune_overrides(cfg, int(num_train_samples), new_head=True) if new_head
             else finetune_overrides(cfg, int(num_train_samples)))
    return [(str(k), str(v)) for k, v in pairs]


def available_devices() -> list[str]:
    """auto, then the devices this machine has (cpu, cuda:N, mps): the one probe in hrnet."""
    from hrnet import available_devices as probe

    return ["auto"] + [d.spec for d in probe()]


def default_run_dir(document_path: str | Path | None) -> Path:
    """A new, time-stamped run folder next to the project (or in the home folder)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if document_path:
        p = Path(document_path)
        return p.parent / "training" / f"{p.stem}-{stamp}"
    return Path.home() / "hrnet-training" / f"run-{stamp}"


@functools.lru_cache(maxsize=16)
def _experiment_cfg(experiment: str) -> Any:
    from hrnet import load_config

    return load_config(experiment)


def registry_entries(num_joints: int | None = None) -> list[Any]:
    """The registry's models: all of them (a model of another keypoint set is a valid base: see
    :class:`SetTransfer`), or only those of ``num_joints`` joints."""
    from hrnet import list_weights

    return [e for e in list_weights() if num_joints is None or e.num_joints == num_joints]


def registry_target(entry: Any) -> Path:
    from hrnet import weights_dir

    return weights_dir() / entry.file_name


def is_cached(entry: Any) -> bool:
    return registry_target(entry).is_file()


def local_weights(weights: str) -> Path | None:
    """A weights path or registry name -> the local file, without downloading; None when absent."""
    p = Path(weights).expanduser()
    if p.is_file():
        return p
    try:
        from hrnet import resolve_weights

        return resolve_weights(weights, download_missing=False)
    except (HRNetError, OSError):  # unknown name, no cache: "not here"
        return None


@dataclass
class TrainingPlan:
    """One planned run (see the module doc). Fields are what the dialog edits; ``None`` means
    "the recipe's / experiment's value"."""

    pose_document: Any  # hrnet.annotations.PoseDocument: the project's frames
    experiment: str = "synthetic/hrnet_w16_128x96"
    run_dir: Path = field(default_factory=lambda: default_run_dir(None))
    base_kind: str = BASE_RANDOM
    base_path: str = ""  # the file of BASE_POSE_FILE / BASE_BACKBONE
    current_experiment: str | None = None  # the app's model now (None: no model)
    current_weights: str | None = None
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    input_size: tuple[int, int] | None = None  # (w, h); None: the experiment's
    augmentation: str = DEFAULT_AUGMENTATION
    extra_opts_text: str = ""
    finetune: bool | None = None  # None: automatic (on for trained pose weights)

    # ------------------------------------------------------------------ data
    @property
    def summary(self) -> ReviewedSummary:
        return summarize_reviewed(self.pose_document)

    def split(self) -> tuple[list[int], list[int]]:
        """(train, val) frame indices of the export (ValueError for an impossible split)."""
        return planned_split(self.pose_document, self.val_fraction, self.seed)

    def num_train_frames(self) -> int:
        try:
            return len(self.split()[0])
        except ValueError:
            return 0

    def num_train_samples(self) -> int:
        """Labelled people in the training frames: hrnet-train's training samples, which size the recipe."""
        try:
            train = self.split()[0]
        except ValueError:
            return 0
        frames = self.pose_document.frames
        return sum(int(frames[i].num_labelled) for i in train)

    @property
    def data_dir(self) -> Path:
        return Path(self.run_dir) / DATA_DIR_NAME

    def planned_data(self) -> ExportedData:
        return planned_data(self.data_dir, self.summary.num_joints)

    # ------------------------------------------------------------------ base weights
    @property
    def has_current_model(self) -> bool:
        return bool(self.current_experiment and self.current_weights)

    @property
    def registry_name(self) -> str | None:
        return self.base_kind[len(BASE_REGISTRY):] if self.base_kind.startswith(BASE_REGISTRY) else None

    def registry_entry(self) -> Any:
        name = self.registry_name
        if name is None:
            return None
        from hrnet import find_entry

        return find_entry(name)

    @property
    def starts_from_trained_weights(self) -> bool:
        return self.base_kind in (BASE_CURRENT, BASE_POSE_FILE) or self.registry_name is not None

    @property
    def uses_finetune(self) -> bool:
        return self.starts_from_trained_weights if self.finetune is None else bool(self.finetune)

    # ------------------------------------------------------------------ keypoint sets
    def project_keypoint_set(self) -> KeypointSet:
        return self.pose_document.category.keypoint_set()

    def base_keypoint_set(self) -> KeypointSet | None:
        """What the base weights predict (None: random, a backbone, or not known)."""
        entry = self.registry_entry()
        if entry is not None:
            return entry_keypoint_set(entry)
        if self.base_kind in (BASE_CURRENT, BASE_POSE_FILE):
            return file_keypoint_set(self.base_weights())
        return None

    def base_transfer(self) -> SetTransfer | None:
        """Not None when the base weights predict another keypoint set than the project's."""
        if not self.starts_from_trained_weights:
            return None
        return set_transfer(self.base_keypoint_set(), self.project_keypoint_set())

    def entry_transfer(self, entry: Any) -> SetTransfer | None:
        """The same for a registry model (what the dialog says next to each one)."""
        return set_transfer(entry_keypoint_set(entry), self.project_keypoint_set())

    def current_transfer(self) -> SetTransfer | None:
        """The same for the app's current model."""
        if not self.has_current_model:
            return None
        return set_transfer(file_keypoint_set(local_weights(str(self.current_weights))), self.project_keypoint_set())

    def default_base_kind(self) -> str:
        return BASE_CURRENT if self.has_current_model else BASE_RANDOM

    def base_weights(self) -> str | None:
        """The ``--weights`` file (None: random init or a backbone, which goes in MODEL.PRETRAINED)."""
        if self.base_kind == BASE_CURRENT and self.has_current_model:
            w = str(self.current_weights)
            return str(local_weights(w) or w)
        entry = self.registry_entry()
        if entry is not None:
            return str(registry_target(entry))
        if self.base_kind == BASE_POSE_FILE:
            return self.base_path.strip() or None
        return None

    # ------------------------------------------------------------------ settings
    def experiment_cfg(self) -> Any:
        """The experiment's config (raises the config loader's error for a bad experiment)."""
        return _experiment_cfg(self.experiment.strip())

    def recipe(self) -> list[tuple[str, str]]:
        """The (key, value) pairs of ``--finetune`` for this run; empty when the run does not fine-tune."""
        if not self.uses_finetune:
            return []
        try:
            cfg = self.experiment_cfg()
        except (HRNetError, ValueError):  # reported by problems()
            return []
        return recipe_overrides(cfg, max(1, self.num_train_samples()), new_head=self.base_transfer() is not None)

    def extra_opts(self) -> list[tuple[str, str]]:
        """The "other overrides" text as KEY VALUE pairs (ValueError for an odd count)."""
        text = self.extra_opts_text.strip()
        if not text:
            return []
        try:
            items = shlex.split(text)
        except ValueError as e:
            raise ValueError(f"Other overrides: {e}") from e
        if len(items) % 2:
            raise ValueError("Other overrides must be KEY VALUE pairs (an odd number of items was given).")
        return list(zip(items[0::2], items[1::2]))

    def user_overrides(self) -> list[tuple[str, str]]:
        """What the user set explicitly (epochs, learning rate, batch size, input size, augmentation)."""
        opts: list[tuple[str, str]] = []
        if self.epochs is not None:
            opts.append(("TRAIN.END_EPOCH", str(int(self.epochs))))
        if self.lr is not None:
            opts.append(("TRAIN.LR", repr(float(self.lr))))
        if self.batch_size is not None:
            opts.append(("TRAIN.BATCH_SIZE_PER_GPU", str(int(self.batch_size))))
        if self.input_size is not None:
            w, h = (int(x) for x in self.input_size)
            opts += [("MODEL.IMAGE_SIZE", f"[{w},{h}]"), ("MODEL.HEATMAP_SIZE", f"[{w // 4},{h // 4}]")]
        preset = AUGMENTATION_PRESETS.get(self.augmentation)
        if preset is not None:
            sf, rf, flip, half = preset
            # yacs checks value types: floats stay floats ("0.0"), the rotation is an int as in the defaults
            opts += [("DATASET.SCALE_FACTOR", repr(float(sf))), ("DATASET.ROT_FACTOR", str(int(rf))),
                     ("DATASET.FLIP", str(bool(flip))), ("DATASET.PROB_HALF_BODY", repr(float(half)))]
        return opts

    def opts(self, data: ExportedData | None = None) -> list[tuple[str, str]]:
        """Every ``KEY VALUE`` of the command, in order: data files, weights, then the user's overrides."""
        num_joints = self.summary.num_joints
        data = data or self.planned_data()
        opts = list(data.opts())
        try:
            cfg_joints = int(self.experiment_cfg().MODEL.NUM_JOINTS)
        except (HRNetError, ValueError):  # reported by problems()
            cfg_joints = None
        if cfg_joints != num_joints and "MODEL.NUM_JOINTS" not in dict(opts):
            opts.append(("MODEL.NUM_JOINTS", str(num_joints)))
        opts.append(("TEST.USE_GT_BBOX", "True"))
        opts.append(("MODEL.PRETRAINED", self.base_path.strip() if self.base_kind == BASE_BACKBONE else ""))
        entry = self.registry_entry()
        if entry is not None and entry.opts:
            opts += list(zip(entry.opts[0::2], entry.opts[1::2]))
        opts += self.user_overrides()
        opts += self.extra_opts()
        return opts

    def resolved_cfg(self, data: ExportedData | None = None) -> Any:
        """The config the run will use: experiment, then the recipe, then the command's overrides."""
        from hrnet import load_config

        flat = [x for kv in (*self.recipe(), *self.opts(data)) for x in kv]
        return load_config(self.experiment.strip(), flat)

    def effective_values(self) -> list[EffectiveValue]:
        """The shown settings plus every recipe key, with the value the run will use and its source."""
        try:
            cfg = self.resolved_cfg()
        except (HRNetError, ValueError):  # reported by problems()
            return []
        recipe = dict(self.recipe())
        explicit = dict(self.user_overrides() + self._safe_extra_opts())
        out = []
        for key in [*SHOWN_SETTINGS, *(k for k in recipe if k not in SHOWN_SETTINGS)]:
            value: Any = cfg
            try:
                for part in key.split("."):
                    value = value[part]
            except (KeyError, TypeError):
                continue
            source = "override" if key in explicit else "recipe" if key in recipe else "experiment"
            out.append(EffectiveValue(key, _show(value), source))
        return out

    def effective(self, key: str) -> str | None:
        return next((v.value for v in self.effective_values() if v.key == key), None)

    def _safe_extra_opts(self) -> list[tuple[str, str]]:
        try:
            return self.extra_opts()
        except ValueError:
            return []

    # ------------------------------------------------------------------ checks
    def problems(self, resume: bool = False) -> list[str]:
        """What must be fixed before training can start (empty: ready)."""
        problems: list[str] = []
        s = self.summary
        if not resume:
            if not s.usable_frames:
                problems.append(
                    "There are no reviewed frames to train on. Correct the people on some frames (drag the joints "
                    "into place, fix left/right, add missing people), then mark each such frame as reviewed; "
                    "only reviewed frames are used for training.")
            elif len(s.usable_frames) < 2:
                problems.append(
                    "Only one reviewed frame has labelled people: review at least two, so that one can be kept "
                    "aside for validation.")
        try:
            self.extra_opts()
        except ValueError as e:
            problems.append(str(e))
            return problems
        if not self.experiment.strip():
            problems.append("Choose an experiment.")
            return problems
        try:
            self.resolved_cfg()
        except (HRNetError, ValueError) as e:  # the config loader's message is the user's answer
            problems.append(f"Experiment / settings: {e}")
        if self.uses_finetune and not self.starts_from_trained_weights:
            problems.append("The fine-tuning recipe needs trained pose weights (the current model, registry "
                            "weights or a pose checkpoint); from random or ImageNet weights switch it off.")
        if self.uses_finetune and not supports_option("finetune"):
            problems.append("This hrnet-train has no --finetune recipe: update the hrnet package, or start from "
                            "random initialisation.")
        path = self.base_path.strip()
        if not resume and self.base_kind in (BASE_POSE_FILE, BASE_BACKBONE):
            if not path:
                problems.append("Choose the base weights file, or another kind of base weights.")
            elif not Path(path).expanduser().is_file():
                problems.append(f"The base weights file does not exist: {path}")
        if not resume and self.base_kind == BASE_CURRENT:
            if not self.has_current_model:
                problems.append("There is no current model with weights: choose other base weights.")
            elif local_weights(str(self.current_weights)) is None:
                problems.append(f"The current model's weights file is not on this computer: {self.current_weights}")
        entry = self.registry_entry()
        if not resume and self.registry_name is not None:
            if entry is None:
                problems.append(f"Unknown registry weights: {self.registry_name}")
            elif not is_cached(entry) and not entry.url:
                problems.append(f"{entry.name} cannot be downloaded automatically: get {entry.file_name} from "
                                f"{entry.where} and put it at {registry_target(entry)}.")
        run = Path(self.run_dir)
        if not str(self.run_dir).strip() or str(self.run_dir) == ".":
            problems.append("Choose a run folder.")
        elif resume:
            if not (run / "checkpoint.pth").is_file():
                problems.append(f"There is no checkpoint to resume from in {run}.")
        elif (run / "checkpoint.pth").exists():
            problems.append(f"The run folder {run} already holds a training run: resume it, or choose a new folder.")
        elif run.exists() and not run.is_dir():
            problems.append(f"The run folder {run} is a file.")
        return problems

    def warnings(self) -> list[str]:
        """What the user should know before starting; none of it blocks the run."""
        out: list[str] = []
        n = self.num_train_frames()
        if 0 < n < FEW_TRAIN_FRAMES:
            try:
                n_val = len(self.split()[1])
            except ValueError:
                n_val = 0
            out.append(f"Only {n} training frame{'s' if n != 1 else ''} and {n_val} validation "
                       f"frame{'s' if n_val != 1 else ''}: the validation score is noisy, so 'better' or 'worse' "
                       f"may be chance. Review at least {FEW_TRAIN_FRAMES + 1} frames for a trustworthy comparison.")
        return out

    # ------------------------------------------------------------------ command
    def command(self, resume: bool = False, data: ExportedData | None = None) -> TrainCommand:
        """The exact hrnet-train command of this plan (ValueError for bad "other overrides")."""
        return TrainCommand(
            experiment=self.experiment.strip(),
            output_dir=Path(self.run_dir),
            weights=self.base_weights(),
            device=self.device,
            opts=self.opts(data),
            resume=resume,
            finetune=self.uses_finetune,
        )

    def old_model(self) -> tuple[str, str] | None:
        """(experiment, weights) of the model the new one is compared with; None when there is none.
        A model of another keypoint set cannot label the project's frames: it is not compared."""
        if self.has_current_model:
            if self.current_transfer() is not None:
                return None
            return str(self.current_experiment), str(self.current_weights)
        weights = self.base_weights()
        if self.starts_from_trained_weights and weights and self.base_transfer() is None:
            return self.experiment.strip(), weights
        return None

    def no_comparison_reason(self) -> str:
        """Why the new model is not compared with an old one (for the result tab; "" when it is)."""
        if self.old_model() is not None:
            return ""
        transfer = self.current_transfer() if self.has_current_model else None
        if transfer is not None:
            return (f"The current model predicts {set_label(transfer.source)}, not this project's "
                    f"{set_label(transfer.target)}: it cannot label these frames, so there is nothing to compare with.")
        transfer = self.base_transfer()
        if transfer is not None:
            return (f"The base weights predict {set_label(transfer.source)}, not this project's joints: "
                    "there is no model of this keypoint set to compare with.")
        return "There is no current model to compare with."

    def comparison_models(self, run_config: str, new_weights: str) -> dict[str, tuple[str, str | None]]:
        """What the result tab evaluates: ``{"old": (experiment, weights), "new": (...)}`` ("old" only
        when there is a model to compare with).

        The new model is evaluated with the run's resolved config (``run_config``: hrnet-train's
        ``config.yaml``). The old model is evaluated with that same config whenever its weights fit
        the run's network (same MODEL.NAME, MODEL.NUM_JOINTS, MODEL.EXTRA), so both numbers come from
        the same settings (input size, decoding, flip test, the registry entry's options): like for
        like, and when the old model is the run's base, its figure is the base validation (epoch 0)
        of the training log. A current model of another network keeps its own experiment.
        """
        models: dict[str, tuple[str, str | None]] = {}
        old = self.old_model()
        if old is not None:
            experiment, weights = old
            models["old"] = (run_config if same_network(experiment, run_config) else experiment, weights)
        models["new"] = (run_config, new_weights)
        return models


def same_network(experiment: str, other: str) -> bool:
    """Whether weights trained with ``experiment`` load into the network of ``other`` (same model
    name, joints and architecture). An experiment that does not load counts as the same: the
    other config is then the only usable one."""
    from hrnet import load_config

    try:
        a = load_config(experiment)
    except (HRNetError, ValueError):
        return True
    try:
        b = load_config(other)
    except (HRNetError, ValueError):
        return False
    return (str(a.MODEL.NAME) == str(b.MODEL.NAME) and int(a.MODEL.NUM_JOINTS) == int(b.MODEL.NUM_JOINTS)
            and a.MODEL.EXTRA.dump() == b.MODEL.EXTRA.dump())


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
