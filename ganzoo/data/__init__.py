"""Datasets: every source, any size, decoded once into uint8 and fed to the trainer.

``open_dataset("digits", 32, 1)`` returns what the trainer feeds from:

- an :class:`ImageStore` of uint8 images with labels: in memory for a registered dataset that
  returns an :class:`ImageSet` (digits, lfw, photos), otherwise the prepared cache of a folder,
  parquet/arrow files, a ``save_to_disk`` folder or ``hf://datasets/ORG/NAME`` (decoded once by
  worker processes, then reused: see :mod:`.prepare`);
- an :class:`~.stream.ImageStream` with ``streaming=True``: decoded on the fly, never cached.

``load_dataset`` keeps the older contract, every image as one float :class:`ImageSet` in
[-1, 1], for evaluation and small data. Plugins add datasets with the
``ganzoo_register_datasets`` hook; a dataset's loader may return an :class:`ImageSet` or a
``datasets.Dataset`` with an image column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    from torch import Tensor

    from .store import ImageStore
    from .stream import ImageStream


@dataclass
class ImageSet:
    """Images (N×C×H×W float in [-1, 1]) with optional integer class labels and their names."""

    images: Tensor
    labels: Tensor | None = None
    name: str = ""
    #: files that could not be read, with the reason (a folder dataset reports them once)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: class names, ``classes[label]``; None when unlabelled or unnamed
    classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def split(self, fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """A seeded random split into (first, second) with ``fraction`` of the images second."""
        import torch

        n = len(self)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        k = n - round(n * fraction)
        a, b = perm[:k], perm[k:]

        def take(idx: Tensor) -> ImageSet:
            labels = self.labels[idx] if self.labels is not None else None
            return ImageSet(self.images[idx], labels, self.name, classes=self.classes)

        return take(a), take(b)


def open_dataset(
    source: str | Path,
    image_size: int,
    channels: int,
    *,
    streaming: bool = False,
    image_column: str = "",
    label_column: str = "",
    config: str | None = None,
    max_pixels: int | None = None,
    workers: int | None = None,
    force: bool = False,
    quiet: bool = False,
) -> ImageStore | ImageStream:
    """The images of ``source`` at ``image_size``² × ``channels``, ready to train from.

    ``image_column``/``label_column`` name the columns of a table source (found automatically
    otherwise; ``label_column="none"`` drops labels), ``config`` a Hub dataset's
    configuration, ``max_pixels`` the decompression-bomb cap, ``workers`` the processes that
    prepare it, ``force`` prepares again even when a cache exists.
    """
    from ..plugins import get_registry
    from .decode import DEFAULT_MAX_PIXELS, DecodeRules
    from .sources import parse_source

    src = parse_source(source, config=config)
    rules = DecodeRules(image_size, channels, max_pixels or DEFAULT_MAX_PIXELS)
    dataset = None
    if src.kind == "registered":
        loaded = get_registry().datasets.get(src.name)(image_size, channels)
        if isinstance(loaded, ImageSet):
            return _store_from_imageset(loaded, src.name, image_size, channels)
        if not _is_hf_dataset(loaded):
            raise DataError(
                f"dataset {src.name!r} returned {type(loaded).__name__}: a dataset loader "
                "returns a ganzoo.data.ImageSet or a datasets.Dataset"
            )
        dataset = loaded
    if streaming:
        from .stream import ImageStream

        return ImageStream(src, rules, image_column, label_column, dataset=dataset)
    if dataset is not None and not hasattr(dataset, "_fingerprint"):  # an IterableDataset
        raise DataError(
            f"dataset {src.name!r} is an IterableDataset: train it with --set data_streaming=true"
        )
    from .prepare import open_prepared

    return open_prepared(
        src,
        rules,
        image_column=image_column,
        label_column=label_column,
        dataset=dataset,
        workers=workers,
        force=force,
        quiet=quiet,
    )


def _is_hf_dataset(obj: Any) -> bool:
    module = type(obj).__module__
    return module.startswith("datasets.") and hasattr(obj, "features")


def _store_from_imageset(data: ImageSet, name: str, image_size: int, channels: int) -> ImageStore:
    from .store import ImageStore

    want = (channels, image_size, image_size)
    if tuple(data.images.shape[1:]) != want:
        raise DataError(
            f"dataset {name!r} returned images of shape {tuple(data.images.shape[1:])}, "
            f"not {want} (C×H×W) as asked"
        )
    store = ImageStore.from_imageset(data)
    store.name = data.name or name
    return store


def load_dataset(name_or_path: str | Path, image_size: int, channels: int) -> ImageSet:
    """Every image of a source as one float :class:`ImageSet` in [-1, 1] (held in memory)."""
    from ..plugins import get_registry

    key = str(name_or_path)
    reg = get_registry()
    if key in reg.datasets:
        data = reg.datasets.get(key)(image_size, channels)
        if isinstance(data, ImageSet):
            return data
    store = open_dataset(name_or_path, image_size, channels)
    return store.to_imageset()  # type: ignore[union-attr]


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    from ..plugins import get_registry

    return get_registry().datasets.names()


def __getattr__(name: str) -> Any:  # the heavy classes, imported on first use
    if name == "ImageStore":
        from .store import ImageStore

        return ImageStore
    if name == "ImageStream":
        from .stream import ImageStream

        return ImageStream
    raise AttributeError(name)


__all__ = ["ImageSet", "ImageStore", "ImageStream", "list_datasets", "load_dataset", "open_dataset"]
