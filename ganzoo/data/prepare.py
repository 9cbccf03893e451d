"""Prepare once: decode and resize a dataset into the uint8 cache, with worker processes.

The first use of a (source, image size, channels) triple runs ``datasets.Dataset.map`` with
``num_proc`` workers over the undecoded images; each worker decodes its share (the rules of
:mod:`.decode`) and writes the pixels straight into their rows of the cache's ``images.u8``, so
nothing but a status column passes back through Arrow. The progress bar is ``datasets``' own.
Later uses find the cache by the same triple and start without decoding anything; a source whose
contents changed (a folder's files, a Hub commit) is prepared again in place.

Concurrent runs (several torchrun ranks on one machine, or two shells) serialise on a file lock:
one prepares, the others wait for it and then read the same cache.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .decode import DecodeRules, try_decode
from .folder import SkippedImagesWarning
from .sources import Columns, Source, find_columns, identity_key, offline_message, open_hf
from .sources import prepare_command as _prepare_command
from .store import (
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    LABELS,
    META,
    SKIPPED,
    VALID,
    ImageStore,
    cache_root,
)

#: fewer images than this per worker are decoded in the calling process (no pool start-up)
MIN_IMAGES_PER_WORKER = 256
#: images per map batch (one status row each; pixels go straight to the cache file)
MAP_BATCH = 64


def default_workers() -> int:
    """Worker processes for preparing: every core this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def cache_folder(source: Source, rules: DecodeRules, columns_key: dict[str, str]) -> Path:
    key = identity_key(source, {**rules.key(), **columns_key})
    name = f"{source.slug()}-{rules.image_size}px-{rules.channels}ch-{key}"
    return cache_root() / name


def say(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"ganzoo: {message}", file=sys.stderr, flush=True)


class RowWriter:
    """The function ``map`` runs in each worker: decode a batch, write its rows, report errors.

    Picklable (``datasets`` ships it to the workers); each process opens the cache file once.
    """

    def __init__(self, path: str, rules: DecodeRules) -> None:
        self.path, self.rules = path, rules
        self.row = rules.image_size * rules.image_size * rules.channels
        self._fd: int | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            self._pid = os.getpid()
        return self._fd

    def __call__(self, images: list[Any], indices: list[int]) -> dict[str, list[str | None]]:
        fd = self._file()
        errors: list[str | None] = []
        where: list[str | None] = []
        for value, index in zip(images, indices, strict=True):
            pixels, error = try_decode(value, self.rules)
            if pixels is not None:
                _pwrite(fd, pixels.tobytes(), index * self.row)
            errors.append(error)
            path = value.get("path") if isinstance(value, dict) else None
            where.append(path if error else None)
        return {"error": errors, "where": where}


def _pwrite(fd: int, data: bytes, offset: int) -> None:
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, offset)
    else:
        os.lseek(fd, offset, os.SEEK_SET)
        os.write(fd, data)


def open_prepared(
    source: Source,
    rules: DecodeRules,
    *,
    image_column: str = "",
    label_column: str = "",
    dataset: Any = None,
    workers: int | None = None,
    force: bool = False,
    quiet: bool = False,
) -> ImageStore:
    """The prepared cache of ``source`` at ``rules``, building it first when needed.

    ``dataset`` is a ``datasets.Dataset`` already opened (a plugin's); otherwise the source is
    opened with :func:`~.sources.open_hf` only if there is something to prepare.
    """
    folder = cache_folder(
        source, rules, {"image_column": image_column, "label_column": label_column}
    )
    fingerprint = dataset._fingerprint if dataset is not None else source.fingerprint()
    store = None if force else ImageStore.open(folder)
    if store is not None and (fingerprint is None or store.meta.get("fingerprint") == fingerprint):
        return store
    from filelock import FileLock, Timeout

    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"waiting for another process that is preparing {folder}", quiet)
        lock.acquire()
    try:
        store = ImageStore.open(folder)
        fresh = store is not None and store.meta.get("fingerprint") == fingerprint
        if store is not None and not force and (fresh or fingerprint is None):
            return store  # another process prepared it while this one waited
        if source.kind == "hub" and fingerprint is None and dataset is None:
            from .sources import hub_offline

            if hub_offline():
                raise DataError(
                    offline_message(
                        source, _prepare_command(source, rules.image_size, rules.channels)
                    )
                )
        if dataset is None:
            dataset = open_hf(source)
        return _build(
            source,
            dataset,
            rules,
            folder,
            image_column,
            label_column,
            fingerprint,
            workers or default_workers(),
            quiet,
        )
    finally:
        lock.release()


