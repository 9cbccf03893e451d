"""Datasets: every image as one float tensor N×C×H×W in [-1, 1], small enough to live on the
training device.

``load_dataset("digits", 32, 1)`` looks the name up in the registry (plugins add datasets with
the ``ganzoo_register_datasets`` hook); anything that is not a registered name is read as a folder
of images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..errors import DataError


@dataclass
class ImageSet:
    """Images (N×C×H×W in [-1, 1]) with optional integer class labels."""

    images: Tensor
    labels: Tensor | None = None
    name: str = ""
    #: files that could not be read, with the reason (a folder dataset reports them once)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def split(self, fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """A seeded random split into (first, second) with ``fraction`` of the images second."""
        n = len(self)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        k = n - round(n * fraction)
        a, b = perm[:k], perm[k:]

        def take(idx: Tensor) -> ImageSet:
            labels = self.labels[idx] if self.labels is not None else None
            return ImageSet(self.images[idx], labels, self.name)

        return take(a), take(b)


def load_dataset(name_or_path: str | Path, image_size: int, channels: int) -> ImageSet:
    """Load a registered dataset by name, or a folder of images by path."""
    from ..plugins import get_registry

    reg = get_registry()
    key = str(name_or_path)
    if key in reg.datasets:
        data = reg.datasets.get(key)(image_size, channels)
        if not isinstance(data, ImageSet):
            raise DataError(f"dataset {key!r} returned {type(data).__name__}, not an ImageSet")
        return data
    path = Path(key).expanduser()
    if path.exists():
        from .folder import load_folder

        return load_folder(path, image_size, channels)
    hint = reg.datasets.unknown_message(key)
    raise DataError(f"{key!r} is neither a dataset name nor an existing folder ({hint})")


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    from ..plugins import get_registry

    return get_registry().datasets.names()


__all__ = ["ImageSet", "list_datasets", "load_dataset"]
