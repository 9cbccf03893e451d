"""The registry: what plugins registered, read-only to everyone but the :class:`Registrar`.

A :class:`Table` holds named things of one sort (models, losses, datasets, trainers, feature
extractors, commands, loggers) with the plugin that registered each. Plugins write only through the
:class:`Registrar` their hooks receive, which validates every item as it arrives, refuses
duplicates naming both plugins, and lets ganzoo's own (built-in) plugins keep their names. The
process-wide :class:`Registry` is filled by :mod:`ganzoo.plugins` the first time it is needed.
Nothing here imports torch: listing models stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import RegistrationError, UnknownNameError
from .spec import ModelSpec, Preset, TrainingRecipe, missing_module

if TYPE_CHECKING:
    import click

__all__ = [
    "Entry",
    "ModelSpec",
    "Preset",
    "Registrar",
    "Registry",
    "Table",
    "TrainingRecipe",
    "is_lazy_reference",
    "missing_module",
    "resolve_callable",
    "resolve_object",
]

T = TypeVar("T")


def resolve_callable(target: str | Callable[..., Any], *, what: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (or return a callable unchanged).

    Builders are named by string so that registering a model never imports torch or builds
    networks; the import happens only when the model is built.
    """
    if callable(target):
        return target
    obj = resolve_object(target, what=what)
    if not callable(obj):
        raise RegistrationError(f"{what}: {target!r} is not callable")
    return obj


def is_lazy_reference(value: Any) -> bool:
    """True for a ``"package.module:attribute"`` string naming an object to import later."""
    if not isinstance(value, str):
        return False
    module_name, sep, attr = value.partition(":")
    return bool(sep and module_name and attr and " " not in value)


