"""MPII Human Pose in the official layout (``lib/dataset/mpii.py``).

``root/annot/<image_set>.json``: a list of people, each ``{"image": name, "center": [x, y],
"scale": s, "joints": [[x, y]] * 16, "joints_vis": [v] * 16}`` in MATLAB's 1-based pixels
(``joints`` absent for the test set); images in ``root/images``. As the official code: the centre
moves down by ``15 * scale`` pixels and the scale grows by 1.25 (to avoid cropping limbs), both
centre and joints become 0-based.

Evaluation is the official PCKh@0.5 (head-size normalised, ``SC_BIAS`` 0.6) against
``root/annot/gt_<image_set>.mat`` (``gt_valid.mat`` of the official release), which needs scipy to
read; :func:`pckh` is the same computation on plain arrays.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hrnet.dataset.joints_dataset import JointsDataset, Record
from hrnet.errors import DatasetError
from hrnet.keypoints import MPII_16
from hrnet.utils.io import read_json

__all__ = ["MPII_JOINT_NAMES", "MPII_KEYPOINT_SET", "MPIIDataset", "pckh"]

log = logging.getLogger(__name__)

MPII_KEYPOINT_SET = MPII_16  # names, flip pairs, half body, joint tree: hrnet.keypoints
# The joint names of the official gt_valid.mat ('dataset_joints'), in the same order.
MPII_JOINT_NAMES: tuple[str, ...] = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor", "neck", "head", "rwri", "relb", "rsho", "lsho",
    "lelb", "lwri",
)


def pckh(
    preds: np.ndarray,
    pos_gt_src: np.ndarray,
    jnt_missing: np.ndarray,
    headboxes_src: np.ndarray,
    joint_names: Sequence[str] = MPII_JOINT_NAMES,
    threshold: float = 0.5,
) -> OrderedDict[str, float]:
    """Official MPII PCKh.

    Args:
        preds: (N, 16, 2) predictions in MATLAB 1-based pixels.
        pos_gt_src: (16, 2, N) ground truth; jnt_missing: (16, N), 1 where not labelled;
        headboxes_src: (2, 2, N) head box corners (the arrays of ``gt_valid.mat``).
        joint_names: names of the 16 joints in the ``gt_valid.mat`` spelling.

    Returns Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle, Mean (pelvis and thorax excluded,
    weighted by joint counts) and Mean@0.1, in percent.
    """
    sc_bias = 0.6
    names = list(joint_names)
    idx = {n: names.index(n) for n in ("head", "lsho", "lelb", "lwri", "lhip", "lkne", "lank",
                                         "rsho", "relb", "rwri", "rkne", "rank", "rhip")}
    pos_pred_src = np.transpose(np.asarray(preds, dtype=np.float64)[:, :, 0:2], [1, 2, 0])
    jnt_visible = 1 - np.asarray(jnt_missing)
    uv_err = np.linalg.norm(pos_pred_src - pos_gt_src, axis=1)
    headsizes = np.linalg.norm(headboxes_src[1, :, :] - headboxes_src[0, :, :], axis=0) * sc_bias
    scale = headsizes * np.ones((len(uv_err), 1))
    scaled_uv_err = np.multiply(np.divide(uv_err, scale), jnt_visible)
    jnt_count = np.sum(jnt_visible, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        less = np.multiply(scaled_uv_err <= threshold, jnt_visible)
        PCKh = np.divide(100.0 * np.sum(less, axis=1), jnt_count)
        rng = np.arange(0, 0.5 + 0.01, 0.01)
        pck_all = np.zeros((len(rng), len(names)))
        for r, thr in enumerate(rng):
            less = np.multiply(scaled_uv_err <= thr, jnt_visible)
            pck_all[r, :] = np.divide(100.0 * np.sum(less, axis=1), jnt_count)

    PCKh = np.ma.array(PCKh, mask=False)
    PCKh.mask[6:8] = True
    jnt_count = np.ma.array(jnt_count, mask=False)
    jnt_count.mask[6:8] = True
    jnt_ratio = jnt_count / np.sum(jnt_count).astype(np.float64)
    i = idx
    return OrderedDict([
        ("Head", float(PCKh[i["head"]])),
        ("Shoulder", float(0.5 * (PCKh[i["lsho"]] + PCKh[i["rsho"]]))),
        ("Elbow", float(0.5 * (PCKh[i["lelb"]] + PCKh[i["relb"]]))),
        ("Wrist", float(0.5 * (PCKh[i["lwri"]] + PCKh[i["rwri"]]))),
        ("Hip", float(0.5 * (PCKh[i["lhip"]] + PCKh[i["rhip"]]))),
        ("Knee", float(0.5 * (PCKh[i["lkne"]] + PCKh[i["rkne"]]))),
        ("Ankle", float(0.5 * (PCKh[i["lank"]] + PCKh[i["rank"]]))),
        ("Mean", float(np.sum(PCKh * jnt_ratio))),
        ("Mean@0.1", float(np.sum(pck_all[11, :] * jnt_ratio))),
    ])


def _scipy_io() -> Any:
    try:
        import scipy.io
    except ImportError as e:
        raise DatasetError(
            "MPII evaluation reads and writes MATLAB files (gt_<set>.mat, pred.mat) and needs scipy: "
            "pip install scipy"
        ) from e
    return scipy.io


class MPIIDataset(JointsDataset):
    """MPII in the official layout (see the module docstring).

    Args:
        root: the MPII folder (``annot/``, ``images/``).
        image_set: ``train``, ``valid``, ``test``, ``trainval``.
        is_train: training mode.
        select_data: apply :meth:`select_data` to training records (``DATASET.SELECT_DATA``).
        **kwargs: :class:`JointsDataset` arguments (image_size, heatmap_size, sigma, ...).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        image_set: str,
        is_train: bool,
        *,
        select_data: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("keypoints", MPII_KEYPOINT_SET)
        super().__init__(is_train=is_train, **kwargs)
        self.root = Path(root)
        self.image_set = image_set
        self.db = self._get_db()
        if is_train and select_data:
            self.db = self.select_data(self.db)
        log.info("=> MPII %s: %d samples", image_set, len(self.db))

    def _get_db(self) -> list[Record]:
        file_name = self.root / "annot" / f"{self.image_set}.json"
        anno = read_json(file_name, what="MPII annotation file", error=DatasetError)
        if not isinstance(anno, list):
            raise DatasetError(f"{file_name}: must hold a list of people")

        k = self.num_joints
        with_joints = self.image_set != "test"
        records: list[Record] = []
        for n, a in enumerate(anno):
            where = f"{file_name}: [{n}]"
            try:
                image_name = a["image"]
                c = np.array(a["center"], dtype=np.float64)
                s = np.array([a["scale"], a["scale"]], dtype=np.float64)
            except (KeyError, TypeError, ValueError) as e:
                raise DatasetError(f"{where}: needs 'image', 'center' [x, y] and 'scale' ({e})") from e
            if c.shape != (2,):
                raise DatasetError(f"{where}.center must be [x, y]")
            if c[0] != -1:  # adjust centre/scale slightly to avoid cropping limbs
                c[1] = c[1] + 15 * s[1]
                s = s * 1.25
            c = c - 1  # MATLAB 1-based -> 0-based

            joints_3d = np.zeros((k, 3), dtype=np.float64)
            joints_3d_vis = np.zeros((k, 3), dtype=np.float64)
            if with_joints:
                try:
                    joints = np.array(a["joints"], dtype=np.float64)
                    joints_vis = np.array(a["joints_vis"], dtype=np.float64)
                except (KeyError, TypeError, ValueError) as e:
                    raise DatasetError(f"{where}: needs 'joints' ({k} x [x, y]) and 'joints_vis' ({e})") from e
                if joints.shape != (k, 2) or joints_vis.shape != (k,):
                    raise DatasetError(f"{where}: joints must be {k} x [x, y] and joints_vis {k} values; "
                                       f"got {joints.shape} and {joints_vis.shape}")
                joints_3d[:, 0:2] = joints[:, 0:2] - 1
                joints_3d_vis[:, 0] = joints_vis
                joints_3d_vis[:, 1] = joints_vis
            records.append({
                "image": str(self.root / "images" / image_name),
                "center": c,
                "scale": s,
                "joints_3d": joints_3d,
                "joints_3d_vis": joints_3d_vis,
                "filename": "",
                "imgnum": 0,
            })
        return records

    def evaluate(
        self,
        preds: np.ndarray,
        output_dir: str | os.PathLike[str] | None,
        *args: Any,
        gt_file: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> tuple[OrderedDict[str, float], float]:
        """Official MPII evaluation: writes ``output_dir/pred.mat`` (1-based predictions) and
        returns ``(PCKh per joint group, Mean and Mean@0.1, Mean)`` computed against ``gt_file``
        (default ``root/annot/gt_<image_set>.mat``); ``({'Null': 0}, 0)`` for test sets."""
        sio = _scipy_io()
        preds = np.asarray(preds)[:, :, 0:2] + 1.0  # 0-based -> 1-based
        if output_dir:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            sio.savemat(os.path.join(output_dir, "pred.mat"), mdict={"preds": preds})
        if "test" in self.image_set:
            return OrderedDict([("Null", 0.0)]), 0.0
        gt_path = Path(gt_file) if gt_file else self.root / "annot" / f"gt_{self.image_set}.mat"
        try:
            gt = sio.loadmat(str(gt_path))
        except FileNotFoundError as e:
            raise DatasetError(f"MPII ground truth not found: {gt_path}") from e
        except Exception as e:  # scipy raises several types for corrupt files
            raise DatasetError(f"Cannot read MPII ground truth {gt_path}: {e}") from e
        try:
            names = [str(np.squeeze(n)) for n in np.ravel(gt["dataset_joints"])]
            name_value = pckh(preds, gt["pos_gt_src"], gt["jnt_missing"], gt["headboxes_src"], names)
        except (KeyError, ValueError) as e:
            raise DatasetError(f"{gt_path}: not an MPII ground-truth file ({e})") from e
        return name_value, name_value["Mean"]
