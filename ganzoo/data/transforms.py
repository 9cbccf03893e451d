"""Resizing and channel conversion shared by every dataset."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def to_channels(images: Tensor, channels: int) -> Tensor:
    """N×C×H×W with C in {1, 3} converted to ``channels`` (luminance for 3 -> 1)."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
        return (images * weights).sum(1, keepdim=True)
    raise ValueError(f"cannot convert {c} channels to {channels}")


def resize_square(images: Tensor, size: int) -> Tensor:
    """Resize N×C×H×W to ``size``×``size``: shorter side to ``size`` then a centre crop.
    Bicubic with antialiasing when shrinking, bilinear when enlarging."""
    _n, _c, h, w = images.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        mode = "bicubic" if scale < 1 else "bilinear"
        images = F.interpolate(
            images, size=(nh, nw), mode=mode, align_corners=False, antialias=scale < 1
        )
    top, left = (nh - size) // 2, (nw - size) // 2
    return images[:, :, top : top + size, left : left + size].clamp(-1, 1).contiguous()
