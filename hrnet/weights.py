"""Known pose checkpoints, and a download cache for those that have a direct URL.

>>> path = resolve_weights("mmpose_hrnet_w32_coco_256x192")   # downloaded once into the cache
>>> path = resolve_weights("pose_hrnet_w32_256x192")          # official: put the file in the cache
>>> path = resolve_weights("runs/my_run/model_best.pth")      # a local file is used as it is

The official HRNet / SimpleBaseline model zoo (``pose_hrnet_w32_256x192.pth`` ...) lives in a
Google Drive / OneDrive folder without direct file URLs: those entries have ``url=None`` and say
where to get the file; put it in :func:`weights_dir` (``~/.cache/hrnet/weights`` or
``$HRNET_CACHE/weights``) under its file name, or pass its path. MMPose's HRNet COCO checkpoints
(same networks, ``backbone.``/``keypoint_head.`` keys that :func:`hrnet.models.load_checkpoint`
maps) download directly; their file names carry the first 8 hex digits of their SHA-256, which
is verified.

Downloads are written to ``<file>.part`` in the cache folder, resumed with an HTTP ``Range``
request after an interruption (or restarted when the server ignores it), checked against the
SHA-256 prefix, and only then renamed into place: the cache never holds a partial or corrupt file
under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, TextIO
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from hrnet.errors import WeightsError

__all__ = [
    "REGISTRY",
    "ProgressBar",
    "WeightsEntry",
    "cache_dir",
    "download",
    "find_entry",
    "list_weights",
    "resolve_weights",
    "weights_dir",
    "weights_experiment",
]

log = logging.getLogger(__name__)

OFFICIAL_ZOO = (
    "the official HRNet model zoo (Google Drive folder https://drive.google.com/drive/folders/"
    "1hOTihvbyIxsm5ygDpbUuJ7O_tzv4oXjC or OneDrive https://1drv.ms/f/s!AhIXJn_J-blW231MH2krnmLq5kkQ, "
    "linked from the README of leoxiaobin/deep-high-resolution-net.pytorch)"
)
_MMPOSE = "https://download.openmmlab.com/mmpose/top_down"
_MMPOSE1 = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco"


@dataclass(frozen=True)
class WeightsEntry:
    """A known pose checkpoint.

    ``experiment`` is the shipped experiment it runs with (plus ``opts`` overrides), ``input_size``
    (width, height), ``joint_set`` ``"coco"`` (17) or ``"mpii"`` (16). ``url`` is None when the file
    has no direct download (see ``where``). ``sha256`` is the full digest or a prefix of it.
    """

    name: str
    file_name: str
    experiment: str
    input_size: tuple[int, int]
    joint_set: str
    source: str
    url: str | None = None
    sha256: str | None = None
    opts: tuple[str, ...] = ()
    metric: str = ""
    where: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def num_joints(self) -> int:
        return {"coco": 17, "mpii": 16}[self.joint_set]

    def config(self) -> Any:
        """The run config of this named model: its experiment with its overrides (e.g. DARK decoding)."""
        from hrnet.config import load_config

        return load_config(self.experiment, list(self.opts))

    def describe(self) -> str:
        size = f"{self.input_size[0]}x{self.input_size[1]}"
        origin = self.url or f"manual download from {self.where or OFFICIAL_ZOO}"
        return f"{self.name}: {self.experiment} {size} {self.joint_set} {self.metric} [{self.source}] {origin}"


def _official(name: str, experiment: str, size: tuple[int, int], joints: str, metric: str) -> WeightsEntry:
    return WeightsEntry(
        name=name, file_name=f"{name}.pth", experiment=experiment, input_size=size, joint_set=joints,
        source="official", metric=metric, where=f"{OFFICIAL_ZOO}, folder pose_{joints}",
    )


def _mmpose(stem: str, digest: str, date: str, experiment: str, size: tuple[int, int], metric: str,
            folder: str = "hrnet", opts: tuple[str, ...] = ()) -> WeightsEntry:
    file_name = f"{stem}-{digest}_{date}.pth"
    return WeightsEntry(
        name=f"mmpose_{stem}", file_name=file_name, experiment=experiment, input_size=size,
        joint_set="mpii" if "mpii" in stem else "coco", source="mmpose", url=f"{_MMPOSE}/{folder}/{file_name}",
        sha256=digest, opts=opts, metric=metric,
    )


def _mmpose1(config: str, digest: str, date: str, experiment: str, size: tuple[int, int], metric: str,
             opts: tuple[str, ...] = ()) -> WeightsEntry:
    """An MMPose 1.x model-zoo checkpoint (``meta`` + ``state_dict`` with ``backbone.``/``head.`` keys,
    mmengine objects beside the weights). Named ``mmpose1_hrnet_w32_coco_256x192``; MMPose's config name
    (``td-hm_hrnet-w32_8xb64-210e_coco-256x192``) works as an alias."""
    m = re.match(r"td-hm_hrnet-(w\d+)(_dark)?-?_?\d+xb\d+-210e_coco-(\d+x\d+)$", config)
    assert m, config
    name = f"mmpose1_hrnet_{m.group(1)}_coco_{m.group(3)}{'_dark' if m.group(2) else ''}"
    file_name = f"{config}-{digest}_{date}.pth"
    return WeightsEntry(
        name=name, file_name=file_name, experiment=experiment, input_size=size, joint_set="coco", source="mmpose",
        url=f"{_MMPOSE1}/{file_name}", sha256=digest, opts=opts, metric=metric, aliases=(config,),
    )


_DARK = ("TEST.DECODE", "dark")

_ENTRIES: tuple[WeightsEntry, ...] = (
    # The official model zoo (COCO val2017 AP with the person detector of AP 56.4, flip test).
    _official("pose_hrnet_w32_256x192", "coco/hrnet/w32_256x192_adam_lr1e-3", (192, 256), "coco", "AP 74.4"),
    _official("pose_hrnet_w32_384x288", "coco/hrnet/w32_384x288_adam_lr1e-3", (288, 384), "coco", "AP 75.8"),
    _official("pose_hrnet_w48_256x192", "coco/hrnet/w48_256x192_adam_lr1e-3", (192, 256), "coco", "AP 75.1"),
    _official("pose_hrnet_w48_384x288", "coco/hrnet/w48_384x288_adam_lr1e-3", (288, 384), "coco", "AP 76.3"),
    _official("pose_resnet_50_256x192", "coco/resnet/res50_256x192_d256x3_adam_lr1e-3", (192, 256), "coco", "AP 70.4"),
    _official("pose_resnet_50_384x288", "coco/resnet/res50_384x288_d256x3_adam_lr1e-3", (288, 384), "coco", "AP 72.2"),
    _official("pose_resnet_101_256x192", "coco/resnet/res101_256x192_d256x3_adam_lr1e-3", (192, 256), "coco",
              "AP 71.4"),
    _official("pose_resnet_101_384x288", "coco/resnet/res101_384x288_d256x3_adam_lr1e-3", (288, 384), "coco",
              "AP 73.6"),
    _official("pose_resnet_152_256x192", "coco/resnet/res152_256x192_d256x3_adam_lr1e-3", (192, 256), "coco",
              "AP 72.0"),
    _official("pose_resnet_152_384x288", "coco/resnet/res152_384x288_d256x3_adam_lr1e-3", (288, 384), "coco",
              "AP 74.3"),
    _official("pose_hrnet_w32_256x256", "mpii/hrnet/w32_256x256_adam_lr1e-3", (256, 256), "mpii", "PCKh 90.3"),
    _official("pose_hrnet_w48_256x256", "mpii/hrnet/w48_256x256_adam_lr1e-3", (256, 256), "mpii", "PCKh 90.1"),
    _official("pose_resnet_50_256x256", "mpii/resnet/res50_256x256_d256x3_adam_lr1e-3", (256, 256), "mpii",
              "PCKh 88.5"),
    _official("pose_resnet_101_256x256", "mpii/resnet/res101_256x256_d256x3_adam_lr1e-3", (256, 256), "mpii",
              "PCKh 89.1"),
    _official("pose_resnet_152_256x256", "mpii/resnet/res152_256x256_d256x3_adam_lr1e-3", (256, 256), "mpii",
              "PCKh 89.6"),
    # MMPose checkpoints of the same networks (COCO val2017 AP, detector AP 56.4, their model zoo).
    _mmpose("hrnet_w32_coco_256x192", "c78dce93", "20200708", "coco/hrnet/w32_256x192_adam_lr1e-3", (192, 256),
            "AP 74.6"),
    _mmpose("hrnet_w32_coco_384x288", "d9f0d786", "20200708", "coco/hrnet/w32_384x288_adam_lr1e-3", (288, 384),
            "AP 76.0"),
    _mmpose("hrnet_w48_coco_256x192", "b9e0b3ab", "20200708", "coco/hrnet/w48_256x192_adam_lr1e-3", (192, 256),
            "AP 75.6"),
    _mmpose("hrnet_w48_coco_384x288", "314c8528", "20200708", "coco/hrnet/w48_384x288_adam_lr1e-3", (288, 384),
            "AP 76.7"),
    _mmpose("hrnet_w32_coco_256x192_dark", "07f147eb", "20200812", "coco/hrnet/w32_256x192_adam_lr1e-3",
            (192, 256), "AP 75.7 (DARK)", opts=_DARK),
    _mmpose("hrnet_w32_coco_384x288_dark", "307dafc2", "20210203", "coco/hrnet/w32_384x288_adam_lr1e-3",
            (288, 384), "AP 76.6 (DARK)", opts=_DARK),
    _mmpose("hrnet_w48_coco_256x192_dark", "8cba3197", "20200812", "coco/hrnet/w48_256x192_adam_lr1e-3",
            (192, 256), "AP 76.4 (DARK)", opts=_DARK),
    _mmpose("hrnet_w48_coco_384x288_dark", "e881a4b6", "20210203", "coco/hrnet/w48_384x288_adam_lr1e-3",
            (288, 384), "AP 77.2 (DARK)", opts=_DARK),
    _mmpose("hrnet_w32_mpii_256x256", "6c4f923f", "20200812", "mpii/hrnet/w32_256x256_adam_lr1e-3", (256, 256),
            "PCKh 90.0"),
    _mmpose("hrnet_w48_mpii_256x256", "92cab7bd", "20200812", "mpii/hrnet/w48_256x256_adam_lr1e-3", (256, 256),
            "PCKh 90.1"),
    _mmpose("res50_coco_256x192", "ec54d7f3", "20200709", "coco/resnet/res50_256x192_d256x3_adam_lr1e-3",
            (192, 256), "AP 71.8", folder="resnet"),
    # MMPose 1.x model zoo (configs/body_2d_keypoint/topdown_heatmap/coco/hrnet_coco.md, hrnet_dark_coco.md):
    # the plain models decode as the official code (MSRAHeatmap, quarter offset), the DARK ones with DARK.
    _mmpose1("td-hm_hrnet-w32_8xb64-210e_coco-256x192", "81c58e40", "20220909",
             "coco/hrnet/w32_256x192_adam_lr1e-3", (192, 256), "AP 74.6"),
    _mmpose1("td-hm_hrnet-w32_8xb64-210e_coco-384x288", "ca5956af", "20220909",
             "coco/hrnet/w32_384x288_adam_lr1e-3", (288, 384), "AP 76.0"),
    _mmpose1("td-hm_hrnet-w48_8xb32-210e_coco-256x192", "0e67c616", "20220913",
             "coco/hrnet/w48_256x192_adam_lr1e-3", (192, 256), "AP 75.6"),
    _mmpose1("td-hm_hrnet-w48_8xb32-210e_coco-384x288", "c161b7de", "20220915",
             "coco/hrnet/w48_384x288_adam_lr1e-3", (288, 384), "AP 76.7"),
    _mmpose1("td-hm_hrnet-w32_dark-8xb64-210e_coco-256x192", "0e00bf12", "20220914",
             "coco/hrnet/w32_256x192_adam_lr1e-3", (192, 256), "AP 75.7 (DARK)", opts=_DARK),
    _mmpose1("td-hm_hrnet-w32_dark-8xb64-210e_coco-384x288", "9bab4c9b", "20220917",
             "coco/hrnet/w32_384x288_adam_lr1e-3", (288, 384), "AP 76.6 (DARK)", opts=_DARK),
    _mmpose1("td-hm_hrnet-w48_dark-8xb32-210e_coco-256x192", "e1ebdd6f", "20220913",
             "coco/hrnet/w48_256x192_adam_lr1e-3", (192, 256), "AP 76.4 (DARK)", opts=_DARK),
    _mmpose1("td-hm_hrnet-w48_dark-8xb32-210e_coco-384x288", "39c3c381", "20220916",
             "coco/hrnet/w48_384x288_adam_lr1e-3", (288, 384), "AP 77.2 (DARK)", opts=_DARK),
)

REGISTRY: dict[str, WeightsEntry] = {e.name: e for e in _ENTRIES}


def list_weights() -> list[WeightsEntry]:
    """Every known checkpoint, in registry order."""
    return list(REGISTRY.values())


def cache_dir() -> Path:
    """``$HRNET_CACHE``, else ``$XDG_CACHE_HOME/hrnet``, else ``~/.cache/hrnet``."""
    env = os.environ.get("HRNET_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "hrnet"


def weights_dir() -> Path:
    """Where checkpoints are cached: ``cache_dir() / "weights"``."""
    return cache_dir() / "weights"


def find_entry(name_or_path: str | PathLike[str]) -> WeightsEntry | None:
    """The registry entry of a name (``pose_hrnet_w32_256x192``), a file name or a path to a file
    of that name; None when unknown."""
    text = os.fspath(name_or_path)
    if text in REGISTRY:
        return REGISTRY[text]
    base = Path(text).name
    stem = base[:-4] if base.endswith(".pth") else base
    for e in REGISTRY.values():
        if base == e.file_name or stem == e.name or stem in e.aliases:
            return e
    return None


def weights_experiment(name_or_path: str | PathLike[str]) -> Any:
    """The experiment to run a checkpoint with: from the registry (a config when the entry has
    overrides, else the experiment name), else from the config stored in an ``hrnet-train``
    checkpoint. Raises :class:`WeightsError` when neither tells."""
    entry = find_entry(name_or_path)
    if entry is not None:
        return entry.config() if entry.opts else entry.experiment
    path = Path(name_or_path)
    if path.is_file():
        from hrnet.models.checkpoint import read_checkpoint

        # A file that cannot be read (corrupt, or refused as unsafe) says so, with its reason: that is
        # the problem to fix, not the missing experiment.
        obj = read_checkpoint(path)
        cfg = _config_in_checkpoint(obj, path)
        if cfg is not None:
            return cfg
        guess = _experiment_from_keys(obj, path)
        if guess is not None:
            return guess
    raise WeightsError(
        f"Cannot tell which experiment {name_or_path} belongs to: it is not in the weights registry and holds no "
        "config; give the experiment (--experiment) explicitly"
    )


def _config_in_checkpoint(obj: Any, path: Path) -> Any:
    cfg_text = obj.get("config") if isinstance(obj, dict) else None
    if not isinstance(cfg_text, (str, dict)):
        return None
    import yaml
    from yacs.config import CfgNode

    from hrnet.config import load_config

    try:
        data = yaml.safe_load(cfg_text) if isinstance(cfg_text, str) else cfg_text
        return load_config(CfgNode(data))
    except Exception as e:  # noqa: BLE001 - a stored config that does not load is only a missed hint
        log.warning("The config stored in %s cannot be used: %s", path, e)
        return None


def _experiment_from_keys(obj: Any, path: Path) -> str | None:
    """A shipped experiment whose network matches the checkpoint's keys and shapes (the input
    size cannot be read from weights: the smallest shipped one is taken, with a warning)."""
    from hrnet.config import list_experiments, load_config
    from hrnet.models.checkpoint import extract_state_dict, infer_architecture

    try:
        state_dict, _, _ = extract_state_dict(obj, source=str(path))
        arch = infer_architecture(state_dict)
    except Exception:  # noqa: BLE001 - the caller reports the missing experiment
        return None
    if not arch:
        return None
    for name in list_experiments():
        cfg = load_config(name)
        extra = cfg.MODEL.EXTRA
        if cfg.MODEL.NAME != arch.get("model_name") or cfg.MODEL.NUM_JOINTS != arch.get("num_joints"):
            continue
        if arch["model_name"] == "pose_hrnet":
            same = (
                int(extra.STAGE2.NUM_CHANNELS[0]) == arch.get("width")
                and [1] + [int(extra[f"STAGE{i}"].NUM_MODULES) for i in (2, 3, 4)] == arch.get("num_modules")
                and int(extra.STAGE2.NUM_BLOCKS[0]) == arch.get("num_blocks")
            )
        else:
            same = int(extra.NUM_LAYERS) == arch.get("num_layers") and [
                int(f) for f in extra.NUM_DECONV_FILTERS
            ] == arch.get("deconv_filters")
        if same:  # list_experiments is sorted: 256x192 comes before 384x288
            log.warning(
                "%s is not in the weights registry: using experiment %s, whose network matches its weights "
                "(input size %dx%d assumed; pass the experiment to choose another)",
                path.name, name, *cfg.MODEL.IMAGE_SIZE,
            )
            return name
    return None


def resolve_weights(
    name_or_path: str | PathLike[str],
    *,
    download_missing: bool = True,
    progress: bool | Callable[[int, int | None], None] = True,
) -> Path:
    """A local checkpoint file for a path or a registry name.

    An existing file is returned as it is. A registry name (or a file name of the registry) is
    looked up in :func:`weights_dir`; when absent it is downloaded there if the entry has a URL
    (and ``download_missing``), otherwise a :class:`WeightsError` says where to get it and the
    exact path to put it at.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    entry = find_entry(text)
    if entry is None:
        if path.suffix or os.sep in text or "/" in text:
            raise WeightsError(f"Weights file not found: {path}")
        known = ", ".join(REGISTRY)
        raise WeightsError(f"Unknown weights {text!r}: neither a file nor a registry name (known: {known})")
    target = weights_dir() / entry.file_name
    if target.is_file():
        return target
    if entry.url is None:
        raise WeightsError(
            f"Weights {entry.name} are not in the cache. Download {entry.file_name} from {entry.where} "
            f"and put it at {target} (or pass the file's path)"
        )
    if not download_missing:
        raise WeightsError(f"Weights {entry.name} are not in the cache ({target}); download them from {entry.url}")
    return download(entry.url, target, sha256=entry.sha256, progress=progress)


