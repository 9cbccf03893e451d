"""Differentiable augmentation of D's inputs for small datasets: DiffAugment and an ADA-style p.

DiffAugment (Zhao et al. 2020, arXiv 2006.10738) applies the same random colour, translation and
cutout operations to every image D sees, real and generated, in D's phase and in G's phase; the
operations are differentiable, so G learns through them, and D can no longer memorise a small
training set. ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data") applies each operation to a sample with a probability ``p`` that rises while D overfits,
measured by ``r_t = E[sign(D(real))]`` (0: D undecided, 1: D sure of every real image), and falls
when ``r_t`` is below the target (about 0.6).

Everything stays on the device: ``p`` is a tensor, the sign of D's real logits is summed on the
device and ``p`` moves every ``ada_interval`` steps with tensor arithmetic, so the step never
waits for the host; under torchrun the sum is all-reduced first, so every rank holds the same
``p``. A discriminator that takes an image pyramid (MSG-GAN) gets the same random draw at every
scale (shifts and cutout boxes are fractions of the side).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

#: the operations ``augment_policy`` may name, in the order they are applied
OPS = ("color", "translation", "cutout")
#: DiffAugment's defaults: shift up to 1/8 of the side, erase a square half the side
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5
MODES = ("none", "diffaugment", "ada")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> a tuple of known op names (an unknown one is an error)."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in ops if p not in OPS]
    if unknown or not ops:
        raise ValueError(
            f"augment_policy {policy!r}: use a comma-separated list of {', '.join(OPS)}"
        )
    return ops


def _scales(x: Any) -> list[Tensor]:
    return list(x) if isinstance(x, list | tuple) else [x]


def _like(template: Any, xs: list[Tensor]) -> Any:
    return xs if isinstance(template, list | tuple) else xs[0]


def _rand(n: int, device: torch.device) -> Tensor:
    return torch.rand(n, 1, 1, 1, device=device)


def color(xs: list[Tensor], apply: Tensor) -> list[Tensor]:
    """Random brightness (±0.5), saturation (×0..2) and contrast (×0.5..1.5) per image, the same
    draw at every scale; images where ``apply`` is False pass unchanged."""
    n, dev = xs[0].shape[0], xs[0].device
    bright, sat, contrast = _rand(n, dev) - 0.5, _rand(n, dev) * 2, _rand(n, dev) + 0.5
    out = []
    for x in xs:
        y = x + bright.to(x.dtype)
        if y.shape[1] > 1:  # saturation means nothing for grey images
            mean = y.mean(dim=1, keepdim=True)
            y = (y - mean) * sat.to(x.dtype) + mean
        mean = y.mean(dim=(1, 2, 3), keepdim=True)
        y = (y - mean) * contrast.to(x.dtype) + mean
        out.append(torch.where(apply.view(-1, 1, 1, 1), y, x))
    return out


def translation(xs: list[Tensor], apply: Tensor, ratio: float = TRANSLATION_RATIO) -> list[Tensor]:
    """Shift each image by up to ``ratio`` of its side in x and y, filling with zeros (mid-grey
    in [-1, 1]); differentiable (a gather). The shift is a fraction, so every scale of a pyramid
    moves by the same share of its side."""
    n, dev = xs[0].shape[0], xs[0].device
    fx, fy = (
        (torch.rand(n, device=dev) * 2 - 1) * ratio,
        (torch.rand(n, device=dev) * 2 - 1) * ratio,
    )
    keep = apply.float()
    out = []
    for x in xs:
        _, _, h, w = x.shape
        sx = torch.round(fx * w * keep).long().view(n, 1, 1)
        sy = torch.round(fy * h * keep).long().view(n, 1, 1)
        gy, gx = torch.meshgrid(
            torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij"
        )
        src_y, src_x = gy.unsqueeze(0) - sy, gx.unsqueeze(0) - sx  # n×h×w
        inside = (src_y >= 0) & (src_y < h) & (src_x >= 0) & (src_x < w)
        flat = (src_y.clamp(0, h - 1) * w + src_x.clamp(0, w - 1)).view(n, 1, h * w)
        moved = x.flatten(2).gather(2, flat.expand(-1, x.shape[1], -1)).view_as(x)
        out.append(moved * inside.unsqueeze(1).to(x.dtype))
    return out


def cutout(xs: list[Tensor], apply: Tensor, ratio: float = CUTOUT_RATIO) -> list[Tensor]:
    """Zero (mid-grey) one square of ``ratio`` times the side at a random place in each image."""
    n, dev = xs[0].shape[0], xs[0].device
    cx, cy = torch.rand(n, device=dev), torch.rand(n, device=dev)
    out = []
    for x in xs:
        _, _, h, w = x.shape
        half_h, half_w = max(1, int(h * ratio + 0.5)) / 2, max(1, int(w * ratio + 0.5)) / 2
        ys = torch.arange(h, device=dev).view(1, h, 1) + 0.5
        xs_ = torch.arange(w, device=dev).view(1, 1, w) + 0.5
        box = ((ys - cy.view(n, 1, 1) * h).abs() < half_h) & (
            (xs_ - cx.view(n, 1, 1) * w).abs() < half_w
        )
        box = box & apply.view(n, 1, 1)
        out.append(x * (~box).unsqueeze(1).to(x.dtype))
    return out


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


def augment(images: Any, ops: tuple[str, ...], p: Tensor | float = 1.0) -> Any:
    """Apply ``ops`` to a batch (or a pyramid: a list of batches, coarsest first), each op to
    each image with probability ``p`` (a float or a 0-d tensor on the images' device). p=0 gives
    the input back exactly; gradients flow to the images for any p."""
    xs = _scales(images)
    n, dev = xs[0].shape[0], xs[0].device
    p_t = torch.as_tensor(p, device=dev, dtype=torch.float32)
    for op in ops:
        apply = torch.rand(n, device=dev) < p_t
        xs = _FUNCS[op](xs, apply)
    return _like(images, xs)


class Augmenter:
    """What the training step calls on every image batch D sees (``__call__``), and tells
    about D's logits on real images (``observe_real``).

    ``mode`` is ``diffaugment`` (every op on every image, p = 1) or ``ada`` (p starts at 0 and
    adapts towards ``target`` of ``r_t``, by at most ``batch * interval / (kimg * 1000)`` per
    adjustment, so p can cross 0..1 in ``kimg`` thousand images).
    """

    def __init__(
        self,
        mode: str,
        ops: tuple[str, ...] = OPS,
        *,
        device: torch.device | str = "cpu",
        target: float = 0.6,
        interval: int = 4,
        kimg: float = 100.0,
        batch_size: int = 64,
        p: float | None = None,
    ) -> None:
        if mode not in ("diffaugment", "ada"):
            raise ValueError(f"augment mode {mode!r}: use none, diffaugment or ada")
        self.mode, self.ops = mode, tuple(ops)
        self.target, self.interval = float(target), int(interval)
        self.speed = batch_size * interval / (kimg * 1000.0)
        start = p if p is not None else (1.0 if mode == "diffaugment" else 0.0)
        self.p = torch.tensor(float(start), device=device)
        self._sign_sum = torch.zeros((), device=device)
        self._count = torch.zeros((), device=device)
        self._seen = 0

    def __call__(self, images: Any) -> Any:
        return augment(images, self.ops, self.p)

    def observe_real(self, real_logits: Tensor) -> None:
        """ADA's overfitting signal: accumulate sign(D(real)); every ``interval`` calls move p
        (all on the device; an all-reduce under torchrun)."""
        if self.mode != "ada":
            return
        logits = real_logits.detach().float()
        self._sign_sum += logits.sign().sum()
        self._count += logits.numel()
        self._seen += 1
        if self._seen % self.interval:
            return
        totals = torch.stack([self._sign_sum, self._count])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(totals)
        r_t = totals[0] / totals[1].clamp_min(1)
        step = torch.sign(r_t - self.target) * self.speed
        self.p.copy_((self.p + step).clamp(0.0, 1.0))
        self._sign_sum.zero_()
        self._count.zero_()

    def stats(self) -> dict[str, Tensor]:
        """Logged with the losses: the current p (ADA's, or DiffAugment's constant 1)."""
        return {"aug_p": self.p.detach().clone()}

    def state(self) -> dict[str, float]:
        """What a checkpoint keeps (one host read, at checkpoint time)."""
        return {"augment_p": float(self.p)}

    def load_state(self, state: dict[str, Any]) -> None:
        value = state.get("augment_p")
        if isinstance(value, int | float) and math.isfinite(value):
            self.p.fill_(float(value))


def build_augmenter(options: Any, device: torch.device, batch_size: int) -> Augmenter | None:
    """The augmenter ``options.augment`` asks for, or None (``augment=none``)."""
    if options.augment == "none":
        return None
    return Augmenter(
        options.augment,
        parse_policy(options.augment_policy),
        device=device,
        target=options.ada_target,
        interval=options.ada_interval,
        kimg=options.ada_kimg,
        batch_size=batch_size,
    )
