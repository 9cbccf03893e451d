"""StyleGAN-lite: a small StyleGAN2 (Karras et al. 2020, arXiv 1912.04958) for ganzoo.

A mapping network turns z into w; a synthesis network grows a learned 4×4 constant through
modulated, demodulated convolutions with per-pixel noise, summing toRGB outputs across
resolutions; a residual discriminator with a minibatch standard deviation layer judges. The
defaults ("lite") train at 32×32 on two CPU cores in minutes; the ``paper`` preset is the
256×256 configuration for a GPU.

Registered through the ``ganzoo`` entry-point group like any third-party plugin. This module only
declares: the networks (:mod:`ganzoo_stylegan_lite.networks`) and the mixing-grid and W-space
helpers (:mod:`ganzoo_stylegan_lite.sampling`) import torch when first used.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

GANZOO_API = ">=1,<2"

_SIZES = (16, 32, 64, 128, 256)


@dataclass
class StyleGANLiteConfig(ganzoo.ModelConfig):
    """Shape of a StyleGAN-lite. Feature maps at resolution r are min(channel_base // r, max).

    The "lite" defaults (16 maps at 32², 32 at 16², 64 at 8² and 4²) cost about five times as much
    per image as DCGAN's on a CPU (about 210 against 1,000 images/s on 2 cores), and still reach a
    lower FD than DCGAN in the same wall time with the training defaults below (see
    ``benchmarks/RESULTS.md``); on digits, narrow networks and many small steps beat wide ones.
    """

    image_size: int = param(32, "output side in pixels, a power of two", choices=_SIZES)
    channels: int = param(1, "image channels: 1 grayscale, 3 RGB", choices=(1, 3))
    latent_dim: int = param(128, "size of z (the paper's 512)")
    w_dim: int = param(128, "size of w, the intermediate latent (the paper's 512)")
    mapping_layers: int = param(4, "fully connected layers of the mapping network (paper: 8)")
    mapping_lr_mul: float = param(0.01, "learning-rate multiplier of the mapping network")
    g_channel_base: int = param(512, "G feature maps at resolution r: channel_base // r")
    d_channel_base: int = param(512, "D feature maps at resolution r: channel_base // r")
    max_width: int = param(64, "cap on feature maps at low resolutions (paper: 512)")
    mixing_prob: float = param(0.9, "probability of style mixing regularisation per sample")
    path_length_weight: float = param(0.0, "path length penalty weight; 0 turns it off (paper: 2)")
    mbstd_group: int = param(4, "group size of D's minibatch standard deviation layer")
    conditional: bool = param(False, "class-conditional: class embedding into the mapping")
    num_classes: int = param(0, "classes of a conditional model (training takes the data's)")
    class_names: tuple[str, ...] = param((), "class names (training takes the data's)")
    # transitional conditioning (conditioning.py): unconditional first, then the class fades in;
    # from the first step, the class-conditional model collapsed within each class on digits
    cond_start_images: int = param(
        4000, "conditional: images trained unconditionally before the class fades in"
    )
    cond_fade_images: int = param(
        12000, "conditional: images over which the class input rises from 0 to full weight"
    )

    def validate(self) -> None:
        if min(self.latent_dim, self.w_dim, self.g_channel_base, self.d_channel_base) < 1:
            raise ValueError("latent_dim, w_dim and channel bases must be positive")
        if self.max_width < 1 or self.mapping_layers < 1 or self.mbstd_group < 1:
            raise ValueError("max_width, mapping_layers and mbstd_group must be at least 1")
        if not 0.0 <= self.mixing_prob <= 1.0:
            raise ValueError(f"mixing_prob must be in [0, 1], got {self.mixing_prob}")
        if self.mapping_lr_mul <= 0 or self.path_length_weight < 0:
            raise ValueError("mapping_lr_mul must be positive and path_length_weight >= 0")
        if self.cond_start_images < 0 or self.cond_fade_images < 0:
            raise ValueError("cond_start_images and cond_fade_images must be >= 0")
        if self.num_classes < 0 or self.num_classes == 1:
            raise ValueError("num_classes must be 0 (taken from the data when training) or >= 2")


#: The recipe's trainer options: StyleGAN-lite's training defaults on digits.
TRAINING = {
    "batch_size": 16,  # many small steps: the best digits per CPU-minute
    # 3× StyleGAN2's 0.002, with a strong R1; measured on digits, 2,300 steps
    # (benchmarks/sweep.py, RESULTS.md): FD 12-17 at lr 0.006 and γ 1 (3 seeds),
    # 18-20 at 0.004 and γ 1 (2 seeds), 28-30 at 0.004 and γ 0.2 (3 seeds); the
    # old 0.002 and γ 0.05 gave 126 on seed 0 and collapsed to two digits on seed 1.
    "lr_g": 0.006,
    "lr_d": 0.006,
    "betas_g": (0.0, 0.99),  # StyleGAN2's Adam betas: no momentum
    "betas_d": (0.0, 0.99),
    # R1 weight, far above ADA's heuristic 0.0002·res²/batch (0.013 here): on a small,
    # smooth dataset (1,797 upscaled 8×8 digits) a weakly regularised D overpowers G
    # early and the samples lose classes (or collapse for good).
    "r1_gamma": 1.0,
    "r1_every": 16,  # lazy R1: every 16 D steps, scaled up by 16
    "g_reg_every": 4,  # path length penalty every 4 G steps (if its weight > 0)
    "ema": True,  # sample from a moving average of G
    "ema_decay": 0.99,  # half-life ~70 steps; 0.995 was no better at 2,300 steps
}

PRESETS = {
    # The paper's config F at 256×256 RGB: 512-d z and w, 8 mapping layers, path
    # length weight 2, R1 gamma 10 (FFHQ-256 in ADA), EMA half-life ~10k images.
    "paper": ganzoo.Preset(
        config={
            "image_size": 256,
            "channels": 3,
            "latent_dim": 512,
            "w_dim": 512,
            "mapping_layers": 8,
            "g_channel_base": 32768,
            "d_channel_base": 32768,
            "max_width": 512,
            "path_length_weight": 2.0,
        },
        train={"lr_g": 0.002, "lr_d": 0.002, "r1_gamma": 10.0, "ema_decay": 0.999},
        summary="StyleGAN2 config F at 256×256 RGB (a GPU's work)",
    ),
    "gpu64": ganzoo.Preset(
        config={
            "image_size": 64,
            "channels": 3,
            "latent_dim": 256,
            "w_dim": 256,
            "g_channel_base": 16384,
            "d_channel_base": 16384,
            "max_width": 256,
            "path_length_weight": 2.0,
        },
        # the CPU default's lr 0.006 is tuned for digits only
        train={"lr_g": 0.002, "lr_d": 0.002, "r1_gamma": 0.5, "ema_decay": 0.998},
        summary="64×64 RGB faces or photos on a GPU in an hour",
    ),
    # what ganzoo's conformance kit builds: a fraction of a second on a CPU
    "tiny": ganzoo.Preset(
        {
            "image_size": 16,
            "latent_dim": 16,
            "w_dim": 16,
            "mapping_layers": 2,
            "g_channel_base": 128,
            "d_channel_base": 128,
            "max_width": 16,
        }
    ),
}


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    registrar.add_model(
        ganzoo.ModelSpec(
            name="stylegan_lite",
            kind=ganzoo.GAN,
            summary="Small StyleGAN2: mapping net, modulated convs, style mixing (Karras 2020)",
            paper="https://arxiv.org/abs/1912.04958",
            config=StyleGANLiteConfig,
            build="ganzoo_stylegan_lite.networks:build",
            recipe=ganzoo.TrainingRecipe(
                trainer="adversarial",
                # The non-saturating logistic loss: softplus(-D(x)) + softplus(D(G(z))) for D.
                loss="bce",
                dataset="digits",
                options=TRAINING,
            ),
            presets=PRESETS,
        )
    )
