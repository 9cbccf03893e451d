"""The lesson's first GAN as a ganzoo plugin: fully connected networks on 28×28 digits.

The generator maps a 100-d latent vector through 256 → 512 → 1024 units (BatchNorm, LeakyReLU
0.2) to 784 = 28×28 pixels (Tanh); the discriminator maps 784 pixels through 512 → 256 units
(LeakyReLU 0.2) to one logit. It is a separate distribution, ``ganzoo-mlpgan``, registered through
the ``ganzoo`` entry-point group exactly as any third-party plugin is.

This module only declares the model: it imports no torch, so ``ganzoo list`` stays fast. The
networks live in :mod:`ganzoo_mlpgan.model`, imported when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

#: The ganzoo plugin API versions this plugin works with (a PEP 440 range). A ganzoo whose
#: ganzoo.PLUGIN_API_VERSION falls outside it does not load the plugin and says why.
GANZOO_API = ">=1,<2"


@dataclass
class MLPGANConfig(ganzoo.ModelConfig):
    """Shape of the fully connected GAN; the defaults are the lesson's network."""

    image_size: int = param(28, "side of the square images in pixels (the lesson's MNIST: 28)")
    channels: int = param(1, "image channels: 1 grayscale, 3 RGB", choices=(1, 3))
    latent_dim: int = param(100, "size of the latent vector z")
    g_hidden: tuple[int, ...] = param((256, 512, 1024), "widths of G's hidden layers, in order")
    d_hidden: tuple[int, ...] = param((512, 256), "widths of D's hidden layers, in order")
    leaky_slope: float = param(0.2, "negative slope of every LeakyReLU")

    def validate(self) -> None:
        """Called by ganzoo after every override; a ValueError becomes a one-line ConfigError."""
        if self.image_size < 2 or self.latent_dim < 1:
            raise ValueError("image_size must be at least 2 and latent_dim at least 1")
        if not self.g_hidden or not self.d_hidden:
            raise ValueError("g_hidden and d_hidden need at least one layer each")
        if min(*self.g_hidden, *self.d_hidden) < 1:
            raise ValueError("hidden layer widths must be positive")


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    """Called once when ganzoo first needs its registry."""
    registrar.add_model(
        ganzoo.ModelSpec(
            name="mlpgan",
            kind=ganzoo.GAN,
            summary="The lesson's first GAN: fully connected G and D on 28×28 images",
            paper="https://arxiv.org/abs/1406.2661",
            config=MLPGANConfig,
            build="ganzoo_mlpgan.model:build",  # a string: torch is imported only to build
            # How `ganzoo train mlpgan` trains it: the shared adversarial trainer, the lesson's
            # binary cross-entropy (D's sigmoid lives in the loss), scikit-learn's 8×8 digits
            # resized to image_size, and the lesson's optimiser: Adam, learning rate 2e-4,
            # beta1 0.5, for both networks.
            recipe=ganzoo.TrainingRecipe(
                trainer="adversarial",
                loss="bce",
                dataset="digits",
                options={
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas_g": (0.5, 0.999),
                    "betas_d": (0.5, 0.999),
                    "batch_size": 64,
                },
            ),
            presets={
                # The conformance kit (ganzoo.testing) builds from this preset: seconds on a CPU.
                "tiny": ganzoo.Preset(
                    {"image_size": 8, "latent_dim": 8, "g_hidden": [16, 32], "d_hidden": [16]}
                ),
            },
            license="apache-2.0",
        )
    )
