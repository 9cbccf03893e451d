"""Finding and loading plugins, and filling the registry from their hooks.

Plugins are modules named by entry points of the group ``ganzoo``; ganzoo's own architectures are
found the same way a third party's are. Each entry point is imported on its own and each plugin's
hook implementations are called on their own, through pluggy (so ``specname``, argument subsets,
``tryfirst``/``trylast`` and wrappers behave as pluggy documents them), so a plugin that raises
on import or registers something invalid is recorded (``ganzoo plugins`` shows it), named in one
warning line, and withdrawn, while every other plugin still loads. The core and ganzoo's own
plugins load first and keep their names in every clash. ``GANZOO_PLUGINS`` limits which entry
points are loaded: a comma-separated list of names, or ``none``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as md
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import GanzooError
from .registry import Registrar, Registry

ENTRY_POINT_GROUP = "ganzoo"
#: The plugin API this ganzoo offers. A plugin may declare ``GANZOO_API = ">=1,<2"`` (a PEP 440
#: specifier) in its module; a plugin whose range excludes this version is not loaded.
PLUGIN_API_VERSION = "1.4"
#: The core registers its own losses, datasets, trainers and commands as a plugin of this name.
CORE_PLUGIN = "ganzoo"
#: The distribution of ganzoo's own (built-in) plugins; they win every name clash.
CORE_DISTRIBUTION = "ganzoo"

#: The hooks that fill the registry, in the order they are called on each plugin.
REGISTER_HOOKS = (
    "ganzoo_register_models",
    "ganzoo_register_losses",
    "ganzoo_register_datasets",
    "ganzoo_register_trainers",
    "ganzoo_register_features",
    "ganzoo_register_commands",
    "ganzoo_register_loggers",
)


class PluginWarning(UserWarning):
    """Emitted once per plugin that could not be loaded or registered."""


@dataclass
class PluginInfo:
    """What ganzoo knows about one plugin: where it comes from and whether it loaded."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    builtin: bool = False
    hooks: list[str] = field(default_factory=list)
    error: str = ""  # empty when the plugin loaded and registered without problems

    @property
    def ok(self) -> bool:
        return not self.error


