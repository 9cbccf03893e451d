"""The on-disk format shared by checkpoints, ``save_pretrained`` and the Hub.

A model folder holds ``config.json`` and one ``NAME.safetensors`` per network
(``generator``, ``discriminator``, ``generator_ema``, or a style model's own). Only safetensors are
ever read: no pickle, so loading a downloaded folder cannot run code. Every failure to load is a
:class:`~ganzoo.errors.WeightsError` or :class:`~ganzoo.errors.ConfigError` whose one-line message
says which file is wrong and what to do.

A downloaded folder is treated as hostile: before anything is allocated, the network its config
describes is built on the ``meta`` device and compared with the tensor shapes in the safetensors
headers (a config asking for a billion-unit layer is refused, not allocated); weights that hold
NaN or infinity are refused; text from the config reaches the user only when it is what it
claims to be (a package name).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from .config import config_from_dict, config_to_dict
from .errors import ConfigError, PluginError, UnknownNameError, WeightsError

CONFIG_NAME = "config.json"
FORMAT_NAME = "ganzoo"
#: Bumped when the folder layout changes incompatibly; newer folders are refused with advice.
FORMAT_VERSION = 1
#: a valid distribution name (PEP 508): the only config text ever echoed in a "pip install" hint
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
#: networks a folder has no weights for (a GAN saved without its discriminator) may be at most
#: this many times the parameters it does have, plus a floor: beyond that the config is refused
UNSAVED_FACTOR, UNSAVED_FLOOR = 8, 50_000_000


def safe_distribution(meta: dict[str, Any]) -> str | None:
    """The ``plugin_distribution`` of a (possibly downloaded) config when it is a valid package
    name, else None: anything else is not shown to the user, let alone in a pip command."""
    dist = meta.get("plugin_distribution")
    return dist if isinstance(dist, str) and _DISTRIBUTION.match(dist) else None


def shown_name(value: Any, limit: int = 60) -> str:
    """A config value quoted for an error message: repr'd (control characters escaped), cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


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
    meta = {
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
    if getattr(model, "num_classes", 0):  # a class-conditional GAN: its classes, for any reader
        meta["num_classes"] = int(model.num_classes)
        meta["class_names"] = list(model.class_names)
    return meta


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


def write_safetensors(
    tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]
) -> None:
    """``safetensors.torch.save_file``, but the same tensors and metadata always give the same
    bytes: safetensors writes ``__metadata__`` in hash-map order, which changes from call to
    call, so a retrained, bit-identical model would otherwise get a new sha256 (the catalogue
    pins published files by it). The header is rewritten with the metadata keys sorted; its
    length does not change, so the data offsets stay valid."""
    data = safetensors_bytes(tensors, metadata=metadata)
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    canonical = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(canonical) <= size:  # always, as only key order changed; else keep safetensors'
        data = data[:8] + canonical.ljust(size) + data[8 + size :]
    Path(path).write_bytes(data)


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
        write_safetensors(
            tensors_for_saving(net.state_dict()),
            out / f"{name}.safetensors",
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
    networks = meta.get("networks", [])
    if not isinstance(networks, list) or not all(
        isinstance(n, str) and n.isidentifier() for n in networks
    ):
        raise ConfigError(f"{path}: 'networks' must list plain network names, e.g. ['generator']")
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{path} uses ganzoo format {version}, this ganzoo reads up to {FORMAT_VERSION}: "
            "upgrade ganzoo (pip install -U ganzoo)"
        )
    return meta


