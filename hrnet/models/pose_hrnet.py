"""HRNet for top-down pose estimation (Sun et al., CVPR 2019), with the official state_dict layout.

The module tree (and so every ``state_dict`` key, its order and shape) is the one of the official
``lib/models/pose_hrnet.py`` of deep-high-resolution-net.pytorch, so the released checkpoints load
with ``strict=True`` and give the same heatmaps. The network takes explicit arguments; the config
is translated in :func:`hrnet.models.build_model`.

Layout::

    stem (conv1/bn1/conv2/bn2, stride 4) -> layer1 (4 Bottlenecks, 256 ch)
    -> transition1 -> stage2 -> transition2 -> stage3 -> transition3 -> stage4 -> final_layer

A *stage* is a sequence of :class:`HighResolutionModule`; each module runs one residual branch per
resolution and then fuses every branch into every output resolution (sum of up/down-sampled maps).
The last module of the last stage only outputs the highest resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

__all__ = [
    "BLOCKS",
    "BN_MOMENTUM",
    "BasicBlock",
    "Bottleneck",
    "HighResolutionModule",
    "PoseHighResolutionNet",
    "StageSpec",
    "filter_pretrained",
    "hrnet_stages",
    "init_weights",
    "make_res_layer",
]

log = logging.getLogger(__name__)

BN_MOMENTUM = 0.1


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    bn = nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM)
    return nn.Sequential(_conv3x3(in_ch, out_ch, stride), bn, nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34 block)."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 convs with a residual connection, 4x channel expansion (ResNet-50+ block)."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def make_res_layer(
    block: type[BasicBlock] | type[Bottleneck], in_channels: int, planes: int, num_blocks: int, stride: int = 1
) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first one gets a 1x1 conv + BN shortcut when the shape changes
    (the official ``_make_layer``)."""
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            _conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)
        )
    layers: list[nn.Module] = [block(in_channels, planes, stride, downsample)]
    layers += [block(out_channels, planes) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class StageSpec:
    """One HRNet stage: ``num_modules`` HighResolutionModules over ``num_branches`` resolutions."""

    num_modules: int
    num_branches: int
    block: str  # "BASIC" | "BOTTLENECK"
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]
    fuse_method: str = "SUM"

    def __post_init__(self) -> None:
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}, not {self.block!r}")
        if len(self.num_blocks) != self.num_branches or len(self.num_channels) != self.num_branches:
            raise ValueError(
                f"num_branches={self.num_branches} but num_blocks={list(self.num_blocks)} and "
                f"num_channels={list(self.num_channels)}"
            )
        if self.fuse_method != "SUM":
            raise ValueError(f"only fuse_method 'SUM' exists (as in the official code), not {self.fuse_method!r}")

    @property
    def out_channels(self) -> list[int]:
        expansion = BLOCKS[self.block].expansion
        return [c * expansion for c in self.num_channels]


def hrnet_stages(width: int, num_blocks: int = 4, modules: Sequence[int] = (1, 1, 4, 3)) -> tuple[StageSpec, ...]:
    """The stage specs of the standard HRNet-W``width`` (``modules`` = modules of stage 1..4; stage 1
    is the fixed Bottleneck layer1 and its entry is ignored)."""
    return tuple(
        StageSpec(
            num_modules=modules[n - 1],
            num_branches=n,
            block="BASIC",
            num_blocks=(num_blocks,) * n,
            num_channels=tuple(width * 2**i for i in range(n)),
        )
        for n in (2, 3, 4)
    )