class PluginHost:
    """The pluggy manager, the registry and the record of every plugin's fate."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.plugins: dict[str, PluginInfo] = {}
        self._loaded = False

    # -- loading ---------------------------------------------------------------------------
    def load(self, entry_points: list[md.EntryPoint] | None = None) -> None:
        """Load the core and every selected entry point, each registered as it loads."""
        if self._loaded:
            return
        self._loaded = True  # first: a plugin that looks the registry up on import gets this one
        from . import builtins

        self.add_plugin(builtins, CORE_PLUGIN, distribution=CORE_DISTRIBUTION, builtin=True)
        eps = entry_points if entry_points is not None else discover()
        for ep in select(eps):
            self.load_entry_point(ep)

    def load_entry_point(self, ep: md.EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        version = dist.version if dist is not None else ""
        info = PluginInfo(ep.name, ep.value, dist_name, version, builtin=is_builtin(dist_name))
        if ep.name in self.plugins:
            other = self.plugins[ep.name]
            self.fail(
                info,
                f"the entry point name {ep.name!r} is already used by "
                f"{'ganzoo' if other.builtin else repr(other.distribution or other.module)}"
                f"; rename this plugin's entry point",
            )
            return
        try:
            module = ep.load()
        except Exception as exc:  # any error in third-party code must not stop the others
            self.fail(info, f"import failed: {type(exc).__name__}: {exc}")
            return
        problem = api_incompatibility(module)
        if problem:
            self.fail(info, problem)
            return
        self.add_plugin(module, ep.name, distribution=dist_name, version=version, info=info)

    def add_plugin(
        self,
        module: ModuleType | object,
        name: str,
        *,
        distribution: str = "",
        version: str = "",
        builtin: bool = False,
        info: PluginInfo | None = None,
    ) -> PluginInfo:
        """Add a plugin object (a module, or any object with hook implementations) and run its
        registration hooks. Used for entry points and by tests."""
        if info is None:
            info = PluginInfo(
                name, getattr(module, "__name__", repr(module)), distribution, version, builtin
            )
        if not info.version and info.distribution:
            with contextlib.suppress(md.PackageNotFoundError):
                info.version = md.version(info.distribution)
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # pluggy rejects bad signatures
            self.fail(info, f"not a valid ganzoo plugin: {' '.join(str(exc).split())}")
            return info
        unknown = unknown_hooks(self.pm, module)
        if unknown:  # pluggy accepts a misspelt hook silently; it would never be called
            self.pm.unregister(module)
            known = ", ".join(sorted(h for h in dir(hookspecs) if h.startswith("ganzoo_")))
            self.fail(info, f"{unknown[0]} is not a ganzoo hook (misspelt?); the hooks: {known}")
            return info
        info.hooks = sorted(
            h.name for h in (self.pm.get_hookcallers(module) or []) if h.name.startswith("ganzoo_")
        )
        self.plugins[name] = info
        self.register(name)
        return info

    def fail(self, info: PluginInfo, reason: str) -> None:
        info.error = reason
        key = info.name
        if self.plugins.get(key, info) is not info:  # a second plugin under a taken name
            key = f"{info.name} ({info.distribution or info.module})"
        self.plugins[key] = info
        label = info.name + (f" ({info.distribution})" if info.distribution else "")
        warnings.warn(
            f"ganzoo plugin {label} was not loaded: {reason}", PluginWarning, stacklevel=2
        )

    # -- registration ----------------------------------------------------------------------
    def registrar(self, name: str) -> Registrar:
        """The registrar that plugin ``name``'s hooks receive."""
        info = self.plugins[name]
        owners = {p.name: (p.distribution, p.builtin) for p in self.plugins.values()}
        return Registrar(self.registry, name, builtin=info.builtin, owners=owners)

    def register(self, name: str) -> None:
        """Call plugin ``name``'s registration hooks, in :data:`REGISTER_HOOKS` order, through
        pluggy; a failure withdraws the plugin's registrations and is recorded against it."""
        info = self.plugins[name]
        if not info.ok:
            return
        plugin = self.pm.get_plugin(name)
        registrar = self.registrar(name)
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        hook = ""
        try:
            for hook in REGISTER_HOOKS:
                if hook not in info.hooks:
                    continue
                caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
                if hook == "ganzoo_register_commands":
                    call_commands_hook(caller, registrar)
                elif hook not in LEGACY_HOOKS:  # hooks born with the registrar
                    caller(registrar=registrar)
                else:
                    caller(registrar=registrar, register=legacy_register(hook, registrar))
        except Exception as exc:
            self.registry._forget(name)
            self.pm.unregister(name=name)
            reason = (
                str(exc)
                if isinstance(exc, GanzooError)
                else f"{hook} raised {type(exc).__name__}: {exc}"
            )
            self.fail(info, reason)


#: hooks older than the registrar, whose implementations may still take ``register``
LEGACY_HOOKS = (
    "ganzoo_register_models",
    "ganzoo_register_losses",
    "ganzoo_register_datasets",
    "ganzoo_register_trainers",
    "ganzoo_register_features",
    "ganzoo_register_commands",
)


def legacy_register(hook: str, registrar: Registrar) -> Any:
    """The bare ``register`` callable of plugin API 1.0 before the registrar (deprecated)."""
    if hook == "ganzoo_register_models":
        return registrar.add_model
    method = {
        "ganzoo_register_losses": registrar.add_loss,
        "ganzoo_register_datasets": registrar.add_dataset,
        "ganzoo_register_trainers": registrar.add_trainer,
        "ganzoo_register_features": registrar.add_features,
    }[hook]

    def register(name: str, value: Any, summary: str = "") -> None:
        method(name, value, summary)

    return register


def call_commands_hook(caller: Any, registrar: Registrar) -> None:
    """Call ``ganzoo_register_commands``; an implementation that still takes the deprecated
    ``cli`` gets a click group of its own, whose commands are then registered as the plugin's."""
    legacy = any("cli" in impl.argnames for impl in caller.get_hookimpls())
    if not legacy:
        caller(registrar=registrar, cli=None)
        return
    import click

    staging = click.Group("ganzoo")
    caller(registrar=registrar, cli=staging)
    for name, command in staging.commands.items():
        registrar.add_command(name, command, command.get_short_help_str(60))


