"""Finding and loading plugins, and filling the registry from their hooks.

Plugins are modules named by entry points of the group ``ganzoo``; the built-in architectures are
found the same way a third party's are. Each entry point is imported on its own and each hook
implementation is called on its own, so a plugin that raises on import or registers something
invalid is recorded (``ganzoo plugins`` shows it), named in one warning line, and skipped, while
every other plugin still loads. ``GANZOO_PLUGINS`` limits which entry points are loaded:
a comma-separated list of names, or ``none``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as md
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import GanzooError, RegistrationError
from .registry import ModelSpec, Registry

ENTRY_POINT_GROUP = "ganzoo"
#: The plugin API this ganzoo offers. A plugin may declare ``GANZOO_API = ">=1,<2"`` (a PEP 440
#: specifier) in its module; a plugin whose range excludes this version is not loaded.
PLUGIN_API_VERSION = "1.0"
#: The core registers its own losses, datasets and trainers as a plugin of this name.
CORE_PLUGIN = "ganzoo"

REGISTER_HOOKS = (
    "ganzoo_register_models",
    "ganzoo_register_losses",
    "ganzoo_register_datasets",
    "ganzoo_register_trainers",
    "ganzoo_register_features",
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
        """Load the core and every selected entry point, then run the registration hooks."""
        if self._loaded:
            return
        self._loaded = True
        from . import builtins

        self.add_plugin(builtins, CORE_PLUGIN, distribution="ganzoo", builtin=True)
        eps = entry_points if entry_points is not None else discover()
        for ep in select(eps):
            self.load_entry_point(ep)
        self.register_all()

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
                f"{other.distribution or other.module!r}",
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
        """Register a plugin object with pluggy (used for entry points and by tests)."""
        if info is None:
            info = PluginInfo(
                name,
                getattr(module, "__name__", repr(module)),
                distribution,
                version,
                builtin=builtin,
            )
        if not version and distribution:
            with contextlib.suppress(md.PackageNotFoundError):
                info.version = md.version(distribution)
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
        return info

    def fail(self, info: PluginInfo, reason: str) -> None:
        info.error = reason
        self.plugins[info.name] = info
        label = info.name + (f" ({info.distribution})" if info.distribution else "")
        warnings.warn(
            f"ganzoo plugin {label} was not loaded: {reason}", PluginWarning, stacklevel=2
        )

    # -- registration ----------------------------------------------------------------------
    def register_all(self) -> None:
        """Call each registration hook of each plugin on its own; a failure withdraws that
        plugin's registrations and is recorded against it."""
        for name, info in list(self.plugins.items()):
            if not info.ok:
                continue
            module = self.pm.get_plugin(name)
            try:
                for hook in REGISTER_HOOKS:
                    impl = getattr(module, hook, None)
                    if impl is not None and hook in info.hooks:
                        impl(register=self.register_callback(hook, name))
            except Exception as exc:
                self.registry.forget(name)
                self.pm.unregister(name=name)
                reason = (
                    str(exc)
                    if isinstance(exc, GanzooError)
                    else (f"{hook} raised {type(exc).__name__}: {exc}")
                )
                self.fail(info, reason)

    def register_callback(self, hook: str, plugin: str) -> Callable[..., None]:
        reg = self.registry
        if hook == "ganzoo_register_models":

            def register_model(spec: ModelSpec) -> None:
                reg.add_model(spec, plugin=plugin)

            return register_model
        table = {
            "ganzoo_register_losses": reg.losses,
            "ganzoo_register_datasets": reg.datasets,
            "ganzoo_register_trainers": reg.trainers,
            "ganzoo_register_features": reg.features,
        }[hook]

        def register(name: str, value: Any, summary: str = "") -> None:
            if value is None:
                raise RegistrationError(
                    f"plugin {plugin!r} registered {table.what} {name!r} as None"
                )
            table.add(name, value, plugin=plugin, summary=summary)

        return register

    def add_commands(self, cli: Any) -> None:
        """Let every loaded plugin add CLI commands; a failing plugin is named, not fatal."""
        for name, info in self.plugins.items():
            if not info.ok or "ganzoo_register_commands" not in info.hooks:
                continue
            module = self.pm.get_plugin(name)
            try:
                module.ganzoo_register_commands(cli=cli)
            except Exception as exc:
                self.fail(info, f"ganzoo_register_commands raised {type(exc).__name__}: {exc}")


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
    """Every installed entry point of the ``ganzoo`` group, in a stable order."""
    eps = md.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[tuple[str, str], md.EntryPoint] = {}
    for ep in eps:  # an editable install can list a distribution twice
        seen.setdefault((ep.name, ep.value), ep)
    return sorted(seen.values(), key=lambda ep: ep.name)


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
    return distribution.lower() == "ganzoo"


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
    """The process-wide registry, filled from every plugin on first use."""
    return get_host().registry


def reset() -> None:
    """Forget the loaded plugins; the next call to :func:`get_host` loads them again.

    For tests and for programs that install plugins while running.
    """
    global _host
    _host = None
    importlib.invalidate_caches()
