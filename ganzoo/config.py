"""Model and training configurations: plain dataclasses with a help string per field.

A config is data: it becomes ``config.json``, ``ganzoo info`` prints it, and the CLI overrides it
with ``--set key=value`` or a TOML file. :func:`param` declares a field with its help text;
:func:`apply_overrides` checks every override's key and type so that a typo is an error that lists
the valid keys instead of a silently ignored option.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")
#: the largest seed ganzoo takes: torch seeds are 64-bit, and the trainer seeds its batch stream
#: with 1000 × seed
MAX_SEED = 2**32 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """``seed`` when it lies in [0, MAX_SEED]; a one-line error otherwise (torch would
    overflow with a traceback)."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{option} {seed} is out of range: use a seed from 0 to {MAX_SEED}")
    return seed


class ModelConfig:
    """Optional base class of a model's config dataclass, declaring its one extension point.

    ``@dataclass class MyConfig(ganzoo.ModelConfig): ...``. A plain dataclass works too (its
    ``validate`` is called when it defines one).
    """

    def validate(self) -> None:
        """Check values that depend on each other (``fmap_min <= fmap_max``); raise
        ``ValueError`` with one line saying what is wrong. Called after every override, by
        ``create_model``, ``ganzoo train --set``, ``ganzoo info`` presets and when a saved
        config is loaded; the message becomes a :class:`~ganzoo.ConfigError`."""


def param(default: Any, help: str, *, choices: Iterable[Any] | None = None) -> Any:
    """Declare a config field with a default, a one-line help string and optional choices.

    Lists and dicts are copied per instance, so a default is never shared between configs.
    """
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if isinstance(default, list | dict | set):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def field_help(f: dataclasses.Field) -> str:
    """The help string a field was declared with, or an empty string."""
    return str(f.metadata.get("help", ""))


def field_default(f: dataclasses.Field) -> Any:
    """A field's default value, calling its factory where it has one."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _field_types(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a forward reference that cannot be resolved: fall back to the raw text
        return {f.name: f.type for f in dataclasses.fields(cls)}


def type_name(tp: Any) -> str:
    """A short readable name for a type annotation (``int``, ``float | None``, ``list[int]``)."""
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_instance(value: Any, tp: Any) -> bool:
    if tp is Any or isinstance(tp, str):
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        args = typing.get_args(tp)
        if origin is tuple and args and Ellipsis not in args:  # tuple[float, float]: two items
            return len(value) == len(args) and all(map(_is_instance, value, args))
        args = tuple(a for a in args if a is not Ellipsis)
        return not args or all(_is_instance(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _coerce(value: Any, tp: Any) -> Any:
    """Turn a value that matches ``tp`` into its canonical form (int→float, list→tuple)."""
    origin = typing.get_origin(tp)
    if tp is float and isinstance(value, int):
        return float(value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin is list and isinstance(value, tuple):
        return list(value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if _is_instance(value, arg):
                return _coerce(value, arg)
    return value


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value``.

    TOML/JSON literals are tried first (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``); ``none``
    and ``null`` mean None; anything else is kept as a string, so ``--set loss=hinge`` works
    without quotes.
    """
    stripped = text.strip()
    if stripped.lower() in ("none", "null"):
        return None
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    try:
        return tomllib.loads(f"v = {stripped}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def parse_assignments(items: Iterable[str], *, option: str = "--set") -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into a dict, with a clear error for a missing ``=``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} expects key=value, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; tables are flattened one level (``[model]``, ``[train]``)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in ("model", "train"):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def valid_keys_message(classes: Iterable[type]) -> str:
    keys = sorted(f.name for cls in classes for f in dataclasses.fields(cls))
    return "valid keys: " + ", ".join(keys)


def unknown_option(key: str, classes: Iterable[type], what: str = "") -> ConfigError:
    """The error for a key none of the config ``classes`` has: the closest key ("did you
    mean"), then every valid one. ``what`` names the thing configured (``'dcgan'``)."""
    classes = list(classes)
    names = [f.name for cls in classes for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    label = f" for {what}" if what else ""
    return ConfigError(f"unknown option {key!r}{label}{hint}; {valid_keys_message(classes)}")


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(map(_has_nonfinite, value))
    return False


def check_value(cls: type, key: str, value: Any) -> Any:
    """Check one override against ``cls``'s field and return the coerced value.

    NaN and infinity are refused for every number: no option means anything with them, and a
    NaN slips through every ``<`` or ``>`` range check a config's ``validate`` makes.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    tp = _field_types(cls)[key]
    if not _is_instance(value, tp):
        raise ConfigError(
            f"{key}={value!r} has the wrong type: {cls.__name__}.{key} expects {type_name(tp)}"
        )
    if _has_nonfinite(value):
        raise ConfigError(f"{key}={value!r} is not allowed: {key} takes finite numbers only")
    choices = fields[key].metadata.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}={value!r} is not one of {', '.join(map(repr, choices))}")
    return _coerce(value, tp)


def apply_overrides(config: T, overrides: Mapping[str, Any], *, what: str = "") -> T:
    """Return a copy of dataclass ``config`` with ``overrides`` applied, each key and type checked.

    An unknown key raises :class:`ConfigError` naming the closest key and listing the valid ones.
    """
    cls = type(config)
    names = [f.name for f in dataclasses.fields(cls)]
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise unknown_option(key, [cls], what)
        changes[key] = check_value(cls, key, value)
    new = dataclasses.replace(config, **changes)
    # ModelConfig declares validate(); a plain dataclass config may define one of its own
    validate = new.validate if isinstance(new, ModelConfig) else getattr(new, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid {what or cls.__name__} config: {exc}") from None
    return new


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-able dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(cls: type[T], data: Mapping[str, Any], *, what: str = "") -> T:
    """Rebuild a config from a dict read back from ``config.json``, checking every key."""
    return apply_overrides(cls(), data, what=what)