class HighResolutionModule(nn.Module):
    """Parallel residual branches (one per resolution) followed by multi-resolution fusion.

    ``fuse_layers[i][j]`` maps branch ``j`` to resolution ``i``: a 1x1 conv + BN + nearest upsampling
    when ``j > i`` (lower resolution), nothing when ``j == i``, and ``i - j`` strided 3x3 conv + BN
    (ReLU between them) when ``j < i``. Output ``i`` is ``relu(sum_j fuse_layers[i][j](x_j))``.
    """

    def __init__(
        self,
        num_branches: int,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: Sequence[int],
        in_channels: Sequence[int],
        num_channels: Sequence[int],
        multi_scale_output: bool = True,
    ) -> None:
        super().__init__()
        if not (len(num_blocks) == len(in_channels) == len(num_channels) == num_branches):
            raise ValueError(
                f"num_branches={num_branches} but num_blocks={list(num_blocks)}, in_channels={list(in_channels)}, "
                f"num_channels={list(num_channels)}"
            )
        self.num_branches = num_branches
        self.multi_scale_output = multi_scale_output
        self.branches = nn.ModuleList(
            make_res_layer(block, in_channels[i], num_channels[i], num_blocks[i]) for i in range(num_branches)
        )
        self.out_channels = [c * block.expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers() if num_branches > 1 else None
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self) -> nn.ModuleList:
        ch = self.out_channels
        n = self.num_branches
        fuse_layers = nn.ModuleList()
        for i in range(n if self.multi_scale_output else 1):
            row = nn.ModuleList()
            for j in range(n):
                if j > i:
                    row.append(
                        nn.Sequential(
                            _conv1x1(ch[j], ch[i]),
                            nn.BatchNorm2d(ch[i], momentum=BN_MOMENTUM),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)  # keeps the official indices of the other entries
                else:
                    steps: list[nn.Module] = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out_ch = ch[i] if last else ch[j]
                        step: list[nn.Module] = [
                            _conv3x3(ch[j], out_ch, stride=2),
                            nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM),
                        ]
                        if not last:
                            step.append(nn.ReLU(inplace=True))
                        steps.append(nn.Sequential(*step))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(row)
        return fuse_layers

    def forward(self, x: list[Tensor]) -> list[Tensor]:
        x = [branch(xi) for branch, xi in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        out = []
        for i, row in enumerate(self.fuse_layers):
            # Summation order as in the official code (same float rounding).
            y = x[0] if i == 0 else row[0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else row[j](x[j]))
            out.append(self.relu(y))
        return out


class PoseHighResolutionNet(nn.Module):
    """HRNet pose network: image ``(N, 3, H, W)`` -> heatmaps ``(N, num_joints, H/4, W/4)``.

    Args:
        stages: the specs of stages 2, 3 and 4 (see :func:`hrnet_stages`).
        num_joints: output heatmap channels.
        final_conv_kernel: kernel of the final conv (1 or 3, as ``MODEL.EXTRA.FINAL_CONV_KERNEL``).
        stem_channels: channels of the two stride-2 stem convs (64 in every official model).
    """

    def __init__(
        self,
        stages: Sequence[StageSpec],
        num_joints: int = 17,
        final_conv_kernel: int = 1,
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        if len(stages) != 3:
            raise ValueError(f"PoseHighResolutionNet needs 3 stage specs (stages 2-4), got {len(stages)}")
        if final_conv_kernel not in (1, 3):
            raise ValueError(f"final_conv_kernel must be 1 or 3, not {final_conv_kernel}")
        self.stage_specs = tuple(stages)
        self.num_joints = num_joints

        self.conv1 = nn.Conv2d(3, stem_channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(stem_channels, stem_channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(stem_channels, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_res_layer(Bottleneck, stem_channels, 64, 4)

        pre_channels = [64 * Bottleneck.expansion]
        for n, spec in enumerate(self.stage_specs, start=1):
            self.add_module(f"transition{n}", self._make_transition(pre_channels, spec.out_channels))
            stage, pre_channels = self._make_stage(spec, spec.out_channels, multi_scale_output=n < 3)
            self.add_module(f"stage{n + 1}", stage)

        self.final_layer = nn.Conv2d(
            pre_channels[0], num_joints, kernel_size=final_conv_kernel, stride=1,
            padding=1 if final_conv_kernel == 3 else 0,
        )

    @staticmethod
    def _make_transition(pre: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, out_ch in enumerate(cur):
            if i < len(pre):
                if out_ch != pre[i]:
                    layers.append(_conv_bn_relu(pre[i], out_ch, stride=1))
                else:
                    layers.append(None)
            else:
                # New lower-resolution branch: strided 3x3 convs from the lowest existing resolution.
                steps = []
                for k in range(i + 1 - len(pre)):
                    ch = out_ch if k == i - len(pre) else pre[-1]
                    steps.append(_conv_bn_relu(pre[-1], ch, stride=2))
                layers.append(nn.Sequential(*steps))
        return layers

    @staticmethod
    def _make_stage(
        spec: StageSpec, in_channels: list[int], multi_scale_output: bool
    ) -> tuple[nn.Sequential, list[int]]:
        block = BLOCKS[spec.block]
        modules = []
        for m in range(spec.num_modules):
            module = HighResolutionModule(
                spec.num_branches, block, spec.num_blocks, in_channels, spec.num_channels,
                multi_scale_output=multi_scale_output or m < spec.num_modules - 1,
            )
            modules.append(module)
            in_channels = module.out_channels
        return nn.Sequential(*modules), in_channels

    @staticmethod
    def _run_transition(transition: nn.ModuleList, xs: list[Tensor]) -> list[Tensor]:
        out = []
        for i, layer in enumerate(transition):
            if i < len(xs):
                out.append(xs[i] if layer is None else layer(xs[i]))
            else:
                out.append(layer(xs[-1]))
        return out

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        xs = self.stage2(self._run_transition(self.transition1, xs))
        xs = self.stage3(self._run_transition(self.transition2, xs))
        xs = self.stage4(self._run_transition(self.transition3, xs))
        return self.final_layer(xs[0])

    @property
    def width(self) -> int:
        return self.stage_specs[0].num_channels[0]


def init_weights(model: nn.Module) -> None:
    """The official random initialisation (``PoseHighResolutionNet.init_weights``): conv and deconv
    weights ~ N(0, 0.001), their biases 0; BatchNorm weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def filter_pretrained(state_dict: dict[str, Tensor], pretrained_layers: Sequence[str]) -> dict[str, Tensor]:
    """Keep the entries whose first name component is in ``pretrained_layers`` (all when the first entry
    is ``'*'``), as the official ``init_weights`` does before ``load_state_dict(strict=False)``."""
    layers = list(pretrained_layers)
    if layers and layers[0] == "*":
        return dict(state_dict)
    return {k: v for k, v in state_dict.items() if k.split(".")[0] in layers}
