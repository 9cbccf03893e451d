"""Building blocks of MSG-GAN: equalised-learning-rate layers, pixel normalisation, minibatch
standard deviation, the discriminator's combine functions and the average-pooling pyramid.

Equalised learning rate (Karras et al. 2018, ProGAN): weights are stored as N(0, 1) and scaled at
run time by He's constant ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes act alike on
every layer whatever its fan-in. The layers, pixel normalisation and minibatch standard deviation
are ganzoo's shared ones (:mod:`ganzoo.nn.equalized`, the same state_dict keys and numerics as the
plugin's former copies: tests/test_equalized.py checks the shipped weights against samples drawn
before the move); MSG-GAN's layers default to He's gain sqrt(2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.nn.equalized import EqualConv2d as _EqualConv2d
from ganzoo.nn.equalized import EqualLinear as _EqualLinear
from ganzoo.nn.equalized import MinibatchStd, PixelNorm

__all__ = [
    "RELU_GAIN",
    "Combine",
    "EqualConv2d",
    "EqualLinear",
    "MinibatchStd",
    "PixelNorm",
    "image_pyramid",
    "resolutions_for",
]

#: He's gain for layers followed by LeakyReLU(0.2) (ProGAN uses sqrt(2) throughout).
RELU_GAIN = math.sqrt(2.0)


class EqualConv2d(_EqualConv2d):
    """ganzoo's equalised convolution with MSG-GAN's default gain, He's sqrt(2) ("same"
    padding for odd kernels)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int | None = None,
        gain: float = RELU_GAIN,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, gain=gain)

    @property
    def scale(self) -> float:
        """The run-time weight scale ``gain / sqrt(fan_in)`` (``weight_gain``)."""
        return self.weight_gain


class EqualLinear(_EqualLinear):
    """ganzoo's equalised fully connected layer with MSG-GAN's default gain sqrt(2)."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = RELU_GAIN) -> None:
        super().__init__(in_features, out_features, gain=gain)

    @property
    def scale(self) -> float:
        """The run-time weight scale ``gain / sqrt(fan_in)`` (``weight_gain``)."""
        return self.weight_gain


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
