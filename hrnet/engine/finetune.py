"""The fine-tuning recipe of ``hrnet-train --weights BASE.pth --finetune``: what changes when the
starting point is an already trained pose model instead of ImageNet or random weights.

:func:`finetune_overrides` returns ``KEY VALUE`` pairs applied on top of the experiment and
before the user's explicit ``KEY VALUE`` options (which therefore win). Every knob is a config key
(see ``hrnet/config/defaults.py``), so each one can be overridden. The values were chosen by
measurement (``benchmarks/finetune.py``, figures in the README): from the bundled demo model, on
8 / 32 / 128 labelled frames of its own domain and of a domain where it fails, judged on ~100
held-out frames.

The recipe:

- **base validation** (``TRAIN.VALIDATE_BASE``): the starting weights are validated before any
  update and compete for ``model_best.pth``; a run that makes nothing better leaves the base
  weights there, and its ``end`` event says ``best_is_base``. An epoch replaces the base only when
  it beats it by more than ``BASE_MIN_DELTA`` (0.02 AP) on the validation frames: on 8 frames of
  the demo model's own domain, a +0.013 validation gain was a -0.020 loss on 100 held-out frames;
- **a lower learning rate with warm-up and cosine decay**: ``LR_SCALE`` x the experiment's LR,
  linear warm-up from 10 %, cosine to 1 % by the last epoch (a trained model's features are
  destroyed by the from-scratch LR in a few steps);
- **steps scaled to the data**: ``STEPS_PER_SAMPLE`` optimizer steps per training sample,
  clamped to ``[MIN_STEPS, MAX_STEPS]``, spread over ``EPOCHS`` validation points through
  ``TRAIN.EPOCH_REPEATS`` (8 frames: many passes per epoch; 800 frames: about a pass; a set
  larger than ``MAX_STEPS`` batches gets one epoch of one pass);
- **small batches** (at most the number of samples) with **frozen BatchNorm statistics**
  (``TRAIN.FREEZE_BN``): the base's statistics are better estimates than those of 4 crops;
- **early stopping** after ``PATIENCE`` epochs without a new best;
- augmentation stays the experiment's (flip, rotation, scale, half body), which is what keeps a
  set of 8 frames from being memorised.

**A base of another keypoint set** (``new_head=True``: a COCO model for a hand or animal project;
the output layer starts fresh, the joints the base knows by name are copied, see
:func:`hrnet.load_for_keypoint_set`) trains at the experiment's own learning rate
(``NEW_HEAD_LR_SCALE``) with BatchNorm statistics learnt (``NEW_HEAD_FREEZE_BN``): measured by
``benchmarks/new_set_recipe.py`` (demo model -> synthetic quadruped-15 and COCO body-12, 8 / 32
frames, judged on 32 held-out frames, one seed) this had the best mean held-out AP, 0.243 against
0.217 for the same-set values (quadruped, 32 frames: 0.165 against 0.104); the experiment's
schedule without the recipe (no base validation) scored 0.198, losing most on the COCO subset.
"""

from __future__ import annotations

import math

from yacs.config import CfgNode

__all__ = ["BASE_MIN_DELTA", "EPOCHS", "LR_SCALE", "MAX_STEPS", "MIN_STEPS", "NEW_HEAD_FREEZE_BN",
           "NEW_HEAD_LR_SCALE", "PATIENCE", "STEPS_PER_SAMPLE", "finetune_overrides"]

LR_SCALE = 0.25  # fine-tuning LR = LR_SCALE x the experiment's TRAIN.LR
EPOCHS = 10  # validation points of a fine-tuning run
STEPS_PER_SAMPLE = 1.5  # optimizer steps per training sample, before clamping
MIN_STEPS = 120
MAX_STEPS = 3000
WARMUP_FRACTION = 0.1  # of the run's steps
MAX_BATCH = 8
PATIENCE = 4  # epochs without a new best before stopping
BASE_MIN_DELTA = 0.02  # main-metric gain (AP) an epoch needs on the validation frames to replace the base
NEW_HEAD_LR_SCALE = 1.0  # a base of another keypoint set: the experiment's LR (its output layer is new)
NEW_HEAD_FREEZE_BN = False  # ... and BatchNorm statistics of the new data


def finetune_overrides(cfg: CfgNode, num_train_images: int, new_head: bool = False) -> list[tuple[str, str]]:
    """The ``(yacs key, value string)`` pairs the fine-tuning recipe applies on top of ``cfg``
    (the experiment), in order, for a training set of ``num_train_images`` samples (person
    instances: one per frame for single-person frames). Pass them as ``KEY VALUE`` options
    before the user's own, which win. ``new_head``: the base model predicts another keypoint set,
    so its output layer starts fresh. See the module docstring for what each one does."""
    n = max(1, int(num_train_images))
    batch = max(1, min(int(cfg.TRAIN.BATCH_SIZE_PER_GPU), MAX_BATCH, n))
    steps_per_pass = math.ceil(n / batch)
    total_steps = int(min(MAX_STEPS, max(MIN_STEPS, round(STEPS_PER_SAMPLE * n))))
    # EPOCHS validation points; a large set (more than MAX_STEPS per pass) still gets one full pass
    epochs = max(1, min(EPOCHS, round(total_steps / steps_per_pass)))
    repeats = max(1, round(total_steps / (epochs * steps_per_pass)))
    steps = repeats * steps_per_pass * epochs
    warmup = max(1, round(WARMUP_FRACTION * steps))
    lr = float(cfg.TRAIN.LR) * (NEW_HEAD_LR_SCALE if new_head else LR_SCALE)
    return [
        ("TRAIN.VALIDATE_BASE", "True"),
        ("TRAIN.BASE_MIN_DELTA", repr(BASE_MIN_DELTA)),
        ("TRAIN.BEGIN_EPOCH", "0"),
        ("TRAIN.END_EPOCH", str(epochs)),
        ("TRAIN.BATCH_SIZE_PER_GPU", str(batch)),
        ("TRAIN.EPOCH_REPEATS", str(repeats)),
        ("TRAIN.LR", repr(lr)),
        ("TRAIN.LR_SCHEDULE", "cosine"),
        ("TRAIN.LR_FACTOR", "0.01"),
        ("TRAIN.WARMUP_STEPS", str(warmup)),
        ("TRAIN.WARMUP_FACTOR", "0.1"),
        ("TRAIN.FREEZE_BN", str(NEW_HEAD_FREEZE_BN if new_head else True)),
        ("TRAIN.EARLY_STOP_PATIENCE", str(PATIENCE)),
    ]