def _build(
    source: Source,
    ds: Any,
    rules: DecodeRules,
    folder: Path,
    image_column: str,
    label_column: str,
    fingerprint: str | None,
    workers: int,
    quiet: bool,
) -> ImageStore:
    import datasets

    columns = find_columns(ds.features, source, image_column, label_column)
    n = len(ds)
    if n == 0:
        raise DataError(f"{source} holds no rows")
    row = rules.image_size * rules.image_size * rules.channels
    folder.parent.mkdir(parents=True, exist_ok=True)
    _check_space(folder.parent, n * row, source)
    for stale in folder.parent.glob(folder.name + ".tmp-*"):  # we hold the lock: all are dead
        shutil.rmtree(stale, ignore_errors=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    tmp.mkdir()
    try:
        with open(tmp / IMAGES, "wb") as fh:
            fh.truncate(n * row)
        labels = _labels(ds, columns)
        images = ds.select_columns([columns.image]).cast_column(
            columns.image, datasets.Image(decode=False)
        )
        nproc = min(workers, n // MIN_IMAGES_PER_WORKER)
        t0 = time.perf_counter()
        say(
            f"preparing {n:,} images of {source} at {rules.image_size}px × {rules.channels} "
            f"channels with {max(1, nproc)} worker{'s' if nproc > 1 else ''} -> {folder}",
            quiet,
        )
        with _progress(not quiet):
            status = images.map(
                RowWriter(str(tmp / IMAGES), rules),
                batched=True,
                batch_size=MAP_BATCH,
                with_indices=True,
                input_columns=[columns.image],
                remove_columns=[columns.image],
                features=datasets.Features(
                    {"error": datasets.Value("string"), "where": datasets.Value("string")}
                ),
                num_proc=nproc if nproc > 1 else None,
                cache_file_name=str(tmp / "status.arrow"),
                load_from_cache_file=False,
                new_fingerprint=uuid.uuid4().hex,
                desc=f"ganzoo: decoding {source.slug()} at {rules.image_size}px",
            )
            errors = status.data.column("error").to_pylist()
            where = status.data.column("where").to_pylist()
        del status
        seconds = time.perf_counter() - t0
        for f in tmp.glob("status*.arrow"):
            f.unlink()
        bad = [i for i, e in enumerate(errors) if e is not None]
        count = n - len(bad)
        if count == 0:
            first = where[bad[0]] or f"row {bad[0]}"
            raise DataError(
                f"none of the {n:,} images of {source} could be read (first: {first}: "
                f"{errors[bad[0]]})"
            )
        valid = np.flatnonzero(np.array([e is None for e in errors]))
        if bad:
            np.save(tmp / VALID, valid)
            lines = [f"{where[i] or f'row {i}'}\t{errors[i]}" for i in bad]
            (tmp / SKIPPED).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if labels is not None:
            np.save(tmp / LABELS, labels[valid])
        classes = columns.classes
        if labels is not None and classes is None:
            classes = tuple(str(i) for i in range(int(labels.max()) + 1))
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "complete": True,
            "source": str(source),
            "identity": source.identity(),
            "fingerprint": fingerprint,
            **rules.key(),
            "image_column": columns.image,
            "label_column": columns.label,
            "classes": list(classes) if labels is not None and classes is not None else None,
            "rows": n,
            "count": count,
            "skipped": len(bad),
            "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "prepare_seconds": round(seconds, 2),
            "workers": max(1, nproc),
        }
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        _replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    store = ImageStore.open(folder)
    assert store is not None, folder
    store.decoded = n
    rate = n / max(seconds, 1e-9)
    say(f"prepared {count:,} images in {seconds:.1f} s ({rate:,.0f}/s)", quiet)
    if bad:
        first = where[bad[0]] or f"row {bad[0]}"
        warnings.warn(
            f"skipped {len(bad)} of {n} files in {source} that are not readable images "
            f"(first: {Path(first).name}: {errors[bad[0]]}); all of them are listed in "
            f"{folder / SKIPPED}",
            SkippedImagesWarning,
            stacklevel=3,
        )
    return store


def _labels(ds: Any, columns: Columns) -> np.ndarray | None:
    if columns.label is None:
        return None
    values = ds.select_columns([columns.label]).with_format("numpy")[columns.label]
    return np.asarray(values, dtype=np.int64)


def _replace(tmp: Path, folder: Path) -> None:
    """Put the finished ``tmp`` where ``folder`` is, atomically for readers of ``folder``."""
    if folder.exists():
        old = folder.with_name(f"{folder.name}.old-{uuid.uuid4().hex[:6]}")
        os.replace(folder, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, folder)


def _check_space(where: Path, need: int, source: Source) -> None:
    free = shutil.disk_usage(where).free
    if free < need * 1.02 + 64 * 2**20:
        raise DataError(
            f"preparing {source} needs {need / 2**30:.1f} GiB in {where} but {free / 2**30:.1f} "
            "GiB are free: free some space, point GANZOO_DATA_CACHE at a larger disk, or train "
            "with --set data_streaming=true"
        )


class _progress:
    """Show or hide ``datasets``' progress bars for one block."""

    def __init__(self, show: bool) -> None:
        self.show = show

    def __enter__(self) -> None:
        import datasets

        self.before = datasets.is_progress_bar_enabled()
        (datasets.enable_progress_bars if self.show else datasets.disable_progress_bars)()

    def __exit__(self, *exc: Any) -> None:
        import datasets

        (datasets.enable_progress_bars if self.before else datasets.disable_progress_bars)()
