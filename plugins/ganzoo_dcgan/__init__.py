"""DCGAN (Radford, Metz and Chintala, 2015) for ganzoo.

Registered through the ``ganzoo`` entry-point group exactly as a third-party plugin would be.
This module only declares; the networks live in :mod:`ganzoo_dcgan.model` and are imported when
a model is built, so ``ganzoo list`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

GANZOO_API = ">=1,<2"

_SIZES = (16, 32, 64, 128)


@dataclass
class DCGANConfig(ganzoo.ModelConfig):
    """Shape of a DCGAN. Widths double at every halving of resolution, up to ``max_width``."""

    image_size: int = param(32, "output side in pixels, a power of two", choices=_SIZES)
    channels: int = param(1, "image channels: 1 grayscale, 3 RGB", choices=(1, 3))
    latent_dim: int = param(100, "size of the latent vector z")
    # 32 keeps `ganzoo train dcgan` to a few minutes on two CPU cores; the paper uses 128.
    g_width: int = param(32, "feature maps of G's last hidden block (the paper's 128 at 64 px)")
    d_width: int = param(32, "feature maps of D's first block")
    max_width: int = param(512, "cap on feature maps in the deepest blocks")

    def validate(self) -> None:
        if self.latent_dim < 1 or self.g_width < 1 or self.d_width < 1 or self.max_width < 1:
            raise ValueError("latent_dim and widths must be positive")


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    registrar.add_model(
        ganzoo.ModelSpec(
            name="dcgan",
            kind=ganzoo.GAN,
            summary="Deep convolutional GAN: transposed convolutions, BatchNorm (Radford 2015)",
            paper="https://arxiv.org/abs/1511.06434",
            config=DCGANConfig,
            build="ganzoo_dcgan.model:build",
            recipe=ganzoo.TrainingRecipe(
                trainer="adversarial",
                loss="bce",
                dataset="digits",
                # The paper's optimiser: Adam, lr 2e-4, beta1 0.5.
                options={
                    # 3,000 steps of 64 images: clear digits in about 3.5 minutes on 2 quiet
                    # cores (1,500 steps took 100 s and gave recognisable but blurry ones).
                    "steps": 3000,
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas_g": (0.5, 0.999),
                    "betas_d": (0.5, 0.999),
                },
            ),
            presets={
                "paper": ganzoo.Preset(
                    {"image_size": 64, "channels": 3, "g_width": 128, "d_width": 128},
                    summary="Radford et al.: 64×64 RGB, 128 feature maps in G's last block",
                ),
                "lesson": ganzoo.Preset(
                    config={"latent_dim": 100},
                    train={
                        "lr_g": 2e-4,
                        "lr_d": 2e-4,
                        "loss": "bce",
                        "betas_g": (0.5, 0.999),
                        "betas_d": (0.5, 0.999),
                    },
                    summary="the lesson's recipe: latent 100, Adam 2e-4 (0.5, 0.999), BCE",
                ),
                # what ganzoo's conformance kit builds: a fraction of a second on a CPU
                "tiny": ganzoo.Preset(
                    {"image_size": 16, "latent_dim": 16, "g_width": 8, "d_width": 8}
                ),
            },
        )
    )
