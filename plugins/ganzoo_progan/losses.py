"""ProGAN's loss: WGAN-GP (Gulrajani et al. 2017) with the drift term of Karras et al. 2018.

The drift term ε·E[D(x)²] on real images (ε = 0.001) keeps the critic's outputs from drifting
far from zero, which WGAN's loss alone does not prevent (the paper, appendix A.1).
"""

from __future__ import annotations

from torch import Tensor

from ganzoo.training.losses import GANLoss, wgan_d, wgan_g

#: the paper's ε
DRIFT = 0.001


def wgan_drift_d(real: Tensor, fake: Tensor) -> Tensor:
    """Wasserstein critic loss plus ``DRIFT``·mean(D(real)²)."""
    return wgan_d(real, fake) + DRIFT * real.square().mean()


WGAN_GP_DRIFT = GANLoss("wgan-gp-drift", wgan_drift_d, wgan_g, gradient_penalty=10.0)
