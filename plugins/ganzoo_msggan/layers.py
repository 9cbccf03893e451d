"""Building blocks of MSG-GAN: equalised-learning-rate layers, pixel normalisation, minibatch
standard deviation, the discriminator's combine functions and the average-pooling pyramid.

Equalised learning rate (Karras et al. 2018, ProGAN): weights are stored as N(0, 1) and scaled at
run time by He's constant ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes act alike on
every layer whatever its fan-in. These are this plugin's own small versions; other plugins keep
theirs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: He's gain for layers followed by LeakyReLU(0.2) (ProGAN uses sqrt(2) throughout).
RELU_GAIN = math.sqrt(2.0)


class EqualConv2d(nn.Module):
    """A 2-d convolution with equalised learning rate ("same" padding for odd kernels)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int | None = None,
        gain: float = RELU_GAIN,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, padding={self.padding}"


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = RELU_GAIN) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}, {o}"


class PixelNorm(nn.Module):
    """Scale each pixel's feature vector to unit average square (ProGAN's local response
    normalisation in G): keeps G's signal magnitudes from escalating, without batch statistics."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStd(nn.Module):
    """Append one feature map holding the average standard deviation of the features over groups
    of samples: D sees how varied a batch is, which discourages mode collapse (ProGAN).

    The group is ``group_size`` or the largest divisor of the batch below it, so any batch size
    works; ``group_size=1`` appends a constant map, which carries no information (the "off"
    setting).
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, n // g, c, h, w)  # sample i is grouped with i + n/g, ...
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # std over each group
        y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # one number per group
        y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y], dim=1)


class Combine(nn.Module):
    """The discriminator's φ: merge the image of one scale with D's features at that scale.

    * ``simple``: ``[image; features]`` (the paper's φ_simple);
    * ``lin_cat``: ``[conv1×1(image); features]``, the image projected to half as many maps as
      the features (φ_lin_cat);
    * ``cat_lin``: ``conv1×1([image; features])`` back to the features' width (φ_cat_lin).

    ``out_channels`` is the width of the merged tensor, which the next block takes.
    """

    def __init__(self, kind: str, image_channels: int, feature_channels: int) -> None:
        super().__init__()
        self.kind = kind
        self.proj: nn.Module | None = None
        if kind == "simple":
            self.out_channels = image_channels + feature_channels
        elif kind == "lin_cat":
            proj = max(1, feature_channels // 2)
            self.proj = EqualConv2d(image_channels, proj, 1, gain=1.0)
            self.out_channels = proj + feature_channels
        elif kind == "cat_lin":
            self.proj = EqualConv2d(
                image_channels + feature_channels, feature_channels, 1, gain=1.0
            )
            self.out_channels = feature_channels
        else:
            raise ValueError(f"unknown combine function {kind!r}; use simple, lin_cat or cat_lin")

    def forward(self, image: Tensor, features: Tensor) -> Tensor:
        if self.kind == "lin_cat":
            return torch.cat([self.proj(image), features], dim=1)
        merged = torch.cat([image, features], dim=1)
        return self.proj(merged) if self.kind == "cat_lin" else merged

    def extra_repr(self) -> str:
        return f"{self.kind!r}, out_channels={self.out_channels}"


def resolutions_for(image_size: int) -> list[int]:
    """The scales of an MSG-GAN of output side ``image_size``: 4, 8, ..., image_size."""
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two of at least 4, got {image_size}")
    return [2**k for k in range(2, int(math.log2(image_size)) + 1)]


def image_pyramid(images: Tensor, resolutions: list[int]) -> list[Tensor]:
    """``images`` average-pooled down to every side in ``resolutions`` (coarsest first).

    Pooling by a factor ``f`` in one step equals ``log2 f`` successive 2×2 poolings, so each level
    is exactly the box-filtered downsampling of the full-size image. Runs on the images' device.
    """
    side = images.shape[-1]
    if images.shape[-2] != side or side != resolutions[-1]:
        raise ValueError(
            f"expected square images of side {resolutions[-1]}, got {tuple(images.shape[-2:])}"
        )
    return [images if r == side else F.avg_pool2d(images, side // r) for r in resolutions]
