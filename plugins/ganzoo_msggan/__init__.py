"""MSG-GAN (Karnewar and Wang, arXiv 1903.06048) for ganzoo: multi-scale gradients.

The generator emits an image at every resolution from 4×4 up to the output size and the
discriminator looks at all of them at once, so gradients reach every block of G directly: the
lesson's answer to unstable high-resolution training without progressive growing.

This module only declares; the networks live in :mod:`ganzoo_msggan.networks` and are imported
when a model is built, so ``ganzoo list`` stays fast. The scales grid (``ganzoo sample RUN
--scales``) is :func:`ganzoo_msggan.sampling.scales_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

GANZOO_API = ">=1,<2"

_SIZES = (16, 32, 64, 128, 256, 512, 1024)
#: How D merges the image of a scale with its features (the paper's φ functions).
COMBINE_CHOICES = ("simple", "lin_cat", "cat_lin")


@dataclass
class MSGGANConfig(ganzoo.ModelConfig):
    """Shape of an MSG-GAN. Feature maps at resolution r are ``fmap_base // r`` (ProGAN's rule),
    clamped to ``[fmap_min, fmap_max]``, in G and D alike.

    The defaults (64, 32, 16, 8 maps at 4, 8, 16, 32 px) are sized for digits on a CPU: a step
    costs about as much as DCGAN's default and digits are recognisable after a few minutes. The
    ``paper`` preset has the paper's widths."""

    image_size: int = param(32, "output side in pixels, a power of two", choices=_SIZES)
    channels: int = param(1, "image channels: 1 grayscale, 3 RGB", choices=(1, 3))
    latent_dim: int = param(128, "size of the latent vector z (the paper uses 512)")
    fmap_base: int = param(256, "feature maps at resolution r are fmap_base // r")
    fmap_max: int = param(64, "most feature maps in any block (the coarse ones)")
    fmap_min: int = param(8, "fewest feature maps in any block (the fine ones)")
    combine: str = param(
        "simple",
        "how D merges each scale's image with its features: 'simple' concatenates, "
        "'lin_cat' projects the image by a 1×1 conv then concatenates, 'cat_lin' concatenates "
        "then projects by a 1×1 conv",
        choices=COMBINE_CHOICES,
    )
    mbstd_group: int = param(4, "minibatch standard deviation group size in D (1 turns it off)")
    rgb_init: float = param(
        0.1,
        "scale of G's toRGB weights at initialisation: small values start G from grey images, "
        "which gets colour photographs going several times faster (1.0 is the paper's)",
    )
    conditional: bool = param(False, "class-conditional: G takes (z, class), D projects it")
    num_classes: int = param(0, "classes of a conditional model (training takes the data's)")
    class_names: tuple[str, ...] = param((), "class names (training takes the data's)")
    embed_dim: int = param(32, "size of the class embedding joined to z (conditional only)")

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be positive")
        if min(self.fmap_base, self.fmap_max, self.fmap_min) < 1:
            raise ValueError("fmap_base, fmap_max and fmap_min must be positive")
        if self.fmap_min > self.fmap_max:
            raise ValueError("fmap_min must not exceed fmap_max")
        if self.mbstd_group < 1:
            raise ValueError("mbstd_group must be at least 1")
        if self.rgb_init < 0:
            raise ValueError("rgb_init must not be negative")
        if self.embed_dim < 1:
            raise ValueError("embed_dim must be positive")
        if self.num_classes < 0 or self.num_classes == 1:
            raise ValueError("num_classes must be 0 (taken from the data when training) or >= 2")


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    registrar.add_model(
        ganzoo.ModelSpec(
            name="msggan",
            kind=ganzoo.GAN,
            summary="MSG-GAN: D judges G's image at every resolution at once (Karnewar 2019)",
            paper="https://arxiv.org/abs/1903.06048",
            config=MSGGANConfig,
            build="ganzoo_msggan.networks:build",
            recipe=ganzoo.TrainingRecipe(
                trainer="adversarial",
                # The paper trains with the relativistic average hinge loss.
                loss="rahinge",
                dataset="digits",
                # The paper's optimiser and generator averaging: Adam lr 0.003, betas (0, 0.99),
                # an exponential moving average of G's weights with decay 0.999.
                options={
                    "lr_g": 0.003,
                    "lr_d": 0.003,
                    "betas_g": (0.0, 0.99),
                    "betas_d": (0.0, 0.99),
                    "ema": True,
                    "ema_decay": 0.999,
                    # Copy G into the average for the first 1000 steps: at 0.999 per step an
                    # average that starts from the random initial weights needs thousands of
                    # steps to forget them, longer than a CPU run lasts.
                    "ema_start": 1000,
                },
            ),
            presets={
                # A 128×128 RGB model small enough to train for minutes on a CPU (the photos
                # grid in benchmarks/RESULTS.md): 64 maps at 4-8 px down to 16 at 32-128 px
                # (8 maps collapsed the palette to two colours), and a lazy R1 penalty, which
                # kept D from winning outright on the 1,024 crops of a dozen photographs.
                "photos128": ganzoo.Preset(
                    config={
                        "image_size": 128,
                        "channels": 3,
                        "fmap_base": 512,
                        "fmap_max": 64,
                        "fmap_min": 16,
                    },
                    train={"batch_size": 16, "r1_gamma": 1.0, "r1_every": 4},
                    summary="128×128 RGB photos in minutes on a CPU",
                ),
                # The paper's networks (ProGAN's widths: 512 maps up to 32 px, then halving to
                # 128 at 128 px; a 512-d latent) at 128×128 RGB.
                "paper": ganzoo.Preset(
                    {
                        "image_size": 128,
                        "channels": 3,
                        "latent_dim": 512,
                        "fmap_base": 16384,
                        "fmap_max": 512,
                        "fmap_min": 16,
                        "rgb_init": 1.0,
                    },
                    summary="the paper's networks at 128×128 RGB",
                ),
                # what ganzoo's conformance kit builds: a fraction of a second on a CPU
                "tiny": ganzoo.Preset(
                    {
                        "image_size": 16,
                        "latent_dim": 16,
                        "fmap_base": 128,
                        "fmap_max": 16,
                        "fmap_min": 8,
                    }
                ),
            },
        )
    )
