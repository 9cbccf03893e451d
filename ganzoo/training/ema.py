"""Exponential moving average of the generator's weights (Karras et al. 2018).

Updated on the device with fused foreach operations; buffers (BatchNorm statistics, StyleGAN's
tracked mean w) are copied, not averaged. Copied BatchNorm statistics belong to the trained
generator, not to the average of its weights: :func:`recompute_batchnorm` measures the
average's own statistics (BigGAN's "standing statistics"), which is what makes an EMA of a
BatchNorm generator (DCGAN) sample well.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: latents (in batches of 64) that measure an EMA generator's BatchNorm statistics
BN_SAMPLES = 1024
BN_BATCH = 64
BN_SEED = 1234567  #: its own stream: the training batches' random state is never touched


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model for parameters; buffers copied."""
    e_params = [p for p in ema.parameters()]
    m_params = [p.detach() for p in model.parameters()]
    if decay <= 0.0:
        torch._foreach_copy_(e_params, m_params)
    else:
        torch._foreach_lerp_(e_params, m_params, 1.0 - decay)
    for e_buf, m_buf in zip(ema.buffers(), model.buffers(), strict=True):
        e_buf.copy_(m_buf)


def batchnorm_layers(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``net`` that track running statistics."""
    return [
        m
        for m in net.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


@torch.no_grad()
def recompute_batchnorm(
    model: Any, net: nn.Module, samples: int = BN_SAMPLES, batch_size: int = BN_BATCH
) -> bool:
    """Replace the running statistics of ``net``'s BatchNorm layers (``model``'s EMA
    generator) by the exact mean and variance of its activations over ``samples`` latents
    (and uniform labels, for a conditional model), drawn from a fixed seed.

    Returns False, changing nothing, when ``net`` has no BatchNorm layer. The caller's random
    state is left as it was, so a training run is not changed by calling it.
    """
    layers = batchnorm_layers(net)
    if not layers:
        return False
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(BN_SEED)
    momenta = [m.momentum for m in layers]
    was_training = net.training
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(BN_SEED)
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        net.train()
        try:
            for start in range(0, samples, batch_size):
                n = min(batch_size, samples - start)
                z = model.sample_latent(n, generator=gen, device="cpu").to(device)
                if getattr(model, "conditional", False):
                    y = model.sample_labels(n, generator=gen, device="cpu").to(device)
                    net(z, y)
                else:
                    net(z)
        finally:
            for m, momentum in zip(layers, momenta, strict=True):
                m.momentum = momentum
            net.train(was_training)
    return True


def refresh_ema_statistics(
    model: Any, options: Any, done: int, stopping: bool = False, due: Any = None
) -> None:
    """Before the EMA generator is used at step ``done`` (a sample grid, an evaluation, a
    checkpoint, the end of the run or an interruption), give its BatchNorm layers their own
    statistics (:func:`recompute_batchnorm`). Between those steps the EMA keeps the copied
    statistics, so the training steps (and resuming them) are unchanged. A no-op for a model
    without an EMA or without BatchNorm. ``due`` is the step's
    :func:`ganzoo.training.bookkeeping.due_at` when the caller has it already."""
    ema = getattr(model, "generator_ema", None)
    if ema is None:
        return
    if due is None:
        from .bookkeeping import due_at

        due = due_at(options, done)
    if stopping or done >= options.steps or due.any:
        recompute_batchnorm(model, ema)
