"""A folder of images as a dataset: recursive, png/jpg/webp/bmp, any mode, any size.

Files that cannot be decoded are skipped and counted, and reported in one warning, so one bad file
never ends a run. Other files (text, archives) are ignored.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from ..images import from_pil
from . import ImageSet
from .transforms import resize_square

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


class SkippedImagesWarning(UserWarning):
    """Some files of an image folder could not be read."""


def image_files(root: Path) -> list[Path]:
    """Image files under ``root`` (recursively), sorted for reproducibility."""
    if root.is_file():
        return [root] if root.suffix.lower() in EXTENSIONS else []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)


def load_folder(root: str | Path, image_size: int, channels: int) -> ImageSet:
    root = Path(root)
    files = image_files(root)
    if not files:
        raise DataError(
            f"{root} holds no images ({', '.join(sorted(EXTENSIONS))}); "
            "point --data at a folder of images or a dataset name (ganzoo train --help)"
        )
    tensors, skipped = [], []
    for path in files:
        try:
            with Image.open(path) as img:
                img.load()
                x = from_pil(img, channels)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            skipped.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        tensors.append(resize_square(x.unsqueeze(0), image_size))
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(files)} files in {root} that are not readable "
            f"images (first: {Path(skipped[0][0]).name})",
            SkippedImagesWarning,
            stacklevel=2,
        )
    if not tensors:
        raise DataError(f"none of the {len(files)} image files in {root} could be read")
    return ImageSet(torch.cat(tensors), None, str(root), skipped)
