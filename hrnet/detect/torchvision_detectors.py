"""torchvision person detectors: Faster R-CNN R50-FPN v2 (quality), Faster R-CNN MobileNetV3-Large
FPN (a middle ground) and SSDlite320-MobileNetV3 (speed on CPU), with COCO weights from
torchvision's weights API. CPU time per 1080p frame on one thread is in ``benchmarks/detectors.py``.

The weights live where torchvision keeps them (``<torch hub dir>/checkpoints/<file>``, usually
``~/.cache/torch/hub/checkpoints``). They are downloaded there on first use; offline, a
:class:`~hrnet.errors.WeightsError` says which file is missing, where to download it and the exact
path to put it in. No other download ever happens (the ImageNet backbone weights are not needed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hrnet.detect.base import Detections, FilteringDetector
from hrnet.errors import WeightsError

__all__ = ["TORCHVISION_DETECTORS", "TorchvisionDetector", "detector_weights_path"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Spec:
    title: str
    builder: Callable[..., nn.Module]
    weights_enum: Callable[[], Any]  # returns the torchvision Weights member (imported lazily)
    default_score_threshold: float


def _frcnn_builder(**kwargs: Any) -> nn.Module:
    from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2

    return fasterrcnn_resnet50_fpn_v2(**kwargs)


def _frcnn_weights() -> Any:
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_V2_Weights

    return FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1


def _ssdlite_builder(**kwargs: Any) -> nn.Module:
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    return ssdlite320_mobilenet_v3_large(**kwargs)


def _ssdlite_weights() -> Any:
    from torchvision.models.detection.ssdlite import SSDLite320_MobileNet_V3_Large_Weights

    return SSDLite320_MobileNet_V3_Large_Weights.COCO_V1


def _frcnn_mobile_builder(**kwargs: Any) -> nn.Module:
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    return fasterrcnn_mobilenet_v3_large_fpn(**kwargs)


def _frcnn_mobile_weights() -> Any:
    from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_FPN_Weights

    return FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1


TORCHVISION_DETECTORS: dict[str, _Spec] = {
    "fasterrcnn": _Spec("Faster R-CNN R50-FPN v2 (COCO, box AP 46.7)", _frcnn_builder, _frcnn_weights, 0.5),
    "fasterrcnn_mobilenet": _Spec("Faster R-CNN MobileNetV3-Large FPN (COCO, box AP 32.8)", _frcnn_mobile_builder,
                                  _frcnn_mobile_weights, 0.5),
    "ssdlite": _Spec("SSDlite320 MobileNetV3-Large (COCO, box AP 21.3)", _ssdlite_builder, _ssdlite_weights, 0.3),
}


def detector_weights_path(name: str) -> Path:
    """Where torchvision keeps (or will download) the COCO weights of detector ``name``."""
    spec = _spec(name)
    url = spec.weights_enum().url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _spec(name: str) -> _Spec:
    try:
        return TORCHVISION_DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown torchvision detector {name!r}; known: {', '.join(TORCHVISION_DETECTORS)}") from None


def _load_coco_state_dict(name: str, download: bool) -> dict[str, torch.Tensor]:
    weights = _spec(name).weights_enum()
    url: str = weights.url
    path = detector_weights_path(name)
    if not path.is_file():
        if not download:
            raise WeightsError(
                f"The {name} detector's COCO weights file {path.name} is missing. Download it from {url} "
                f"and put it at {path}"
            )
        log.info("Downloading %s detector weights %s to %s", name, url, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from torch.hub import HASH_REGEX, download_url_to_file

        match = HASH_REGEX.search(path.name)
        try:
            download_url_to_file(url, str(path), hash_prefix=match.group(1) if match else None, progress=True)
        except Exception as e:  # URLError, socket errors, hash mismatch (RuntimeError)
            raise WeightsError(
                f"The {name} detector's COCO weights file {path.name} is missing and could not be downloaded "
                f"({e}). Download it from {url} and put it at {path}"
            ) from e
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(
            f"The {name} detector's weights file {path} cannot be read ({e}); delete it and download it again "
            f"from {url}"
        ) from e


class TorchvisionDetector(FilteringDetector):
    """A torchvision COCO detector returning person boxes.

    ``weights``: ``"coco"`` (the COCO weights from the torch cache, downloaded on first use when
    ``download``), a path to a state_dict file, or ``None`` (random weights: tests only).
    ``model_kwargs`` go to the torchvision builder (e.g. ``min_size``/``max_size`` for Faster R-CNN's
    resize). Options as in :func:`~hrnet.detect.base.filter_detections`; ``score_threshold``
    defaults to 0.5 (Faster R-CNN) or 0.3 (SSDlite). ``autocast``: run the network under fp16
    autocast on CUDA (the detector, in fp32, dominates a GPU pipeline; boxes come back float32;
    ignored on other devices). Off by default until measured on a GPU
    (``benchmarks/predictor_gpu.py`` reports both).
    """

    def __init__(
        self,
        name: str = "fasterrcnn",
        *,
        weights: str | Path | None = "coco",
        device: str | torch.device = "cpu",
        score_threshold: float | None = None,
        person_only: bool = True,
        nms_iou: float | None = None,
        min_size: float = 0.0,
        max_detections: int | None = 100,
        download: bool = True,
        model_kwargs: dict[str, Any] | None = None,
        autocast: bool = False,
    ) -> None:
        spec = _spec(name)
        self.name = name
        self.device = torch.device(device)
        self.autocast = bool(autocast) and self.device.type == "cuda"
        self.score_threshold = spec.default_score_threshold if score_threshold is None else float(score_threshold)
        self.person_only = person_only
        self.nms_iou = nms_iou
        self.min_size = float(min_size)
        self.max_detections = max_detections
        kwargs = dict(model_kwargs or {})
        state = None
        if weights is None:
            log.warning("%s detector built with random weights (for tests only)", name)
        elif isinstance(weights, str) and weights == "coco":
            state = _load_coco_state_dict(name, download)
        else:
            try:
                state = torch.load(Path(weights), map_location="cpu", weights_only=True)
            except Exception as e:
                raise WeightsError(f"Cannot read detector weights {weights}: {e}") from e
        # Built without any torchvision download: the COCO state_dict is loaded here.
        model = spec.builder(weights=None, weights_backbone=None, num_classes=91, **kwargs)
        if state is not None:
            try:
                model.load_state_dict(state)
            except RuntimeError as e:
                raise WeightsError(f"Detector weights do not fit the {name} model: {e}") from e
        self.model = model.eval().to(self.device)

    def __repr__(self) -> str:
        return (
            f"TorchvisionDetector({self.name!r}, device={str(self.device)!r}, "
            f"score_threshold={self.score_threshold})"
        )

    def _to_tensor(self, image_bgr: np.ndarray) -> torch.Tensor:
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 BGR image, got shape {image_bgr.shape}")
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        return torch.from_numpy(rgb).to(self.device).permute(2, 0, 1).float().div_(255.0)

    def _convert(self, out: dict[str, torch.Tensor]) -> Detections:
        det = Detections(
            out["boxes"].float().cpu().numpy(), out["scores"].float().cpu().numpy(), out["labels"].cpu().numpy()
        )
        return self._filter(det)

    @torch.inference_mode()
    def detect_batch(self, images_bgr: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in several images with one forward pass."""
        if not images_bgr:
            return []
        inputs = [self._to_tensor(im) for im in images_bgr]
        if self.autocast:
            with torch.autocast("cuda", dtype=torch.float16):
                outputs = self.model(inputs)
        else:
            outputs = self.model(inputs)
        return [self._convert(o) for o in outputs]

    def __call__(self, image_bgr: np.ndarray, *, image_key: Any = None) -> Detections:
        return self.detect_batch([image_bgr])[0]
