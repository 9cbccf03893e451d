"""Prepared images: uint8, ``N×H×W×C``, with their labels, in memory or in the cache on disk.

A prepared cache is one folder under :func:`cache_root`::

    images.u8      every decoded image, one fixed-size row after another (N × H × W × C bytes)
    labels.npy     int64 class index per usable image (absent for unlabelled data)
    valid.npy      the rows of images.u8 that hold a usable image (absent when all do)
    skipped.txt    one line per file that could not be used, with the reason
    meta.json      count, size, channels, classes, source, fingerprint; written last

The folder is built under a temporary name and renamed when complete, so a prepare that was
interrupted leaves nothing that a later run could mistake for a cache. Rows are read with
``os.preadv`` into the caller's buffer rather than memory-mapped: a random batch costs a few
system calls, the page cache does the caching, and the process's resident memory does not grow
with the dataset however long it trains.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "ganzoo-images"
FORMAT_VERSION = 1
META = "meta.json"
IMAGES = "images.u8"
LABELS = "labels.npy"
VALID = "valid.npy"
SKIPPED = "skipped.txt"
#: environment variable naming the cache folder (default: $XDG_CACHE_HOME/ganzoo/datasets)
CACHE_ENV = "GANZOO_DATA_CACHE"


def cache_root() -> Path:
    """Where prepared datasets live: ``$GANZOO_DATA_CACHE``, else ``~/.cache/ganzoo/datasets``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganzoo" / "datasets"


