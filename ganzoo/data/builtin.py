"""The datasets that ship with installed packages, so ganzoo trains offline.

- ``digits``: scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels, labels 0-9), ink bright
  on black like MNIST, enlarged to the model's size.
- ``lfw``: the 200 faces (25×25 grey) of scikit-image's ``lfw_subset``.
- ``photos``: random square crops of the photographs bundled with scikit-image and scikit-learn
  (astronaut, coffee, chelsea, rocket, ...), for higher-resolution runs.
"""

from __future__ import annotations

import numpy as np
import torch

from . import ImageSet
from .transforms import resize_square, to_channels


def load_digits(image_size: int, channels: int) -> ImageSet:
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32)).unsqueeze(1) / 8.0 - 1.0  # 0..16
    x = to_channels(resize_square(x, image_size), channels)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageSet(x, labels, "digits", classes=tuple(str(d) for d in range(10)))


def load_lfw(image_size: int, channels: int) -> ImageSet:
    from skimage import data as skdata

    faces = np.asarray(skdata.lfw_subset(), dtype=np.float32)  # (200, 25, 25) in [0, 1]
    x = torch.from_numpy(faces).unsqueeze(1) * 2.0 - 1.0
    return ImageSet(to_channels(resize_square(x, image_size), channels), None, "lfw")


PHOTO_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "cat",
    "hubble_deep_field",
    "immunohistochemistry",
)


def _photos() -> list[np.ndarray]:
    from skimage import data as skdata
    from sklearn.datasets import load_sample_images

    out = []
    for name in PHOTO_NAMES:
        fn = getattr(skdata, name, None)
        if fn is not None:
            img = np.asarray(fn())
            if img.ndim == 3 and img.shape[2] >= 3:
                out.append(img[..., :3])
    out += [np.asarray(img) for img in load_sample_images().images]
    return out


def load_photos(image_size: int, channels: int, count: int = 1024, seed: int = 0) -> ImageSet:
    """``count`` random crops (a quarter to all of the shorter side, seeded) of each bundled photo
    in turn, resized to ``image_size``."""
    rng = np.random.default_rng(seed)
    photos = [
        torch.from_numpy(p.astype(np.float32)).permute(2, 0, 1) / 127.5 - 1 for p in _photos()
    ]
    crops = []
    for i in range(count):
        img = photos[i % len(photos)]
        _, h, w = img.shape
        side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = img[:, top : top + side, left : left + side].unsqueeze(0)
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        crops.append(resize_square(crop, image_size))
    return ImageSet(to_channels(torch.cat(crops), channels), None, "photos")
