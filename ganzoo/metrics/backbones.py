"""Pretrained backbones as feature extractors: the FID Inception network and any timm model.

Neither downloads anything by itself. Both look for their weights where the usual tools leave
them and, when they are missing, stop with one line saying what to download and where to put it:
there is no silent fallback to different weights, since a score is only comparable under the
network that produced it. Weights are read from safetensors; the one exception is the FID
Inception file, published only as a PyTorch pickle, which is accepted only when its SHA-256
matches the published one, read with ``torch.load(weights_only=True)`` (tensors only, no code)
and converted to safetensors beside it on first use.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..errors import ConfigError, PluginError, UnknownNameError, WeightsError
from ..serialization import file_sha256
from .features import FeatureExtractor, cache_dir, resize, to_channels

#: torch-fidelity's port of the TensorFlow FID Inception (the network every FID paper uses)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)
INCEPTION_SHA256_PREFIX = "6726825d"  #: torch.hub's convention: the file name carries it
INCEPTION_SAFETENSORS = "inception-2015-12-05.safetensors"


# -- inception -------------------------------------------------------------------------------
def inception_folders() -> list[Path]:
    """Where the Inception weights are looked for: ganzoo's cache, then torch.hub's."""
    return [cache_dir() / "features", Path(torch.hub.get_dir()) / "checkpoints"]


def inception_state_dict() -> dict[str, Tensor]:
    """The FID Inception weights from a local file; a one-line error when there is none."""
    folders = inception_folders()
    for folder in folders:
        safe = folder / INCEPTION_SAFETENSORS
        if safe.is_file():
            return load_file(str(safe))
    for folder in folders:
        pth = folder / INCEPTION_FILE
        if not pth.is_file():
            continue
        if not file_sha256(pth).startswith(INCEPTION_SHA256_PREFIX):
            raise WeightsError(
                f"{pth} is not the published FID Inception file (SHA-256 does not start with "
                f"{INCEPTION_SHA256_PREFIX}); delete it and download {INCEPTION_URL} again"
            )
        state = torch.load(pth, map_location="cpu", weights_only=True)
        with contextlib.suppress(OSError):  # a read-only folder only costs the conversion
            folders[0].mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in state.items()}, folders[0] / "tmp.st")
            os.replace(folders[0] / "tmp.st", folders[0] / INCEPTION_SAFETENSORS)
        return state
    raise WeightsError(
        f"the inception extractor needs the FID Inception weights, not found on this machine: "
        f"download {INCEPTION_URL} and put it in {folders[0]}/ (or use --features digits)"
    )


class InceptionFeatures(FeatureExtractor):
    """torch-fidelity's FID Inception v3: 2048 pool features of uint8 RGB resized to 299."""

    dim = 2048
    metric_label = "FID"

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: Tensor) -> tuple[Tensor, None]:
        rgb = to_channels(images, 3)
        as_uint8 = ((rgb + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        (features,) = self.net(as_uint8)
        return features, None

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "weights": "inception-2015-12-05 (torch-fidelity inception-v3-compat, pool3)",
            "input": "3×299×299 uint8 (resized by torch-fidelity like TF1; grey copied to RGB)",
        }


def inception_extractor(
    arg: str | None, *, device: torch.device, random_weights: bool = False
) -> InceptionFeatures:
    """Factory registered as ``inception`` (needs the ``ganzoo[inception]`` extra)."""
    if arg or random_weights:
        raise ConfigError("the inception extractor takes no argument and no --random-weights")
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise PluginError(
            "the inception extractor needs torch-fidelity: pip install 'ganzoo[inception]'"
        ) from None
    state = inception_state_dict()
    # torch-fidelity loads weights only from a path inside its constructor: hand it a file we
    # write ourselves from the verified tensors, never the downloaded pickle.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inception.pt"
        torch.save(state, path)
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)
        )
    return InceptionFeatures(net).to(device)


# -- timm ------------------------------------------------------------------------------------
class TimmFeatures(FeatureExtractor):
    """A timm model with its classifier removed: pooled features at its own input size."""

    def __init__(self, model: Any, weights: str) -> None:
        super().__init__()
        import timm.data

        self.model = model
        self.weights = weights
        self.dim = int(model.num_features)
        cfg = timm.data.resolve_model_data_config(model)
        self.in_chans, self.size = int(cfg["input_size"][0]), int(cfg["input_size"][-1])
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> tuple[Tensor, None]:
        x = resize(to_channels(images, self.in_chans), self.size)
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.model(x), None

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "weights": self.weights,
            "input": f"{self.in_chans}×{self.size}×{self.size} (resized, ImageNet-normalised)",
        }


def timm_extractor(
    arg: str | None, *, device: torch.device, random_weights: bool = False
) -> TimmFeatures:
    """Factory registered as ``timm``: ``timm:resnet18``, ``timm:convnext_tiny.fb_in1k``, ...

    Pretrained weights come from the Hugging Face cache (``model.safetensors`` of the model's
    Hub repository), never from the network. ``random_weights`` builds the network from a fixed
    seed instead: such features still separate images, but scores then compare only with other
    scores under the same randomly initialised network, which the report says.
    """
    if not arg:
        raise ConfigError("name a timm model after the colon, e.g. --features timm:resnet18")
    import timm
    from timm.models import get_pretrained_cfg

    base = arg.split(".", 1)[0]
    if not timm.is_model(base):
        import difflib

        close = difflib.get_close_matches(base, timm.list_models(), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownNameError(f"timm has no model {base!r}{hint}")
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = timm.create_model(arg, pretrained=False, num_classes=0)
        return TimmFeatures(model, f"timm {arg}, random initialisation (seed 0)").to(device)
    cfg = get_pretrained_cfg(arg)
    if cfg is None or not cfg.hf_hub_id:
        raise WeightsError(
            f"timm model {arg!r} has no pretrained weights on the Hugging Face Hub; name a "
            "tagged variant (timm.list_pretrained()) or pass --random-weights"
        )
    from huggingface_hub import constants, try_to_load_from_cache

    from ..hub.timm_weights import pretrained_overlay, read_safetensors, weights_location

    # the safetensors file only: timm's own loader would fall back to unpickling a .bin
    repo, revision, filename = weights_location(arg, cfg.to_dict())
    path = try_to_load_from_cache(repo, filename, revision=revision)
    if not isinstance(path, str):
        raise WeightsError(
            f"the pretrained weights of timm model {arg!r} are not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}): fetch them while online with `hf download "
            f"{repo} {filename}`, or pass --random-weights"
        )
    state = read_safetensors(path)
    model = timm.create_model(
        arg, pretrained=True, pretrained_cfg_overlay=pretrained_overlay(state), num_classes=0
    )
    return TimmFeatures(model, f"timm {cfg.hf_hub_id} ({Path(path).name})").to(device)
