"""The three terms of Gatys et al.'s objective, as pure functions of feature maps and images.

``total = content_weight · content + style_weight · style + tv_weight · variation``

* content: squared difference of the features at the content layers (mean, or ½·sum as in the
  paper and the lesson);
* style: for each style layer, the mean squared difference between the Gram matrix of the
  image's features and the (blended) Gram matrix of the style images, weighted per layer;
* variation: anisotropic total variation, the absolute differences between neighbouring pixels
  (per pixel, or summed as in the lesson).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def gram(features: Tensor, norm: str = "chw") -> Tensor:
    """C×C Gram matrix of a 1×C×H×W map, divided by C·H·W (``"chw"``) or H·W (``"hw"``).

    The map is read as (H·W)×C, which is a free view of a channels-last tensor.
    """
    n, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(n * h * w, c)
    g = flat.t() @ flat
    return g / (c * h * w if norm == "chw" else h * w)


def content_loss(features: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error of the features: mean, or half the sum (Gatys et al.; the lesson)."""
    diff = (features - target).square()
    return diff.mean() if reduction == "mean" else 0.5 * diff.sum()


def variation_loss(image: Tensor, reduction: str = "mean") -> Tensor:
    """Anisotropic total variation of an N×C×H×W image (sum of |Δx| + |Δy|, or its mean per
    pixel and channel)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().sum()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().sum()
    total = dx + dy
    return total / image.numel() if reduction == "mean" else total


def blend_grams(per_style: Sequence[Mapping[str, Tensor]], weights: Sequence[float]) -> dict:
    """Gram targets of several styles mixed with ``weights`` (normalised to sum to one)."""
    total = float(sum(weights))
    out: dict[str, Tensor] = {}
    for grams, w in zip(per_style, weights, strict=True):
        for node, g in grams.items():
            term = g * (w / total)
            out[node] = out[node] + term if node in out else term
    return out


@dataclass
class Objective:
    """The weighted loss for one image size: content targets and style Grams computed once."""

    content_targets: dict[str, Tensor]  #: node -> features of the content image
    style_targets: dict[str, Tensor]  #: node -> blended Gram matrix of the style images
    layer_weights: dict[str, float]  #: style node -> w_l
    content_weight: float
    style_weight: float
    tv_weight: float
    reduction: str = "mean"
    gram_norm: str = "chw"

    def __call__(self, image: Tensor, features: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(total loss, stacked [content, style, variation] terms, unweighted, detached)."""
        zero = image.new_zeros(())
        content = zero
        for node, target in self.content_targets.items():
            content = content + content_loss(features[node], target, self.reduction)
        content = content / max(1, len(self.content_targets))
        style = zero
        for node, target in self.style_targets.items():
            g = gram(features[node], self.gram_norm)
            style = style + self.layer_weights[node] * (g - target).square().mean()
        tv = variation_loss(image, self.reduction) if self.tv_weight else zero
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return total, torch.stack([content, style, tv]).detach()