# ----------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------
class ProgressBar:
    """A small text progress bar on a stream (stderr by default), redrawn in place on a
    terminal and printed every ~10 % otherwise. ``total`` None: a counter."""

    def __init__(self, total: int | None, desc: str = "", unit: str = "", stream: TextIO | None = None,
                 width: int = 28, min_interval: float = 0.1, scale_bytes: bool = False) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.scale_bytes = scale_bytes
        self.n = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._last_pct = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.postfix = ""

    def _fmt(self, v: float) -> str:
        if not self.scale_bytes:
            return f"{int(v)}"
        for unit in ("B", "KB", "MB", "GB"):
            if v < 1024 or unit == "GB":
                return f"{v:.1f}{unit}" if unit != "B" else f"{int(v)}B"
            v /= 1024
        return f"{v:.1f}GB"  # pragma: no cover

    def render(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.n / elapsed
        rate_s = f"{self._fmt(rate)}/s" if self.scale_bytes else f"{rate:.2f} {self.unit}/s".rstrip()
        if self.total:
            frac = min(self.n / self.total, 1.0)
            filled = int(frac * self.width)
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            eta_s = time.strftime("%M:%S", time.gmtime(eta)) if eta < 360000 else "?"
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"{self.desc} [{bar}] {self._fmt(self.n)}/{self._fmt(self.total)} {frac:4.0%} {rate_s} eta {eta_s}"
        else:
            text = f"{self.desc} {self._fmt(self.n)} {self.unit} {rate_s}"
        return f"{text} {self.postfix}".rstrip()

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.n += n
        if postfix is not None:
            self.postfix = postfix
        now = time.monotonic()
        if self._tty:
            if now - self._last >= self.min_interval or (self.total and self.n >= self.total):
                self._last = now
                self.stream.write("\r" + self.render() + "\x1b[K")
                self.stream.flush()
        elif self.total:
            pct = int(10 * self.n / self.total)
            if pct != self._last_pct:
                self._last_pct = pct
                self.stream.write(self.render() + "\n")
                self.stream.flush()

    def write(self, text: str) -> None:
        """Print a line without garbling the bar."""
        if self._tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        if self._tty:
            self.stream.write(self.render())
        self.stream.flush()

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self.render() + "\x1b[K\n")
            self.stream.flush()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | PathLike[str],
    *,
    sha256: str | None = None,
    progress: bool | Callable[[int, int | None], None] = True,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    Data goes to ``dest.part`` (kept between attempts and runs: an interrupted transfer resumes
    with an HTTP Range request, or restarts when the server answers 200). After the transfer the
    SHA-256 is compared with ``sha256`` (a full digest or a prefix); on a mismatch the partial
    file is deleted and :class:`WeightsError` raised. ``progress``: True for a bar on stderr, or a
    callable ``(bytes_done, total_or_None)``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * attempt)
        try:
            if _transfer(url, part, progress, timeout):
                break
            errors.append("connection closed before the end of the file")
        except HTTPError as e:
            if e.code == 416 and part.exists():  # nothing left to send: the .part is complete
                break
            errors.append(f"HTTP {e.code} {e.reason}")
            if 400 <= e.code < 500 and e.code not in (408, 429):
                break
        except (URLError, OSError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", None) or e
            errors.append(str(reason))
        log.info("Download of %s interrupted (%s); %s", url, errors[-1],
                 "retrying" if attempt < retries else "giving up")
    else:
        raise WeightsError(
            f"Could not download {url} after {retries + 1} attempts ({'; '.join(errors)}). The partial file is kept "
            f"at {part} and the next attempt resumes it; or download the file yourself and put it at {dest}"
        )
    if not part.exists():
        raise WeightsError(f"Could not download {url} ({'; '.join(errors) or 'no data'}); put the file at {dest}")
    if sha256:
        digest = _sha256(part)
        if not digest.startswith(sha256.lower()):
            part.unlink(missing_ok=True)
            raise WeightsError(
                f"Checksum mismatch for {url}: SHA-256 {digest[:16]}... does not start with {sha256}; the corrupt "
                f"download was deleted. Try again, or download the file yourself and put it at {dest}"
            )
    os.replace(part, dest)
    log.info("Downloaded %s to %s", url, dest)
    return dest


def _transfer(url: str, part: Path, progress: bool | Callable[[int, int | None], None], timeout: float) -> bool:
    """One HTTP request appending to ``part``; True when the file is complete."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "hrnet-weights/1.0"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    with urlopen(Request(url, headers=headers), timeout=timeout) as resp:
        status = getattr(resp, "status", 200)
        if offset and status != 206:
            log.info("Server ignored the range request; restarting %s", url)
            offset = 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None and length.isdigit() else None
        if status == 206:
            m = re.match(r"bytes (\d+)-\d+/(\d+)", resp.headers.get("Content-Range", ""))
            if m:
                if int(m.group(1)) != offset:
                    raise OSError(f"server resumed at byte {m.group(1)} instead of {offset}")
                total = int(m.group(2))
        bar = ProgressBar(total, desc=part.name[:-5], scale_bytes=True) if progress is True else None
        done = offset
        if bar is not None:
            bar.n = offset
        try:
            with part.open("ab" if offset else "wb") as f:
                while True:
                    try:
                        chunk = resp.read(1 << 16)
                    except Exception as e:  # http.client.IncompleteRead and friends
                        partial = getattr(e, "partial", b"")
                        if partial:
                            f.write(partial)
                        raise OSError(f"transfer interrupted after {done + len(partial)} bytes: {e!r}") from e
                    if not chunk:
                        break
                    f.write(chunk)
                    done += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    elif callable(progress):
                        progress(done, total)
        finally:
            if bar is not None:
                bar.close()
    return total is None or done >= total
