"""MSG-GAN networks (Karnewar and Wang, arXiv 1903.06048).

G is ProGAN's generator without the growing: a 4×4 block from z, then blocks that double the
resolution (nearest upsampling, two 3×3 convolutions, LeakyReLU 0.2, pixel normalisation), each
followed by a 1×1 toRGB, so ``G(z)`` is the whole pyramid ``[4×4, 8×8, ..., S×S]``. D mirrors it:
the full-size image enters through a 1×1 fromRGB; after every downsampling block the image of the
new resolution is merged with D's features by the combine function φ; the last 4×4 block has
minibatch standard deviation and returns one logit per sample. Every layer has an equalised
learning rate. D's gradients thus reach every block of G directly, at every scale at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.errors import ConfigError
from ganzoo.models import GANModel, ImageGrid, conditional_classes

from .layers import (
    Combine,
    EqualConv2d,
    EqualLinear,
    MinibatchStd,
    PixelNorm,
    image_pyramid,
    resolutions_for,
)


def feature_maps(resolution: int, base: int, fmax: int, fmin: int) -> int:
    """Width of the blocks at ``resolution``: ``base // resolution`` clamped to [fmin, fmax]."""
    return max(fmin, min(fmax, base // resolution))


class MSGGenerator(nn.Module):
    """Latent vectors to an image pyramid: a list of N×C×r×r tensors, coarsest (4×4) first.

    The images are the toRGB layers' linear outputs (as in the paper); they live near ``[-1, 1]``
    because the real images do, and :meth:`ganzoo.models.GANModel.sample` clamps them.
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        latent_dim: int,
        widths: Sequence[int],
        rgb_init: float = 1.0,
        num_classes: int = 0,
        embed_dim: int = 32,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        # conditional: a class embedding, pixel-normalised like z, joined to z's input
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.image_shape = (channels, image_size, image_size)
        self.resolutions = resolutions_for(image_size)
        act = nn.LeakyReLU(0.2)
        self.norm = PixelNorm()
        z_in = latent_dim + (embed_dim if num_classes else 0)
        self.first = EqualLinear(z_in, widths[0] * 16)  # z -> 4×4 (ProGAN's dense start)
        self.first_conv = nn.Sequential(EqualConv2d(widths[0], widths[0], 3), act, PixelNorm())
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualConv2d(c_in, c_out, 3),
                act,
                PixelNorm(),
                EqualConv2d(c_out, c_out, 3),
                act,
                PixelNorm(),
            )
            for c_in, c_out in itertools.pairwise(widths)
        )
        self.to_rgb = nn.ModuleList(EqualConv2d(w, channels, 1, gain=1.0) for w in widths)
        # Smaller stored weights, same run-time scale: G starts from near-grey images but its
        # toRGB layers learn at the equalised rate. With unit weights every pixel of the first
        # images is an independent N(0, 1) per channel (garish colours) and Adam at lr 0.003
        # needs hundreds of steps to undo that; it matters for colour photographs.
        with torch.no_grad():
            for layer in self.to_rgb:
                layer.weight.mul_(rgb_init)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> list[Tensor]:
        x = self.norm(z.flatten(1))
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: call it as G(z, labels)")
            x = torch.cat([x, self.norm(self.embed(labels))], dim=1)
        x = F.leaky_relu(self.first(x), 0.2).view(z.shape[0], -1, 4, 4)
        x = self.first_conv(self.norm(x))
        images = [self.to_rgb[0](x)]
        for block, to_rgb in zip(self.blocks, self.to_rgb[1:], strict=True):
            x = block(x)
            images.append(to_rgb(x))
        return images


class MSGDiscriminator(nn.Module):
    """An image pyramid (a list, coarsest first, as G returns it) to N logits.

    A single full-size tensor is accepted too and turned into its average-pooling pyramid, the
    same one real images get from :meth:`MSGGANModel.prepare_real`.
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        widths: Sequence[int],
        combine: str = "simple",
        mbstd_group: int = 4,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.resolutions = resolutions_for(image_size)
        self.channels = channels
        # projection discriminator (Miyato & Koyama 2018) on the final block: a class embedding
        # dotted with the features before the last linear layer, scaled by 1/sqrt(width)
        self.embed = nn.Embedding(num_classes, widths[0]) if num_classes else None
        act = nn.LeakyReLU(0.2)
        # widths[i] is the width at resolutions[i]; D walks them from the finest down.
        self.from_rgb = nn.Sequential(EqualConv2d(channels, widths[-1], 1), act)
        blocks, combines = [], []
        c_in = widths[-1]
        for i in range(len(widths) - 1, 0, -1):  # resolution i -> i - 1
            blocks.append(
                nn.Sequential(
                    EqualConv2d(c_in, widths[i], 3),
                    act,
                    EqualConv2d(widths[i], widths[i - 1], 3),
                    act,
                    nn.AvgPool2d(2),
                )
            )
            merge = Combine(combine, channels, widths[i - 1])
            combines.append(merge)
            c_in = merge.out_channels
        self.blocks = nn.ModuleList(blocks)
        self.combines = nn.ModuleList(combines)
        self.final = nn.Sequential(
            MinibatchStd(mbstd_group),
            EqualConv2d(c_in + 1, widths[0], 3),
            act,
            EqualConv2d(widths[0], widths[0], 4, padding=0),  # 4×4 -> 1×1
            act,
            nn.Flatten(),
            EqualLinear(widths[0], 1, gain=1.0),
        )

    def pyramid(self, images: Tensor | Sequence[Tensor]) -> list[Tensor]:
        """Check the scales D was given (or build them from one full-size batch)."""
        if isinstance(images, Tensor):
            return image_pyramid(images, self.resolutions)
        images = list(images)
        if len(images) != len(self.resolutions):
            raise ValueError(
                f"the discriminator takes {len(self.resolutions)} scales "
                f"{self.resolutions}, got {len(images)}"
            )
        for r, x in zip(self.resolutions, images, strict=True):
            if tuple(x.shape[1:]) != (self.channels, r, r):
                raise ValueError(
                    f"scale {r}×{r} expects N×{self.channels}×{r}×{r}, got {tuple(x.shape)}"
                )
        return images

    def forward(self, images: Tensor | Sequence[Tensor], labels: Tensor | None = None) -> Tensor:
        scales = self.pyramid(images)
        x = self.from_rgb(scales[-1])
        coarser = reversed(scales[:-1])  # the image at each block's output resolution
        for block, merge, image in zip(self.blocks, self.combines, coarser, strict=True):
            x = merge(image, block(x))
        if self.embed is None:
            return self.final(x).flatten()
        if labels is None:
            raise ValueError("this discriminator is conditional: call it as D(images, labels)")
        h = self.final[:-1](x)  # N×width, the final block's features
        projection = (self.embed(labels) * h).sum(1) / h.shape[1] ** 0.5
        return self.final[-1](h).flatten() + projection


class MSGGANModel(GANModel):
    """A :class:`~ganzoo.models.GANModel` whose discriminator takes image pyramids.

    Real batches become pyramids in :meth:`prepare_real`, the core's documented extension point,
    so the shared trainer needs no knowledge of MSG-GAN; fake pyramids come straight from G.
    """

    @property
    def resolutions(self) -> list[int]:
        """The sides of the images G produces, coarsest first."""
        return list(self.generator.resolutions)

    def prepare_real(self, images: Tensor) -> list[Tensor]:
        """The average-pooling pyramid of a real batch, on the batch's device."""
        return image_pyramid(images, self.resolutions)

    def views(self) -> dict[str, Callable[..., ImageGrid]]:
        """Model-specific image views for ``ganzoo sample --view NAME``: ``scales`` (also
        ``--scales``) lays every resolution G produced side by side, one column per scale (a
        conditional model's rows: the class of ``--class``, else the classes in turn)."""
        return {"scales": self._scales_view}

    def _scales_view(
        self, n: int = 8, seed: int | None = 0, ema: bool | None = None, **kwargs: Any
    ) -> ImageGrid:
        from .sampling import scales_grid

        labels = kwargs.pop("labels", None)  # --class, for a conditional model
        if kwargs:
            raise ConfigError(f"the scales view of msggan takes no {', '.join(sorted(kwargs))}")
        grid = scales_grid(self, n, seed, ema=ema, labels=labels)
        return ImageGrid(grid, nrow=len(self.resolutions))


def build(config) -> MSGGANModel:
    """Build an MSG-GAN from a :class:`ganzoo_msggan.MSGGANConfig`."""
    resolutions = resolutions_for(config.image_size)
    widths = [
        feature_maps(r, config.fmap_base, config.fmap_max, config.fmap_min) for r in resolutions
    ]
    k = conditional_classes(config)
    g = MSGGenerator(
        config.image_size,
        config.channels,
        config.latent_dim,
        widths,
        config.rgb_init,
        num_classes=k,
        embed_dim=getattr(config, "embed_dim", 32),
    )
    d = MSGDiscriminator(
        config.image_size,
        config.channels,
        widths,
        config.combine,
        config.mbstd_group,
        num_classes=k,
    )
    return MSGGANModel(g, d, num_classes=k)
