"""Default configuration: every key of the official ``lib/config/default.py`` with its default
value, the official model extras, and a clearly marked section of this project's extensions.

Only :mod:`hrnet.config` and the builders (``build_model``, dataset / training ``from_config``)
read these keys; models, losses and datasets take plain arguments.
"""

from __future__ import annotations

from yacs.config import CfgNode as CN

_C = CN()

_C.OUTPUT_DIR = ""
_C.LOG_DIR = ""
_C.DATA_DIR = ""
_C.GPUS = (0,)
_C.WORKERS = 4
_C.PRINT_FREQ = 20
_C.AUTO_RESUME = False
_C.PIN_MEMORY = True
_C.RANK = 0

# cuDNN
_C.CUDNN = CN()
_C.CUDNN.BENCHMARK = True
_C.CUDNN.DETERMINISTIC = False
_C.CUDNN.ENABLED = True

# Network
_C.MODEL = CN()
_C.MODEL.NAME = "pose_hrnet"
_C.MODEL.INIT_WEIGHTS = True
_C.MODEL.PRETRAINED = ""
_C.MODEL.NUM_JOINTS = 17
_C.MODEL.TAG_PER_JOINT = True
_C.MODEL.TARGET_TYPE = "gaussian"
_C.MODEL.IMAGE_SIZE = [256, 256]  # width, height
_C.MODEL.HEATMAP_SIZE = [64, 64]  # width, height
_C.MODEL.SIGMA = 2
_C.MODEL.EXTRA = CN(new_allowed=True)  # validated against MODEL_EXTRAS[MODEL.NAME] on load

_C.LOSS = CN()
_C.LOSS.USE_OHKM = False
_C.LOSS.TOPK = 8
_C.LOSS.USE_TARGET_WEIGHT = True
_C.LOSS.USE_DIFFERENT_JOINTS_WEIGHT = False

# Dataset
_C.DATASET = CN()
_C.DATASET.ROOT = ""
_C.DATASET.DATASET = "mpii"
_C.DATASET.TRAIN_SET = "train"
_C.DATASET.TEST_SET = "valid"
_C.DATASET.DATA_FORMAT = "jpg"
_C.DATASET.HYBRID_JOINTS_TYPE = ""
_C.DATASET.SELECT_DATA = False

# Training data augmentation
_C.DATASET.FLIP = True
_C.DATASET.SCALE_FACTOR = 0.25
_C.DATASET.ROT_FACTOR = 30
_C.DATASET.PROB_HALF_BODY = 0.0
_C.DATASET.NUM_JOINTS_HALF_BODY = 8
_C.DATASET.COLOR_RGB = False

# Training
_C.TRAIN = CN()
_C.TRAIN.LR_FACTOR = 0.1
_C.TRAIN.LR_STEP = [90, 110]
_C.TRAIN.LR = 0.001
_C.TRAIN.OPTIMIZER = "adam"
_C.TRAIN.MOMENTUM = 0.9
_C.TRAIN.WD = 0.0001
_C.TRAIN.NESTEROV = False
_C.TRAIN.GAMMA1 = 0.99
_C.TRAIN.GAMMA2 = 0.0
_C.TRAIN.BEGIN_EPOCH = 0
_C.TRAIN.END_EPOCH = 140
_C.TRAIN.RESUME = False
_C.TRAIN.CHECKPOINT = ""
_C.TRAIN.BATCH_SIZE_PER_GPU = 32
_C.TRAIN.SHUFFLE = True

# Testing
_C.TEST = CN()
_C.TEST.BATCH_SIZE_PER_GPU = 32
_C.TEST.FLIP_TEST = False
_C.TEST.POST_PROCESS = False
_C.TEST.SHIFT_HEATMAP = False
_C.TEST.USE_GT_BBOX = False
_C.TEST.IMAGE_THRE = 0.1
_C.TEST.NMS_THRE = 0.6
_C.TEST.SOFT_NMS = False
_C.TEST.OKS_THRE = 0.5
_C.TEST.IN_VIS_THRE = 0.0
_C.TEST.COCO_BBOX_FILE = ""
_C.TEST.BBOX_THRE = 1.0
_C.TEST.MODEL_FILE = ""

# Debug
_C.DEBUG = CN()
_C.DEBUG.DEBUG = False
_C.DEBUG.SAVE_BATCH_IMAGES_GT = False
_C.DEBUG.SAVE_BATCH_IMAGES_PRED = False
_C.DEBUG.SAVE_HEATMAPS_GT = False
_C.DEBUG.SAVE_HEATMAPS_PRED = False

