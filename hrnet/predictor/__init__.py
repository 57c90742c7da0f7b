"""Image + person boxes -> keypoints, scores and heatmaps, with the official test pipeline.

>>> predictor = Predictor("coco/hrnet/w32_256x192_adam_lr1e-3", weights="pose_hrnet_w32_256x192.pth")
>>> results = predictor.predict(image_bgr, boxes_xyxy, box_scores)
>>> results[0].keypoints          # (K, 3): x, y, confidence (image pixels)
>>> results[0].score              # official rescoring: box score x mean confident joint value

The numbers follow the official ``validate`` + ``COCODataset.evaluate`` path exactly:

1. each xyxy box becomes ``(center, scale)`` as ``_xywh2cs`` does (aspect ratio of the network
   input, ``scale = size / 200 * 1.25``);
2. the crop is ``cv2.warpAffine(image, get_affine_transform(center, scale, 0, IMAGE_SIZE),
   INTER_LINEAR)``, converted to RGB when ``DATASET.COLOR_RGB``, then ``ToTensor`` +
   ``Normalize(ImageNet mean, std)``;
3. the network's heatmaps, optionally averaged with those of the mirrored input (``flip_back``
   and, with ``TEST.SHIFT_HEATMAP``, shifted one pixel to the right);
4. ``get_final_preds``: arg-max + quarter-pixel offset (``TEST.POST_PROCESS``) or DARK
   (``TEST.DECODE 'dark'``), mapped back to the image;
5. score = box score x mean of the joint maxima above ``TEST.IN_VIS_THRE``.

Speed: BatchNorm folded into the convolutions, channels_last and ``inference_mode`` everywhere
(:mod:`hrnet.models.optimize`). On CUDA the folded model's weights are fp16 (cast once, fp16 crops
in, float32 heatmaps out) and cuDNN autotunes the pose forward only; on the CPU each convolution is
fused with its ReLU / residual add and denormals are flushed. All people of all frames of a call
go through the network together, in chunks of ``batch_size``.

Precision on CUDA: ``half=True`` (the default there) is fp16; ``half=False`` is IEEE fp32 (TF32
convolutions are turned off around the pose forward), so cuda and cpu heatmaps agree to float32
rounding (keypoints: >= 99% of joints within 0.05 px).

Fixed shapes on GPUs: on CUDA (and with ``compile``) a chunk of ``n`` people is zero-padded to the
next of a few fixed sizes (powers of two up to ``batch_size``, twice that with the flip test) and
the padding is sliced off the heatmaps, so cuDNN autotunes, and torch.compile compiles, once per
size instead of once per person count. A CUDA out-of-memory error halves ``batch_size`` (after
freeing the cache) and retries, down to one person per pass.

The package, by responsibility: :mod:`~hrnet.predictor.core` (the :class:`Predictor`: construction),
:mod:`~hrnet.predictor.pipeline` (the three stages and the batched predict calls),
:mod:`~hrnet.predictor.network` (the torch model, or the int8 ONNX Runtime one, and the precision
really used), :mod:`~hrnet.predictor.inputs` (checked images, boxes, keypoint sets),
:mod:`~hrnet.predictor.results` (:class:`PoseResult`).
"""

from __future__ import annotations

# every name of the former single module stays importable from here (private helpers included:
# other modules and tests use them)
from hrnet.predictor.core import PRECISIONS as PRECISIONS
from hrnet.predictor.core import Predictor
from hrnet.predictor.inputs import IMAGENET_MEAN as IMAGENET_MEAN
from hrnet.predictor.inputs import IMAGENET_STD as IMAGENET_STD
from hrnet.predictor.inputs import _as_boxes as _as_boxes
from hrnet.predictor.inputs import _check_image as _check_image
from hrnet.predictor.inputs import _keypoint_set as _keypoint_set
from hrnet.predictor.inputs import _keypoint_set_from_file as _keypoint_set_from_file
from hrnet.predictor.inputs import _sensible_threads as _sensible_threads
from hrnet.predictor.network import int8_device as _int8_device  # noqa: F401 - the former private name
from hrnet.predictor.pipeline import PosePipeline, padded_batch_size
from hrnet.predictor.results import PoseResult
from hrnet.utils.device import resolve_device

__all__ = ["PosePipeline", "PoseResult", "Predictor", "padded_batch_size", "resolve_device"]
