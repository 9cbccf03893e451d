"""The networks of the lesson's first GAN (Goodfellow et al. 2014, with the usual modern layers).

G: z (100) → 256 → 512 → 1024 → 784, each hidden layer Linear, BatchNorm, LeakyReLU(0.2), the
output Tanh so that images lie in [-1, 1]. D: 784 → 512 → 256 → 1 with LeakyReLU(0.2). D returns
raw logits: the loss applies the sigmoid (binary cross-entropy with logits), which is the lesson's
``sigmoid`` output layer plus ``binary_crossentropy`` computed stably.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganzoo.models import GANModel


class MLPGenerator(nn.Module):
    """Latent vectors ``(N, latent_dim)`` to images ``(N, C, H, W)`` in [-1, 1].

    ``latent_dim`` and ``image_shape`` are the attributes of the :class:`ganzoo.Generator`
    protocol: the trainer and the samplers read them.
    """

    def __init__(
        self, latent_dim: int, hidden: list[int], image_shape: tuple[int, int, int], slope: float
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(slope)]
            width = h
        layers += [nn.Linear(width, math.prod(image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Images ``(N, C, H, W)`` to one logit per image, shape ``(N,)``: larger is "more real"."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: list[int], slope: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(image_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images).flatten()


def build(config) -> GANModel:
    """Build the GAN from a :class:`ganzoo_mlpgan.MLPGANConfig` (called by ganzoo)."""
    shape = (config.channels, config.image_size, config.image_size)
    g = MLPGenerator(config.latent_dim, list(config.g_hidden), shape, config.leaky_slope)
    d = MLPDiscriminator(shape, list(config.d_hidden), config.leaky_slope)
    return GANModel(g, d)
