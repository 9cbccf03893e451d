"""Sizes and resizing: the output size and the coarse-to-fine pyramid.

With ``pyramid = N`` the image is optimised first at 1/2^(N-1) of the output size, then
upsampled and refined at each doubling. The coarsest level gets ``steps`` evaluations and each
finer one ``pyramid_decay`` times the previous, so most of the work happens where pixels are
cheap: at 1024 px with three levels and decay ½ the whole run costs about 45 % of ``steps``
evaluations at full size, and it starts the full-size level from an image that already has the
style's large-scale structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor


def fit_longest(height: int, width: int, longest: int) -> tuple[int, int]:
    """(h, w) scaled so that the longer side is ``longest`` (``0`` keeps the size)."""
    if longest <= 0:
        return height, width
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a 1×C×H×W image (antialiased when shrinking)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrink)


@dataclass(frozen=True)
class Level:
    """One level of the pyramid: its image size and number of evaluations."""

    index: int
    size: tuple[int, int]
    steps: int


def levels(size: tuple[int, int], steps: int, count: int, decay: float) -> list[Level]:
    """The pyramid's levels, coarsest first; the last one has exactly ``size``."""
    out = []
    for i in range(count):
        factor = 2 ** (count - 1 - i)
        level_size = (max(1, round(size[0] / factor)), max(1, round(size[1] / factor)))
        out.append(Level(i, level_size, max(1, round(steps * decay**i))))
    return out
