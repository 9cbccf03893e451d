"""Transitional conditioning: a conditional StyleGAN-lite starts unconditional and fades the
class in (Shahbazi et al. 2022, "Collapse by Conditioning", arXiv 2201.06578).

Trained conditional from the first step on the 1,797 digits (about 180 a class), StyleGAN-lite
drew the right class but nearly the same image for every latent: recall 0.23 against 0.88
unconditional at 1,500 steps, FD 43.6 against 27.6 (``benchmarks/RESULTS.md``). The paper finds
the same collapse for StyleGAN2-ADA on small conditional datasets and cures it by training
unconditionally first: G's class embedding and D's projection term are both multiplied by a weight
λ that stays 0 for ``cond_start_images`` images and then rises linearly to 1 over
``cond_fade_images``. While λ = 0 the networks are exactly the unconditional model (the labels
reach them, multiplied by 0), so the latent space learns the digits' variety before the class
decides anything.

λ is a pure function of the step (the trainer's ``training_schedule`` hook), kept in a buffer
``cond_weight`` of G's mapping network (and of its EMA copy) and of D, so that a checkpoint
saved mid-fade samples the way it was trained and a resumed run continues exactly.
"""

from __future__ import annotations

from typing import Any

import torch


def class_weight(step: int, batch_size: int, start_images: int, fade_images: int) -> float:
    """λ at training step ``step``: 0 until ``start_images`` images were shown, then linear up to
    1 over ``fade_images`` more (a step from 0 to 1 when ``fade_images`` is 0)."""
    shown = step * batch_size
    if shown < start_images:
        return 0.0
    if fade_images <= 0:
        return 1.0
    return min(1.0, (shown - start_images) / fade_images)


def phase_name(weight: float) -> str:
    """The training phase's name (the trainer writes a grid and a checkpoint when it changes)."""
    if weight <= 0.0:
        return "unconditional"
    return "conditional" if weight >= 1.0 else "class fade-in"


def set_class_weight(model: Any, weight: float) -> None:
    """Write λ into every ``cond_weight`` buffer of the model (G, its EMA copy, D)."""
    for module in model.modules():
        buffer = getattr(module, "cond_weight", None)
        if isinstance(buffer, torch.Tensor):
            buffer.fill_(weight)
