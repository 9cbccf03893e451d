"""Equalised-learning-rate layers and the normalisations that go with them.

Equalised learning rate (Karras et al. 2018, arXiv 1710.10196, section 4.1): a layer stores its
weights as N(0, 1) and multiplies them at run time by He's constant ``gain / sqrt(fan_in)``, so
Adam's per-parameter step sizes act alike on every layer whatever its fan-in. ``lr_mul`` slows a
layer down by that factor (stored weights are divided by it and the run-time scale multiplied),
which is how StyleGAN's mapping network learns 100 times more slowly than the rest.

The layers keep the parameter names of :class:`torch.nn.Linear` and :class:`torch.nn.Conv2d`
(``weight``, ``bias``), so a network built from them saves the same ``state_dict`` keys as the
plain layers would; the scale is a plain float, not a saved tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: gain that keeps the variance of a leaky ReLU(0.2) output equal to its input's (He et al.)
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor, bias: Tensor | None = None) -> Tensor:
    """Bias (per channel, dimension 1), leaky ReLU 0.2, then the gain sqrt(2): the fused
    activation of StyleGAN's layers."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate.

    ``gain`` is He's constant (``LRELU_GAIN`` before a leaky ReLU, 1 for a linear output);
    ``bias_init`` the bias's initial value; ``lr_mul`` the layer's learning-rate multiplier;
    ``activation=True`` applies :func:`lrelu` (bias, leaky ReLU, gain) after the product.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bias_init: float = 0.0,
        gain: float = 1.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul)) if bias else None
        self.weight_gain = gain * lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias
        if bias is not None and self.lr_mul != 1.0:
            bias = bias * self.lr_mul
        if self.activation:
            return lrelu(F.linear(x, self.weight * self.weight_gain), bias)
        return F.linear(x, self.weight * self.weight_gain, bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}, {o}, lr_mul={self.lr_mul:g}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """A 2-d convolution with equalised learning rate; "same" padding (``kernel_size // 2``)
    unless ``padding`` is given. ``gain`` and ``activation`` mean what they mean for
    :class:`EqualLinear`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int | None = None,
        bias: bool = True,
        gain: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2 if padding is None else padding
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.weight_gain
        if self.activation:
            return lrelu(F.conv2d(x, w, padding=self.padding), self.bias)
        return F.conv2d(x, w, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, padding={self.padding}, activation={self.activation}"


class PixelNorm(nn.Module):
    """Scale each pixel's feature vector to unit average square (ProGAN's pixel-wise feature
    normalisation in G): keeps the signal from escalating, without batch statistics. Works on
    ``N×C`` and ``N×C×H×W`` alike (normalises dimension 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStd(nn.Module):
    """Append one feature map holding the average standard deviation of the features over groups
    of samples: D sees how varied a batch is, which discourages mode collapse (ProGAN, 3).

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

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
