"""StyleGAN2 generator and residual discriminator, small enough to train on a CPU.

Generator: z is normalised and mapped by an MLP to w; w is broadcast to one copy per layer
(``num_ws`` of them) so that the synthesis network, which grows a learned 4×4 constant through
modulated convolutions, noise and upsampling, can take a different w per layer (style mixing).
Every resolution adds its toRGB output to the upsampled image of the one before (skip
architecture). Truncation pulls w towards ``mean_w``, a moving average tracked in training.

Layer indexing of ws follows the paper's implementation: the 4×4 block uses ws[0] (conv) and
ws[1] (toRGB); every later block at index ``i`` uses ws[2i-1], ws[2i] for its two convolutions
and ws[2i+1] for toRGB, so ``num_ws = 2·log2(image_size) - 2`` and the low indices hold the
coarse styles (pose, shape) and the high ones the fine styles (stroke, texture).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.models import GANModel, ImageGrid, conditional_classes

from .layers import (
    EqualConv2d,
    EqualLinear,
    MinibatchStdDev,
    StyledConv,
    ToRGB,
    downsample2x,
    upsample2x,
)


def channels_at(resolution: int, channel_base: int, max_width: int) -> int:
    """Feature maps at ``resolution``: StyleGAN's ``min(channel_base // resolution, max)``."""
    return max(1, min(channel_base // resolution, max_width))


def num_ws_for(image_size: int) -> int:
    """How many per-layer w vectors the synthesis network of ``image_size`` takes."""
    return 2 * int(math.log2(image_size)) - 2


class MappingNetwork(nn.Module):
    """z → w: pixel-normalise z, then ``depth`` equalised fully connected layers (lr × lr_mul)."""

    def __init__(
        self, z_dim: int, w_dim: int, depth: int, lr_mul: float, num_classes: int = 0
    ) -> None:
        super().__init__()
        # conditional (StyleGAN2-ADA): a class embedding, normalised like z, joins z's input,
        # scaled by cond_weight (0 → 1 while the class fades in: StyleGANModel.training_schedule)
        self.embed = nn.Embedding(num_classes, w_dim) if num_classes else None
        if num_classes:
            self.register_buffer("cond_weight", torch.ones(()))
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * depth
        self.layers = nn.Sequential(
            *[
                EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation=True)
                for i in range(depth)
            ]
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: give it class labels")
            y = self.embed(labels)
            y = y * torch.rsqrt(y.square().mean(dim=1, keepdim=True) + 1e-8)
            z = torch.cat([z, y * self.cond_weight.to(y.dtype)], 1)
        return self.layers(z)


class SynthesisNetwork(nn.Module):
    """Per-layer ws (N×num_ws×w_dim) → image, from a learned 4×4 constant."""

    def __init__(
        self, image_size: int, channels: int, w_dim: int, channel_base: int, max_width: int
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.num_ws = num_ws_for(image_size)
        c4 = channels_at(4, channel_base, max_width)
        self.const = nn.Parameter(torch.randn(1, c4, 4, 4))
        self.conv4 = StyledConv(c4, c4, w_dim, 4, upsample=False)
        self.rgb4 = ToRGB(c4, channels, w_dim)
        self.convs0 = nn.ModuleList()
        self.convs1 = nn.ModuleList()
        self.rgbs = nn.ModuleList()
        c_in = c4
        for log_res in range(3, int(math.log2(image_size)) + 1):
            res = 2**log_res
            c_out = channels_at(res, channel_base, max_width)
            self.convs0.append(StyledConv(c_in, c_out, w_dim, res, upsample=True))
            self.convs1.append(StyledConv(c_out, c_out, w_dim, res, upsample=False))
            self.rgbs.append(ToRGB(c_out, channels, w_dim))
            c_in = c_out

    def forward(self, ws: Tensor, noise_mode: str | None = None) -> Tensor:
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(
                f"synthesis expects ws of shape N×{self.num_ws}×w_dim, got {tuple(ws.shape)}"
            )
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.conv4(x, ws[:, 0], noise_mode)
        img = self.rgb4(x, ws[:, 1])
        for i, (conv0, conv1, rgb) in enumerate(
            zip(self.convs0, self.convs1, self.rgbs, strict=True)
        ):
            x = conv0(x, ws[:, 2 * i + 1], noise_mode)
            x = conv1(x, ws[:, 2 * i + 2], noise_mode)
            img = upsample2x(img) + rgb(x, ws[:, 2 * i + 3])
        return img


class StyleGenerator(nn.Module):
    """The StyleGAN2 generator: mapping network, tracked mean w, synthesis network.

    ``forward(z, truncation=1.0, return_w=False)`` returns images (and, with ``return_w``, the
    per-layer ws that made them): unbounded in training (StyleGAN2 has no tanh), clamped to
    [-1, 1] in evaluation mode. In training mode it updates ``mean_w`` and, with probability
    ``mixing_prob`` per sample, switches to the w of a second random z from a random layer on
    (style mixing regularisation), so that neighbouring layers cannot rely on sharing one style.
    """

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 1,
        latent_dim: int = 128,
        w_dim: int = 128,
        mapping_layers: int = 4,
        mapping_lr_mul: float = 0.01,
        channel_base: int = 512,
        max_width: int = 64,
        mixing_prob: float = 0.9,
        mean_w_beta: float = 0.995,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.w_dim = w_dim
        self.image_shape = (channels, image_size, image_size)
        self.mixing_prob = mixing_prob
        self.mean_w_beta = mean_w_beta
        self.mapping_net = MappingNetwork(
            latent_dim, w_dim, mapping_layers, mapping_lr_mul, num_classes
        )
        self.synthesis_net = SynthesisNetwork(image_size, channels, w_dim, channel_base, max_width)
        self.num_ws = self.synthesis_net.num_ws
        self.register_buffer("mean_w", torch.zeros(w_dim))
        #: running mean of path lengths, used by the optional path length penalty
        self.register_buffer("path_length_mean", torch.zeros(()))

    def mapping(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z (N×latent_dim), and a conditional model's class labels (N), → w (N×w_dim)."""
        return self.mapping_net(z, labels)

    def broadcast(self, w: Tensor) -> Tensor:
        """One w per sample (N×w_dim) → one per layer (N×num_ws×w_dim)."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def truncate(self, w: Tensor, truncation: float) -> Tensor:
        """The truncation trick: w' = mean_w + ψ (w − mean_w); works on N×w_dim or N×L×w_dim."""
        if truncation == 1.0:
            return w
        return self.mean_w + truncation * (w - self.mean_w)

    def synthesis(self, ws: Tensor, noise_mode: str | None = None) -> Tensor:
        """Per-layer ws (N×num_ws×w_dim) → images N×C×H×W (roughly in [-1, 1], not clamped)."""
        return self.synthesis_net(ws, noise_mode)

    def forward(
        self,
        z: Tensor,
        labels: Tensor | None = None,
        truncation: float = 1.0,
        return_w: bool = False,
        noise_mode: str | None = None,
    ) -> Any:
        w = self.mapping(z, labels)
        if self.training:
            with torch.no_grad():
                self.mean_w.lerp_(w.detach().mean(0).to(self.mean_w.dtype), 1 - self.mean_w_beta)
        ws = self.broadcast(self.truncate(w, truncation))
        if self.training and self.mixing_prob > 0 and self.num_ws > 1:
            ws = self._mix(z, ws, truncation, labels)
        images = self.synthesis(ws, noise_mode)
        if not self.training:  # linear output as in StyleGAN2; the library's range when sampling
            images = images.clamp(-1, 1)
        return (images, ws) if return_w else images

    def _mix(
        self, z: Tensor, ws: Tensor, truncation: float, labels: Tensor | None = None
    ) -> Tensor:
        n = z.shape[0]  # the second style is of the same class
        w2 = self.broadcast(self.truncate(self.mapping(torch.randn_like(z), labels), truncation))
        cutoff = torch.randint(1, self.num_ws, (n,), device=z.device)
        mixed = torch.rand(n, device=z.device) < self.mixing_prob
        cutoff = torch.where(mixed, cutoff, torch.full_like(cutoff, self.num_ws))
        take_second = torch.arange(self.num_ws, device=z.device).unsqueeze(0) >= cutoff.unsqueeze(1)
        return torch.where(take_second.unsqueeze(2), w2, ws)


class ResBlock(nn.Module):
    """D's residual block: two 3×3 convolutions and a 2× downsampling, plus a 1×1 skip,
    summed with 1/sqrt(2) so that the variance stays put."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(downsample2x(x))
        x = self.conv1(downsample2x(self.conv0(x)))
        return (x + skip) * (1 / math.sqrt(2))


class ResidualDiscriminator(nn.Module):
    """fromRGB, residual blocks down to 4×4, minibatch std-dev, conv, two dense layers → logit."""

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 1,
        channel_base: int = 512,
        max_width: int = 64,
        mbstd_group: int = 4,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        c = channels_at(image_size, channel_base, max_width)
        final = channels_at(4, channel_base, max_width)
        # projection discriminator (Miyato & Koyama 2018): a class embedding dotted with the
        # last hidden features, scaled by 1/sqrt(width) as StyleGAN2-ADA's cmap projection is
        self.embed = nn.Embedding(num_classes, final) if num_classes else None
        if num_classes:  # the projection's weight, faded in with G's (see MappingNetwork)
            self.register_buffer("cond_weight", torch.ones(()))
        self.from_rgb = EqualConv2d(channels, c, 1, activation=True)
        blocks = []
        res = image_size
        while res > 4:
            c_out = channels_at(res // 2, channel_base, max_width)
            blocks.append(ResBlock(c, c_out))
            c, res = c_out, res // 2
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv = EqualConv2d(c + 1, c, 3, activation=True)
        self.fc = EqualLinear(c * 16, c, activation=True)
        self.out = EqualLinear(c, 1)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.blocks(self.from_rgb(images))
        x = self.conv(self.mbstd(x))
        h = self.fc(x.flatten(1))
        logit = self.out(h).flatten()
        if self.embed is None:
            return logit
        if labels is None:
            raise ValueError("this discriminator is conditional: call it as D(images, labels)")
        projection = (self.embed(labels) * h).sum(1) / math.sqrt(h.shape[1])
        return logit + self.cond_weight.to(projection.dtype) * projection


class StyleGANModel(GANModel):
    """A StyleGAN2 pair; adds the optional path length penalty for the trainer's G phase."""

    def __init__(
        self,
        generator: StyleGenerator,
        discriminator: ResidualDiscriminator,
        path_length_weight: float = 0.0,
        path_length_decay: float = 0.01,
        num_classes: int = 0,
        cond_start_images: int = 0,
        cond_fade_images: int = 0,
    ) -> None:
        super().__init__(generator, discriminator, num_classes=num_classes)
        self.path_length_weight = path_length_weight
        self.path_length_decay = path_length_decay
        self.cond_start_images = cond_start_images
        self.cond_fade_images = cond_fade_images

    #: the class fade-in only fills the cond_weight buffers; every parameter trains every step
    schedule_in_place = True

    def training_schedule(self, step: int, context: Any) -> Any:
        """A conditional model's class fade-in (:mod:`ganzoo_stylegan_lite.conditioning`): λ for
        ``step``, logged as ``cond_weight``; None (no schedule) for an unconditional model or
        one conditional from the first step."""
        if not self.num_classes or (self.cond_start_images <= 0 and self.cond_fade_images <= 0):
            return None
        from ganzoo.training.schedule import TrainingPhase

        from .conditioning import class_weight, phase_name, set_class_weight

        weight = class_weight(
            step, context.batch_size, self.cond_start_images, self.cond_fade_images
        )
        set_class_weight(self, weight)
        return TrainingPhase(phase_name(weight), metrics={"cond_weight": weight})

    def views(self) -> dict[str, Callable[..., ImageGrid]]:
        """Model-specific pictures for ``ganzoo sample --view NAME``: ``mix`` (also ``--mix``),
        a style-mixing grid, and ``walk``, rows of straight walks in W space. A conditional
        model's views take ``labels`` (``--class``): one class for every source, else the
        classes in turn."""
        from . import sampling

        return {
            "mix": functools.partial(sampling.mix_view, self),
            "walk": functools.partial(sampling.walk_view, self),
        }

    def generator_penalty(self, z: Tensor, labels: Tensor | None = None) -> Tensor | None:
        """Path length regularisation (paper §3.2), or None when its weight is 0.

        For a random image-space direction y ~ N(0, I)/sqrt(H·W), the length of
        J_wᵀ y should stay near its running mean a: the penalty is
        ``weight · mean((|J_wᵀ y| − a)²)``, on half the batch as in the paper. The trainer adds
        it every ``g_reg_every`` steps and is expected to scale it by that interval (lazy
        regularisation).
        """
        if self.path_length_weight <= 0:
            return None
        g: StyleGenerator = self.generator  # type: ignore[assignment]
        z = z[: max(1, z.shape[0] // 2)]
        labels = labels[: z.shape[0]] if labels is not None else None
        w = g.mapping(z, labels)
        ws = g.broadcast(w)
        if g.mixing_prob > 0 and g.training:
            ws = g._mix(z, ws, 1.0, labels)
        images = g.synthesis(ws)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        with torch.no_grad():
            g.path_length_mean.lerp_(lengths.mean().detach(), self.path_length_decay)
        return (lengths - g.path_length_mean).square().mean() * self.path_length_weight


def build(config: Any) -> StyleGANModel:
    """Build a StyleGAN-lite from a :class:`ganzoo_stylegan_lite.StyleGANLiteConfig`."""
    k = conditional_classes(config)
    g = StyleGenerator(
        image_size=config.image_size,
        channels=config.channels,
        latent_dim=config.latent_dim,
        w_dim=config.w_dim,
        mapping_layers=config.mapping_layers,
        mapping_lr_mul=config.mapping_lr_mul,
        channel_base=config.g_channel_base,
        max_width=config.max_width,
        mixing_prob=config.mixing_prob,
        num_classes=k,
    )
    d = ResidualDiscriminator(
        image_size=config.image_size,
        channels=config.channels,
        channel_base=config.d_channel_base,
        max_width=config.max_width,
        mbstd_group=config.mbstd_group,
        num_classes=k,
    )
    return StyleGANModel(
        g,
        d,
        path_length_weight=config.path_length_weight,
        num_classes=k,
        cond_start_images=config.cond_start_images,
        cond_fade_images=config.cond_fade_images,
    )
