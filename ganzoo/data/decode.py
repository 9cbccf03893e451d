"""The decoding rules: one image (a file, its bytes or a PIL image) to uint8 H×W×C at the
training size. Every source goes through here, in the prepare workers or the stream workers.

- The header is read first: an image that declares more than ``max_pixels`` pixels (a
  decompression bomb, or a scan far larger than any training size) is rejected before a single
  pixel is decoded.
- JPEGs are decoded at a reduced scale where that still leaves the shorter side at least the
  training size (libjpeg's DCT scaling), which makes large photos several times faster.
- The EXIF orientation is applied, so a portrait photo stands upright.
- 16-bit greyscale (PIL modes ``I;16*`` and ``I``) is scaled to 8 bits, not clipped to white.
- Transparency is composited onto white; any other mode is converted by Pillow.
- Resizing: shorter side to the training size, then a centre crop; bicubic (antialiased)
  when shrinking, bilinear when enlarging.

A file that cannot be used raises :class:`BadImage` with a short reason, which the callers count
and report once instead of stopping.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Pillow's own warning threshold (about 9,459 × 9,459): above it an image is skipped, unread
DEFAULT_MAX_PIXELS = 89_478_485
#: bump when the output of :func:`decode` changes for the same input: old caches are not reused
RULES_VERSION = 1

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class BadImage(Exception):
    """A file that is not a usable image; ``str(exc)`` says why in a few words."""


@dataclass(frozen=True)
class DecodeRules:
    """How every image of a dataset is turned into training pixels."""

    image_size: int  #: side of the square output, in pixels
    channels: int  #: 1 (luminance) or 3 (RGB)
    max_pixels: int = DEFAULT_MAX_PIXELS  #: width × height above which a file is skipped

    def key(self) -> dict[str, int]:
        """What a prepared cache depends on besides the source."""
        return {
            "image_size": self.image_size,
            "channels": self.channels,
            "max_pixels": self.max_pixels,
            "rules": RULES_VERSION,
        }


@contextmanager
def _own_pixel_cap() -> Any:
    """Switch Pillow's global decompression-bomb check off: :func:`decode` applies its own cap
    (an option) before decoding, and Pillow's would refuse or warn at a different size."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's palette/EXIF chatter about odd files
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _open(value: Any) -> Image.Image:
    """A lazily decoded PIL image from a path, bytes, a ``datasets`` image dict or an image."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data is not None:
            value = data
        elif path is not None:
            value = path
        else:
            raise BadImage("no image data")
    if isinstance(value, bytes | bytearray | memoryview):
        if not len(value):
            raise BadImage("empty file")
        return Image.open(io.BytesIO(bytes(value)))
    if isinstance(value, str | os.PathLike):
        if os.path.getsize(value) == 0:
            raise BadImage("empty file")
        return Image.open(value)
    raise BadImage(f"not an image ({type(value).__name__})")


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """``L`` or ``RGB``: 16-bit grey scaled down, transparency over white."""
    if image.mode.startswith("I;16") or image.mode == "I":
        grey = np.asarray(image).astype(np.int64).clip(0, 65535)
        image = Image.fromarray(((grey * 255 + 32767) // 65535).astype(np.uint8), "L")
    elif image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("L" if channels == 1 else "RGB")


def _square(image: Image.Image, size: int) -> Image.Image:
    """Shorter side to ``size``, centre crop, in one resampling pass."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    if side == size and left == int(left) and top == int(top):
        return image.crop((int(left), int(top), int(left) + size, int(top) + size))
    shrink = side > size
    return image.resize(
        (size, size),
        Image.Resampling.BICUBIC if shrink else Image.Resampling.BILINEAR,
        box=(left, top, left + side, top + side),
        reducing_gap=3.0 if shrink else None,
    )


def decode(value: Any, rules: DecodeRules) -> np.ndarray:
    """One image as a uint8 array ``image_size × image_size × channels``; :class:`BadImage`
    (with the reason) for anything that is not a readable image within the pixel cap."""
    try:
        with _own_pixel_cap():
            image = _open(value)
            w, h = image.size
            if w * h > rules.max_pixels:
                raise BadImage(
                    f"declares {w}×{h} pixels, over the cap of {rules.max_pixels:,} "
                    "(data_max_pixels); not decoded"
                )
            if w < 1 or h < 1:
                raise BadImage(f"declares an empty {w}×{h} image")
            if image.format == "JPEG":
                side = min(w, h)
                want = (
                    math.ceil(w * rules.image_size / side),
                    math.ceil(h * rules.image_size / side),
                )
                image.draft("L" if rules.channels == 1 else "RGB", want)
            image.load()
            if image.getexif().get(0x0112, 1) != 1:  # EXIF Orientation
                image = ImageOps.exif_transpose(image)
            out = np.asarray(_square(_to_mode(image, rules.channels), rules.image_size))
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise BadImage("not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError) as exc:
        raise BadImage(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    return out.reshape(rules.image_size, rules.image_size, rules.channels)


def try_decode(value: Any, rules: DecodeRules) -> tuple[np.ndarray | None, str | None]:
    """``(pixels, None)`` or ``(None, reason)``: :func:`decode` for the batch workers."""
    try:
        return decode(value, rules), None
    except BadImage as exc:
        return None, str(exc)
    except MemoryError:
        return None, "MemoryError while decoding"
