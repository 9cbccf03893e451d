"""Pretrained timm networks from the Hugging Face Hub, read from safetensors files only.

timm's own loader falls back to a repo's ``pytorch_model.bin`` and torch's unpickler when the
repo has no safetensors file (only ``weights_only`` mode stands between that file and code
execution, and that mode has had holes, CVE-2025-32434). ganzoo promises never to unpickle a
download, so the Gatys backbones (``hf-hub:ORG/NAME`` included) and the ``timm:`` feature
extractors fetch the safetensors file themselves and hand timm the tensors
(:func:`pretrained_overlay`); a repo without one is a one-line error.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import WeightsError

#: timm's pickle file names and the safetensors file published next to them
SAFE_NAMES = {
    "pytorch_model.bin": "model.safetensors",
    "open_clip_pytorch_model.bin": "open_clip_model.safetensors",
}


def weights_location(name: str, cfg: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """(repo id, revision, safetensors file name) of a timm model's pretrained config."""
    hub_id = cfg.get("hf_hub_id")
    if not hub_id:
        raise WeightsError(
            f"timm model {name!r} has no weights on the Hugging Face Hub (ganzoo loads only "
            "safetensors from the Hub, never a URL's pickle): pass a .safetensors file of it, "
            "or choose a model from timm.list_pretrained()"
        )
    repo, _, revision = str(hub_id).partition("@")
    filename = str(cfg.get("hf_hub_filename") or "pytorch_model.bin")
    if not filename.endswith(".safetensors"):
        stem = filename.rsplit(".", 1)[0]
        filename = SAFE_NAMES.get(filename, f"{stem}.safetensors")
    return repo, revision or None, filename


def read_safetensors(path: str | Path) -> dict[str, Any]:
    """All tensors of a downloaded safetensors file, corruption turned into a one-line error."""
    from ..serialization import read_tensors

    return read_tensors(Path(path), remedy=": delete it from the cache and download it again")


def download_state_dict(
    name: str, cfg: Mapping[str, Any], *, local_files_only: bool = False
) -> tuple[dict[str, Any], str]:
    """(state dict, local path) of a timm model's safetensors weights on the Hub.

    A repo that has only pickled weights is a :class:`WeightsError`; network and cache errors
    of huggingface_hub are raised unchanged for the caller to explain.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from .. import __version__

    repo, revision, filename = weights_location(name, cfg)
    try:
        path = hf_hub_download(
            repo,
            filename,
            revision=revision,
            local_files_only=local_files_only,
            library_name="ganzoo",
            library_version=__version__,
        )
    except EntryNotFoundError:
        raise WeightsError(
            f"Hub repo {repo} has no {filename}, the only weights of timm model {name!r} ganzoo "
            "would load: it never unpickles a downloaded .bin; ask the author for safetensors, "
            "or convert a copy you trust with safetensors.torch.save_file and pass that file"
        ) from None
    return read_safetensors(path), path


def pretrained_overlay(state: dict[str, Any]) -> dict[str, Any]:
    """``pretrained_cfg_overlay`` that makes ``timm.create_model(..., pretrained=True)`` take
    ``state`` (adapting the classifier and input channels as usual) and download nothing."""
    return {"source": "", "state_dict": state, "file": None, "url": None}
