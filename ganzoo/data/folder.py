"""A folder of images: which files, which labels, and whether it changed since it was prepared.

Labels follow torchvision's ``ImageFolder``: when the folder holds only subfolders (no images of
its own), each subfolder is a class, the classes are the subfolders' names in sorted order, and
every image below a class folder, at any depth, belongs to it. A folder with images at its top
level is one unlabelled collection, read recursively. Hidden files and folders (``.name``) are
ignored, and so are files whose suffix is not an image's; files with an image suffix that turn
out unreadable are skipped and counted when the folder is prepared.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import DataError

#: the suffixes torchvision's ImageFolder reads, plus GIF
EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
)
#: files the datasets library reads as tables
DATA_FILE_SUFFIXES = frozenset({".parquet", ".arrow"})
TABLE_SUFFIXES = tuple(sorted(DATA_FILE_SUFFIXES))


class SkippedImagesWarning(UserWarning):
    """Some files of a dataset could not be read as images; they were left out."""


def _walk(root: Path) -> list[Path]:
    """Image files under ``root``, recursively, sorted by path; hidden entries skipped."""
    found: list[Path] = []
    for top, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(top) / f
            for f in files
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in EXTENSIONS
        )
    return sorted(found)


def image_files(root: Path) -> list[Path]:
    """Image files under ``root`` (recursively), sorted for reproducibility."""
    root = Path(root)
    if root.is_file():
        return [root] if root.suffix.lower() in EXTENSIONS else []
    return _walk(root)


def list_folder(root: Path) -> tuple[list[Path], list[int], tuple[str, ...] | None]:
    """``(files, labels, classes)``; ``classes`` is None for an unlabelled folder."""
    root = Path(root)
    files = image_files(root)
    if not files:
        raise DataError(
            f"{root} holds no images ({', '.join(sorted(EXTENSIONS))}); point --data at a "
            "folder of images, a dataset name or hf://datasets/ORG/NAME (ganzoo train --help)"
        )
    if root.is_file() or any(f.parent == root for f in files):
        return files, [], None
    classes = tuple(
        sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    )
    index = {name: i for i, name in enumerate(classes)}
    labels = [index[f.relative_to(root).parts[0]] for f in files]
    return files, labels, classes


def scan(root: Path) -> tuple[str, list[Path]]:
    """One pass over ``root``: ``(fingerprint, table files)``.

    The fingerprint hashes every file's relative path, size and modification time, so adding,
    removing or rewriting any file changes it; the table files are the ``.parquet``/``.arrow``
    files, sorted. About a second per 200,000 files on a local disk: a fraction of what decoding
    them again would take.
    """
    root = Path(root)
    if root.is_file():
        st = root.stat()
        key = f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}"
        return hashlib.sha256(key.encode()).hexdigest()[:16], []
    parts: list[str] = []
    tables: list[str] = []
    stat, join = os.stat, os.path.join
    for top, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(top, root)
        for name in files:
            try:
                st = stat(join(top, name))
            except OSError:
                continue
            parts.append(f"{rel}/{name}\0{st.st_size}\0{st.st_mtime_ns}")
            if name.lower().endswith(TABLE_SUFFIXES):
                tables.append(join(top, name))
    parts.sort()
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return digest, [Path(p) for p in sorted(tables)]


def folder_fingerprint(root: Path) -> str:
    """The fingerprint half of :func:`scan`."""
    return scan(root)[0]
