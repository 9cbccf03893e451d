"""DCGAN networks (Radford et al. 2015, arXiv 1511.06434).

G projects z to a 4×4 map with a transposed convolution, then doubles the resolution with
stride-2 transposed convolutions (BatchNorm, ReLU) and ends in Tanh. D mirrors it with stride-2
convolutions (LeakyReLU 0.2, BatchNorm except on the first layer), no pooling, and a final 4×4
convolution to one logit. Weights start from N(0, 0.02) as in the paper.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from ganzoo.models import GANModel, conditional_classes


def _widths(image_size: int, base: int, cap: int) -> list[int]:
    """Feature maps from the 4×4 block up to the last hidden block (largest first)."""
    n = int(math.log2(image_size // 4))  # number of resolution doublings
    return [min(base * 2 ** (n - 1 - i), cap) for i in range(n)]


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        image_size: int,
        channels: int,
        latent_dim: int,
        width: int,
        cap: int,
        num_classes: int = 0,
        embed_dim: int = 32,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = (channels, image_size, image_size)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        widths = _widths(image_size, width, cap)
        z_in = latent_dim + (embed_dim if num_classes else 0)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_in, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: call it as G(z, labels)")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, cap: int, num_classes: int = 0):
        super().__init__()
        widths = _widths(image_size, width, cap)[::-1]  # smallest first
        # projection: one embedding row per class, dotted with D's pooled last features
        self.embed = nn.Embedding(num_classes, widths[-1]) if num_classes else None
        layers: list[nn.Module] = [
            nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is None:
            return self.net(images).flatten()
        if labels is None:
            raise ValueError("this discriminator is conditional: call it as D(images, labels)")
        h = self.net[:-1](images)
        projection = (self.embed(labels) * h.sum((2, 3))).sum(1)
        return self.net[-1](h).flatten() + projection


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(config) -> GANModel:
    """Build a DCGAN from a :class:`ganzoo_dcgan.DCGANConfig`."""
    k = conditional_classes(config)
    g = DCGANGenerator(
        config.image_size,
        config.channels,
        config.latent_dim,
        config.g_width,
        config.max_width,
        num_classes=k,
        embed_dim=getattr(config, "embed_dim", 32),  # configs from before 1.1 lack it
    )
    d = DCGANDiscriminator(
        config.image_size, config.channels, config.d_width, config.max_width, num_classes=k
    )
    g.apply(init_weights)
    d.apply(init_weights)
    return GANModel(g, d, num_classes=k)
