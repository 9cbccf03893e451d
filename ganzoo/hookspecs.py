"""The hooks a ganzoo plugin may implement.

A plugin is a module (usually a package's ``__init__``) named by an entry point of the group
``ganzoo``. It implements any of the hooks below with the :data:`hookimpl` decorator. Every hook
receives a ``register`` callable rather than returning values, so that the core validates each
item as it arrives and can say which plugin registered what. Registration must be cheap: declare
builders by ``"module:function"`` string so that ``ganzoo list`` imports no torch.

Order: when ganzoo first needs its registry it loads every plugin (one at a time; a plugin that
fails is recorded and skipped), then calls ``ganzoo_register_models``, ``ganzoo_register_losses``,
``ganzoo_register_datasets``, ``ganzoo_register_trainers`` and ``ganzoo_register_features`` on
each plugin in turn. ``ganzoo_register_commands`` is called once when the CLI starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "ganzoo"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate a plugin's hook functions with this: ``@ganzoo.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ganzoo_register_models(register: Callable[[Any], None]) -> None:
    """Register architectures: call ``register(ganzoo.ModelSpec(...))`` once per architecture.

    A name already taken by another plugin, a spec whose config is not a dataclass with defaults,
    or a builder that is not ``"module:function"`` or a callable is rejected with an error naming
    this plugin; the plugin's other registrations are then withdrawn.
    """


@hookspec
def ganzoo_register_losses(register: Callable[..., None]) -> None:
    """Register adversarial losses: ``register(name, loss, summary="...")``.

    ``loss`` is a :class:`ganzoo.training.losses.GANLoss` (or any object with its methods):
    ``d_loss(real_logits, fake_logits)`` and ``g_loss(real_logits, fake_logits)`` as pure
    functions of D's outputs, plus the optional gradient-penalty settings the trainer reads.
    """


@hookspec
def ganzoo_register_datasets(register: Callable[..., None]) -> None:
    """Register datasets: ``register(name, load, summary="...")``.

    ``load(image_size: int, channels: int)`` returns either a ``ganzoo.data.ImageSet`` (every
    image as one float tensor ``N×C×H×W`` in ``[-1, 1]``, with class labels where the data has
    them: small data) or a ``datasets.Dataset`` with an ``Image`` column (and a ``ClassLabel``
    for labels), which ganzoo decodes once into its uint8 cache like any other source. Names
    are what users type after ``--data``.
    """


@hookspec
def ganzoo_register_trainers(register: Callable[..., None]) -> None:
    """Register trainers: ``register(name, factory, summary="...")``.

    ``factory()`` returns an object following :class:`ganzoo.protocols.Trainer`. A model spec
    names its trainer in ``ModelSpec.trainer``.
    """


@hookspec
def ganzoo_register_features(register: Callable[..., None]) -> None:
    """Register feature extractors for evaluation metrics: ``register(name, factory, summary)``."""


@hookspec
def ganzoo_register_commands(cli: Any) -> None:
    """Add commands to the CLI: ``cli`` is the root :class:`click.Group`; call ``cli.add_command``.

    Import heavy modules inside the command functions, not at the top of the plugin, so that
    ``ganzoo --help`` stays fast.
    """
