"""SimpleBaselines (Xiao et al., ECCV 2018): a ResNet backbone + 3 deconvolution layers, with the
official state_dict layout of ``lib/models/pose_resnet.py`` (``conv1``, ``bn1``, ``layer1..4``,
``deconv_layers.{0,1,3,4,6,7}``, ``final_layer``).

Image ``(N, 3, H, W)`` -> stride-32 ResNet features -> ``num_deconv`` stride-2 deconvs (+BN+ReLU)
-> 1x1 conv -> heatmaps ``(N, num_joints, H/4, W/4)`` with the default three deconvs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from torch import Tensor, nn

from hrnet.models.pose_hrnet import BN_MOMENTUM, BasicBlock, Bottleneck, make_res_layer

__all__ = ["RESNET_SPECS", "PoseResNet", "deconv_padding", "init_head_weights", "init_weights"]

log = logging.getLogger(__name__)

# depth -> (block, blocks per layer), as torchvision / the official resnet_spec
RESNET_SPECS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def deconv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 deconv of this kernel exactly double the size."""
    table = {4: (1, 0), 3: (1, 1), 2: (0, 0)}
    if kernel not in table:
        raise ValueError(f"deconv kernel must be 2, 3 or 4, not {kernel}")
    return table[kernel]


class PoseResNet(nn.Module):
    """SimpleBaseline pose network.

    Args:
        num_layers: ResNet depth (18, 34, 50, 101, 152).
        num_joints: output heatmap channels.
        deconv_filters: output channels of each deconv layer (official: 256, 256, 256).
        deconv_kernels: kernel of each deconv layer (official: 4, 4, 4).
        deconv_with_bias: whether the deconvs have a bias (official: False).
        final_conv_kernel: kernel of the final conv (1 or 3).
    """

    def __init__(
        self,
        num_layers: int = 50,
        num_joints: int = 17,
        deconv_filters: Sequence[int] = (256, 256, 256),
        deconv_kernels: Sequence[int] = (4, 4, 4),
        deconv_with_bias: bool = False,
        final_conv_kernel: int = 1,
    ) -> None:
        super().__init__()
        if num_layers not in RESNET_SPECS:
            raise ValueError(f"num_layers must be one of {sorted(RESNET_SPECS)}, not {num_layers}")
        if len(deconv_filters) != len(deconv_kernels) or not deconv_filters:
            raise ValueError(
                f"deconv_filters {list(deconv_filters)} and deconv_kernels {list(deconv_kernels)} must be non-empty "
                "and of the same length"
            )
        if final_conv_kernel not in (1, 3):
            raise ValueError(f"final_conv_kernel must be 1 or 3, not {final_conv_kernel}")
        block, counts = RESNET_SPECS[num_layers]
        self.num_layers = num_layers
        self.num_joints = num_joints
        self.deconv_with_bias = deconv_with_bias

        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
            self.add_module(f"layer{i}", make_res_layer(block, channels, planes, n, stride=1 if i == 1 else 2))
            channels = planes * block.expansion

        deconv: list[nn.Module] = []
        for planes, kernel in zip(deconv_filters, deconv_kernels):
            padding, output_padding = deconv_padding(kernel)
            deconv += [
                nn.ConvTranspose2d(channels, planes, kernel, stride=2, padding=padding,
                                   output_padding=output_padding, bias=deconv_with_bias),
                nn.BatchNorm2d(planes, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True),
            ]
            channels = planes
        self.deconv_layers = nn.Sequential(*deconv)
        self.final_layer = nn.Conv2d(
            channels, num_joints, kernel_size=final_conv_kernel, stride=1, padding=1 if final_conv_kernel == 3 else 0
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.final_layer(self.deconv_layers(x))


def init_weights(model: PoseResNet) -> None:
    """Official random initialisation without an ImageNet backbone: conv and deconv weights ~ N(0, 0.001),
    deconv biases 0, BN weight 1 / bias 0. As in the official code the final conv keeps PyTorch's
    default bias initialisation."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


def init_head_weights(model: PoseResNet) -> None:
    """Official initialisation of the head when the backbone comes from ImageNet weights: deconvs
    ~ N(0, 0.001) (bias 0), their BN 1/0, final conv ~ N(0, 0.001) with bias 0."""
    for m in model.deconv_layers.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    for m in model.final_layer.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