# ------------------------------------------------------------------------------------------
# Extensions of this project (not in the official code). Every key here has a default that
# reproduces the official behaviour, so official experiment files run unchanged.
# ------------------------------------------------------------------------------------------
# Any COCO keypoint dataset (DATASET.DATASET = 'coco_json'), e.g. the app's export: explicit
# annotation files and image folders instead of the COCO directory layout.
_C.DATASET.TRAIN_ANNOTATIONS = ""
_C.DATASET.TRAIN_IMAGES = ""
_C.DATASET.TEST_ANNOTATIONS = ""
_C.DATASET.TEST_IMAGES = ""
# Heatmap decoding: 'default' (official quarter-pixel offset) or 'dark' (distribution-aware).
_C.TEST.DECODE = "default"
# Training engineering switches (no effect on the maths).
_C.TRAIN.AMP = True  # mixed precision on CUDA only
_C.TRAIN.CHANNELS_LAST = True
_C.TRAIN.SYNC_BN = False
_C.TRAIN.SEED = -1  # < 0: not seeded
# Schedule and fine-tuning (``hrnet-train --finetune`` sets these through
# hrnet.finetune_overrides; each one can be given as KEY VALUE too). The defaults are the official
# schedule: no warm-up, MultiStepLR, BatchNorm statistics updated, no base validation, no early stop.
_C.TRAIN.LR_SCHEDULE = "multistep"  # 'multistep' (LR_STEP / LR_FACTOR) or 'cosine' (LR -> LR * LR_FACTOR at END_EPOCH)
_C.TRAIN.WARMUP_STEPS = 0  # linear LR warm-up over this many optimizer steps, from LR * WARMUP_FACTOR
_C.TRAIN.WARMUP_FACTOR = 0.1
_C.TRAIN.FREEZE_BN = False  # BatchNorm layers keep their running statistics while training (affine still learns)
_C.TRAIN.EPOCH_REPEATS = 1  # passes over the training set per epoch (small sets: fewer, longer epochs)
_C.TRAIN.VALIDATE_BASE = False  # validate the starting weights first; they compete for model_best.pth
_C.TRAIN.BASE_MIN_DELTA = 0.0  # an epoch replaces the validated base only if its main metric is higher by more
_C.TRAIN.EARLY_STOP_PATIENCE = 0  # stop after this many epochs without a new best (0: never)
# Evaluation precision: fp32 unless asked (TRAIN.AMP is for training only). fp16 autocast on CUDA.
_C.TEST.AMP = False


# Model extras, exactly as the official lib/config/models.py.
POSE_RESNET = CN()
POSE_RESNET.NUM_LAYERS = 50
POSE_RESNET.DECONV_WITH_BIAS = False
POSE_RESNET.NUM_DECONV_LAYERS = 3
POSE_RESNET.NUM_DECONV_FILTERS = [256, 256, 256]
POSE_RESNET.NUM_DECONV_KERNELS = [4, 4, 4]
POSE_RESNET.FINAL_CONV_KERNEL = 1
POSE_RESNET.PRETRAINED_LAYERS = ["*"]

POSE_HIGH_RESOLUTION_NET = CN()
POSE_HIGH_RESOLUTION_NET.PRETRAINED_LAYERS = ["*"]
POSE_HIGH_RESOLUTION_NET.STEM_INPLANES = 64
POSE_HIGH_RESOLUTION_NET.FINAL_CONV_KERNEL = 1


def _stage(num_modules: int, num_branches: int, channels: list[int]) -> CN:
    s = CN()
    s.NUM_MODULES = num_modules
    s.NUM_BRANCHES = num_branches
    s.NUM_BLOCKS = [4] * num_branches
    s.NUM_CHANNELS = channels
    s.BLOCK = "BASIC"
    s.FUSE_METHOD = "SUM"
    return s


POSE_HIGH_RESOLUTION_NET.STAGE2 = _stage(1, 2, [32, 64])
POSE_HIGH_RESOLUTION_NET.STAGE3 = _stage(1, 3, [32, 64, 128])
POSE_HIGH_RESOLUTION_NET.STAGE4 = _stage(1, 4, [32, 64, 128, 256])

# MODEL.NAME -> schema of MODEL.EXTRA
MODEL_EXTRAS: dict[str, CN] = {
    "pose_resnet": POSE_RESNET,
    "pose_hrnet": POSE_HIGH_RESOLUTION_NET,
}


def get_defaults() -> CN:
    """A fresh, mutable copy of the default config."""
    return _C.clone()
