"""The CNN whose features define content and style: a timm model, cut after the last needed layer.

Weights come from one of three places, chosen by ``backbone_weights``:

* ``"pretrained"``: the model's safetensors file on the Hugging Face Hub (or in its cache), handed
  to ``timm.create_model(name, pretrained=True)``; a repo with only pickled weights is refused
  (ganzoo never unpickles a download) and every other failure becomes one
  :class:`~ganzoo.errors.WeightsError` that says how to proceed offline;
* a ``.safetensors`` file: a state dict of the timm model (only the tensors of the layers used are
  needed; the classifier may be missing);
* ``"random"``: a seeded random initialisation, with a warning that the result will be poor.

The network is cut with torch.fx (timm's ``create_feature_extractor``): layers after the deepest
content or style layer are never run. VGGs are built on the meta device first, so their 100 M
parameter classifier is never allocated unless timm itself loads pretrained weights.
"""

from __future__ import annotations

import collections
import copy
import math
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ganzoo.errors import ConfigError, GanzooError, WeightsError

from .layers import LayerCatalog, is_vgg, layer_catalog

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Seed of the random backbone, so that runs with random weights are reproducible.
RANDOM_SEED = 0
_CACHE_SIZE = 3


class RandomWeightsWarning(UserWarning):
    """The backbone has random weights: the stylised image will look poor."""


class FeatureNet(nn.Module):
    """Normalises an image in [0, 1] and returns the features of the requested graph nodes."""

    def __init__(self, body: nn.Module, nodes: list[str], normalize: str) -> None:
        super().__init__()
        self.body = body
        self.nodes = nodes
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        # "caffe": 0-255 minus the mean, the scale Keras' VGG (and the lesson's weights) assume
        scale = (
            torch.full((1, 3, 1, 1), 255.0)
            if normalize == "caffe"
            else 1 / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        )
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("scale", scale, persistent=False)
        self.reduction: dict[str, float] = {}

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        return self.body((image - self.mean) * self.scale)

    @torch.no_grad()
    def measure(self) -> None:
        """Record how much each node downsamples (a forward pass on a blank image)."""
        for side in (128, 256, 512):
            try:
                out = self.body(torch.zeros(1, 3, side, side))
            except RuntimeError:
                continue
            self.reduction = {n: side / max(1, out[n].shape[-1]) for n in self.nodes}
            return
        raise ConfigError("cannot run the backbone on a 512 px image: choose another backbone")

    def min_side(self, nodes: list[str]) -> int:
        """The shortest image side at which every node in ``nodes`` still has a 2×2 map."""
        return math.ceil(2 * max(self.reduction[n] for n in nodes))


# -- creating timm models ------------------------------------------------------------------------


def _unknown_backbone(name: str) -> ConfigError:
    import difflib

    import timm

    close = difflib.get_close_matches(name.split(".")[0], timm.list_models(), n=3)
    hint = ("did you mean " + " or ".join(close) + "?") if close else "see timm.list_models()"
    return ConfigError(f"unknown backbone {name!r}; {hint}")


def _create(name: str, *, pretrained: bool = False, meta: bool = False) -> nn.Module:
    import timm

    try:
        if meta:
            with torch.device("meta"):
                return timm.create_model(name, pretrained=False)
        return timm.create_model(name, pretrained=pretrained)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise _unknown_backbone(name) from None
        if not pretrained:
            raise
        if "pretrained" in str(exc).lower() and "exist" in str(exc).lower():
            raise WeightsError(
                f"timm has no pretrained weights for backbone {name!r}: pass "
                "backbone_weights='FILE.safetensors' or choose another backbone",
                cli=f"timm has no pretrained weights for backbone {name!r}: pass "
                "--backbone-weights FILE.safetensors or choose another --backbone",
            ) from None
        raise _offline_error(name, type(exc).__name__) from None
    except Exception as exc:  # network and cache errors of huggingface_hub, requests or httpx
        if not pretrained:
            raise
        raise _offline_error(name, type(exc).__name__) from None