class ImageStore:
    """``count`` images of ``image_size``² × ``channels`` uint8 with optional class labels.

    Either held in memory (``pixels``) or read from a prepared cache folder row by row.
    """

    def __init__(
        self,
        *,
        image_size: int,
        channels: int,
        count: int,
        labels: np.ndarray | None = None,
        classes: tuple[str, ...] | None = None,
        name: str = "",
        pixels: np.ndarray | None = None,
        folder: Path | None = None,
        meta: dict[str, Any] | None = None,
        valid: np.ndarray | None = None,
        decoded: int = 0,
    ) -> None:
        self.image_size, self.channels, self.count = image_size, channels, count
        self.labels, self.classes, self.name = labels, classes, name
        self.folder, self.meta = folder, meta or {}
        self.valid = valid
        #: images decoded while opening this store (0 when a prepared cache was reused)
        self.decoded = decoded
        self._pixels = pixels
        #: the float ImageSet a registered loader returned, when the store was made from one
        self.imageset: Any = None
        self._fd: int | None = None
        self._fd_pid = -1

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        pixels: np.ndarray,
        labels: np.ndarray | None = None,
        classes: tuple[str, ...] | None = None,
        name: str = "",
    ) -> ImageStore:
        """A store in memory from ``N×H×W×C`` uint8 pixels."""
        if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[1] != pixels.shape[2]:
            raise ValueError(f"expected N×S×S×C uint8 pixels, got {pixels.dtype} {pixels.shape}")
        n, size, _, c = pixels.shape
        return cls(
            image_size=size,
            channels=c,
            count=n,
            labels=labels,
            classes=classes,
            name=name,
            pixels=np.ascontiguousarray(pixels),
            decoded=n,
        )

    @classmethod
    def from_imageset(cls, data: Any) -> ImageStore:
        """Quantise a float :class:`~ganzoo.data.ImageSet` (values in [-1, 1]) to uint8."""
        import torch

        x = data.images.detach().float().cpu().clamp(-1, 1)
        pixels = ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        labels = data.labels.cpu().numpy().astype(np.int64) if data.labels is not None else None
        classes = tuple(data.classes) if getattr(data, "classes", None) else None
        if labels is not None and classes is None:
            classes = tuple(str(i) for i in range(int(labels.max()) + 1)) if len(labels) else ()
        store = cls.from_arrays(pixels, labels, classes, data.name)
        # evaluation compares with exactly what `ganzoo eval` loads: the loader's own floats
        store.imageset = data
        return store

    @classmethod
    def open(cls, folder: Path) -> ImageStore | None:
        """The prepared cache in ``folder``, or None unless it is complete and readable."""
        folder = Path(folder)
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            return None
        if not meta.get("complete"):
            return None
        size, channels = int(meta["image_size"]), int(meta["channels"])
        try:
            rows = (folder / IMAGES).stat().st_size // (size * size * channels)
            labels = np.load(folder / LABELS) if (folder / LABELS).exists() else None
            valid = np.load(folder / VALID) if (folder / VALID).exists() else None
        except (OSError, ValueError):
            return None
        if rows != int(meta["rows"]):
            return None
        classes = meta.get("classes")
        return cls(
            image_size=size,
            channels=channels,
            count=int(meta["count"]),
            labels=labels,
            classes=tuple(classes) if classes is not None else None,
            name=str(meta.get("source", "")),
            folder=folder,
            meta=meta,
            valid=valid,
        )

    # -- reading -------------------------------------------------------------------------------
    @property
    def row_bytes(self) -> int:
        return self.image_size * self.image_size * self.channels

    @property
    def nbytes(self) -> int:
        """Bytes of every usable image as uint8: what a device-resident copy would take."""
        return self.count * self.row_bytes

    @property
    def in_memory(self) -> bool:
        return self._pixels is not None

    def _file(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            assert self.folder is not None
            self._fd = os.open(self.folder / IMAGES, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            self._fd_pid = os.getpid()
        return self._fd

    def read(self, index: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Images ``index`` (positions among the usable images) as ``K×S×S×C`` uint8."""
        index = np.asarray(index, dtype=np.int64)
        if self._pixels is not None:
            return np.take(self._pixels, index, axis=0, out=out)
        shape = (len(index), self.image_size, self.image_size, self.channels)
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        rows = self.valid[index] if self.valid is not None else index
        fd, nbytes = self._file(), self.row_bytes
        flat = out.reshape(len(index), nbytes)
        for i, row in enumerate(rows.tolist()):
            _pread_into(fd, flat[i], row * nbytes)
        return out

    def load_all(self) -> np.ndarray:
        """Every usable image in one ``N×S×S×C`` array (for stores small enough to hold)."""
        if self._pixels is not None:
            return self._pixels
        assert self.folder is not None
        shape = (-1, self.image_size, self.image_size, self.channels)
        pixels = np.fromfile(self.folder / IMAGES, dtype=np.uint8).reshape(shape)
        return pixels[self.valid] if self.valid is not None else pixels

    def to_imageset(self, limit: int | None = None, seed: int = 0) -> Any:
        """The images as a float :class:`~ganzoo.data.ImageSet` in [-1, 1] (all of them, or a
        seeded sample of ``limit``)."""
        import torch

        from . import ImageSet

        if self.imageset is not None and (limit is None or limit >= self.count):
            return self.imageset

        index = np.arange(self.count)
        if limit is not None and limit < self.count:
            index = np.sort(np.random.default_rng(seed).choice(self.count, limit, replace=False))
        pixels = torch.from_numpy(self.read(index))
        images = pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        labels = torch.from_numpy(self.labels[index]) if self.labels is not None else None
        return ImageSet(
            images.contiguous(), labels, self.name, self.skipped(), classes=self.classes
        )

    def skipped(self) -> list[tuple[str, str]]:
        """Files left out when this store was prepared: ``(where, why)``."""
        if self.folder is None or not (self.folder / SKIPPED).exists():
            return []
        out = []
        for line in (self.folder / SKIPPED).read_text(encoding="utf-8").splitlines():
            where, _, why = line.partition("\t")
            out.append((where, why))
        return out

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __len__(self) -> int:
        return self.count

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers started by spawn reopen
        state = dict(self.__dict__)
        state["_fd"], state["_fd_pid"] = None, -1
        return state

    def __repr__(self) -> str:
        where = "memory" if self.in_memory else str(self.folder)
        classes = f", {len(self.classes)} classes" if self.classes else ""
        return (
            f"ImageStore({self.name!r}: {self.count} × {self.image_size}px × "
            f"{self.channels}ch{classes}, {where})"
        )


def _pread_into(fd: int, buffer: np.ndarray, offset: int) -> None:
    if hasattr(os, "preadv"):
        got = os.preadv(fd, [buffer], offset)
    else:  # Windows: no preadv
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, buffer.nbytes)
        buffer[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        got = len(data)
    if got != buffer.nbytes:
        raise OSError(f"short read at offset {offset}: the prepared cache is damaged")
