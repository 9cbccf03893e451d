"""Adversarial losses as pure functions of the discriminator's logits, and gradient penalties.

Each :class:`GANLoss` pairs a discriminator loss and a generator loss. ``real`` and ``fake`` are
D's logits (shape ``N``) on real and generated images. The relativistic loss needs D's logits on
real images in G's phase too (``needs_real_for_g``). References: Goodfellow et al. 2014 (BCE,
non-saturating G), Lim & Ye 2017 (hinge), Gulrajani et al. 2017 (WGAN-GP), Mao et al. 2017 (least
squares), Jolicoeur-Martineau 2018 (relativistic average), Mescheder et al. 2018 (R1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

LossFn = Callable[[Tensor | None, Tensor], Tensor]


@dataclass(frozen=True)
class GANLoss:
    """A discriminator loss and a generator loss over D's logits."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]  #: (real logits, fake logits) -> scalar
    g_loss: LossFn  #: (real logits or None, fake logits) -> scalar
    needs_real_for_g: bool = False  #: G's loss reads D's logits on real images
    gradient_penalty: float = 0.0  #: default weight of the WGAN-GP penalty (0 = none)


# -- binary cross-entropy, as in the lesson: D labels real 1 and fake 0; G wants fake labelled 1.
def bce_d(real: Tensor, fake: Tensor) -> Tensor:
    # softplus(-x) = BCE(sigmoid(x), 1); softplus(x) = BCE(sigmoid(x), 0); numerically stable
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def bce_g(real: Tensor | None, fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()  # non-saturating: maximise log D(G(z))


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g(real: Tensor | None, fake: Tensor) -> Tensor:
    return -fake.mean()


def wgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def wgan_g(real: Tensor | None, fake: Tensor) -> Tensor:
    return -fake.mean()


def lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def lsgan_g(real: Tensor | None, fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


def rahinge_d(real: Tensor, fake: Tensor) -> Tensor:
    real_rel = real - fake.mean()
    fake_rel = fake - real.mean()
    return F.relu(1 - real_rel).mean() + F.relu(1 + fake_rel).mean()


def rahinge_g(real: Tensor | None, fake: Tensor) -> Tensor:
    if real is None:
        raise ValueError("the relativistic loss needs D's logits on real images")
    real_rel = real - fake.mean()
    fake_rel = fake - real.mean()
    return F.relu(1 + real_rel).mean() + F.relu(1 - fake_rel).mean()


BCE = GANLoss("bce", bce_d, bce_g)
HINGE = GANLoss("hinge", hinge_d, hinge_g)
WGAN_GP = GANLoss("wgan-gp", wgan_d, wgan_g, gradient_penalty=10.0)
LSGAN = GANLoss("lsgan", lsgan_d, lsgan_g)
RAHINGE = GANLoss("rahinge", rahinge_d, rahinge_g, needs_real_for_g=True)


# -- penalties --------------------------------------------------------------------------------
def as_list(x: Any) -> list[Tensor]:
    """D's input as a list of tensors (a single image batch or a pyramid)."""
    return list(x) if isinstance(x, list | tuple) else [x]


def like(template: Any, tensors: list[Tensor]) -> Any:
    """Give ``tensors`` the structure of ``template`` (a tensor or a list)."""
    return tensors if isinstance(template, list | tuple) else tensors[0]


def squared_grad_norm(outputs: Tensor, inputs: list[Tensor]) -> Tensor:
    """Per-sample squared norm of d(sum outputs)/d(inputs), over all inputs together."""
    grads = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return sum(g.pow(2).flatten(1).sum(1) for g in grads)  # type: ignore[return-value]


def r1_penalty(real_logits: Tensor, real_images: Any) -> Tensor:
    """R1 (Mescheder et al. 2018): mean over the batch of ||∇_x D(x)||² on real images.

    ``real_images`` must require grad and be what produced ``real_logits``; a list (a pyramid)
    counts every scale. The trainer multiplies by γ/2.
    """
    return squared_grad_norm(real_logits, as_list(real_images)).mean()


def gradient_penalty(discriminator: Callable[[Any], Tensor], real: Any, fake: Any) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean of (||∇D(x̂)||₂ - 1)² at random interpolates x̂.

    A pyramid is interpolated scale by scale with one alpha per sample, and the norm is taken
    over all scales together, so the penalty constrains D's gradient with respect to its whole
    input.
    """
    reals, fakes = as_list(real), as_list(fake)
    alpha = torch.rand(reals[0].shape[0], device=reals[0].device, dtype=reals[0].dtype)
    mixed = []
    for r, f in zip(reals, fakes, strict=True):
        a = alpha.view(-1, *([1] * (r.dim() - 1)))  # one alpha per sample, at every scale
        mixed.append((a * r.detach() + (1 - a) * f.detach()).requires_grad_(True))
    logits = discriminator(like(real, mixed))
    norm = (squared_grad_norm(logits, mixed) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()
