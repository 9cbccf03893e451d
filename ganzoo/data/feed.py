"""The trainer's batches: uint8 until they are on the training device, then [-1, 1] floats.

:func:`open_feed` picks one of three ways, and ``Feed.describe()`` says which:

- **on the device**: the whole uint8 dataset is copied to the training device once (when it
  takes at most :func:`device_budget` bytes there, or ``data_on_device=true``); a batch is an
  index into it, with no host work per step.
- **loader**: the prepared cache is read row by row (``os.preadv``) for each step's batch, in
  ``data_workers`` ``DataLoader`` processes (pinned memory on CUDA) or, with 0 workers, in the
  training process itself.
- **stream**: a :class:`~.stream.ImageStream` decoded by loader workers as it arrives.

Which images a step uses is a pure function of (seed, step) for the first two: epochs of seeded
permutations of the whole dataset, ``batch_size × d_steps`` images a step, the global batch
drawn identically on every rank and sliced (``World.shard``), so a resumed run and N processes
see exactly the batches one uninterrupted process would. ``data_flip`` mirrors a seeded half of
the images, the same way. Labels travel with the images as class indices (``Batch.labels``).
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError

#: a dataset at most this large (uint8) goes to the CPU "device" whole
CPU_BUDGET = 512 * 2**20
#: on CUDA: at most this share of the GPU's memory, and at most CUDA_BUDGET_MAX bytes
CUDA_BUDGET_SHARE = 1 / 8
CUDA_BUDGET_MAX = 4 * 2**30
#: images of a prepared dataset used by training-time evaluation (eval_every)
EVAL_LIMIT = 10_000


class Batch(NamedTuple):
    """One step's real images (N×C×H×W float in [-1, 1] on the device) and class indices."""

    images: Tensor
    labels: Tensor | None


def epoch_seed(seed: int, epoch: int, what: str = "order") -> int:
    digest = hashlib.sha256(f"ganzoo-data:{what}:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class EpochOrder:
    """Global dataset positions of each step's images: epochs of seeded permutations."""

    def __init__(self, count: int, per_step: int, seed: int, flip: bool, device: Any = "cpu"):
        self.count, self.per_step, self.seed, self.flip = count, per_step, seed, flip
        self.device = torch.device(device)
        self._cache: dict[int, tuple[Tensor, Tensor | None]] = {}

    def _epoch(self, epoch: int) -> tuple[Tensor, Tensor | None]:
        if epoch not in self._cache:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
            perm = torch.randperm(self.count, generator=g).to(self.device)
            flips = None
            if self.flip:
                g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, "flip"))
                flips = (torch.rand(self.count, generator=g) < 0.5).to(self.device)
            self._cache = {k: v for k, v in self._cache.items() if k >= epoch - 1}
            self._cache[epoch] = (perm, flips)
        return self._cache[epoch]

    def take(self, step: int) -> tuple[Tensor, Tensor | None]:
        """``(positions, flips)`` of step ``step``'s global batch (``per_step`` of each)."""
        start = step * self.per_step
        epoch, offset = divmod(start, self.count)
        if offset + self.per_step <= self.count:  # the usual case: inside one epoch, no copy
            perm, flips = self._epoch(epoch)
            index = perm[offset : offset + self.per_step]
            return index, (flips[index] if flips is not None else None)
        # across epochs (or a batch larger than the dataset): allocate first, so that an absurd
        # batch size fails at once with the allocation's size instead of looping
        index = torch.empty(self.per_step, dtype=torch.long, device=self.device)
        done = 0
        while done < self.per_step:
            epoch, offset = divmod(start + done, self.count)
            n = min(self.per_step - done, self.count - offset)
            index[done : done + n] = self._epoch(epoch)[0][offset : offset + n]
            done += n
        if not self.flip:
            return index, None
        flips = torch.empty(self.per_step, dtype=torch.bool, device=self.device)
        done = 0
        while done < self.per_step:
            epoch, offset = divmod(start + done, self.count)
            n = min(self.per_step - done, self.count - offset)
            flips[done : done + n] = self._epoch(epoch)[1][index[done : done + n]]
            done += n
        return index, flips


def to_training(pixels: Tensor, flips: Tensor | None, channels_last: bool) -> Tensor:
    """uint8 N×H×W×C on the device -> float N×C×H×W in [-1, 1] (flipped where asked)."""
    x = pixels.permute(0, 3, 1, 2)
    if not channels_last:
        x = x.contiguous()
    x = x.float().div_(127.5).sub_(1.0)
    if flips is not None:
        x = torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


