"""The ``digits`` feature extractor: a small CNN that ganzoo trains on its own digits data.

Inception features were made for ImageNet photographs; on 8×8 handwritten digits enlarged to
32×32 they mostly measure blur. A classifier trained on the digits themselves knows what a "3"
looks like: its penultimate layer (64 numbers) gives the features for the Fréchet distance, KID
and precision/recall, and its argmax gives the classes for mode coverage.

It is trained on the reference part of the digits split (:mod:`ganzoo.metrics.protocol`) at
32×32 grey, with small random affine jitter. Its weights ship with ganzoo
(``ganzoo/metrics/digits-cnn-v1.safetensors``, 360 kB, its SHA-256 pinned in
:data:`SHIPPED_SHA256`), so ``ganzoo eval`` answers at once. A shipped file that does not match
the pin is refused with a one-line error rather than replaced: a score is only comparable under
the network that produced it, and a silent retrain would hide a damaged installation.

Training is the fallback, when the shipped file is missing (a trimmed install) or was trained on
other data: each file carries a key, a SHA-256 of the recipe version, the training images and
labels exactly as loaded (32×32, one channel) and the split, and a file whose key differs from
the data on this machine is not used. The fallback trains on the CPU (seconds on a quiet
machine) and caches the result as ``<cache>/features/digits-cnn-v1-<key>.safetensors``. The
accuracy on the held-out third is stored with the weights and reported with every score. Images
of another size or channel count are converted to 32×32 grey before they are fed to it.

    python -m ganzoo.metrics.digits_classifier   # retrain the shipped file after a recipe change
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..errors import ConfigError, WeightsError
from ..serialization import file_sha256
from . import protocol
from .features import FeatureExtractor, cache_dir, resize, to_channels

RECIPE = "digits-cnn-v1"  #: bump when the network, the training or the data handling changes
INPUT_SIZE = 32  #: side of the images the classifier takes
FEATURE_DIM = 64  #: size of the penultimate layer, the features
EPOCHS = 15  #: passes over the 1,198 reference images
BATCH = 64  #: images per optimiser step
LR = 2e-3  #: peak Adam learning rate of the one-cycle schedule
SEED = 0  #: seed of initial weights, batch order and jitter
#: the classifier trained by this recipe, shipped inside the package
SHIPPED_FILE = Path(__file__).with_name(f"{RECIPE}.safetensors")
#: SHA-256 of :data:`SHIPPED_FILE`; a file that does not match is refused
SHIPPED_SHA256 = "f07dfd676c94a426bbce974bf60cf1ef824ce592bdc311f999003a048986e72d"


class DigitsNet(nn.Module):
    """Three 3×3 conv blocks (16, 32, 64 maps, each max-pooled: 32 → 4 px), a 64-unit layer
    (the features), then 10 logits. Small on purpose: it trains on two CPU cores."""

    def __init__(self, width: int = 16, feature_dim: int = FEATURE_DIM, num_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 16×16
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8×8
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 4×4
            nn.Flatten(),
            nn.Linear(4 * width * 16, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(images)
        return features, self.head(features)


def jitter(images: Tensor, gen: torch.Generator) -> Tensor:
    """Random affine jitter: rotation ±10°, scale 0.9-1.1, shift ±1.6 px at 32 px."""
    n = images.shape[0]

    def uniform(lo: float, hi: float) -> Tensor:
        return torch.rand(n, generator=gen) * (hi - lo) + lo

    angle = uniform(-math.pi / 18, math.pi / 18)
    scale = uniform(0.9, 1.1)
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform(-0.1, 0.1)], 1),
            torch.stack([sin, cos, uniform(-0.1, 0.1)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images + 1, grid, align_corners=False, padding_mode="zeros") - 1


def train_classifier(images: Tensor, labels: Tensor, *, epochs: int = EPOCHS) -> DigitsNet:
    """Fit a :class:`DigitsNet` on the CPU, seeded, without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        net = DigitsNet()
        gen = torch.Generator().manual_seed(SEED)
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        steps = epochs * math.ceil(len(images) / BATCH)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(images), generator=gen)
            for idx in order.split(BATCH):
                _, logits = net(jitter(images[idx], gen))
                loss = F.cross_entropy(logits, labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: DigitsNet, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` whose argmax class equals ``labels``."""
    _, logits = net(images)
    return float((logits.argmax(1) == labels).double().mean())


def training_data() -> tuple[Any, Any]:
    """The (reference, held-out) digits at the classifier's input size, grey."""
    from ..data import load_dataset

    return protocol.split(load_dataset("digits", INPUT_SIZE, 1))


def cache_key(reference: Any) -> str:
    """SHA-256 of the recipe (version, hyper-parameters, layer shapes), the split and the exact
    training images and labels: a change in any of them means another classifier."""
    h = hashlib.sha256()
    shapes = [(k, tuple(v.shape)) for k, v in DigitsNet().state_dict().items()]
    recipe = (RECIPE, INPUT_SIZE, EPOCHS, BATCH, LR, SEED, shapes)
    h.update(f"{recipe}|{protocol.HELD_OUT:.6f}|{protocol.SPLIT_SEED}".encode())
    h.update(reference.images.float().contiguous().numpy().tobytes())
    h.update(reference.labels.long().contiguous().numpy().tobytes())
    return h.hexdigest()


def _read(path: Path, what: str) -> tuple[DigitsNet, dict[str, str]]:
    """A classifier and its metadata from a safetensors file, or a one-line error."""
    from safetensors import safe_open

    net = DigitsNet()
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        net.load_state_dict(load_file(str(path)))
    except Exception as exc:  # a truncated or foreign file: say where it is
        raise WeightsError(f"cannot read {what} {path} ({exc}); delete it to retrain") from None
    return net.eval(), meta


def load_shipped(key: str, path: Path | None = SHIPPED_FILE) -> tuple[DigitsNet, dict] | None:
    """The classifier shipped with ganzoo, if it is there and was trained on data whose key is
    ``key``; a one-line error if its checksum is not the pinned one."""
    if path is None or not path.is_file():
        return None
    actual = file_sha256(path)
    if actual != SHIPPED_SHA256:
        raise WeightsError(
            f"the digits classifier shipped with ganzoo ({path}) has sha256 {actual[:16]}..., "
            f"not the pinned {SHIPPED_SHA256[:16]}...: the installation is damaged or was "
            "changed; reinstall ganzoo (pip install --force-reinstall --no-deps ganzoo), or "
            "delete the file to train the classifier on this machine instead"
        )
    net, meta = _read(path, "the shipped digits classifier")
    return (net, meta) if meta.get("sha256") == key else None


def load_or_train(
    *, quiet: bool = False, shipped: Path | None = SHIPPED_FILE
) -> tuple[DigitsNet, dict[str, str]]:
    """The classifier for the current digits data: the shipped one (``shipped``, checked
    against its pinned checksum), else the cached one, else trained here and cached."""
    reference, held_out = training_data()
    key = cache_key(reference)
    found = load_shipped(key, shipped)
    if found is not None:
        return found
    path = cache_dir() / "features" / f"{RECIPE}-{key[:16]}.safetensors"
    if path.is_file():
        return _read(path, "the cached digits classifier")
    if not quiet:
        why = "not installed" if shipped is None or not shipped.is_file() else "for other data"
        print(
            f"ganzoo: the shipped digits classifier is {why}: training one once -> {path}",
            file=sys.stderr,
        )
    start = time.perf_counter()
    net = train_classifier(reference.images, reference.labels)
    meta = describe(net, key, held_out, len(reference), time.perf_counter() - start)
    save(net, meta, path)
    if not quiet:
        print(
            f"ganzoo: digits classifier held-out accuracy {float(meta['held_out_accuracy']):.1%}",
            file=sys.stderr,
        )
    return net, meta


def describe(net: DigitsNet, key: str, held_out: Any, n_train: int, seconds: float) -> dict:
    """The metadata stored with a classifier's weights."""
    acc = accuracy(net, held_out.images, held_out.labels)
    return {
        "recipe": RECIPE,
        "sha256": key,
        "held_out_accuracy": f"{acc:.6f}",
        "n_train": str(n_train),
        "n_held_out": str(len(held_out)),
        "train_seconds": f"{seconds:.1f}",
    }


def save(net: DigitsNet, meta: dict[str, str], path: Path) -> None:
    """Write weights and metadata atomically: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class DigitsFeatures(FeatureExtractor):
    """The cached :class:`DigitsNet` as an extractor: 64 features and 10 class logits."""

    dim = FEATURE_DIM
    num_classes = 10

    def __init__(self, net: DigitsNet, meta: dict[str, str]) -> None:
        super().__init__()
        self.net = net
        self.meta = meta
        self.metric_label = "FD (digits)"

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = resize(to_channels(images, 1), INPUT_SIZE)
        return self.net(x)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "weights": f"{self.meta.get('recipe', RECIPE)}-{self.meta.get('sha256', '')[:16]}",
            "input": f"1×{INPUT_SIZE}×{INPUT_SIZE} (other sizes resized, colour to grey)",
            "held_out_accuracy": float(self.meta.get("held_out_accuracy", "nan")),
            "n_train": int(self.meta.get("n_train", 0)),
        }


def digits_extractor(
    arg: str | None, *, device: torch.device, random_weights: bool = False
) -> DigitsFeatures:
    """Factory registered as ``digits``: the shipped classifier (trained here only without it)."""
    if arg:
        raise ConfigError(f"the digits extractor takes no argument, got 'digits:{arg}'")
    if random_weights:
        raise ConfigError("--random-weights is for timm models; the digits classifier is trained")
    net, meta = load_or_train()
    return DigitsFeatures(net, meta).to(device)


def _retrain_shipped() -> None:
    """Train the classifier and write it as the shipped file; print the SHA-256 to pin."""
    reference, held_out = training_data()
    start = time.perf_counter()
    net = train_classifier(reference.images, reference.labels)
    meta = describe(
        net, cache_key(reference), held_out, len(reference), time.perf_counter() - start
    )
    save(net, meta, SHIPPED_FILE)
    SHIPPED_FILE.chmod(0o644)  # package data: readable by everyone
    print(f"{SHIPPED_FILE}: held-out accuracy {meta['held_out_accuracy']}")
    print(f'SHIPPED_SHA256 = "{file_sha256(SHIPPED_FILE)}"')


if __name__ == "__main__":
    _retrain_shipped()
