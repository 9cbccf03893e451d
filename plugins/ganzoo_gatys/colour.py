"""Colour preservation (Gatys, Bethge, Hertzmann and Shechtman, 2016, arXiv 1606.05897).

Two ways to keep the content's colours:

* **luminance-only transfer**: content and styles are reduced to their luminance (YIQ's Y), the
  style luminance is shifted and scaled to the content's mean and spread, the transfer runs on
  grey images, and the result's luminance is recombined with the content's chroma (I and Q);
* **colour matching** ("histogram"): every style image is mapped by the affine colour transform
  that gives its pixels the content's mean colour and colour covariance, then the transfer runs
  as usual.

Images here are 1×3×H×W in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor

# NTSC YIQ: Y is luminance, I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)


def rgb_to_yiq(image: Tensor) -> Tensor:
    """1×3×H×W RGB -> YIQ (Y in [0, 1], I and Q roughly in [-0.6, 0.6])."""
    m = _RGB_TO_YIQ.to(image)
    return torch.einsum("ij,njhw->nihw", m, image)


def yiq_to_rgb(image: Tensor) -> Tensor:
    m = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image)
    return torch.einsum("ij,njhw->nihw", m, image)


def luminance(image: Tensor) -> Tensor:
    """1×1×H×W luminance (Y of YIQ)."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style_y: Tensor, content_y: Tensor) -> Tensor:
    """Shift and scale a style's luminance to the content's mean and standard deviation."""
    s_mean, s_std = style_y.mean(), style_y.std().clamp_min(1e-6)
    return ((style_y - s_mean) * (content_y.std() / s_std) + content_y.mean()).clamp(0, 1)


def grey3(y: Tensor) -> Tensor:
    """A luminance map as the 3-channel grey image a CNN takes."""
    return y.expand(-1, 3, -1, -1).contiguous()


def recombine(result: Tensor, content: Tensor) -> Tensor:
    """The result's luminance with the content's chroma, back in RGB, clamped to [0, 1]."""
    yiq = rgb_to_yiq(content)
    yiq = torch.cat([luminance(result), yiq[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def _sqrt_and_inv_sqrt(cov: Tensor) -> tuple[Tensor, Tensor]:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    return (vecs * vals.sqrt()) @ vecs.T, (vecs * vals.rsqrt()) @ vecs.T


def _stats(image: Tensor) -> tuple[Tensor, Tensor]:
    pixels = image.flatten(2)[0].double()  # 3×P
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    cov = centred @ centred.T / max(1, pixels.shape[1] - 1)
    return mean, cov + 1e-5 * torch.eye(3, dtype=cov.dtype, device=cov.device)


def match_colours(style: Tensor, content: Tensor) -> Tensor:
    """Affinely map ``style``'s colours to the content's mean and covariance (the symmetric
    "image analogies" transform: A = Σc^½ Σs^-½)."""
    s_mean, s_cov = _stats(style)
    c_mean, c_cov = _stats(content)
    c_sqrt, _ = _sqrt_and_inv_sqrt(c_cov)
    _, s_inv_sqrt = _sqrt_and_inv_sqrt(s_cov)
    a = c_sqrt @ s_inv_sqrt
    pixels = style.flatten(2)[0].double()
    mapped = a @ (pixels - s_mean) + c_mean
    return mapped.to(style.dtype).view_as(style).clamp(0, 1)


def chroma(image: Tensor) -> Tensor:
    """The I and Q channels (1×2×H×W): what luminance-only transfer leaves unchanged."""
    return rgb_to_yiq(image)[:, 1:]
