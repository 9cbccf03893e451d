"""Pictures only a style-based generator can make: style-mixing grids and W-space walks.

Both functions take a built (or loaded) StyleGAN-lite model and return image tensors in
``[-1, 1]`` (N×C×H×W, clamped), using the EMA generator when the model has one, in evaluation
mode (fixed noise), so the same seed always gives the same pictures. Save them with
:func:`ganzoo.images.save_grid` using the ``nrow`` given in each docstring.
:func:`mix_view` and :func:`walk_view` wrap them as the model's ``views()`` for
``ganzoo sample --mix`` and ``ganzoo sample --view walk``; their ``ema`` means what it means for
:meth:`ganzoo.models.GANModel.sample` (None: the EMA generator when there is one).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import ConfigError
from ganzoo.models import ImageGrid, eval_mode

#: ws indices 0, 1, 2 feed the 4×4 convolution, the 4×4 toRGB / first 8×8 convolution and the
#: second 8×8 convolution: the resolutions StyleGAN calls "coarse"
COARSE_LAYERS = 3
#: images per row of the ``walk`` view
WALK_STEPS = 8


def _generator(model: Any, ema: bool | None) -> Any:
    net = model.sampling_generator(ema)
    for name in ("mapping", "synthesis", "truncate", "num_ws"):
        if not hasattr(net, name):
            raise ConfigError(
                f"{model.arch or type(model).__name__} has no style-based generator: "
                "mixing grids and W interpolation need a StyleGAN model"
            )
    return net


def _latents(net: Any, n: int, rng: torch.Generator, device: torch.device) -> Tensor:
    return torch.randn(n, net.latent_dim, generator=rng).to(device)


def _labels(model: Any, n: int, labels: Any, device: torch.device) -> Tensor | None:
    """Class labels for ``n`` source latents: None for an unconditional model (which refuses
    labels); ``labels`` (one class, or ``n``) checked; else the classes in turn (0, 1, 2, ...)."""
    if not getattr(model, "conditional", False):
        if labels is not None:
            model.check_labels(labels, n)  # the one-line "unconditional" error
        return None
    if labels is None:
        return torch.arange(n, device=device) % model.num_classes
    return model.check_labels(labels, n).to(device)


@torch.no_grad()
def mixing_grid(
    model: Any,
    rows: int = 4,
    cols: int = 4,
    seed: int = 0,
    *,
    crossover: int | None = None,
    truncation: float = 1.0,
    ema: bool | None = None,
    labels: Any = None,
) -> Tensor:
    """A style-mixing grid, laid out for ``save_grid(images, path, nrow=cols + 1)``.

    The first row shows ``cols`` "fine" source images (top row, from the second latent), the
    first column ``rows`` "coarse" source images; cell (r, c) takes the ws of layers
    ``0 .. crossover-1`` from row source r and the rest from column source c. The default,
    :data:`COARSE_LAYERS` = 3, is the paper's "coarse" split: the styles of the 4×4 and 8×8
    layers (overall shape: which digit, its pose) come from the row, everything from 16×16 up
    (stroke weight, slant, texture) from the column; a smaller crossover hands the column more.
    The top-left corner is a grey blank. Returns ``(rows + 1) · (cols + 1)`` images.
    A conditional model draws every source from class ``labels`` (one class), or the row
    and column sources from the classes in turn when it is None.
    """
    if rows < 1 or cols < 1:
        raise ConfigError(f"a mixing grid needs rows and cols >= 1, got {rows}×{cols}")
    net = _generator(model, ema)
    crossover = min(COARSE_LAYERS, net.num_ws) if crossover is None else crossover
    if not 0 <= crossover <= net.num_ws:
        raise ConfigError(f"crossover must be between 0 and {net.num_ws}, got {crossover}")
    device = next(net.parameters()).device
    with eval_mode(net):
        rng = torch.Generator().manual_seed(seed)
        z_rows, z_cols = _latents(net, rows, rng, device), _latents(net, cols, rng, device)
        y_rows, y_cols = _labels(model, rows, labels, device), _labels(model, cols, labels, device)
        w_rows = net.truncate(net.mapping(z_rows, y_rows), truncation)
        w_cols = net.truncate(net.mapping(z_cols, y_cols), truncation)
        row_images = net.synthesis(net.broadcast(w_rows))
        col_images = net.synthesis(net.broadcast(w_cols))
        ws = net.broadcast(w_cols).repeat(rows, 1, 1)  # cell r*cols + c: fine from column c
        ws[:, :crossover] = net.broadcast(w_rows).repeat_interleave(cols, 0)[:, :crossover]
        cells = net.synthesis(ws).reshape(rows, cols, *col_images.shape[1:])
    blank = torch.zeros_like(col_images[:1])
    out = [blank, col_images]
    for r in range(rows):
        out += [row_images[r : r + 1], cells[r]]
    return torch.cat(out).float().clamp(-1, 1)


@torch.no_grad()
def interpolate_w(
    model: Any,
    steps: int = 8,
    rows: int = 1,
    seed: int = 0,
    *,
    truncation: float = 1.0,
    ema: bool | None = None,
    labels: Any = None,
) -> Tensor:
    """Walks in W space: each of ``rows`` rows goes in ``steps`` equal steps from w(z_a) to
    w(z_b), endpoints included; laid out for ``save_grid(images, path, nrow=steps)``, or one
    frame per image for ``save_gif``. Linear in W (where the mapping network has untangled the
    factors of variation) gives smoother walks than linear in Z. Returns ``rows · steps`` images.
    A conditional model walks within one class per row: ``labels`` (one class for every row),
    or row r in class r when it is None.
    """
    if steps < 2 or rows < 1:
        raise ConfigError(f"an interpolation needs steps >= 2 and rows >= 1, got {steps}, {rows}")
    net = _generator(model, ema)
    device = next(net.parameters()).device
    with eval_mode(net):
        rng = torch.Generator().manual_seed(seed)
        y = _labels(model, rows, labels, device)
        w_a = net.truncate(net.mapping(_latents(net, rows, rng, device), y), truncation)
        w_b = net.truncate(net.mapping(_latents(net, rows, rng, device), y), truncation)
        t = torch.linspace(0, 1, steps, device=device).view(1, steps, 1)
        w = torch.lerp(w_a.unsqueeze(1), w_b.unsqueeze(1), t).reshape(rows * steps, -1)
        images = net.synthesis(net.broadcast(w))
    return images.float().clamp(-1, 1)


def _view_kwargs(kwargs: dict[str, Any], view: str) -> dict[str, Any]:
    """The keyword arguments a view passes on: ``truncation`` and (``--class``) ``labels``."""
    unknown = sorted(set(kwargs) - {"truncation", "labels"})
    if unknown:
        raise ConfigError(f"the {view} view of stylegan_lite takes no {', '.join(unknown)}")
    truncation = kwargs.get("truncation")
    return {
        "truncation": 1.0 if truncation is None else float(truncation),
        "labels": kwargs.get("labels"),
    }


def mix_view(
    model: Any, n: int = 36, seed: int | None = 0, ema: bool | None = None, **kwargs: Any
) -> ImageGrid:
    """``ganzoo sample --mix``: a square :func:`mixing_grid` of about ``n`` mixed cells
    (``isqrt(n)`` rows and columns) plus its source row and column."""
    side = max(1, math.isqrt(n))
    grid = mixing_grid(model, side, side, seed or 0, ema=ema, **_view_kwargs(kwargs, "mix"))
    return ImageGrid(grid, nrow=side + 1)


def walk_view(
    model: Any, n: int = 32, seed: int | None = 0, ema: bool | None = None, **kwargs: Any
) -> ImageGrid:
    """``ganzoo sample --view walk``: :func:`interpolate_w` with 8 steps per row and enough
    rows for ``n`` images."""
    steps = WALK_STEPS
    rows = max(1, math.ceil(n / steps))
    options = _view_kwargs(kwargs, "walk")
    images = interpolate_w(model, steps, rows, seed or 0, ema=ema, **options)
    return ImageGrid(images, nrow=steps)
