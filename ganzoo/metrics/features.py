"""Feature extractors: the networks whose embeddings the metrics compare.

Extractors are pluggable. A plugin (or the core, in :mod:`ganzoo.builtins`) registers a factory
in the ``features`` table through the ``ganzoo_register_features`` hook::

    registrar.add_features(
        "digits", "ganzoo.metrics.digits_classifier:digits_extractor", "one-line summary"
    )

A name as typed by the user is ``NAME`` or ``NAME:ARG`` (``timm:resnet18``); the factory is
called as ``factory(arg, device=..., random_weights=...)`` with ``arg`` the text after the first
colon (or ``None``) and returns a :class:`FeatureExtractor`. Scores are only comparable under one
protocol, so every extractor describes itself (:meth:`FeatureExtractor.describe`): weights,
input size, dimension, and for classifiers their held-out accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError


class FeatureExtractor(nn.Module):
    """Maps images (N×C×H×W in [-1, 1], on its device) to features and optional class logits.

    Subclasses set :attr:`dim` and, when they classify, :attr:`num_classes`, and implement
    :meth:`forward`. Each converts sizes and channels itself, so any model's images can be fed.
    """

    name: str = ""  #: the name the extractor was asked for (``digits``, ``timm:resnet18``)
    dim: int = 0  #: feature dimension
    num_classes: int = 0  #: > 0 when :meth:`forward` also returns class logits
    metric_label: str = "FD"  #: how reports name the Fréchet distance on these features

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(features N×dim, logits N×num_classes or None)``."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a report must state for its scores to be comparable."""
        return {"name": self.name, "dim": self.dim, "num_classes": self.num_classes}

    @property
    def device(self) -> torch.device:
        for t in [*self.parameters(), *self.buffers()]:
            return t.device
        return torch.device("cpu")


def cache_dir() -> Path:
    """Where ganzoo keeps what it computes once: ``$GANZOO_CACHE``, else
    ``$XDG_CACHE_HOME/ganzoo``, else ``~/.cache/ganzoo``."""
    if os.environ.get("GANZOO_CACHE"):
        return Path(os.environ["GANZOO_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ganzoo"


def get_extractor(
    name: str, *, device: torch.device | str = "cpu", random_weights: bool = False
) -> FeatureExtractor:
    """Build the registered extractor ``NAME`` or ``NAME:ARG`` on ``device``, in eval mode."""
    from ..plugins import get_registry

    key, _, arg = str(name).partition(":")
    factory = get_registry().features.get(key)
    extractor = factory(arg or None, device=torch.device(device), random_weights=random_weights)
    if not isinstance(extractor, FeatureExtractor):
        raise ConfigError(
            f"feature extractor {key!r} returned {type(extractor).__name__}, "
            "not a ganzoo.metrics.FeatureExtractor"
        )
    extractor.name = str(name)
    extractor.requires_grad_(False)
    return extractor.eval().to(device)


@torch.no_grad()
def embed(
    extractor: FeatureExtractor, images: Tensor, batch_size: int = 256
) -> tuple[Tensor, Tensor | None]:
    """Features (float32) and logits of ``images`` in batches, on the extractor's device.

    ``images`` may live anywhere (a dataset on the CPU); each batch is moved on its own.
    """
    device = extractor.device
    feats, logits = [], []
    for chunk in images.split(batch_size):
        f, lg = extractor(chunk.to(device, non_blocking=True).float())
        feats.append(f.float())
        if lg is not None:
            logits.append(lg.float())
    return torch.cat(feats), (torch.cat(logits) if logits else None)


def to_channels(images: Tensor, channels: int) -> Tensor:
    """1 ↔ 3 channels on the images' own device (luminance when going to grey)."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
        return (images * w.view(1, 3, 1, 1)).sum(1, keepdim=True)
    raise ConfigError(f"cannot feed {c}-channel images to an extractor that takes {channels}")


def resize(images: Tensor, size: int) -> Tensor:
    """Square images to ``size``: antialiased bicubic when shrinking, bilinear when enlarging."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = size < images.shape[-1]
    mode = "bicubic" if shrink else "bilinear"
    out = F.interpolate(images, size=(size, size), mode=mode, align_corners=False, antialias=shrink)
    return out.clamp(-1, 1)
