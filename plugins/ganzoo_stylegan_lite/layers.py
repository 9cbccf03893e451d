"""StyleGAN2 building blocks (Karras et al. 2020, arXiv 1912.04958).

Every layer here uses the *equalised learning rate* of ProGAN: weights are stored as N(0, 1) and
scaled at run time by He's constant ``1/sqrt(fan_in)``, so Adam sees every layer at the same
scale. The modulated convolution follows the paper's Eq. 1-3: the style ``s`` scales the input
feature maps of the kernel, and *demodulation* divides each output channel by the L2 norm of its
modulated kernel, which replaces AdaIN's instance normalisation without its "droplet" artefacts.

Resampling uses bilinear interpolation: for a factor of two it is the separable [1, 3, 3, 1] blur
the paper uses (with edge instead of zero padding), and it needs no custom kernels on the CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# the equalised layers and fused activation are ganzoo's shared ones (same keys and numerics as
# this plugin's former copies; tests/test_equalized.py checks the shipped weights)
from ganzoo.nn.equalized import LRELU_GAIN, EqualConv2d, EqualLinear, lrelu

__all__ = [
    "LRELU_GAIN",
    "EqualConv2d",
    "EqualLinear",
    "MinibatchStdDev",
    "ModulatedConv2d",
    "NoiseInjection",
    "StyledConv",
    "ToRGB",
    "downsample2x",
    "lrelu",
    "upsample2x",
]


def upsample2x(x: Tensor) -> Tensor:
    """Double the resolution with the [1, 3, 3, 1] filter (bilinear, half-pixel centres)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def downsample2x(x: Tensor) -> Tensor:
    """Halve the resolution by averaging 2×2 blocks (a box filter: cheap and alias-free enough)."""
    return F.avg_pool2d(x, 2)


class ModulatedConv2d(nn.Module):
    """Convolution whose kernel is modulated per sample by a style computed from w.

    ``styles = affine(w)`` (initialised around 1) scale the kernel's input channels; with
    ``demodulate`` every output channel's kernel is then rescaled to unit L2 norm, so that the
    output's expected variance does not depend on the style. The forward pass uses the
    mathematically identical non-fused form (scale activations, one shared convolution, scale
    outputs), which on a CPU is much faster than a grouped convolution with one group per sample;
    :meth:`modulated_weight` builds the explicit per-sample kernels for inspection and tests.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        *,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.upsample = upsample

    def modulated_weight(self, w: Tensor, eps: float = 1e-8) -> Tensor:
        """The per-sample kernels (N×out×in×k×k) that the forward pass applies for styles ``w``."""
        styles = self.affine(w)  # N×in
        weight = (
            self.weight.unsqueeze(0) * self.weight_gain * styles.view(-1, 1, self.in_channels, 1, 1)
        )
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
        return weight

    def forward(self, x: Tensor, w: Tensor, eps: float = 1e-8) -> Tensor:
        styles = self.affine(w)  # N×in
        weight = self.weight * self.weight_gain  # out×in×k×k
        x = x * styles.view(-1, self.in_channels, 1, 1)
        if self.upsample:
            x = upsample2x(x)
        x = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # sum_{i,k} (W_oik s_i)^2 = (W^2 summed over k) @ s^2
            dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps)
            x = x * dcoefs.view(-1, self.out_channels, 1, 1)
        return x


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise scaled by one learned strength (initialised at 0).

    In training the noise is fresh every call; in evaluation a fixed noise image (a saved buffer)
    is used, so that the same z always gives the same picture. ``noise_mode`` overrides that:
    ``"random"``, ``"const"`` or ``"none"``.
    """

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise_mode: str | None = None) -> Tensor:
        mode = noise_mode or ("random" if self.training else "const")
        if mode == "none":
            return x
        if mode == "const":
            noise = self.noise_const
        elif mode == "random":
            noise = torch.randn(
                x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype
            )
        else:
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {mode!r}")
        return x + noise * self.strength


class StyledConv(nn.Module):
    """Modulated 3×3 convolution (optionally upsampling), noise, bias and leaky ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, upsample: bool
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str | None = None) -> Tensor:
        return lrelu(self.noise(self.conv(x, w), noise_mode), self.bias)


class ToRGB(nn.Module):
    """Modulated 1×1 convolution to image channels, without demodulation (as in the paper)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


class MinibatchStdDev(nn.Module):
    """Appends the mean standard deviation of features across groups of samples as a channel.

    D can then see how varied a batch is, which penalises a generator that collapses to few
    modes. Groups of ``group_size`` samples (or the whole batch when it does not divide).
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = n
        y = x.reshape(g, n // g, c, h, w)  # sample i is in group i % (n // g)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n//g)×c×h×w
        y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)  # one value per group
        y = y.repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)