class Feed:
    """Where the trainer gets each step's batch; see the module docstring."""

    kind = ""

    def batch(self, step: int) -> Batch:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind

    def close(self) -> None:
        pass


class ResidentFeed(Feed):
    """The whole dataset on the training device; a batch is a gather."""

    kind = "on the device"

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None,
        order: EpochOrder,
        shard: Any,
        d_steps: int,
        channels_last: bool,
        uint8: bool,
    ) -> None:
        self.images, self.labels, self.order = images, labels, order
        self.shard, self.d_steps = shard, d_steps
        self.channels_last, self.uint8 = channels_last, uint8

    def batch(self, step: int) -> Batch:
        index, flips = self.order.take(step)
        index = self.shard(index, self.d_steps)
        flips = self.shard(flips, self.d_steps) if flips is not None else None
        labels = self.labels[index] if self.labels is not None else None
        if not self.uint8:  # a float ImageSet handed to the trainer as it is
            x = self.images[index]
            if flips is not None:
                x = torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)
            return Batch(x, labels)
        return Batch(to_training(self.images[index], flips, self.channels_last), labels)


class StepBatches(torch.utils.data.Dataset):
    """Item ``step`` is that step's uint8 batch for this rank, read from the store."""

    def __init__(self, store: Any, order: EpochOrder, shard: Any, d_steps: int) -> None:
        self.store, self.order, self.shard, self.d_steps = store, order, shard, d_steps

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, Any]:
        index, flips = self.order.take(step)
        index = self.shard(index, self.d_steps).numpy()
        order = np.argsort(index, kind="stable")  # read in file order, hand back in batch order
        pixels = np.empty((len(index), *self._shape()), dtype=np.uint8)
        pixels[order] = self.store.read(index[order])
        labels = self.store.labels
        return {
            "step": step,
            "pixels": torch.from_numpy(pixels),
            "labels": torch.from_numpy(labels[index]) if labels is not None else None,
            "flips": self.shard(flips, self.d_steps) if flips is not None else None,
        }

    def _shape(self) -> tuple[int, int, int]:
        return (self.store.image_size, self.store.image_size, self.store.channels)


def _identity(item: Any) -> Any:
    return item


class LoaderFeed(Feed):
    """Batches read from the prepared cache by ``DataLoader`` workers (or in process)."""

    def __init__(
        self,
        batches: StepBatches,
        start: int,
        stop: int,
        workers: int,
        device: Any,
        channels_last: bool,
    ) -> None:
        self.device, self.channels_last, self.workers = device, channels_last, workers
        on_cuda = torch.device(device).type == "cuda"
        self.loader = torch.utils.data.DataLoader(
            batches,
            batch_size=None,
            sampler=range(start, max(start, stop)),
            num_workers=workers,
            collate_fn=_identity,
            pin_memory=on_cuda,
            prefetch_factor=4 if workers else None,
            persistent_workers=False,
        )
        self.kind = (
            f"loader, {workers} worker process{'es' if workers != 1 else ''}"
            if workers
            else "loader, in process"
        )
        self._it = iter(self.loader)

    def batch(self, step: int) -> Batch:
        item = next(self._it)
        assert item["step"] == step, (item["step"], step)
        pixels = item["pixels"].to(self.device, non_blocking=True)
        flips = (
            item["flips"].to(self.device, non_blocking=True) if item["flips"] is not None else None
        )
        labels = (
            item["labels"].to(self.device, non_blocking=True)
            if item["labels"] is not None
            else None
        )
        return Batch(to_training(pixels, flips, self.channels_last), labels)

    def close(self) -> None:
        self._it = None  # shuts the workers down


class StreamFeed(Feed):
    """Batches of an :class:`~.stream.ImageStream`, this rank's share of each step."""

    def __init__(
        self,
        stream: Any,
        local: int,
        d_steps: int,
        world: Any,
        options: Any,
        device: Any,
        start: int,
        channels_last: bool,
    ) -> None:
        self.device, self.channels_last = device, channels_last
        self.flip, self.seed = bool(options.data_flip), options.seed
        workers = resolve_workers(options.data_workers, device)
        self.batches = stream.batches(
            local * d_steps,
            seed=options.seed,
            rank=world.rank,
            world_size=world.world_size,
            workers=workers,
            start_step=start,
            shuffle_buffer=options.data_shuffle_buffer,
            pin_memory=torch.device(device).type == "cuda",
        )
        self.kind = f"stream, {min(workers, stream.num_shards)} decoding workers"

    def batch(self, step: int) -> Batch:
        pixels, labels = next(self.batches)
        flips = None
        if self.flip:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, step, "stream-flip"))
            flips = (torch.rand(pixels.shape[0], generator=g) < 0.5).to(self.device)
        pixels = pixels.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True) if labels is not None else None
        return Batch(to_training(pixels, flips, self.channels_last), labels)

    def close(self) -> None:
        self.batches.close()