def read_tensors(
    path: Path, *, remedy: str = "; it may be truncated or corrupt: download or save it again"
) -> dict[str, torch.Tensor]:
    """Load one safetensors file, turning every kind of corruption into a WeightsError whose
    message ends with ``remedy`` (what the caller's user should do about it)."""
    if not path.is_file():
        raise WeightsError(f"{path} is missing; the model folder is incomplete")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc}){remedy}") from None


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a safetensors file, from its header alone."""
    if not path.is_file():
        raise WeightsError(f"{path} is missing; the model folder is incomplete")
    try:
        with safe_open(str(path), framework="pt") as fh:
            return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or "
            "corrupt: download or save it again"
        ) from None


def check_shapes(
    own: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]], path: Path
) -> None:
    """The tensors a network expects against those a file holds: names and shapes."""
    missing = sorted(set(own) - set(stored))
    unexpected = sorted(set(stored) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise WeightsError(
            f"{path} does not match the network its config builds: {'; '.join(parts)}"
        )
    for key, shape in stored.items():
        if shape != own[key]:
            raise WeightsError(
                f"{path}: tensor {key} has shape {shape}, the network its config builds "
                f"expects {own[key]}"
            )


def load_network(net: torch.nn.Module, path: Path) -> None:
    """Fill ``net`` from ``path``; missing, unexpected, mis-shaped or non-finite tensors are
    named (NaN weights would otherwise give black images and exit status 0)."""
    state = read_tensors(path)
    check_shapes(
        {k: tuple(v.shape) for k, v in net.state_dict().items()},
        {k: tuple(v.shape) for k, v in state.items()},
        path,
    )
    floats = [(k, v) for k, v in state.items() if v.is_floating_point()]
    if floats:
        finite = torch.stack([torch.isfinite(v).all() for _, v in floats]).tolist()
        bad = [k for (k, _), ok in zip(floats, finite, strict=True) if not ok]
        if bad:
            raise WeightsError(
                f"{path}: {len(bad)} tensor(s) hold NaN or infinite values (e.g. {bad[0]}): "
                "these weights are broken (a diverged run?); use an earlier checkpoint "
                "(--step N) or other weights"
            )
    net.load_state_dict(state)


def build_from_metadata(meta: dict[str, Any], folder: Path | None = None) -> Any:
    """Build the (untrained) model a ``config.json`` describes.

    With ``folder`` (the weights' folder) the sizes are checked first, on the meta device, so a
    config whose networks would not match its files is refused before anything is allocated.
    """
    from .api import build_from_config, get_spec

    arch = meta["arch"]
    try:
        spec = get_spec(arch) if isinstance(arch, str) else None
    except UnknownNameError:
        spec = None
    if spec is None:
        dist = safe_distribution(meta)
        hint = (
            f"pip install {dist}"
            if dist
            else "install the plugin that provides it (its config names no valid package)"
        )
        raise PluginError(
            f"this model needs architecture {shown_name(arch)}, which no installed plugin "
            f"provides: {hint}"
        )
    config = config_from_dict(spec.config, meta.get("config", {}), what=f"model {spec.name!r}")
    if folder is not None:
        check_sizes(spec, config, folder, meta)
    return build_from_config(spec, config)


def check_sizes(spec: Any, config: Any, folder: Path, meta: dict[str, Any]) -> None:
    """Compare the tensors ``config`` implies (built on the meta device: no memory) with the
    safetensors headers in ``folder``, before the real model is allocated."""
    from .models import GANModel

    networks = meta.get("networks") or []
    try:
        with torch.device("meta"):
            probe = spec.builder()(config)
            if "generator_ema" in networks and isinstance(probe, GANModel):
                probe.enable_ema()
            own = dict(probe.networks())
    except Exception:  # a builder that fails, or cannot run on the meta device: the real build
        return  # reports the former, load_network still checks shapes for the latter
    if not all(isinstance(net, torch.nn.Module) for net in own.values()):
        return
    stored = 0
    for name in networks:
        if name not in own:
            raise WeightsError(f"{folder}: config lists network {name!r} that {spec.name} lacks")
        path = folder / f"{name}.safetensors"
        shapes = tensor_shapes(path)
        check_shapes({k: tuple(v.shape) for k, v in own[name].state_dict().items()}, shapes, path)
        stored += sum(_numel(s) for s in shapes.values())
    unsaved = {n: sum(p.numel() for p in net.parameters()) for n, net in own.items()}
    extra = sum(v for n, v in unsaved.items() if n not in networks)
    if extra > max(UNSAVED_FACTOR * stored, UNSAVED_FLOOR):
        names = ", ".join(n for n in unsaved if n not in networks)
        raise WeightsError(
            f"{folder}: its config would build {extra:,} parameters in networks it has no "
            f"weights for ({names}), against {stored:,} stored: refusing to allocate them; "
            "the config is wrong or hostile"
        )


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for side in shape:
        n *= side
    return n


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
    model = build_from_metadata(meta, folder)
    load_networks(model, folder, meta)
    return model.to(map_location)
