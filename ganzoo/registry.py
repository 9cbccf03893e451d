"""The registry: what plugins declare and what users look up.

A :class:`ModelSpec` describes one architecture; :class:`Table` holds named things of one sort
(models, losses, datasets, trainers, feature extractors) and rejects duplicates, naming both
plugins. The global :class:`Registry` is filled by :mod:`ganzoo.plugins` the first time it is
needed. Nothing here imports torch: listing models stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import RegistrationError, UnknownNameError

T = TypeVar("T")

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


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


def missing_module(module_name: str) -> str:
    """Why ``module_name`` cannot be imported, or ``""`` when it can be found.

    Uses :func:`importlib.util.find_spec`, which imports the parent packages (a plugin's own,
    already imported) but not the module itself, so registering stays free of torch.
    """
    try:
        found = importlib.util.find_spec(module_name)
    except ModuleNotFoundError as exc:
        found, missing = None, exc.name or module_name
    except ValueError:  # in sys.modules without a __spec__ (made at run time): it exists
        return ""
    except Exception as exc:  # a parent package that raises on import
        return f"module {module_name!r}, whose package fails to import: {type(exc).__name__}: {exc}"
    else:
        missing = module_name
    if found is None:
        return (
            f"module {module_name!r}, which cannot be found ({missing!r} is not installed or "
            "misspelt): ModelSpec.build is 'package.module:function'"
        )
    return ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything ganzoo needs to know about one architecture, declared by a plugin.

    Only ``name``, ``kind``, ``summary``, ``config`` and ``build`` are required. The builder is
    called as ``build(config)`` with an instance of ``config`` and returns the model (for kind
    ``"gan"`` a :class:`ganzoo.models.GANModel`).
    """

    name: str  #: snake_case architecture name, unique across plugins (``dcgan``)
    kind: str  #: what the model does: ``"gan"``, ``"style-transfer"``, or a plugin's own kind
    summary: str  #: one line for ``ganzoo list``
    config: type  #: a dataclass of plain values; each field declared with ganzoo.param(...)
    build: str | Callable[[Any], Any]  #: ``"pkg.module:function"`` (imported lazily) or a callable
    paper: str = ""  #: link to the paper the architecture comes from
    trainer: str = "adversarial"  #: name of the registered trainer that fits it
    loss: str = "bce"  #: default adversarial loss (a registered loss name)
    train_defaults: Mapping[str, Any] = field(default_factory=dict)  #: trainer option defaults
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  #: named overrides
    default_dataset: str = "digits"  #: dataset used when the user names none
    pretrained: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  #: tag -> weights
    license: str = "apache-2.0"  #: licence of the architecture's code and of weights by default
    plugin: str = ""  #: filled in by the core: the plugin that registered the spec

    def validate(self) -> None:
        """Check the declaration; raise :class:`RegistrationError` naming what is wrong."""
        who = f"model {self.name!r}" + (f" from plugin {self.plugin!r}" if self.plugin else "")
        if not self.name or not set(self.name) <= _NAME_CHARS or self.name[0] in "_-":
            raise RegistrationError(f"{who}: name must be lower-case snake_case")
        if not self.kind:
            raise RegistrationError(f"{who}: kind is empty")
        if not self.summary or "\n" in self.summary:
            raise RegistrationError(f"{who}: summary must be one non-empty line")
        if not dataclasses.is_dataclass(self.config) or not isinstance(self.config, type):
            raise RegistrationError(f"{who}: config must be a dataclass class")
        try:
            self.config()
        except TypeError as exc:
            raise RegistrationError(f"{who}: every config field needs a default ({exc})") from None
        if self.build is None or (not callable(self.build) and ":" not in str(self.build)):
            raise RegistrationError(
                f"{who}: build must be a callable or 'package.module:function', got {self.build!r}"
            )
        if not callable(self.build):
            problem = missing_module(str(self.build).partition(":")[0])
            if problem:
                raise RegistrationError(f"{who}: build={self.build!r} names {problem}")
        for preset, values in self.presets.items():
            if not isinstance(values, Mapping):
                raise RegistrationError(f"{who}: preset {preset!r} must be a mapping")

    def config_fields(self) -> list[dataclasses.Field]:
        return list(dataclasses.fields(self.config))

    def builder(self) -> Callable[[Any], Any]:
        """The build function, imported on first use."""
        plugin = f" (plugin {self.plugin!r})" if self.plugin else ""
        return resolve_callable(self.build, what=f"builder of model {self.name!r}{plugin}")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A named thing registered by a plugin (a loss, a dataset, a trainer, ...)."""

    name: str
    value: T
    plugin: str
    summary: str = ""


class Table(Generic[T]):
    """Named entries of one sort: duplicates are refused, unknown names get suggestions."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, Entry[T]] = {}

    def add(self, name: str, value: T, *, plugin: str, summary: str = "") -> None:
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"plugin {plugin!r} registered a {self.what} with no name")
        if name in self._entries:
            other = self._entries[name].plugin
            raise RegistrationError(
                f"{self.what} {name!r} is registered twice: by plugin {other!r} and by plugin "
                f"{plugin!r}; uninstall one of them or rename the {self.what}"
            )
        self._entries[name] = Entry(name, value, plugin, summary)

    def entry(self, name: str) -> Entry[T]:
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

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything one plugin registered (used when its registration fails midway)."""
        self._entries = {k: e for k, e in self._entries.items() if e.plugin != plugin}

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[k] for k in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


class Registry:
    """All tables together. Plugins fill it through the ``register`` callbacks of their hooks."""

    def __init__(self) -> None:
        self.models: Table[ModelSpec] = Table("model")
        self.losses: Table[Any] = Table("loss")
        self.datasets: Table[Any] = Table("dataset")
        self.trainers: Table[Any] = Table("trainer")
        self.features: Table[Any] = Table("feature extractor")

    def tables(self) -> list[Table[Any]]:
        return [self.models, self.losses, self.datasets, self.trainers, self.features]

    def forget(self, plugin: str) -> None:
        for table in self.tables():
            table.remove_plugin(plugin)

    def add_model(self, spec: ModelSpec, *, plugin: str) -> None:
        if not isinstance(spec, ModelSpec):
            raise RegistrationError(
                f"plugin {plugin!r} registered {type(spec).__name__}, not a ganzoo.ModelSpec"
            )
        spec = dataclasses.replace(spec, plugin=plugin)
        spec.validate()
        self.models.add(spec.name, spec, plugin=plugin, summary=spec.summary)

    def spec(self, name: str) -> ModelSpec:
        """The spec of architecture ``name``; ``arch.tag`` names resolve to ``arch``."""
        return self.models.get(name.split(".", 1)[0])

    def list_models(self, pattern: str = "*", kind: str | None = None) -> list[str]:
        """Architecture names matching an fnmatch ``pattern``, optionally of one ``kind``,
        sorted. (Published ``arch.tag`` weights are listed by :mod:`ganzoo.catalog`.)"""
        return [
            e.name
            for e in self.models
            if (kind is None or e.value.kind == kind) and fnmatch.fnmatchcase(e.name, pattern)
        ]
