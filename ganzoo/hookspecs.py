"""The hooks a ganzoo plugin may implement (plugin API 1.0).

A plugin is a module (usually a package's ``__init__``) named by an entry point of the group
``ganzoo``. It implements any of the hooks below with the :data:`hookimpl` decorator; every
hook receives one :class:`ganzoo.Registrar`, whose ``add_*`` methods validate each item as it
arrives, so a mistake is reported against the plugin that made it. Registration must be cheap:
name builders, losses and commands by ``"module:attribute"`` string so that ``ganzoo list``
imports no torch.

The hooks are called through pluggy, so a hook implementation may take any subset of the
hook's arguments, may be named differently with ``@hookimpl(specname="ganzoo_register_models")``,
and a plugin with several implementations of one hook can order them with ``tryfirst`` /
``trylast`` (or wrap them with ``wrapper=True``).

Order: when ganzoo first needs its registry it loads the core, then ganzoo's own plugins, then
every other installed plugin (by entry-point name), one at a time: each is imported and its
``ganzoo_register_models``, ``ganzoo_register_losses``, ``ganzoo_register_datasets``,
``ganzoo_register_trainers``, ``ganzoo_register_features``, ``ganzoo_register_commands`` and
``ganzoo_register_loggers`` are called, in that order, before the next plugin is imported. A
plugin whose hook raises is recorded and withdrawn while the others still load.

Deprecated: the ``register`` argument (a bare callable) of the registration hooks and the
``cli`` argument (the root click group) of ``ganzoo_register_commands`` still work in plugin
API 1.x and emit a :class:`DeprecationWarning`; they go in 2.0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .registry import Registrar

PROJECT = "ganzoo"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate a plugin's hook functions with this: ``@ganzoo.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


def _deprecated(what: str, instead: str) -> dict[str, Warning]:
    return {
        what: DeprecationWarning(
            f"the {what!r} argument of ganzoo hooks is deprecated since plugin API 1.0 and goes "
            f"in 2.0: take 'registrar' (a ganzoo.Registrar) and call {instead}"
        )
    }


@hookspec(warn_on_impl_args=_deprecated("register", "registrar.add_model(spec)"))
def ganzoo_register_models(registrar: Registrar, register: Callable[[Any], None]) -> None:
    """Register architectures: ``registrar.add_model(ganzoo.ModelSpec(...))`` once each.

    A name already taken by another plugin, a spec whose config is not a dataclass with
    defaults, or a builder that is not ``"module:function"`` or a callable is refused with an
    error naming this plugin; the plugin's other registrations are then withdrawn.
    """


@hookspec(warn_on_impl_args=_deprecated("register", "registrar.add_loss(name, loss, summary)"))
def ganzoo_register_losses(registrar: Registrar, register: Callable[..., None]) -> None:
    """Register adversarial losses: ``registrar.add_loss(name, loss, summary)``.

    ``loss`` is a :class:`ganzoo.training.losses.GANLoss` (or its ``"module:attribute"``):
    ``d_loss(real_logits, fake_logits)`` and ``g_loss(real_logits, fake_logits)`` as pure
    functions of D's outputs, plus the gradient-penalty settings the trainer reads. Users pick
    one with ``ganzoo train --loss NAME``.
    """


@hookspec(warn_on_impl_args=_deprecated("register", "registrar.add_dataset(name, load, summary)"))
def ganzoo_register_datasets(registrar: Registrar, register: Callable[..., None]) -> None:
    """Register datasets: ``registrar.add_dataset(name, load, summary)``.

    ``load(image_size: int, channels: int)`` returns either a ``ganzoo.data.ImageSet`` (every
    image as one float tensor ``N×C×H×W`` in ``[-1, 1]``, with class labels where the data has
    them: small data) or a ``datasets.Dataset`` with an ``Image`` column (and a ``ClassLabel``
    for labels), which ganzoo decodes once into its uint8 cache like any other source. Names
    are what users type after ``--data``.
    """


@hookspec(warn_on_impl_args=_deprecated("register", "registrar.add_trainer(name, factory)"))
def ganzoo_register_trainers(registrar: Registrar, register: Callable[..., None]) -> None:
    """Register trainers: ``registrar.add_trainer(name, factory, summary)``.

    ``factory()`` returns an object following :class:`ganzoo.protocols.Trainer`; a
    :class:`ganzoo.TrainingRecipe` names its trainer.
    """


@hookspec(warn_on_impl_args=_deprecated("register", "registrar.add_features(name, factory)"))
def ganzoo_register_features(registrar: Registrar, register: Callable[..., None]) -> None:
    """Register feature extractors for the metrics: ``registrar.add_features(name, factory,
    summary)``; ``ganzoo eval --features NAME`` and ``eval_features`` pick one."""


@hookspec(warn_on_impl_args=_deprecated("cli", "registrar.add_command(name, command)"))
def ganzoo_register_commands(registrar: Registrar, cli: Any) -> None:
    """Add CLI commands: ``registrar.add_command(name, command, summary)``.

    ``command`` is a :class:`click.Command` or, better, its ``"module:attribute"``: the module is
    imported only when the CLI looks the command up, so ``ganzoo --help`` stays fast. Import
    heavy modules (torch) inside the command function. The core's commands (``train``,
    ``sample``, ...) are registered the same way, and keep their names.
    """


@hookspec
def ganzoo_register_loggers(registrar: Registrar) -> None:
    """Register trackers (plugin API 1.2): ``registrar.add_logger(name, factory, summary)``.

    ``factory(context)`` (a :class:`ganzoo.tracking.RunContext`: the run directory and the step
    a resumed run continues from) returns a :class:`ganzoo.tracking.Logger`. It receives every
    record written to ``metrics.jsonl`` (losses, evaluation scores, health records, any kind a
    later version adds: it must not rely on knowing them), each sample grid and the run's
    config. Users choose it with ``ganzoo train --log NAME``; ``json`` (``metrics.jsonl``) and
    ``tensorboard`` are ganzoo's own. Name the factory by ``"module:attribute"`` so that
    registering imports nothing heavy; give it a ``check()`` that raises a one-line
    :class:`ganzoo.GanzooError` when its package is missing.
    """
