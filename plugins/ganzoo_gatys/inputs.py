"""Reading the images a user passes: file paths, PIL images or tensors, to 1×3×H×W in [0, 1].

Tensors follow the library's convention (values in [-1, 1], C×H×W or 1×C×H×W, one or three
channels). Every problem is a one-line :class:`~ganzoo.errors.DataError` naming the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import DataError

ImageLike = Any  # str | Path | PIL.Image.Image | Tensor


def load_image(image: ImageLike, what: str) -> Tensor:
    """One image as a 1×3×H×W float tensor in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    from ganzoo.images import from_pil

    if isinstance(image, Tensor):
        return _from_tensor(image, what)
    if isinstance(image, str | Path):
        path = Path(image).expanduser()
        if not path.exists():
            raise DataError(f"{what} image {path} does not exist")
        if path.is_dir():
            raise DataError(f"{what} image {path} is a folder, not an image file")
        try:
            with Image.open(path) as pil:
                pil.load()
                tensor = from_pil(pil, 3)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            reason = (
                "not an image Pillow can read"
                if isinstance(exc, UnidentifiedImageError)
                else f"unreadable ({exc})"
            )
            raise DataError(f"{what} image {path} is {reason}") from None
        return _to_unit(tensor.unsqueeze(0))
    if isinstance(image, Image.Image):
        return _to_unit(from_pil(image, 3).unsqueeze(0))
    raise DataError(
        f"{what} image must be a file path, a PIL image or a tensor, not {type(image).__name__}"
    )


def _to_unit(image: Tensor) -> Tensor:
    return ((image + 1) / 2).clamp(0, 1).contiguous()


def _from_tensor(image: Tensor, what: str) -> Tensor:
    x = image.detach().float().cpu()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3):
        raise DataError(
            f"{what} tensor must be C×H×W or 1×C×H×W with 1 or 3 channels, got {tuple(image.shape)}"
        )
    if not torch.isfinite(x).all():
        raise DataError(f"{what} tensor holds NaN or infinite values")
    if x.min() < -1.001 or x.max() > 1.001:
        raise DataError(f"{what} tensor must hold values in [-1, 1] (ganzoo's image convention)")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return _to_unit(x)
