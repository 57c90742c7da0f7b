"""The :class:`Predictor`: an experiment, its weights and a device made into a ready pipeline.

Construction only (what is asked for, checked; the network built or, for int8, taken from the
cache); the pipeline it runs is :class:`hrnet.predictor.pipeline.PosePipeline`, the network
choice :mod:`hrnet.predictor.network`.
"""

from __future__ import annotations

import logging
import threading
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn
from yacs.config import CfgNode

from hrnet.config import load_config
from hrnet.errors import ConfigError
from hrnet.predictor.inputs import IMAGENET_MEAN, IMAGENET_STD, _keypoint_set, _sensible_threads
from hrnet.predictor.network import build_torch_network, int8_device, resolve_half, try_int8
from hrnet.predictor.pipeline import PosePipeline
from hrnet.utils.device import resolve_device

__all__ = ["Predictor"]

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


class Predictor(PosePipeline):
    """Top-down pose estimation with an HRNet / SimpleBaseline experiment.

    Args:
        experiment: a config (CfgNode), a shipped experiment name (``coco/hrnet/w32_256x192``) or
            a YAML path. ``None`` takes the experiment of a registry ``weights`` name.
        weights: a pose checkpoint path or a name of :mod:`hrnet.weights` (downloaded into the
            cache when needed). ``None``: random weights (a warning is logged; for tests).
        device: ``"auto"`` (CUDA, then MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        flip_test: average with the heatmaps of the mirrored crop (official ``TEST.FLIP_TEST``;
            shifted by ``TEST.SHIFT_HEATMAP`` of the experiment).
        batch_size: people per forward pass (default ``TEST.BATCH_SIZE_PER_GPU``).
        half: fp16 (default: on for CUDA, off elsewhere). On CUDA with ``optimize`` the folded
            weights are cast to fp16 once (no per-call casts); on MPS or without ``optimize``,
            autocast. ``False`` on CUDA is IEEE fp32 (no TF32).
        optimize: fold BatchNorm and use channels_last; on CPU also fuse each convolution with the
            ReLU / residual add after it (oneDNN post-ops, checked against the unfused model).
        compile: wrap the model in ``torch.compile`` (opt-in: the first call of each of at most four
            padded batch sizes compiles for a minute or more; pays for long videos, on CUDA especially).
        precision: ``"fp32"`` (default), ``"fp16"`` (same as ``half=True``) or ``"int8"``: the
            network runs in ONNX Runtime on the CPU, statically quantised and calibrated on
            ``calibration``, checked against fp32 by a gate (see :mod:`hrnet.quantize`); when the
            gate rejects it the Predictor stays fp32 and ``int8_report`` says why (the torch
            model is built only then). fp16 on the CPU runs fp32 (logged).
        calibration: for ``"int8"``: ``(image_bgr, boxes_xyxy)`` pairs from the user's own data
            (or a callable returning them, called only when no calibrated model is cached).
        calibration_progress: ``progress(stage, fraction)`` during a first-time int8 calibration.
        decode: ``"default"`` or ``"dark"`` (default ``TEST.DECODE``).
        keypoint_set: names and flip pairs of the joints (default: those of the experiment's dataset).
        num_threads: CPU threads for torch (default: torch's, capped to the CPUs this process may use).

    ``precision`` (attribute): what really runs: ``"int8"``, ``"fp16"`` or ``"fp32"``.
    """

    def __init__(
        self,
        experiment: CfgNode | str | PathLike[str] | None,
        weights: str | PathLike[str] | None = None,
        device: str | torch.device = "auto",
        flip_test: bool = False,
        *,
        batch_size: int | None = None,
        half: bool | None = None,
        optimize: bool = True,
        decode: str | None = None,
        keypoint_set: Any = None,
        num_threads: int | None = None,
        compile: bool = False,
        precision: str = "fp32",
        calibration: Any = None,
        calibration_progress: Any = None,
    ) -> None:
        precision = str(precision).strip().lower()
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be 'fp32', 'fp16' or 'int8', not {precision!r}")
        if precision == "fp16":
            half = True
        int8 = precision == "int8"
        if int8:
            device = int8_device(device)
            half = False
        weights_path: Path | None = None
        if weights is not None:
            from hrnet.weights import resolve_weights, weights_experiment

            if experiment is None:
                experiment = weights_experiment(weights)
            weights_path = resolve_weights(weights)
        if experiment is None:
            raise ConfigError(
                "No experiment given: pass a config, an experiment name or YAML path (or a registry weights name)"
            )
        if int8 and weights_path is None:
            raise ConfigError("precision='int8' needs trained weights (it is calibrated and checked against them)")
        if int8 and compile:
            raise ConfigError("precision='int8' and compile=True do not combine")
        self.cfg: CfgNode = load_config(experiment)
        cfg = self.cfg
        self.device = resolve_device(device)
        self.flip_test = bool(flip_test)
        self.shift_heatmap = bool(cfg.TEST.SHIFT_HEATMAP)
        self.post_process = bool(cfg.TEST.POST_PROCESS)
        self.decode = str(decode or cfg.TEST.DECODE)
        if self.decode not in ("default", "dark"):
            raise ConfigError(f"decode must be 'default' or 'dark', not {self.decode!r}")
        self.sigma = float(cfg.MODEL.SIGMA)
        self.in_vis_thre = float(cfg.TEST.IN_VIS_THRE)
        self.color_rgb = bool(cfg.DATASET.COLOR_RGB)
        self.image_size = (int(cfg.MODEL.IMAGE_SIZE[0]), int(cfg.MODEL.IMAGE_SIZE[1]))  # (w, h)
        self.heatmap_size = (int(cfg.MODEL.HEATMAP_SIZE[0]), int(cfg.MODEL.HEATMAP_SIZE[1]))
        self.aspect_ratio = self.image_size[0] / self.image_size[1]
        self.batch_size = int(batch_size or cfg.TEST.BATCH_SIZE_PER_GPU or 32)
        self.half = resolve_half(half, self.device)
        self.weights = str(weights_path) if weights_path is not None else None
        self._lock = threading.Lock()
        self.optimize = bool(optimize)
        self.compiled = bool(compile)

        if self.device.type == "cpu":
            torch.set_flush_denormal(True)
            if num_threads:
                torch.set_num_threads(int(num_threads))
            else:
                _sensible_threads()

        # the torch network; int8 builds it only when the gate keeps fp32 (see _build_fallback)
        net = None
        stored = None
        if int8:
            from hrnet.models.checkpoint_sets import read_keypoint_set

            stored = read_keypoint_set(weights_path)
        else:
            net = build_torch_network(cfg, weights_path, self.device, optimize=self.optimize, half=self.half,
                                      compile=self.compiled)
            from hrnet.models.checkpoint_sets import checkpoint_keypoint_set

            stored = checkpoint_keypoint_set(net.metadata)
        self.keypoint_set = keypoint_set if keypoint_set is not None else _keypoint_set(cfg)
        if keypoint_set is None and stored is not None and len(stored) == self.num_joints:
            self.keypoint_set = stored  # what the model predicts, as trained
        self.flip_pairs = [tuple(p) for p in self.keypoint_set.flip_pairs]
        if self.flip_test and not self.flip_pairs and self.num_joints > 1:
            log.warning("flip test without left/right joint pairs: joints are averaged unswapped")

        # Pad chunks to a few fixed sizes where a new shape costs (cuDNN autotuning, compilation);
        # on the CPU padding would only add work.
        self.pad_batches = self.device.type == "cuda" or self.compiled
        self._mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._flip_index = None
        if self.flip_pairs:
            from hrnet.utils.transforms import flip_permutation

            perm = flip_permutation(self.num_joints, self.flip_pairs)
            self._flip_index = torch.as_tensor(perm, device=self.device)
        self.timings: dict[str, float] = {"preprocess": 0.0, "forward": 0.0, "decode": 0.0}
        self.precision = "fp16" if self.half else "fp32"
        self.int8_report: Any = None  # hrnet.quantize.GateReport when int8 was asked for
        self.model: nn.Module
        self.channels_last = False  # ONNX Runtime takes contiguous NCHW crops
        self._half_weights = False
        if int8:
            runner = try_int8(self, weights_path, calibration, self.compiled, calibration_progress)
            if runner is not None:
                self.model = runner
                self.precision = "int8"
            else:
                net = build_torch_network(cfg, weights_path, self.device, optimize=self.optimize, half=False,
                                          compile=False)
        if net is not None:
            self.model = net.model
            self.channels_last = net.channels_last
            self._half_weights = net.half_weights
        log.info(
            "Predictor: %s %dx%d, %d joints, device %s, %s, flip test %s, decode %s",
            cfg.MODEL.NAME, self.image_size[0], self.image_size[1], self.num_joints, self.device,
            self.precision, "on" if self.flip_test else "off", self.decode,
        )

    # -- named models --------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name: str, **kwargs: Any) -> Predictor:
        """The named model ``name`` of :mod:`hrnet.weights` (``pose_hrnet_w32_256x192``,
        ``mmpose_hrnet_w32_coco_256x192_dark``, ...): its experiment with the entry's decode options
        and its weights (from the cache; downloaded when the entry has a URL). ``kwargs`` as for
        :class:`Predictor` (``device``, ``flip_test``, ...). Raises :class:`WeightsError` for an unknown name.
        """
        from hrnet.errors import WeightsError
        from hrnet.weights import REGISTRY, find_entry, resolve_weights

        entry = find_entry(name)
        if entry is None:
            raise WeightsError(f"Unknown model {name!r}; known: {', '.join(REGISTRY)}")
        return cls(entry.config(), weights=resolve_weights(entry.name), **kwargs)


    # -- description ---------------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return int(self.cfg.MODEL.NUM_JOINTS)

    @property
    def keypoint_names(self) -> list[str]:
        return list(self.keypoint_set.names)

    @property
    def skeleton(self) -> list[tuple[int, int]]:
        """0-based limb pairs for drawing (empty when the keypoint set has none)."""
        return [tuple(p) for p in self.keypoint_set.skeleton]

    def __repr__(self) -> str:
        return (
            f"Predictor({self.cfg.MODEL.NAME}, input {self.image_size[0]}x{self.image_size[1]}, "
            f"device={self.device}, flip_test={self.flip_test}, weights={self.weights!r})"
        )

