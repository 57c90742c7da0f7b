"""The top-down joints dataset: one sample per person box, cropped, augmented and turned into
heatmap targets exactly as the official ``lib/dataset/JointsDataset.py``.

A subclass fills ``self.db`` with records (plain dicts with the official keys, see
:class:`Record`) and a :class:`KeypointSet`; :class:`JointsDataset` does the rest:

- read the image (a missing or corrupt file raises :class:`~hrnet.errors.DatasetError` naming it),
  optionally convert BGR to RGB (``COLOR_RGB``);
- training only, with the official probabilities and random-number calls, in the official order:
  half-body crop (``prob_half_body``, needs more than ``num_joints_half_body`` labelled joints),
  scale ``s * clip(N(1, sf), 1 - sf, 1 + sf)``, rotation ``clip(N(0, rf), -2 rf, 2 rf)`` with
  probability 0.6, horizontal flip with probability 0.5 (joints and left/right pairs follow);
- the affine crop (``cv2.warpAffine``, ``INTER_LINEAR``) to ``image_size``, the user's transform
  (e.g. :class:`ImageNetNormalize`), and Gaussian targets through
  :func:`hrnet.dataset.target.generate_target` (per-joint weights when enabled).

Augmentation draws from the global ``numpy.random`` / ``random`` state, like the official code:
PyTorch's DataLoader seeds both differently in every worker, so workers never repeat each
other's augmentations (a per-dataset generator would be copied into every worker).
"""

from __future__ import annotations

import copy
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from hrnet.errors import ConfigError, DatasetError, MediaError
from hrnet.keypoints import KeypointSet  # re-exported: the one keypoint-set type

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Augmentation",
    "ImageNetNormalize",
    "JointsDataset",
    "KeypointSet",
    "Record",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class Record(TypedDict, total=False):
    """One person sample, with the official ``db`` keys."""

    image: str  # image file path
    center: np.ndarray  # (2,) float32, box centre in image pixels
    scale: np.ndarray  # (2,) float32, box size / pixel_std (padding included)
    joints_3d: np.ndarray  # (K, 3) float64: x, y, 0
    joints_3d_vis: np.ndarray  # (K, 3) float64: v, v, 0 with v in {0, 1}
    filename: str
    imgnum: int
    score: float  # detection score (1 for ground-truth boxes)
    image_id: int  # COCO image id (this project's addition; used by evaluation)


@dataclass(frozen=True)
class Augmentation:
    """Training augmentation parameters; the defaults are the official config defaults and the
    official hard-coded probabilities (rotation 0.6, flip 0.5, half-body scale 1.5)."""

    scale_factor: float = 0.25  # DATASET.SCALE_FACTOR
    rotation_factor: float = 30.0  # DATASET.ROT_FACTOR (degrees)
    flip: bool = True  # DATASET.FLIP
    prob_half_body: float = 0.0  # DATASET.PROB_HALF_BODY
    num_joints_half_body: int = 8  # DATASET.NUM_JOINTS_HALF_BODY
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_scale: float = 1.5


