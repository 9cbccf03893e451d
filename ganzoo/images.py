"""Images at the edges of the library: tensors in [-1, 1] to uint8 PNG grids and GIFs, and back.

Inside ganzoo images are float tensors N×C×H×W in [-1, 1]; these helpers are the only places that
convert to and from PIL, so the convention holds everywhere.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def to_uint8(images: Tensor) -> np.ndarray:
    """N×C×H×W in [-1, 1] -> N×H×W×C uint8 (C kept as 1 or 3)."""
    x = images.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: Tensor, nrow: int | None = None, padding: int = 2) -> Tensor:
    """Tile N images into one C×H×W image in [-1, 1], ``nrow`` per row (square by default),
    separated by ``padding`` pixels of black."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), -1.0)
    for i, img in enumerate(images.detach().float().cpu()):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y : y + h, x : x + w] = img
    return grid


def to_pil(image: Tensor, upscale: int = 1) -> Image.Image:
    """One C×H×W tensor in [-1, 1] to a PIL image, optionally enlarged (nearest) for viewing."""
    arr = to_uint8(image.unsqueeze(0))[0]
    pil = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    if upscale > 1:
        pil = pil.resize((pil.width * upscale, pil.height * upscale), Image.NEAREST)
    return pil


def display_scale(side: int) -> int:
    """How much to enlarge a grid of ``side``-pixel images so that a person can see them."""
    return max(1, 64 // side) if side < 64 else 1


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save a batch as one PNG grid (small images are enlarged so the grid is legible)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    to_pil(make_grid(images, nrow), upscale=display_scale(images.shape[-1])).save(out)
    return out


def save_gif(frames: Sequence[Tensor], path: str | Path, duration_ms: int = 80) -> Path:
    """Save C×H×W frames in [-1, 1] as a looping animated GIF."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    scale = display_scale(frames[0].shape[-1])
    pils = [to_pil(f, upscale=scale).convert("P", palette=Image.ADAPTIVE) for f in frames]
    pils[0].save(out, save_all=True, append_images=pils[1:], duration=duration_ms, loop=0)
    return out


def from_pil(image: Image.Image, channels: int) -> Tensor:
    """A PIL image to C×H×W in [-1, 1] with 1 (luminance) or 3 (RGB) channels; alpha is
    composited onto white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    return torch.from_numpy(arr).permute(2, 0, 1) / 127.5 - 1.0


def check_output_path(path: str | Path, option: str = "-o") -> Path:
    """Check, before any work is done, that an image can be written at ``path``.

    Refuses an existing folder, a path under a file (``FILE/x.png``), an extension no image
    format is saved with, and a folder the user cannot write in, each with a one-line
    :class:`~ganzoo.errors.ConfigError` naming ``option``. Missing parent folders are fine:
    the writers create them.
    """
    from .errors import ConfigError

    out = Path(path).expanduser()
    if out.is_dir():
        raise ConfigError(f"{option} {out} is a folder: give a file name, e.g. {out / 'out.png'}")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {out}: {parent} is a file, not a folder")
    Image.init()
    formats = Image.registered_extensions()
    fmt = formats.get(out.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        what = f"the extension {out.suffix}" if out.suffix else "a name without an extension"
        raise ConfigError(
            f"{option} {out}: no image format can be written from {what}; end the name with "
            ".png, .jpg or .webp"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: no permission to write in {parent}")
    return out
