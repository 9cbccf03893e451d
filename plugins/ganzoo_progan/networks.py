"""ProGAN's networks (Karras et al. 2018, arXiv 1710.10196, table 2) with their growth state.

Every block of the full-size networks is built at once, as the paper's own implementation does:
growing activates blocks rather than creating them, so the ``state_dict`` keys never change and a
checkpoint or a saved model restores any stage. The stage is two saved buffers in G and D,
``level`` (the highest active block, 0 = 4×4) and ``alpha`` (its fade-in weight), mirrored as
Python numbers so the forward pass never reads a device tensor back.

G: z (pixel-normalised) → dense 4×4 → 3×3 conv; then per resolution nearest ×2, two 3×3 convs;
leaky ReLU 0.2 and pixel norm after every layer; a 1×1 toRGB per resolution. During a fade-in the
image is ``lerp(up2(toRGB_{k-1}(h_{k-1})), toRGB_k(h_k), α)``. The image is then enlarged to the
output size by nearest-neighbour upsampling, so G's output always has ``image_shape`` and the
sample grid shows the current resolution, upscaled. D mirrors it: it reads its input at the
current resolution (one pixel per upsampled block); a 1×1 fromRGB, two 3×3 convs and a 2×2
average pool per resolution (the fade-in mixes ``fromRGB_{k-1}(pool(x))`` with the new block's
output), minibatch stddev, a 3×3 and a 4×4 conv and a linear output.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.errors import ConfigError
from ganzoo.models import GANModel
from ganzoo.nn import EqualConv2d, EqualLinear, MinibatchStd, PixelNorm
from ganzoo.nn.equalized import LRELU_GAIN
from ganzoo.training.schedule import ScheduleContext, TrainingPhase

from .growth import Growth, growth_at, levels_for, scaled_phase_images


def feature_maps(resolution: int, base: int, fmax: int, fmin: int) -> int:
    """Width of the blocks at ``resolution``: ``base // resolution`` clamped to [fmin, fmax]."""
    return max(fmin, min(fmax, base // resolution))


class Growing(nn.Module):
    """The growth state a network saves: ``level`` and ``alpha`` buffers, mirrored in Python."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        # a network is built fully grown; the training schedule starts it at 4×4
        self.register_buffer("level", torch.tensor(levels, dtype=torch.long))
        self.register_buffer("alpha", torch.tensor(1.0))
        self.stage = (levels, 1.0)
        self.register_load_state_dict_post_hook(lambda module, keys: module._sync_stage())

    def _sync_stage(self) -> None:
        self.stage = (int(self.level), float(self.alpha))

    def set_stage(self, level: int, alpha: float) -> None:
        """Train or sample at block ``level`` with fade-in weight ``alpha``."""
        if not 0 <= level <= self.levels or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"level must be in 0-{self.levels} and alpha in [0, 1]")
        with torch.no_grad():
            self.level.fill_(level)
            self.alpha.fill_(alpha)
        self.stage = (int(level), float(alpha))


class ProGenerator(Growing):
    """Latent vectors to ``image_size`` images showing the current resolution (upscaled).

    The output is toRGB's linear output (near [-1, 1] because the data is); in eval mode it is
    clamped to [-1, 1], the range every ganzoo generator promises."""

    def __init__(self, image_size: int, channels: int, latent_dim: int, widths: Sequence[int]):
        super().__init__(levels_for(image_size))
        self.latent_dim = latent_dim
        self.image_shape = (channels, image_size, image_size)
        act = nn.LeakyReLU(0.2)
        self.norm = PixelNorm()
        # the paper's dense start: gain sqrt(2)/4 (its 4×4 kernel seen as a 16-fold fan-in)
        self.first = EqualLinear(latent_dim, widths[0] * 16, gain=LRELU_GAIN / 4)
        self.first_conv = nn.Sequential(EqualConv2d(widths[0], widths[0], 3, gain=LRELU_GAIN), act)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualConv2d(c_in, c_out, 3, gain=LRELU_GAIN),
                act,
                PixelNorm(),
                EqualConv2d(c_out, c_out, 3, gain=LRELU_GAIN),
                act,
                PixelNorm(),
            )
            for c_in, c_out in itertools.pairwise(widths)
        )
        self.to_rgb = nn.ModuleList(EqualConv2d(w, channels, 1) for w in widths)

    def forward(self, z: Tensor) -> Tensor:
        level, alpha = self.stage
        x = self.norm(z.flatten(1))
        x = F.leaky_relu(self.first(x), 0.2).view(z.shape[0], -1, 4, 4)
        x = self.norm(self.first_conv(self.norm(x)))
        previous = x
        for block in self.blocks[:level]:
            previous, x = x, block(x)
        image = self.to_rgb[level](x)
        if alpha < 1.0 and level > 0:
            low = F.interpolate(self.to_rgb[level - 1](previous), scale_factor=2, mode="nearest")
            image = torch.lerp(low, image, alpha)
        side = self.image_shape[-1]
        if image.shape[-1] != side:
            image = F.interpolate(image, size=(side, side), mode="nearest")
        return image if self.training else image.clamp(-1, 1)


class ProDiscriminator(Growing):
    """Images to N logits, at the current resolution.

    D takes images at the current resolution ``r`` or at the output size with each ``r×r``
    pixel repeated over a block (what G returns and :meth:`ProGANModel.prepare_real` makes); it
    reads the latter at one pixel per block. The gradient of its logits with respect to the
    input is then that at resolution ``r``: WGAN-GP's penalty holds D to slope 1 at the
    resolution it works at, as in the paper (averaging the blocks would divide the gradient's
    norm by the block's side, and let D's slope grow 8-fold at 4×4 of 32×32)."""

    def __init__(self, image_size: int, channels: int, widths: Sequence[int], mbstd_group: int):
        super().__init__(levels_for(image_size))
        self.image_size = image_size
        act = nn.LeakyReLU(0.2)
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualConv2d(channels, w, 1, gain=LRELU_GAIN), act) for w in widths
        )
        # blocks[k - 1] takes level k's resolution down to level k - 1's
        self.blocks = nn.ModuleList(
            nn.Sequential(
                EqualConv2d(c_hi, c_hi, 3, gain=LRELU_GAIN),
                act,
                EqualConv2d(c_hi, c_lo, 3, gain=LRELU_GAIN),
                act,
                nn.AvgPool2d(2),
            )
            for c_lo, c_hi in itertools.pairwise(widths)
        )
        self.final = nn.Sequential(
            MinibatchStd(mbstd_group),
            EqualConv2d(widths[0] + 1, widths[0], 3, gain=LRELU_GAIN),
            act,
            EqualConv2d(widths[0], widths[0], 4, padding=0, gain=LRELU_GAIN),  # 4×4 -> 1×1
            act,
            nn.Flatten(),
            EqualLinear(widths[0], 1),
        )

    def forward(self, images: Tensor) -> Tensor:
        level, alpha = self.stage
        side = 4 * 2**level
        if images.shape[-1] != side:
            k = images.shape[-1] // side
            images = images[..., ::k, ::k]
        x = self.from_rgb[level](images)
        if level > 0:
            x = self.blocks[level - 1](x)
            if alpha < 1.0:
                skip = self.from_rgb[level - 1](F.avg_pool2d(images, 2))
                x = torch.lerp(skip, x, alpha)
            for block in reversed(self.blocks[: level - 1]):
                x = block(x)
        return self.final(x).flatten()


class ProGANModel(GANModel):
    """A progressively grown GAN: the growth is its :meth:`training_schedule`."""

    @property
    def growth(self) -> tuple[int, float]:
        """``(resolution, alpha)`` the model is at (saved with its weights)."""
        level, alpha = self.generator.stage
        return 4 * 2**level, alpha

    def set_growth(self, level: int, alpha: float) -> None:
        """Put G, its EMA copy and D at block ``level`` with fade-in weight ``alpha``."""
        for net in (self.generator, self.generator_ema, self.discriminator):
            if net is not None:
                net.set_stage(level, alpha)

    def growth_at(self, step: int, context: ScheduleContext) -> Growth:
        """The growth state of training step ``step`` under this model's config."""
        cfg = self.config
        too_big = {r: b for r, b in cfg.batch_sizes.items() if b > context.batch_size}
        if too_big:
            r, b = next(iter(too_big.items()))
            raise ConfigError(
                f"batch_sizes asks for {b} images at {r} px but the run's batch_size is "
                f"{context.batch_size}: raise --batch-size to at least {max(too_big.values())} "
                "(the largest per-resolution batch) or lower batch_sizes"
            )
        return growth_at(
            step,
            self.generator.levels,
            scaled_phase_images(cfg.phase_images, context.dataset_size),
            cfg.batch_sizes,
            context.batch_size,
        )

    def training_schedule(self, step: int, context: ScheduleContext) -> TrainingPhase:
        g = self.growth_at(step, context)
        self.set_growth(g.level, g.alpha)
        return TrainingPhase(
            g.name, g.batch_size, {"resolution": float(g.resolution), "alpha": g.alpha}
        )

    def prepare_real(self, images: Tensor) -> Tensor:
        """Real images at the current resolution, smoothed the way G's are during a fade-in
        (``lerp(up2(pool2(x)), x, α)``, the paper's own implementation), at the output size."""
        level, alpha = self.generator.stage
        side = images.shape[-1]
        res = 4 * 2**level
        x = F.adaptive_avg_pool2d(images, res) if res != side else images
        if alpha < 1.0 and level > 0:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2), x, alpha)
        return F.interpolate(x, size=(side, side), mode="nearest") if res != side else x

    def card_sections(self) -> dict[str, str]:
        res, alpha = self.growth
        full = self.image_shape[-1]
        if res == full and alpha == 1.0:
            text = f"Fully grown: the networks work at {full}×{full}."
        else:
            fade = f", fading in with α = {alpha:.3f}" if alpha < 1.0 else ""
            text = (
                f"Saved mid-growth at {res}×{res}{fade}: samples are {res}×{res} images enlarged "
                f"to {full}×{full}. Training resumes from this stage."
            )
        return {"Growth": text}


def build(config: Any) -> ProGANModel:
    """Build a ProGAN from a :class:`ganzoo_progan.ProGANConfig`, fully grown."""
    levels = levels_for(config.image_size)
    widths = [
        feature_maps(4 * 2**k, config.fmap_base, config.fmap_max, config.fmap_min)
        for k in range(levels + 1)
    ]
    g = ProGenerator(config.image_size, config.channels, config.latent_dim, widths)
    d = ProDiscriminator(config.image_size, config.channels, widths, config.mbstd_group)
    return ProGANModel(g, d)
