"""The on-disk format shared by checkpoints, ``save_pretrained`` and the Hub.

A model folder holds ``config.json`` and one ``NAME.safetensors`` per network
(``generator``, ``discriminator``, ``generator_ema``, or a style model's own). Only safetensors are
ever read: no pickle, so loading a downloaded folder cannot run code. Every failure to load is a
:class:`~ganzoo.errors.WeightsError` or :class:`~ganzoo.errors.ConfigError` whose one-line message
says which file is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import config_from_dict, config_to_dict
from .errors import ConfigError, PluginError, UnknownNameError, WeightsError

CONFIG_NAME = "config.json"
FORMAT_NAME = "ganzoo"
#: Bumped when the folder layout changes incompatibly; newer folders are refused with advice.
FORMAT_VERSION = 1


def model_metadata(model: Any, networks: Collection[str] | None = None) -> dict[str, Any]:
    """The contents of ``config.json`` for ``model`` (``networks``: the ones saved; all by
    default). Everything comes from the model itself: its provenance was recorded when it was
    built (:func:`ganzoo.create_model`), so saving a checkpoint never consults the plugins."""
    from . import __version__

    origin = getattr(model, "provenance", None)
    if origin is None or not getattr(model, "arch", ""):
        raise ConfigError(
            f"this {type(model).__name__} has no architecture name or provenance: build it with "
            "ganzoo.create_model (or load it with ganzoo.from_pretrained) before saving it"
        )
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "arch": origin.arch,
        "kind": origin.kind,
        "plugin": origin.plugin,
        "plugin_distribution": origin.distribution,
        "plugin_version": origin.version,
        "ganzoo_version": __version__,
        "networks": sorted(model.networks() if networks is None else networks),
        "config": config_to_dict(model.config),
    }


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (weights can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_for_saving(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous copies: safetensors refuses tensors that share memory."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def save_model_files(
    model: Any,
    directory: str | Path,
    extra: dict[str, Any] | None = None,
    networks: Collection[str] | None = None,
) -> Path:
    """Write ``config.json`` and one safetensors file per network of ``model``.

    ``networks`` limits what is saved (``save_pretrained`` may leave the discriminator out);
    config.json lists exactly the networks written, so loading reads only those.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    own = model.networks()
    if networks is not None:
        unknown = sorted(set(networks) - set(own))
        if unknown:
            raise ConfigError(f"{model.arch} has no network {unknown[0]!r}; it has {sorted(own)}")
        own = {name: net for name, net in own.items() if name in networks}
    meta = model_metadata(model, own)
    if extra:
        meta.update(extra)
    for name, net in own.items():
        save_file(
            tensors_for_saving(net.state_dict()),
            str(out / f"{name}.safetensors"),
            metadata={"format": "pt", "ganzoo_network": name, "arch": meta["arch"]},
        )
    (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a model folder."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(f"{path.parent} has no {CONFIG_NAME}: it is not a ganzoo model folder")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); re-download or re-save it") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or "arch" not in meta:
        raise ConfigError(f"{path} is not a ganzoo config (no 'format': 'ganzoo' and 'arch')")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ConfigError(f"{path} has no integer format_version")
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{path} uses ganzoo format {version}, this ganzoo reads up to {FORMAT_VERSION}: "
            "upgrade ganzoo (pip install -U ganzoo)"
        )
    return meta


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load one safetensors file, turning every kind of corruption into a WeightsError."""
    if not path.is_file():
        raise WeightsError(f"{path} is missing; the model folder is incomplete")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or "
            "corrupt: download or save it again"
        ) from None


def load_network(net: torch.nn.Module, path: Path) -> None:
    """Fill ``net`` from ``path``; missing, unexpected or mis-shaped tensors are named."""
    state = read_tensors(path)
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise WeightsError(
            f"{path} does not match the network its config builds: {'; '.join(parts)}"
        )
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise WeightsError(
                f"{path}: tensor {key} has shape {tuple(value.shape)}, the network expects "
                f"{tuple(own[key].shape)}"
            )
    net.load_state_dict(state)


def build_from_metadata(meta: dict[str, Any]) -> Any:
    """Build the (untrained) model a ``config.json`` describes."""
    from .api import build_from_config, get_spec

    try:
        spec = get_spec(meta["arch"])
    except UnknownNameError:
        dist = meta.get("plugin_distribution") or meta.get("plugin") or meta["arch"]
        raise PluginError(
            f"this model needs architecture {meta['arch']!r}, which no installed plugin "
            f"provides: pip install {dist}"
        ) from None
    config = config_from_dict(spec.config, meta.get("config", {}), what=f"model {spec.name!r}")
    return build_from_config(spec, config)


def load_networks(model: Any, folder: Path, meta: dict[str, Any]) -> None:
    """Fill ``model``'s networks from the safetensors files a ``config.json`` lists, creating
    the EMA generator first when the folder has one."""
    networks = meta.get("networks") or sorted(model.networks())
    from .models import GANModel

    if "generator_ema" in networks and isinstance(model, GANModel):
        model.enable_ema()
    own = model.networks()
    for name in networks:
        if name not in own:
            raise WeightsError(
                f"{folder}: config lists network {name!r} that {meta['arch']} does not have"
            )
        load_network(own[name], folder / f"{name}.safetensors")


def load_model_files(directory: str | Path, *, map_location: str | torch.device = "cpu") -> Any:
    """Build a model from a folder written by :func:`save_model_files` and load its weights."""
    folder = Path(directory)
    meta = read_config(folder)
    model = build_from_metadata(meta)
    load_networks(model, folder, meta)
    return model.to(map_location)