def device_budget(device: torch.device) -> int:
    """Bytes of uint8 images that may be copied to ``device`` whole."""
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        return int(min(total * CUDA_BUDGET_SHARE, CUDA_BUDGET_MAX))
    return CPU_BUDGET


def resolve_workers(requested: int | None, device: Any) -> int:
    """Loader processes: as asked, else 0 on the CPU (measured faster on 2 cores: see
    benchmarks/RESULTS.md) and up to 4 on CUDA, where reading overlaps the GPU's work."""
    if requested is not None:
        return requested
    if torch.device(device).type != "cuda":
        return 0
    import os

    return max(1, min(4, (os.cpu_count() or 2) - 1))


def open_feed(data: Any, options: Any, world: Any, device: Any, start: int) -> Feed:
    """The feed for ``data`` (an ImageSet, ImageStore or ImageStream) from step ``start``."""
    from . import ImageSet
    from .store import ImageStore
    from .stream import ImageStream

    device = torch.device(device)
    per_step = options.batch_size * options.d_steps
    local = world.local_batch(options.batch_size)
    from ..training.graphs import channels_last_on

    channels_last = channels_last_on(options, device)
    flip = bool(getattr(options, "data_flip", False))
    if isinstance(data, ImageStream):
        return StreamFeed(
            data, local, options.d_steps, world, options, device, start, channels_last
        )
    if isinstance(data, ImageSet):
        images = data.images.to(device)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = data.labels.to(device) if data.labels is not None else None
        order = EpochOrder(len(data), per_step, options.seed, flip, device)
        return ResidentFeed(
            images, labels, order, world.shard, options.d_steps, channels_last, False
        )
    if not isinstance(data, ImageStore):
        raise ConfigError(
            f"cannot train from {type(data).__name__}: give an ImageSet or ImageStore"
        )
    on_device = getattr(options, "data_on_device", None)
    too_big = ""
    if on_device is None:
        on_device = data.nbytes <= device_budget(device)
        if not on_device:  # said in the run's data line, so a slower feed is not a mystery
            too_big = (
                f" (the dataset's {data.nbytes / 2**20:,.0f} MiB exceed the on-device budget "
                f"of {device_budget(device) / 2**20:,.0f} MiB; data_on_device=true forces it)"
            )
    if on_device:
        images = torch.from_numpy(data.load_all()).to(device)
        labels = torch.from_numpy(data.labels).to(device) if data.labels is not None else None
        order = EpochOrder(data.count, per_step, options.seed, flip, device)
        return ResidentFeed(
            images, labels, order, world.shard, options.d_steps, channels_last, True
        )
    order = EpochOrder(data.count, per_step, options.seed, flip, "cpu")
    batches = StepBatches(data, order, world.shard, options.d_steps)
    workers = resolve_workers(getattr(options, "data_workers", None), device)
    feed = LoaderFeed(batches, start, options.steps, workers, device, channels_last)
    feed.kind += too_big
    return feed


def dataset_size(data: Any) -> int | None:
    """How many images ``data`` holds; None for a stream."""
    from . import ImageSet

    if isinstance(data, ImageSet):
        return len(data)
    return getattr(data, "count", None)


def summary(data: Any, feed: Feed) -> str:
    """One line for the start of a run: what is trained on, and how it is fed."""
    from . import ImageSet

    if isinstance(data, ImageSet):
        n, (c, h, w) = len(data), tuple(data.images.shape[1:])
        classes = data.classes
    else:
        n, h, w, c = getattr(data, "count", None), data.image_size, data.image_size, data.channels
        classes = data.classes
    count = f"{n:,} images" if n is not None else "a stream of images"
    labels = f", {len(classes)} classes" if classes else ""
    return f"{count} of {h}×{w}×{c}{labels}; batches {feed.describe()}"


def eval_images(data: Any) -> Any:
    """What training-time evaluation compares samples with: an ImageSet."""
    from . import ImageSet
    from .store import ImageStore

    if isinstance(data, ImageSet):
        return data
    if isinstance(data, ImageStore):
        return data.to_imageset(limit=EVAL_LIMIT if not data.in_memory else None)
    raise ConfigError("eval_every needs a prepared dataset: drop data_streaming or eval_every")