class ImageNetNormalize:
    """HxWx3 uint8 array -> 3xHxW float32 tensor in [0, 1], normalised with the ImageNet mean and
    std: the same operations (and the same numbers) as torchvision's ``ToTensor()`` followed by
    ``Normalize(IMAGENET_MEAN, IMAGENET_STD)``, without PIL. Picklable (DataLoader workers)."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255)
        return t.sub_(self.mean).div_(self.std)

    def __repr__(self) -> str:
        return f"ImageNetNormalize(mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()})"


@dataclass
class _Sample:
    """Augmentation state of one sample (internal)."""

    center: np.ndarray
    scale: np.ndarray
    rotation: float = 0.0
    flipped: bool = False
    half_body: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class JointsDataset(Dataset):
    """Base class of the top-down datasets; returns the official sample
    ``(input, target, target_weight, meta)``.

    Args:
        keypoints: the keypoint set (names, flip pairs, upper body, weights, sigmas).
        image_size: network input ``(width, height)`` (``MODEL.IMAGE_SIZE``).
        heatmap_size: heatmap ``(width, height)`` (``MODEL.HEATMAP_SIZE``).
        sigma: Gaussian sigma in heatmap pixels (``MODEL.SIGMA``).
        is_train: apply the training augmentation.
        transform: called on the cropped HxWx3 uint8 image (e.g. :class:`ImageNetNormalize`);
            ``None`` returns the crop as a numpy array, as the official code does.
        augmentation: training augmentation parameters (official defaults when ``None``).
        color_rgb: convert images to RGB before cropping (``DATASET.COLOR_RGB``).
        use_different_joints_weight: multiply the target weights by the keypoint set's per-joint
            weights (``LOSS.USE_DIFFERENT_JOINTS_WEIGHT``).
        target_type: only ``'gaussian'`` (as the official code).
        pixel_std: box size unit of ``scale`` (200, official).
    """

    def __init__(
        self,
        *,
        keypoints: KeypointSet,
        image_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        is_train: bool = False,
        transform: Callable[[np.ndarray], Any] | None = None,
        augmentation: Augmentation | None = None,
        color_rgb: bool = False,
        use_different_joints_weight: bool = False,
        target_type: str = "gaussian",
        pixel_std: float = 200.0,
    ) -> None:
        if target_type != "gaussian":
            raise ConfigError(f"MODEL.TARGET_TYPE {target_type!r} is not supported; only 'gaussian' (as official)")
        if len(image_size) != 2 or len(heatmap_size) != 2:
            raise ConfigError(f"image_size and heatmap_size must be (width, height); got {image_size}, {heatmap_size}")
        self.keypoint_set = keypoints
        self.keypoint_names: list[str] = list(keypoints.names)
        self.num_joints = keypoints.num_joints
        self.flip_pairs: list[list[int]] = [[a, b] for a, b in keypoints.flip_pairs]
        self.upper_body_ids = tuple(keypoints.upper_body_ids)
        self.lower_body_ids = keypoints.lower_body_ids
        self.parent_ids = list(keypoints.parent_ids) if keypoints.parent_ids is not None else None
        weights = keypoints.joints_weight if keypoints.joints_weight is not None else (1.0,) * self.num_joints
        self.joints_weight = np.asarray(weights, dtype=np.float32).reshape(self.num_joints, 1)

        self.image_size = np.array(image_size, dtype=np.int64)
        self.heatmap_size = np.array(heatmap_size, dtype=np.int64)
        self.sigma = sigma
        self.is_train = is_train
        self.transform = transform
        self.augmentation = augmentation if augmentation is not None else Augmentation()
        self.color_rgb = color_rgb
        self.use_different_joints_weight = use_different_joints_weight
        self.target_type = target_type
        self.pixel_std = float(pixel_std)
        self.aspect_ratio = float(image_size[0]) / float(image_size[1])
        self.db: list[Record] = []

    # -- official-style attributes -------------------------------------------------------
    @property
    def scale_factor(self) -> float:
        return self.augmentation.scale_factor

    @property
    def rotation_factor(self) -> float:
        return self.augmentation.rotation_factor

    @property
    def flip(self) -> bool:
        return self.augmentation.flip

    @property
    def prob_half_body(self) -> float:
        return self.augmentation.prob_half_body

    @property
    def num_joints_half_body(self) -> int:
        return self.augmentation.num_joints_half_body

    # -- Dataset ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.db)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} samples, {self.num_joints} joints, "
                f"input {tuple(self.image_size.tolist())}, heatmap {tuple(self.heatmap_size.tolist())}, "
                f"is_train={self.is_train})")

    def read_image(self, path: str) -> np.ndarray:
        """The image of a record as HxWx3 uint8 (BGR, or RGB with ``color_rgb``)."""
        from hrnet.media import read_image

        try:
            image = read_image(path)
        except MediaError as e:
            raise DatasetError(f"{e} (dataset {type(self).__name__})") from e
        if self.color_rgb:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return image

    def half_body_transform(
        self, joints: np.ndarray, joints_vis: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Centre and scale of a box around the upper or the lower body's labelled joints, as the
        official ``half_body_transform`` (including its ``np.random.randn() < 0.5`` choice, which
        picks the upper body about 69% of the time)."""
        labelled = joints_vis[:, 0] > 0
        is_upper = np.zeros(self.num_joints, dtype=bool)
        is_upper[list(self.upper_body_ids)] = True
        upper = joints[labelled & is_upper]
        lower = joints[labelled & ~is_upper]

        if np.random.randn() < 0.5 and len(upper) > 2:
            selected = upper
        else:
            selected = lower if len(lower) > 2 else upper
        if len(selected) < 2:
            return None, None

        selected = np.asarray(selected, dtype=np.float32)
        center = selected.mean(axis=0)[:2]
        left_top = np.amin(selected, axis=0)
        right_bottom = np.amax(selected, axis=0)
        w = right_bottom[0] - left_top[0]
        h = right_bottom[1] - left_top[1]
        if w > self.aspect_ratio * h:
            h = w * 1.0 / self.aspect_ratio
        elif w < self.aspect_ratio * h:
            w = h * self.aspect_ratio
        scale = np.array([w * 1.0 / self.pixel_std, h * 1.0 / self.pixel_std], dtype=np.float32)
        return center, scale * self.augmentation.half_body_scale

    def _augment(
        self, image: np.ndarray, joints: np.ndarray, joints_vis: np.ndarray, sample: _Sample
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Official training augmentation; random numbers drawn in the official order."""
        from hrnet.utils.transforms import fliplr_joints

        aug = self.augmentation
        if np.sum(joints_vis[:, 0]) > aug.num_joints_half_body and np.random.rand() < aug.prob_half_body:
            c_half, s_half = self.half_body_transform(joints, joints_vis)
            if c_half is not None and s_half is not None:
                sample.center, sample.scale = c_half, s_half
                sample.half_body = True

        sf, rf = aug.scale_factor, aug.rotation_factor
        sample.scale = sample.scale * np.clip(np.random.randn() * sf + 1, 1 - sf, 1 + sf)
        sample.rotation = float(np.clip(np.random.randn() * rf, -rf * 2, rf * 2)) \
            if random.random() <= aug.rotation_prob else 0.0

        if aug.flip and random.random() <= aug.flip_prob:
            image = cv2.flip(image, 1)
            joints, joints_vis = fliplr_joints(joints, joints_vis, image.shape[1], self.flip_pairs)
            sample.center[0] = image.shape[1] - sample.center[0] - 1
            sample.flipped = True
        return image, joints, joints_vis

    def __getitem__(self, idx: int) -> tuple[Any, torch.Tensor, torch.Tensor, dict[str, Any]]:
        from hrnet.dataset.target import generate_target
        from hrnet.utils.transforms import affine_transform, get_affine_transform

        rec = copy.deepcopy(self.db[idx])
        image_file = rec["image"]
        image = self.read_image(image_file)

        joints = rec["joints_3d"]
        joints_vis = rec["joints_3d_vis"]
        sample = _Sample(center=np.asarray(rec["center"]).copy(), scale=np.asarray(rec["scale"]).copy())
        if self.is_train:
            image, joints, joints_vis = self._augment(image, joints, joints_vis, sample)

        trans = get_affine_transform(sample.center, sample.scale, sample.rotation, self.image_size)
        crop = cv2.warpAffine(
            image, trans, (int(self.image_size[0]), int(self.image_size[1])), flags=cv2.INTER_LINEAR
        )
        input_ = self.transform(crop) if self.transform is not None else crop

        for i in range(self.num_joints):
            if joints_vis[i, 0] > 0.0:
                joints[i, 0:2] = affine_transform(joints[i, 0:2], trans)

        target, target_weight = generate_target(
            joints, joints_vis, self.image_size, self.heatmap_size, self.sigma,
            joints_weight=self.joints_weight if self.use_different_joints_weight else None,
        )
        meta = {
            "image": image_file,
            "filename": rec.get("filename", ""),
            "imgnum": rec.get("imgnum", 0),
            "joints": joints,
            "joints_vis": joints_vis,
            "center": sample.center,
            "scale": sample.scale,
            "rotation": sample.rotation,
            "score": float(rec.get("score", 1)),
        }
        return input_, torch.from_numpy(np.asarray(target)), torch.from_numpy(np.asarray(target_weight)), meta

    # -- data selection (DATASET.SELECT_DATA) ------------------------------------------------
    def select_data(self, db: list[Record]) -> list[Record]:
        """Keep records whose labelled joints' centre lies near the box centre, as the official
        ``select_data`` (the threshold grows with the number of labelled joints)."""
        selected = []
        for rec in db:
            vis = rec["joints_3d_vis"][:, 0] > 0
            num_vis = int(vis.sum())
            if num_vis == 0:
                continue
            joints_center = rec["joints_3d"][vis, :2].sum(axis=0) / num_vis
            area = rec["scale"][0] * rec["scale"][1] * (self.pixel_std**2)
            diff_norm2 = np.linalg.norm(joints_center - np.asarray(rec["center"]), 2)
            ks = np.exp(-1.0 * (diff_norm2**2) / ((0.2) ** 2 * 2.0 * area))
            metric = (0.2 / 16) * num_vis + 0.45 - 0.2 / 16
            if ks > metric:
                selected.append(rec)
        log.info("=> num db: %d, selected: %d", len(db), len(selected))
        return selected

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, preds: np.ndarray, output_dir: str | None, *args: Any, **kwargs: Any
                 ) -> tuple[OrderedDict[str, float], float]:
        """Dataset metric of ``preds`` (N, K, 3): ``(name -> value, main indicator)``."""
        raise NotImplementedError
