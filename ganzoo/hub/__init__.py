"""Weights on the Hugging Face Hub: one folder format, model cards, loading and publishing.

A model folder holds ``config.json`` (format version, architecture, the plugin distribution
that provides it, the model config), one ``.safetensors`` file per network, a ``README.md`` model
card with Hub metadata and a ``sample.png`` grid::

    model = ganzoo.from_pretrained("org/dcgan-digits32")   # or a folder, a run, "arch.tag"
    model.save_pretrained("out/dcgan-digits32")
    model.push_to_hub("me/dcgan-digits32", private=True)

Loading and publishing go through huggingface_hub (its cache, tokens, ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE``); only safetensors are ever read. The modules: :mod:`.card` (the model card),
:mod:`.local` (save_pretrained, runs and exports), :mod:`.download` (from_pretrained) and
:mod:`.upload` (push_to_hub).
"""

from __future__ import annotations

from .download import ALLOW_PATTERNS, from_pretrained, parse_source, resolve_folder
from .local import export_checkpoint, locate_model_folder, save_pretrained
from .upload import push_folder, push_to_hub

__all__ = [
    "ALLOW_PATTERNS",
    "export_checkpoint",
    "from_pretrained",
    "locate_model_folder",
    "parse_source",
    "push_folder",
    "push_to_hub",
    "resolve_folder",
    "save_pretrained",
]
