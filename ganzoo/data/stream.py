"""Streaming: train from a dataset too large for the disk cache, decoding as it arrives.

``--set data_streaming=true`` opens the source as a ``datasets.IterableDataset`` (for the Hub:
without downloading it whole). Under torchrun each rank keeps its own part with
``datasets.distributed.split_dataset_by_node``: whole files when their number divides by the
number of ranks, else every world-size-th example. Each rank then shuffles its part (whole files
and a buffer of examples, seeded), and ``DataLoader`` workers decode the images (the rules of
:mod:`.decode`) in batches of the rank's share of the global batch, as in docs/distributed.md.
The stream repeats, reshuffled, epoch after epoch. Unreadable files are skipped as they come.

Resuming a streamed run continues with a fresh shuffle seeded by the step it resumes from: the
same data in a different order, not the exact batches of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .decode import DecodeRules, try_decode
from .folder import SkippedImagesWarning
from .sources import Columns, Source, find_columns, open_hf


class DecodeBatch:
    """The loader's ``collate_fn``, run in its workers: decode a list of raw examples."""

    def __init__(self, rules: DecodeRules, columns: Columns) -> None:
        self.rules, self.columns = rules, columns

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        size, c = self.rules.image_size, self.rules.channels
        pixels = np.empty((len(examples), size, size, c), dtype=np.uint8)
        labels, bad, n = [], [], 0
        for ex in examples:
            arr, error = try_decode(ex[self.columns.image], self.rules)
            if arr is None:
                value = ex[self.columns.image]
                bad.append(((value.get("path") if isinstance(value, dict) else None), error))
                continue
            pixels[n] = arr
            n += 1
            if self.columns.label is not None:
                labels.append(int(ex[self.columns.label]))
        return {
            "pixels": torch.from_numpy(pixels[:n]),
            "labels": torch.tensor(labels, dtype=torch.int64) if self.columns.label else None,
            "bad": bad,
        }


class ImageStream:
    """A dataset read as a stream of uint8 batches; nothing is cached on disk."""

    def __init__(
        self,
        source: Source,
        rules: DecodeRules,
        image_column: str = "",
        label_column: str = "",
        dataset: Any = None,
    ) -> None:
        import datasets

        ds = dataset if dataset is not None else open_hf(source, streaming=True)
        if isinstance(ds, datasets.Dataset):
            ds = ds.to_iterable_dataset(num_shards=min(64, max(1, len(ds))))
        if ds.features is None:
            ds = ds._resolve_features()
        self.columns = find_columns(ds.features, source, image_column, label_column)
        keep = [self.columns.image] + ([self.columns.label] if self.columns.label else [])
        self.dataset = ds.select_columns(keep).cast_column(
            self.columns.image, datasets.Image(decode=False)
        )
        self.source, self.rules = source, rules
        self.image_size, self.channels = rules.image_size, rules.channels
        self.classes = self.columns.classes
        self.name = str(source)
        self.skipped = 0
        self.first_skipped: tuple[str | None, str | None] | None = None

    @property
    def num_shards(self) -> int:
        return int(self.dataset.num_shards)

    def batches(
        self,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
        start_step: int = 0,
        shuffle_buffer: int = 1000,
        pin_memory: bool = False,
    ) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Endless ``(pixels B×S×S×C uint8, labels or None)`` of this rank's part."""
        from datasets.distributed import split_dataset_by_node

        ds = self.dataset
        if world_size > 1:
            ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
        if shuffle_buffer > 0:
            ds = ds.shuffle(seed=stream_seed(seed, start_step), buffer_size=shuffle_buffer)
        workers = min(workers, int(ds.num_shards))
        pending: list[tuple[Tensor, Tensor | None]] = []
        have, epoch = 0, 0
        while True:
            ds.set_epoch(epoch)
            loader = torch.utils.data.DataLoader(
                ds,
                batch_size=batch_size,
                collate_fn=DecodeBatch(self.rules, self.columns),
                num_workers=workers,
                pin_memory=pin_memory,
                persistent_workers=False,
            )
            good_this_epoch = 0
            for item in loader:
                self._count_bad(item["bad"])
                n = int(item["pixels"].shape[0])
                if not n:
                    continue
                good_this_epoch += n
                pending.append((item["pixels"], item["labels"]))
                have += n
                while have >= batch_size:
                    out, pending, have = _take(pending, batch_size)
                    yield out
            if good_this_epoch == 0:
                where = f" for rank {rank} of {world_size}" if world_size > 1 else ""
                raise DataError(f"{self.source} streamed no readable images{where}")
            epoch += 1

    def _count_bad(self, bad: list[tuple[str | None, str | None]]) -> None:
        if not bad:
            return
        if self.first_skipped is None:
            self.first_skipped = bad[0]
            where, why = bad[0]
            warnings.warn(
                f"skipping images of {self.source} that are not readable (first: "
                f"{where or 'an embedded image'}: {why})",
                SkippedImagesWarning,
                stacklevel=3,
            )
        self.skipped += len(bad)

    def __repr__(self) -> str:
        return f"ImageStream({self.name!r}, {self.image_size}px × {self.channels}ch)"


def _take(
    pending: list[tuple[Tensor, Tensor | None]], n: int
) -> tuple[tuple[Tensor, Tensor | None], list[tuple[Tensor, Tensor | None]], int]:
    """The first ``n`` images of the pending pieces, and what is left."""
    pixels = torch.cat([p for p, _ in pending]) if len(pending) > 1 else pending[0][0]
    has_labels = pending[0][1] is not None
    labels = (
        (torch.cat([lab for _, lab in pending]) if len(pending) > 1 else pending[0][1])
        if has_labels
        else None
    )
    out = (pixels[:n], labels[:n] if labels is not None else None)
    rest_n = int(pixels.shape[0]) - n
    rest = [(pixels[n:], labels[n:] if labels is not None else None)] if rest_n else []
    return out, rest, rest_n


def stream_seed(seed: int, step: int) -> int:
    """The shuffle seed of a stream started (or resumed) at ``step``."""
    digest = hashlib.sha256(f"ganzoo-stream:{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:4], "little")
