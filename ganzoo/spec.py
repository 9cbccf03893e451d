"""What a plugin declares about an architecture: :class:`ModelSpec`, :class:`TrainingRecipe`,
:class:`Preset`.

A spec is the architecture (its config dataclass and its builder); a recipe is how to train it (a
registered trainer, a loss, a dataset and trainer option defaults) and is optional: a
style-transfer model has none. A preset names overrides in two separate namespaces, the model's
config and the training options. The registry records which plugin registered a spec; the spec
itself holds only what the plugin wrote. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import RegistrationError

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
#: ModelSpec keywords of the plugin API before the recipe was split off (accepted, deprecated)
LEGACY_RECIPE_KEYS = ("trainer", "loss", "train_defaults", "default_dataset")


@dataclass(frozen=True)
class TrainingRecipe:
    """How ``ganzoo train`` trains an architecture: every field names registered things or sets
    defaults, and the user overrides any of them (``--loss``, ``--data``, ``--set key=value``)."""

    trainer: str = "adversarial"  #: a registered trainer (``ganzoo plugins --all``)
    loss: str = "bce"  #: the default adversarial loss, a registered loss name
    dataset: str = "digits"  #: the dataset used when the user names none
    options: Mapping[str, Any] = field(default_factory=dict)  #: trainer option defaults


@dataclass(frozen=True)
class Preset:
    """A named set of overrides: ``config`` for the model's config dataclass, ``train`` for the
    training options (only for models with a :class:`TrainingRecipe`)."""

    config: Mapping[str, Any] = field(default_factory=dict)  #: model config keys
    train: Mapping[str, Any] = field(default_factory=dict)  #: training option keys
    summary: str = ""  #: one line for ``ganzoo info``


def deprecated(message: str, depth: int) -> None:
    """A :class:`DeprecationWarning` located at the plugin's line ``depth`` frames up, by file
    and line as pluggy's own deprecation warnings are, so that it reads as the plugin's (and a
    test suite's ``error::DeprecationWarning:<its own package>`` filter does not turn a third
    party's deprecated call into an error)."""
    frame = sys._getframe(depth + 1)
    warnings.warn_explicit(
        DeprecationWarning(message),
        DeprecationWarning,
        filename=frame.f_code.co_filename,
        lineno=frame.f_lineno,
    )


def _training_keys() -> set[str]:
    from .training.options import TrainOptions  # plain dataclasses: no torch

    return {f.name for f in dataclasses.fields(TrainOptions)}


def _as_preset(name: str, value: Any, config: Any, warn_at: int) -> Any:
    """A :class:`Preset` from a preset declaration; a plain mapping is config keys only (and,
    deprecated, training keys mixed in, which are moved to ``train``)."""
    if isinstance(value, Preset) or not isinstance(value, Mapping):
        return value  # validate() reports anything that is not a mapping
    fields = (
        {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else set()
    )
    train = {k: v for k, v in value.items() if k not in fields and k in _training_keys()}
    if train:
        deprecated(
            f"preset {name!r} mixes training options ({', '.join(sorted(train))}) with config "
            "keys; since plugin API 1.0 write ganzoo.Preset(config={...}, train={...})",
            depth=warn_at,
        )
    return Preset(config={k: v for k, v in value.items() if k not in train}, train=train)


@dataclass(frozen=True, init=False)
class ModelSpec:
    """One architecture, as a plugin declares it to ``registrar.add_model``.

    ``build(config)`` is called with an instance of ``config`` and returns the model (a
    :class:`ganzoo.models.GANModel` for kind ``"gan"``, a
    :class:`ganzoo.models.StyleTransferModel` for ``"style-transfer"``, another
    :class:`ganzoo.models.ZooModel` for a plugin's own kind).
    """

    name: str  #: snake_case architecture name, unique across plugins (``dcgan``)
    kind: str  #: what the model does: ``"gan"``, ``"style-transfer"``, or a plugin's own kind
    summary: str  #: one line for ``ganzoo list``
    config: type  #: a dataclass of plain values; each field declared with ganzoo.param(...)
    build: str | Callable[[Any], Any]  #: ``"pkg.module:function"`` (imported lazily) or a callable
    paper: str = ""  #: link to the paper the architecture comes from
    license: str = "apache-2.0"  #: licence of the architecture's code and of weights by default
    presets: Mapping[str, Preset] = field(default_factory=dict)  #: named overrides
    recipe: TrainingRecipe | None = None  #: how to train it; None: ``ganzoo train`` refuses it

    def __init__(
        self,
        name: str,
        kind: str,
        summary: str,
        config: type,
        build: str | Callable[[Any], Any],
        *,
        paper: str = "",
        license: str = "apache-2.0",
        presets: Mapping[str, Preset | Mapping[str, Any]] | None = None,
        recipe: TrainingRecipe | None = None,
        **legacy: Any,
    ) -> None:
        if "pretrained" in legacy:
            raise RegistrationError(
                f"model {name!r}: ModelSpec(pretrained=...) was removed in plugin API 1.0; "
                "published weights are listed in ganzoo's catalogue (registry/catalog.toml, or "
                "a file named by GANZOO_CATALOG)"
            )
        unknown = sorted(set(legacy) - set(LEGACY_RECIPE_KEYS) - {"plugin"})
        if unknown:
            raise TypeError(f"ModelSpec() got an unexpected keyword argument {unknown[0]!r}")
        legacy.pop("plugin", None)  # filled in by the core before 1.0; the registry records it
        if legacy:
            if recipe is not None:
                raise TypeError("ModelSpec(): give recipe= or the old training keywords, not both")
            recipe = _legacy_recipe(name, legacy)
        for key, value in (
            ("name", name),
            ("kind", kind),
            ("summary", summary),
            ("config", config),
            ("build", build),
            ("paper", paper),
            ("license", license),
            ("recipe", recipe),
        ):
            object.__setattr__(self, key, value)
        normalised: dict[str, Any] = {}
        for key, value in (presets or {}).items():  # a loop, not a comprehension: stacklevel
            normalised[key] = _as_preset(key, value, config, warn_at=2)
        object.__setattr__(self, "presets", normalised)

    def validate(self) -> None:
        """Check the declaration; raise :class:`RegistrationError` naming what is wrong."""
        who = f"model {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise RegistrationError(f"{who}: name must be lower-case snake_case")
        if not set(self.name) <= _NAME_CHARS or self.name[0] in "_-":
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
        if self.recipe is not None and not isinstance(self.recipe, TrainingRecipe):
            raise RegistrationError(f"{who}: recipe must be a ganzoo.TrainingRecipe or None")
        if self.recipe is not None and not isinstance(self.recipe.options, Mapping):
            raise RegistrationError(f"{who}: recipe.options must be a mapping of option defaults")
        for preset, values in self.presets.items():
            if not isinstance(values, Preset):
                raise RegistrationError(
                    f"{who}: preset {preset!r} must be a ganzoo.Preset or a mapping of config keys"
                )
            if not isinstance(values.config, Mapping) or not isinstance(values.train, Mapping):
                raise RegistrationError(f"{who}: preset {preset!r}: config and train are mappings")
            if values.train and self.recipe is None:
                raise RegistrationError(
                    f"{who}: preset {preset!r} sets training options, but the model has no "
                    "training recipe"
                )

    def config_fields(self) -> list[dataclasses.Field]:
        return list(dataclasses.fields(self.config))

    def builder(self) -> Callable[[Any], Any]:
        """The build function, imported on first use (``"module:function"``)."""
        from .registry import resolve_callable

        return resolve_callable(self.build, what=f"builder of model {self.name!r}")

    @property
    def trainable(self) -> bool:
        """True when the spec has a training recipe (``ganzoo train`` accepts it)."""
        return self.recipe is not None


def _legacy_recipe(name: str, legacy: dict[str, Any]) -> TrainingRecipe | None:
    """The recipe the pre-split keywords stand for; ``trainer=""`` meant "not trainable"."""
    deprecated(
        f"model {name!r}: ModelSpec({', '.join(f'{k}=' for k in legacy)}) is deprecated since "
        "plugin API 1.0: write recipe=ganzoo.TrainingRecipe(trainer=..., loss=..., dataset=..., "
        "options={...})",
        depth=2,
    )
    if legacy.get("trainer") == "":
        return None
    base = TrainingRecipe()
    return TrainingRecipe(
        trainer=legacy.get("trainer") or base.trainer,
        loss=legacy.get("loss") or base.loss,
        dataset=legacy.get("default_dataset") or base.dataset,
        options=dict(legacy.get("train_defaults") or {}),
    )


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