def resolve_object(target: str, *, what: str) -> Any:
    """Import the object named by ``"package.module:attribute"``."""
    module_name, sep, attr = str(target).partition(":")
    if not sep or not module_name or not attr:
        raise RegistrationError(f"{what}: {target!r} is not of the form 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistrationError(f"{what}: cannot import {module_name!r}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RegistrationError(f"{what}: {module_name!r} has no attribute {attr!r}") from None
    return obj


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A named thing registered by a plugin (a model spec, a loss, a dataset, ...)."""

    name: str
    value: T
    plugin: str
    summary: str = ""


class Table(Generic[T]):
    """Named entries of one sort: read-only lookups with suggestions for unknown names.

    Entries are added only by a :class:`Registrar`; the methods starting with ``_`` are its.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, Entry[T]] = {}

    def entry(self, name: str) -> Entry[T]:
        """The entry ``name`` (value, plugin, summary); unknown names suggest close ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def get(self, name: str) -> T:
        """The registered object; a ``"module:attr"`` reference is imported on first use."""
        entry = self.entry(name)
        if is_lazy_reference(entry.value):
            value = resolve_object(entry.value, what=f"{self.what} {name!r}")
            self._entries[name] = entry = dataclasses.replace(entry, value=value)
        return entry.value

    def unknown_message(self, name: str) -> str:
        names = sorted(self._entries)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif names:
            hint = "known: " + ", ".join(names)
        else:
            hint = f"no {self.what} is registered: is a plugin missing? run `ganzoo plugins`"
        return f"unknown {self.what} {name!r}; {hint}"

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[k] for k in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    # -- the registrar's ------------------------------------------------------------------------
    def _add(self, entry: Entry[T]) -> None:
        self._entries[entry.name] = entry

    def _remove_plugin(self, plugin: str) -> None:
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}


class Registry:
    """Every table, read-only. ``ganzoo.get_registry()`` returns the process-wide one."""

    def __init__(self) -> None:
        self.models: Table[ModelSpec] = Table("model")
        self.losses: Table[Any] = Table("loss")
        self.datasets: Table[Any] = Table("dataset")
        self.trainers: Table[Any] = Table("trainer")
        self.features: Table[Any] = Table("feature extractor")
        self.commands: Table[Any] = Table("command")
        self.loggers: Table[Any] = Table("logger")

    def tables(self) -> dict[str, Table[Any]]:
        """The tables by attribute name, in the order ``ganzoo plugins --all`` shows them."""
        return {
            "models": self.models,
            "losses": self.losses,
            "datasets": self.datasets,
            "trainers": self.trainers,
            "features": self.features,
            "commands": self.commands,
            "loggers": self.loggers,
        }

    def spec(self, name: str) -> ModelSpec:
        """The spec of architecture ``name``; ``arch.tag`` names resolve to ``arch``."""
        return self.models.get(name.split(".", 1)[0])

    def plugin_of(self, name: str) -> str:
        """The plugin that registered architecture ``name``."""
        return self.models.entry(name.split(".", 1)[0]).plugin

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        """What one plugin registered: table name -> sorted names (empty tables left out)."""
        found = {
            key: [e.name for e in table if e.plugin == plugin]
            for key, table in self.tables().items()
        }
        return {key: names for key, names in found.items() if names}

    def list_models(self, pattern: str = "*", kind: str | None = None) -> list[str]:
        """Architecture names matching an fnmatch ``pattern``, optionally of one ``kind``,
        sorted. (Published ``arch.tag`` weights are listed by :mod:`ganzoo.catalog`.)"""
        return [
            e.name
            for e in self.models
            if (kind is None or e.value.kind == kind) and fnmatch.fnmatchcase(e.name, pattern)
        ]

    def _forget(self, plugin: str) -> None:
        for table in self.tables().values():
            table._remove_plugin(plugin)


class Registrar:
    """What every ganzoo hook receives: one ``add_*`` method per kind of thing a plugin adds.

    Each method validates its item at once and raises :class:`~ganzoo.RegistrationError`
    naming the plugin; ganzoo then withdraws everything that plugin registered and reports it
    (``ganzoo plugins``). A name may be registered once across all plugins; ganzoo's own
    (built-in) plugins keep their names, so the other plugin is the one refused. Values may be
    ``"package.module:attribute"`` strings, imported on first use, so that registering imports
    no torch.
    """

    def __init__(
        self, registry: Registry, plugin: str, *, builtin: bool = False, owners: Any = None
    ) -> None:
        self._registry = registry
        self._plugin = plugin
        self._builtin = builtin
        #: plugin name -> (distribution, builtin) of the plugins already registered, for messages
        self._owners = owners if owners is not None else {}

    @property
    def plugin(self) -> str:
        """The name of the plugin this registrar registers for (its entry-point name)."""
        return self._plugin

    def add_model(self, spec: ModelSpec) -> None:
        """Register an architecture; see :class:`ganzoo.ModelSpec`."""
        if not isinstance(spec, ModelSpec):
            raise RegistrationError(
                f"plugin {self._plugin!r} registered {type(spec).__name__}, not a ganzoo.ModelSpec"
            )
        try:
            spec.validate()
        except RegistrationError as exc:
            raise RegistrationError(f"{exc} (plugin {self._plugin!r})") from None
        self._add(self._registry.models, spec.name, spec, spec.summary)

    def add_loss(self, name: str, loss: Any, summary: str = "") -> None:
        """Register an adversarial loss (a :class:`ganzoo.training.losses.GANLoss`, or its
        ``"module:attribute"``): ``d_loss(real_logits, fake_logits)`` and ``g_loss(...)``."""
        self._add(self._registry.losses, name, loss, summary)

    def add_dataset(self, name: str, load: Any, summary: str = "") -> None:
        """Register a dataset: ``load(image_size, channels)`` returns a ``ganzoo.data.ImageSet``
        (small data, every image in memory) or a ``datasets.Dataset`` with an image column
        (prepared once into the uint8 cache). ``name`` is what users type after ``--data``."""
        self._add(self._registry.datasets, name, load, summary)

    def add_trainer(self, name: str, factory: Any, summary: str = "") -> None:
        """Register a trainer: ``factory()`` returns a :class:`ganzoo.protocols.Trainer`;
        a :class:`ganzoo.TrainingRecipe` names it."""
        self._add(self._registry.trainers, name, factory, summary)

    def add_features(self, name: str, factory: Any, summary: str = "") -> None:
        """Register a feature extractor for the metrics (``ganzoo eval --features NAME``)."""
        self._add(self._registry.features, name, factory, summary)

    def add_command(self, name: str, command: click.Command | str, summary: str = "") -> None:
        """Add ``ganzoo NAME``: a :class:`click.Command`, or its ``"module:attribute"`` so that
        the module (and whatever it imports) loads only when the CLI looks the command up."""
        if not (is_lazy_reference(command) or _is_click_command(command)):
            raise RegistrationError(
                f"plugin {self._plugin!r}: command {name!r} must be a click.Command or "
                f"'package.module:attribute', got {command!r}"
            )
        self._add(self._registry.commands, name, command, summary)

    def add_logger(self, name: str, factory: Any, summary: str = "") -> None:
        """Register a tracker for ``ganzoo train --log NAME`` (plugin API 1.2):
        ``factory(context: ganzoo.tracking.RunContext)`` returns a
        :class:`ganzoo.tracking.Logger`, which receives every record of ``metrics.jsonl``, each
        sample grid and the run's config. ``factory`` may be a ``"module:attribute"`` string."""
        if not (is_lazy_reference(factory) or callable(factory)):
            raise RegistrationError(
                f"plugin {self._plugin!r}: logger {name!r} must be a callable factory or "
                f"'package.module:attribute', got {factory!r}"
            )
        self._add(self._registry.loggers, name, factory, summary)

    def _add(self, table: Table[Any], name: str, value: Any, summary: str) -> None:
        who = f"plugin {self._plugin!r}"
        if not isinstance(name, str) or not name or name != name.strip():
            raise RegistrationError(f"{who} registered a {table.what} with no valid name")
        if value is None:
            raise RegistrationError(f"{who} registered {table.what} {name!r} as None")
        if summary and (not isinstance(summary, str) or "\n" in summary):
            raise RegistrationError(f"{who}: the summary of {table.what} {name!r} is not one line")
        if name in table:
            raise RegistrationError(self._clash(table, name))
        table._add(Entry(name, value, self._plugin, summary or ""))

    def _clash(self, table: Table[Any], name: str) -> str:
        other = table.entry(name).plugin
        dist, builtin = self._owners.get(other, ("", False))
        origin = f" ({dist})" if dist else ""
        if builtin and not self._builtin:
            return (
                f"{table.what} {name!r} is taken by ganzoo's built-in plugin {other!r}{origin}; "
                f"plugin {self._plugin!r} cannot replace it: rename its {table.what}"
            )
        return (
            f"{table.what} {name!r} is registered twice: by plugin {other!r}{origin} and by plugin "
            f"{self._plugin!r}; uninstall one of them or rename the {table.what}"
        )


def _is_click_command(value: Any) -> bool:
    import sys

    click = sys.modules.get("click")  # a command object means click is already imported
    return click is not None and isinstance(value, click.Command)