def unknown_hooks(pm: pluggy.PluginManager, module: object) -> list[str]:
    """Hook implementations of ``module`` that match no hook specification (and are not
    marked ``optionalhook``)."""
    found = []
    for caller in pm.get_hookcallers(module) or []:
        impls = [i for i in caller.get_hookimpls() if i.plugin is module]
        if caller.spec is None and not all(i.optionalhook for i in impls):
            found.append(caller.name)
    return sorted(found)


def discover() -> list[md.EntryPoint]:
    """Every installed entry point of the ``ganzoo`` group: ganzoo's own first, then the
    others by name (the order in which they load, and so who keeps a name in a clash)."""
    eps = md.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[tuple[str, str], md.EntryPoint] = {}
    for ep in eps:  # an editable install can list a distribution twice
        seen.setdefault((ep.name, ep.value), ep)

    def order(ep: md.EntryPoint) -> tuple[bool, str]:
        dist = getattr(ep, "dist", None)
        return (not (dist is not None and is_builtin(dist.metadata["Name"])), ep.name)

    return sorted(seen.values(), key=order)


def select(eps: list[md.EntryPoint]) -> list[md.EntryPoint]:
    """Apply ``GANZOO_PLUGINS``: unset loads all, ``none`` loads none, else the listed names."""
    wanted = os.environ.get("GANZOO_PLUGINS")
    if wanted is None or wanted.strip() in ("", "all", "*"):
        return eps
    if wanted.strip().lower() == "none":
        return []
    names = {w.strip() for w in wanted.split(",") if w.strip()}
    missing = names - {ep.name for ep in eps}
    if missing:
        warnings.warn(
            f"GANZOO_PLUGINS names plugins that are not installed: {', '.join(sorted(missing))}",
            PluginWarning,
            stacklevel=3,
        )
    return [ep for ep in eps if ep.name in names]


def is_builtin(distribution: str) -> bool:
    return (distribution or "").lower() == CORE_DISTRIBUTION


def api_incompatibility(module: object) -> str:
    """Why a plugin's declared ``GANZOO_API`` range excludes this ganzoo, or ``""``."""
    wanted = getattr(module, "GANZOO_API", None)
    if wanted is None:
        return ""
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:  # packaging comes with huggingface_hub; be lenient without it
        return ""
    try:
        spec = SpecifierSet(str(wanted))
    except InvalidSpecifier:
        return f"GANZOO_API = {wanted!r} is not a version range such as '>=1,<2'"
    if PLUGIN_API_VERSION not in spec:
        return (
            f"it needs ganzoo plugin API {wanted}, this ganzoo offers {PLUGIN_API_VERSION}; "
            "upgrade the plugin or ganzoo"
        )
    return ""


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
        _host.load()
    return _host


def get_registry() -> Registry:
    """The process-wide registry, filled from every plugin on first use. Its tables are
    read-only: plugins register through the :class:`~ganzoo.Registrar` their hooks receive."""
    return get_host().registry


def reset() -> None:
    """Forget the loaded plugins; the next call to :func:`get_host` loads them again.

    For tests and for programs that install plugins while running.
    """
    global _host
    _host = None
    importlib.invalidate_caches()


@contextlib.contextmanager
def isolated_host(
    plugins: Mapping[str, object] | None = None, *, installed: bool = True
) -> Iterator[PluginHost]:
    """A new process-wide plugin host for the duration of the block, then the previous one.

    It holds the core, the installed entry points (unless ``installed=False``) and ``plugins``
    (plugin name -> a module or object with ``@ganzoo.hookimpl`` methods), loaded and
    registered. ``host.add_plugin(obj, name)`` adds more inside the block. For tests: nothing a
    test registers leaks into the next.
    """
    global _host
    previous = _host
    host = PluginHost()
    host.load(None if installed else [])
    for name, plugin in (plugins or {}).items():
        host.add_plugin(plugin, name)
    _host = host
    try:
        yield host
    finally:
        _host = previous