def _create_pretrained(name: str, cfg: dict) -> nn.Module:
    """timm's model with pretrained weights read from the Hub's safetensors file only: timm's
    own loader would fall back to unpickling a repo's pytorch_model.bin."""
    import timm

    from ganzoo.hub.timm_weights import download_state_dict, pretrained_overlay

    try:
        state, _ = download_state_dict(name, cfg)
    except GanzooError:
        raise
    except Exception as exc:  # network and cache errors of huggingface_hub, requests or httpx
        raise _offline_error(name, type(exc).__name__) from None
    overlay = pretrained_overlay(state)
    return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)


def _offline_error(name: str, reason: str, download: str | None = None) -> WeightsError:
    """What to do when the backbone's weights are neither cached nor downloadable
    (``download``: the command that fetches them). The Python message names the model's
    arguments, the CLI's (``cli=``) the command's flags."""
    from huggingface_hub import constants

    fetch = f"download them once while online ({download}), " if download else ""

    def advice(weights_file: str, random: str) -> str:
        return (
            f"pretrained weights of backbone {name} are not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and could not be downloaded ({reason}): {fetch}pass "
            f"{weights_file} (a state dict of the timm model), point HF_HOME / HF_HUB_CACHE at "
            f"a cache that holds them (HF_HUB_OFFLINE=1 skips the network), or use {random} for "
            "a poor result"
        )

    return WeightsError(
        advice("backbone_weights='FILE.safetensors'", "backbone_weights='random'"),
        cli=advice("--backbone-weights FILE.safetensors", "--random-weights"),
    )


def _fail_fast_offline(name: str, cfg: dict) -> None:
    """Not cached, and offline (HF_HUB_OFFLINE) or the Hub out of reach: say so at once, before
    timm builds the whole model and huggingface_hub retries for a minute."""
    from huggingface_hub import constants, try_to_load_from_cache

    from ganzoo.hub.reach import hub_unreachable, offline_mode
    from ganzoo.hub.timm_weights import weights_location

    if not cfg.get("hf_hub_id"):
        return
    repo, revision, filename = weights_location(name, cfg)  # the only file that is ever loaded
    if isinstance(try_to_load_from_cache(repo, filename, revision=revision), str):
        return
    download = f"hf download {repo} {filename}" + (f" --revision {revision}" if revision else "")
    if offline_mode():
        raise _offline_error(name, "HF_HUB_OFFLINE is set", download)
    down = hub_unreachable()
    if down is not None:
        raise _offline_error(name, f"cannot reach {constants.ENDPOINT}: {down}", download)


_TRUNKS: collections.OrderedDict[tuple[str, str], nn.Module] = collections.OrderedDict()


def trunk(name: str, weights: str, log=None) -> nn.Module:
    """The whole timm model (cached). VGGs other than pretrained ones stay on the meta device:
    their layers are materialised after cutting (see :func:`build_feature_net`)."""
    key = (name, "pretrained" if weights == "pretrained" else "other")
    if key in _TRUNKS:
        _TRUNKS.move_to_end(key)
        return _TRUNKS[key]
    model = _create(name, meta=True)
    if weights == "pretrained":
        _fail_fast_offline(name, getattr(model, "pretrained_cfg", None) or {})
        if log is not None:
            log(f"loading pretrained weights of {name} through timm (Hugging Face cache or Hub)")
        model = _create_pretrained(name, dict(getattr(model, "pretrained_cfg", None) or {}))
    elif not is_vgg(model):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = _create(name)
    model.eval()
    _TRUNKS[key] = model
    while len(_TRUNKS) > _CACHE_SIZE:
        _TRUNKS.popitem(last=False)
    return model


