"""One adversarial training step, the lesson's two phases, with no host synchronisation.

Phase 1 trains D on a batch of real images (target "real") and a batch of generated images
(target "fake"); phase 2 trains G through D with D's parameters frozen so that D calls its images
real. G runs forward once per step: its output is detached for phase 1 and reused in phase 2.
Losses are returned as device tensors; the caller reads them back every ``log_every`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .losses import GANLoss, as_list, gradient_penalty, like, r1_penalty


def detach(x: Any) -> Any:
    return like(x, [t.detach() for t in as_list(x)])


def requires_grad(x: Any) -> Any:
    return like(x, [t.detach().requires_grad_(True) for t in as_list(x)])


@dataclass
class StepConfig:
    """What one step needs besides the networks (resolved once from TrainOptions)."""

    loss: GANLoss
    d_steps: int
    gp_weight: float
    r1_gamma: float
    r1_every: int
    g_reg_every: int
    d_skip_below: float | None
    autocast: Any  # a context-manager factory (bf16 on CUDA, a no-op on CPU)
    #: DiffAugment/ADA (ganzoo.training.augment.Augmenter): applied to every batch D sees
    augment: Any = None
    #: (d_real, d_fake) logits -> extra device stats for health (ganzoo.training.health)
    observe: Any = None


class SkipGuard:
    """Undo D's update on the device when its loss was below the threshold (the lesson's
    balance trick), without reading the loss back to the host: parameters and optimiser state
    are snapshotted before the step and selected back with ``torch.where``."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.opt = optimizer
        self.before: list[tuple[Tensor, Tensor, dict[str, Tensor]]] = []

    def params(self) -> list[Tensor]:
        return [p for group in self.opt.param_groups for p in group["params"]]

    def snapshot(self) -> None:
        self.before = [
            (
                p,
                p.detach().clone(),
                {
                    k: v.clone()
                    for k, v in self.opt.state.get(p, {}).items()
                    if isinstance(v, Tensor)
                },
            )
            for p in self.params()
        ]

    @torch.no_grad()
    def restore_unless(self, keep_new: Tensor) -> None:
        for p, old_p, old_state in self.before:
            p.copy_(torch.where(keep_new, p, old_p))
            for key, value in self.opt.state.get(p, {}).items():
                if isinstance(value, Tensor):
                    old = old_state.get(key)
                    old = torch.zeros_like(value) if old is None else old.to(value.dtype)
                    value.copy_(torch.where(keep_new, value, old))
        self.before = []


def train_step(
    model: Any,
    real: Tensor,
    z: Tensor,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    cfg: StepConfig,
    step: int,
    g_model: nn.Module | None = None,
    d_model: nn.Module | None = None,
    real_labels: Tensor | None = None,
    fake_labels: Tensor | None = None,
) -> dict[str, Tensor]:
    """Run D's phase(s) then G's phase; return detached loss tensors for logging.

    ``real`` holds ``d_steps`` batches stacked along the first dimension. A conditional model
    gets ``real_labels`` (one per real image, stacked the same way) and ``fake_labels`` (one per
    latent): G is called as ``G(z, fake_labels)`` and D as ``D(images, labels)``; R1 and
    WGAN-GP differentiate D with respect to the images only (interpolates keep the real labels).

    ``g_model``/``d_model`` default to the model's networks; under torchrun G is wrapped in
    DistributedDataParallel and D in :class:`ganzoo.training.distributed.AveragedGradients`,
    whose ``average_gradients`` is called between D's backward and its optimiser step.
    """
    G = g_model if g_model is not None else model.generator  # (a compiled module has no bool)
    D_net = d_model if d_model is not None else model.discriminator
    conditional = fake_labels is not None

    def D(images: Any, labels: Tensor | None) -> Tensor:
        return D_net(images) if labels is None else D_net(images, labels)

    d_params = list(model.discriminator.parameters())
    stats: dict[str, Tensor] = {}
    aug = cfg.augment if cfg.augment is not None else (lambda x: x)

    # ---- phase 1: the discriminator ---------------------------------------------------------
    for p in d_params:
        p.requires_grad_(True)
    with cfg.autocast():
        fake = G(z, fake_labels) if conditional else G(z)
    fake_detached = detach(fake)
    reals = real.chunk(cfg.d_steps)  # a fresh real batch for each D step
    ys = real_labels.chunk(cfg.d_steps) if real_labels is not None else [None] * cfg.d_steps
    for i in range(cfg.d_steps):
        real_in = aug(model.prepare_real(reals[i]))
        lazy_r1 = cfg.r1_gamma > 0 and (step * cfg.d_steps + i) % cfg.r1_every == 0
        if lazy_r1:
            real_in = requires_grad(real_in)
        with cfg.autocast():
            d_real = D(real_in, ys[i]).float()
            fake_in = aug(fake_detached)
            d_fake = D(fake_in, fake_labels).float()
            loss_d = cfg.loss.d_loss(d_real, d_fake)
        total_d = loss_d
        if cfg.gp_weight > 0:
            y = ys[i]
            gp = gradient_penalty(lambda x, y=y: D(x, y), real_in, fake_in)
            total_d = total_d + cfg.gp_weight * gp
            stats["gp"] = gp.detach()
        if lazy_r1:
            r1 = r1_penalty(d_real, real_in)
            total_d = total_d + (cfg.r1_gamma / 2) * r1 * cfg.r1_every
            stats["r1"] = r1.detach()
        guard = SkipGuard(opt_d) if cfg.d_skip_below is not None else None
        if guard is not None:
            guard.snapshot()
        opt_d.zero_grad(set_to_none=True)
        total_d.backward()
        skip_loss = loss_d.detach()
        average = getattr(D_net, "average_gradients", None)
        if average is not None:  # torchrun: D's gradients and loss averaged over the ranks
            (skip_loss,) = average(skip_loss)
        opt_d.step()
        if guard is not None:
            keep = skip_loss >= cfg.d_skip_below
            guard.restore_unless(keep)
            stats["d_skipped"] = (~keep).float()
    if cfg.augment is not None:
        cfg.augment.observe_real(d_real)
    if cfg.observe is not None:
        stats.update(cfg.observe(d_real.detach(), d_fake.detach()))
    stats["d_loss"] = loss_d.detach()
    stats["d_real"] = d_real.detach().mean()
    stats["d_fake"] = d_fake.detach().mean()

    # ---- phase 2: the generator, through a frozen discriminator ----------------------------
    for p in d_params:
        p.requires_grad_(False)
    with cfg.autocast():
        d_fake_g = D(aug(fake), fake_labels).float()
        d_real_g = (
            D(aug(model.prepare_real(reals[-1])), ys[-1]).float().detach()
            if cfg.loss.needs_real_for_g
            else None
        )
        loss_g = cfg.loss.g_loss(d_real_g, d_fake_g)
    total_g = loss_g
    if step % cfg.g_reg_every == 0:
        with cfg.autocast():
            extra = (
                model.generator_penalty(z, labels=fake_labels)
                if conditional
                else model.generator_penalty(z)
            )
        if extra is not None:
            total_g = total_g + extra.float() * cfg.g_reg_every
            stats["g_penalty"] = extra.detach().float()
    opt_g.zero_grad(set_to_none=True)
    total_g.backward()
    opt_g.step()
    for p in d_params:
        p.requires_grad_(True)
    stats["g_loss"] = loss_g.detach()
    return stats
