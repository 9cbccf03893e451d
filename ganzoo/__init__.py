"""ganzoo: a model zoo for generative adversarial networks and neural style transfer.

One registry filled by plugins, one CLI, weights in safetensors on the Hugging Face Hub::

    import ganzoo
    ganzoo.list_models("dc*")                     # ['dcgan']
    model = ganzoo.create_model("dcgan", image_size=32)
    images = model.sample(16, seed=0)             # N×C×H×W in [-1, 1]

Importing ganzoo does not import torch; the names that need it load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import create_model, describe, get_spec, list_models, model_config
from .config import ModelConfig, param
from .errors import (
    ConfigError,
    DataError,
    GanzooError,
    HubError,
    PluginError,
    RegistrationError,
    UnknownNameError,
    WeightsError,
)
from .hookspecs import hookimpl
from .plugins import PLUGIN_API_VERSION, get_registry
from .protocols import GAN, STYLE_TRANSFER, Discriminator, Generator, Trainer
from .registry import Registrar
from .spec import ModelSpec, Preset, TrainingRecipe

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .hub import from_pretrained
    from .models import GANModel, ImageGrid, ZooModel
    from .style_models import StyleTransferModel, StylizeResult

_LAZY = {
    "GANModel": ("ganzoo.models", "GANModel"),
    "ImageGrid": ("ganzoo.models", "ImageGrid"),
    "StyleTransferModel": ("ganzoo.style_models", "StyleTransferModel"),
    "StylizeResult": ("ganzoo.style_models", "StylizeResult"),
    "ZooModel": ("ganzoo.models", "ZooModel"),
    "from_pretrained": ("ganzoo.hub", "from_pretrained"),
}


def __getattr__(name: str) -> Any:
    """Import torch-backed names on first access so ``import ganzoo`` stays light."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


__all__ = [
    "GAN",
    "PLUGIN_API_VERSION",
    "STYLE_TRANSFER",
    "ConfigError",
    "DataError",
    "Discriminator",
    "GANModel",
    "GanzooError",
    "Generator",
    "HubError",
    "ImageGrid",
    "ModelConfig",
    "ModelSpec",
    "PluginError",
    "Preset",
    "Registrar",
    "RegistrationError",
    "StyleTransferModel",
    "StylizeResult",
    "Trainer",
    "TrainingRecipe",
    "UnknownNameError",
    "WeightsError",
    "ZooModel",
    "__version__",
    "create_model",
    "describe",
    "from_pretrained",
    "get_registry",
    "get_spec",
    "hookimpl",
    "list_models",
    "model_config",
    "param",
]
