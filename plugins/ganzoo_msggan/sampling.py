"""The scales grid: every resolution a multi-scale generator produced, side by side.

Used by ``ganzoo sample RUN --scales``. Nothing here is specific to MSG-GAN: it works for any
:class:`ganzoo.models.GANModel` whose generator returns a pyramid (a list of images, coarsest
first), which is why it reads the generator's output rather than MSG-GAN's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo.errors import ConfigError
from ganzoo.images import save_grid
from ganzoo.models import eval_mode


@torch.no_grad()
def scale_images(
    model,
    n: int = 8,
    seed: int | None = 0,
    *,
    ema: bool | None = None,
    labels: Any = None,
) -> list[Tensor]:
    """The raw pyramid for ``n`` latents drawn from ``seed``: a list, coarsest first, of
    N×C×r×r tensors clamped to ``[-1, 1]``. Uses the EMA generator when there is one, like
    :meth:`ganzoo.models.GANModel.sample` (``ema=False`` forces the trained one). A conditional
    model draws class ``labels`` (one class, or one per row), else the classes in turn."""
    net = model.sampling_generator(ema)
    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    z = model.sample_latent(n, generator=rng, device="cpu").to(model.device)
    if getattr(model, "conditional", False):
        y = torch.arange(n) % model.num_classes if labels is None else labels
        y = model.check_labels(y, n).to(model.device)
    elif labels is not None:
        model.check_labels(labels, n)  # the one-line "unconditional" error
    with eval_mode(net):
        out = net(z, y) if getattr(model, "conditional", False) else net(z)
    if not isinstance(out, list | tuple):
        raise ConfigError(
            f"model {model.arch or type(model).__name__!r} generates one resolution only; "
            "the scales grid needs a multi-scale generator such as msggan"
        )
    return [x.float().clamp(-1, 1) for x in out]


def scales_grid(
    model, n: int = 8, seed: int | None = 0, *, ema: bool | None = None, labels: Any = None
) -> Tensor:
    """``n`` rows (one latent each) by one column per resolution, every image enlarged to the
    final size with nearest-neighbour upsampling so its pixels show.

    Returns an ``(n * K)×C×S×S`` batch in ``[-1, 1]``, row-major, where ``K`` is the number of
    scales: tile it with ``ganzoo.images.save_grid(grid, path, nrow=K)`` (or call
    :func:`save_scales_grid`). ``K`` is ``grid.shape[0] // n``.
    """
    pyramid = scale_images(model, n, seed, ema=ema, labels=labels)
    side = pyramid[-1].shape[-1]
    columns = [F.interpolate(x, size=(side, side), mode="nearest") for x in pyramid]
    return torch.stack(columns, dim=1).flatten(0, 1).cpu()


def save_scales_grid(
    model, path: str | Path, n: int = 8, seed: int | None = 0, *, ema: bool | None = None
) -> Path:
    """Write :func:`scales_grid` as one PNG with one column per resolution; returns the path."""
    grid = scales_grid(model, n, seed, ema=ema)
    return save_grid(grid, path, nrow=grid.shape[0] // n)
