"""Progressive growing of GANs (Karras et al. 2018, arXiv 1710.10196) for ganzoo.

G and D start at 4×4; each higher resolution's block is faded in, its output mixed with the
upsampled output of the resolution below with a weight α rising linearly from 0 to 1 over
``phase_images`` images, then trained alone (stabilised) for as many more. Pixel-wise feature
normalisation in G, minibatch standard deviation in D, an equalised learning rate everywhere and
WGAN-GP with the paper's drift term, as in the paper.

The growth is the model's :meth:`~ganzoo.models.GANModel.training_schedule`, so ganzoo's own
trainer trains it; its state (resolution and α) is saved with the weights, so a model saved
mid-growth samples, evaluates and exports at the resolution it had (its images upscaled to the
output size). This module only declares; the networks are in :mod:`ganzoo_progan.networks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

GANZOO_API = ">=1,<2"

_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass
class ProGANConfig(ganzoo.ModelConfig):
    """Shape and growth schedule of a progressively grown GAN. Feature maps at resolution r are
    ``fmap_base // r`` clamped to ``[fmap_min, fmap_max]`` (the paper's rule), in G and D alike.

    The defaults (64, 32, 16, 8 maps at 4, 8, 16, 32 px, as MSG-GAN's) are sized for digits on a
    CPU; the ``paper`` preset has the paper's widths."""

    image_size: int = param(32, "output side in pixels (grown to from 4×4)", choices=_SIZES)
    channels: int = param(1, "image channels: 1 grayscale, 3 RGB", choices=(1, 3))
    latent_dim: int = param(128, "size of the latent vector z (the paper uses 512)")
    fmap_base: int = param(256, "feature maps at resolution r are fmap_base // r")
    fmap_max: int = param(64, "most feature maps in any block (the coarse ones)")
    fmap_min: int = param(8, "fewest feature maps in any block (the fine ones)")
    mbstd_group: int = param(4, "minibatch standard deviation group size in D (1 turns it off)")
    phase_images: int = param(
        0,
        "real images shown in each fade-in and each stabilisation phase; 0 scales the paper's "
        "800k images (on 30k CelebA-HQ faces) to the dataset: 26.7 epochs a phase",
    )
    batch_sizes: dict[str, int] = param(  # noqa: RUF009 (param copies it per instance)
        {},
        "batch size per resolution, e.g. {'64': 32, '128': 16} (each at most the run's "
        "batch_size; a resolution not named uses batch_size), as the paper shrinks its "
        "minibatch at high resolutions",
    )

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be positive")
        if min(self.fmap_base, self.fmap_max, self.fmap_min) < 1:
            raise ValueError("fmap_base, fmap_max and fmap_min must be positive")
        if self.fmap_min > self.fmap_max:
            raise ValueError("fmap_min must not exceed fmap_max")
        if self.mbstd_group < 1:
            raise ValueError("mbstd_group must be at least 1")
        if self.phase_images < 0:
            raise ValueError("phase_images must not be negative (0 = the paper's, scaled)")
        sides = {str(4 * 2**k) for k in range(self.image_size.bit_length() - 2)}
        for key, value in self.batch_sizes.items():
            if str(key) not in sides:
                raise ValueError(
                    f"batch_sizes names resolution {key!r}; this model's are "
                    f"{', '.join(sorted(sides, key=int))}"
                )
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"batch_sizes[{key!r}] must be a positive integer")


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    registrar.add_model(
        ganzoo.ModelSpec(
            name="progan",
            kind=ganzoo.GAN,
            summary="Progressive growing: G and D grow from 4×4, each block faded in (Karras 2018)",
            paper="https://arxiv.org/abs/1710.10196",
            config=ProGANConfig,
            build="ganzoo_progan.networks:build",
            recipe=ganzoo.TrainingRecipe(
                trainer="adversarial",
                # The paper: WGAN-GP (λ = 10) with the drift term 0.001·D(real)², one D step.
                loss="wgan-gp-drift",
                dataset="digits",
                # The paper's Adam (lr 0.001, betas 0 and 0.99), G averaging (decay 0.999) and
                # minibatch of 16 up to 128 px (on digits in 180 s of CPU: FD 187 at batch 16
                # against 1101 at 64, the trainer's default; benchmarks/RESULTS.md).
                options={
                    "batch_size": 16,
                    "lr_g": 0.001,
                    "lr_d": 0.001,
                    "betas_g": (0.0, 0.99),
                    "betas_d": (0.0, 0.99),
                    "ema": True,
                    "ema_decay": 0.999,
                    # as MSG-GAN's: a CPU run is too short for an average that starts from the
                    # random initial weights; copy G for the first 1000 steps
                    "ema_start": 1000,
                },
            ),
            presets={
                # 128×128 RGB on a CPU with MSG-GAN's photos128 widths (benchmarks/RESULTS.md):
                # phases of 640 images (40 steps of 16, 0.6 epochs of the 1,024 crops), so
                # that a 10-minute CPU run reaches 128 px (a step there takes about 3.5 s on one
                # core, 30 times one at 4 px); the paper's, scaled to the crops, would be 27k
                "photos128": ganzoo.Preset(
                    config={
                        "image_size": 128,
                        "channels": 3,
                        "fmap_base": 512,
                        "fmap_max": 64,
                        "fmap_min": 16,
                        "phase_images": 640,
                    },
                    # MSG-GAN's loss, rate and lazy R1: with the paper's WGAN-GP at lr 0.001 a
                    # 10-minute CPU run collapsed to one flat image from 64 px on, with these it
                    # did not (benchmarks/RESULTS.md, "ProGAN: 128×128 photographs")
                    train={
                        "loss": "rahinge",
                        "lr_g": 0.003,
                        "lr_d": 0.003,
                        "r1_gamma": 1.0,
                        "r1_every": 4,
                    },
                    summary="128×128 RGB photos in minutes on a CPU",
                ),
                # The paper's networks at 128×128: 512 maps up to 32 px and a 512-d latent (the
                # recipe already has its minibatch of 16).
                "paper": ganzoo.Preset(
                    config={
                        "image_size": 128,
                        "channels": 3,
                        "latent_dim": 512,
                        "fmap_base": 8192,
                        "fmap_max": 512,
                        "fmap_min": 16,
                    },
                    summary="the paper's networks at 128×128 RGB",
                ),
                # what ganzoo's conformance kit builds: a fraction of a second on a CPU; a phase
                # lasts two steps of 8 images, so three kit steps see a fade-in
                "tiny": ganzoo.Preset(
                    config={
                        "image_size": 16,
                        "latent_dim": 16,
                        "fmap_base": 128,
                        "fmap_max": 16,
                        "fmap_min": 8,
                        "phase_images": 16,
                    },
                    train={"batch_size": 8},
                ),
            },
        )
    )


@ganzoo.hookimpl
def ganzoo_register_losses(registrar: ganzoo.Registrar) -> None:
    registrar.add_loss(
        "wgan-gp-drift",
        "ganzoo_progan.losses:WGAN_GP_DRIFT",
        "WGAN-GP plus ProGAN's drift penalty 0.001·D(real)² (keeps D's outputs near 0)",
    )