def catalog(name: str) -> LayerCatalog:
    """The layer names of backbone ``name`` (built on the meta device: no weights needed)."""
    return layer_catalog(name, trunk(name, "random-or-file"))


# -- weights -------------------------------------------------------------------------------------


def _init_random(body: nn.Module) -> None:
    """timm's VGG initialisation (Kaiming normal, fan-out), from a fixed seed."""
    gen = torch.Generator().manual_seed(RANDOM_SEED)
    for module in body.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(
                module.weight, mode="fan_out", nonlinearity="relu", generator=gen
            )
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            module.reset_parameters()


def load_safetensors(body: nn.Module, path: str, backbone: str) -> None:
    """Fill ``body`` (a cut backbone) from a safetensors state dict of the whole timm model."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = Path(path).expanduser()
    if file.suffix != ".safetensors":
        raise WeightsError(
            f"backbone weights {file} are not a .safetensors file: ganzoo never unpickles "
            "weights; convert them with safetensors.torch.save_file(state_dict, 'x.safetensors')"
        )
    if not file.is_file():
        raise WeightsError(f"backbone weights file {file} does not exist")
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{file} is not a readable safetensors file ({exc})") from None
    own = body.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise WeightsError(
            f"{file} lacks {len(missing)} tensors backbone {backbone} needs (e.g. {missing[0]}): "
            "is it a state dict of this timm model?"
        )
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise WeightsError(
                f"{file}: tensor {key} has shape {tuple(state[key].shape)}, backbone {backbone} "
                f"expects {tuple(value.shape)}"
            )
    body.load_state_dict({k: state[k] for k in own})


def _avg_pooling(body: nn.Module) -> None:
    """Replace every max pooling by average pooling of the same geometry (Gatys et al. 2016)."""
    for parent in list(body.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                pool = nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode)
                setattr(parent, child_name, pool)


# -- the cut network ----------------------------------------------------------------------------

_NETS: collections.OrderedDict[tuple, FeatureNet] = collections.OrderedDict()


def _weights_key(weights: str) -> str:
    if weights in ("pretrained", "random"):
        return weights
    file = Path(weights).expanduser()
    stamp = file.stat().st_mtime_ns if file.is_file() else 0
    return f"{file.resolve()}@{stamp}"


def build_feature_net(
    name: str,
    weights: str,
    nodes: list[str],
    *,
    pooling: str = "max",
    normalize: str = "imagenet",
    device: torch.device | str = "cpu",
    log=None,
) -> FeatureNet:
    """A frozen, channels-last :class:`FeatureNet` computing only ``nodes`` (cached)."""
    from timm.models import create_feature_extractor

    device = torch.device(device)
    if weights == "random":
        warnings.warn(
            f"backbone {name} has random weights: the stylised image will be poor "
            "(use them only for tests and timings)",
            RandomWeightsWarning,
            stacklevel=3,
        )
    key = (name, _weights_key(weights), tuple(nodes), pooling, normalize, str(device))
    if key in _NETS:
        _NETS.move_to_end(key)
        return _NETS[key]
    model = trunk(name, weights, log=log)
    body = copy.deepcopy(create_feature_extractor(model, return_nodes={n: n for n in nodes}))
    if any(p.is_meta for p in body.parameters()):
        body = body.to_empty(device="cpu")
        if weights == "random":
            _init_random(body)
    if weights not in ("pretrained", "random"):
        load_safetensors(body, weights, name)
    if pooling == "avg":
        _avg_pooling(body)
    net = FeatureNet(body, list(nodes), normalize)
    net.requires_grad_(False).eval()
    net.measure()
    net = net.to(device=device, memory_format=torch.channels_last)
    _NETS[key] = net
    while len(_NETS) > _CACHE_SIZE:
        _NETS.popitem(last=False)
    return net


def stderr_log(message: str) -> None:
    """Print a one-line note for the user (the CLI's progress messages)."""
    print(f"ganzoo: {message}", file=sys.stderr)
