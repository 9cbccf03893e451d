"""The Python API: list, describe and build models from the registry.

Mirrors timm's: ``list_models("dc*")``, ``create_model("dcgan", image_size=64)``. Nothing here
imports torch until a model is actually built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .config import apply_overrides, config_to_dict, field_default, field_help, type_name
from .errors import ConfigError, GanzooError, PluginError, RegistrationError
from .plugins import get_host, get_registry
from .registry import resolve_callable
from .spec import ModelSpec, Preset


def list_models(pattern: str = "*", kind: str | None = None, pretrained: bool = False) -> list[str]:
    """Names of registered architectures matching an fnmatch ``pattern`` (``"style*"``).

    ``kind`` keeps one kind (``"gan"``, ``"style-transfer"``); ``pretrained=True`` lists
    ``arch.tag`` names of published weights (the catalogue) instead.
    """
    if pretrained:
        from .catalog import pretrained_rows

        return [row["name"] for row in pretrained_rows(pattern, kind=kind)]
    return get_registry().list_models(pattern, kind=kind)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; an unknown name raises an error with suggestions."""
    return get_registry().spec(name)


def model_config(name: str | ModelSpec, preset: str | None = None, **overrides: Any) -> Any:
    """The resolved config dataclass of a model: defaults, then a preset's config keys, then
    ``overrides``, each key and type checked."""
    spec = name if isinstance(name, ModelSpec) else get_spec(name)
    values = get_preset(spec, preset).config if preset is not None else {}
    config = apply_overrides(spec.config(), values, what=f"model {spec.name!r}")
    return apply_overrides(config, overrides, what=f"model {spec.name!r}")


def get_preset(spec: ModelSpec, preset: str) -> Preset:
    """The named :class:`~ganzoo.Preset` of a spec; an unknown name lists the known ones."""
    if preset not in spec.presets:
        known = ", ".join(sorted(spec.presets)) or "none"
        raise ConfigError(f"model {spec.name!r} has no preset {preset!r}; presets: {known}")
    return spec.presets[preset]


def split_options(
    spec: ModelSpec, options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split flat ``options`` (``--set`` keys) into (model config keys, everything else)."""
    names = {f.name for f in dataclasses.fields(spec.config)}
    model = {k: v for k, v in options.items() if k in names}
    rest = {k: v for k, v in options.items() if k not in names}
    return model, rest


def create_model(
    name: str, *, preset: str | None = None, pretrained: bool = False, **overrides: Any
) -> Any:
    """Build a model by architecture name, with config ``overrides`` checked key by key.

    ``create_model("dcgan", image_size=64)`` builds a fresh model; ``preset="paper"`` starts
    from a named preset; ``pretrained=True`` with an ``arch.tag`` name loads published weights
    (see :func:`ganzoo.from_pretrained`).
    """
    if pretrained:
        if overrides or preset:
            raise ConfigError("pretrained=True loads a saved config: pass no overrides or preset")
        from .hub import from_pretrained

        return from_pretrained(name)
    spec = get_spec(name)
    config = model_config(spec, preset, **overrides)
    return build_from_config(spec, config)


def build_from_config(spec: ModelSpec, config: Any) -> Any:
    """Call a spec's builder, check that it returned the kind of model the spec declares, and
    record on the model its architecture, config and provenance (plugin and distribution)."""
    from .models import GANModel, Provenance, StyleTransferModel, ZooModel

    host = get_host()
    entry = host.registry.models.entry(spec.name) if spec.name in host.registry.models else None
    plugin = entry.plugin if entry is not None else ""
    origin = f" (plugin {plugin!r})" if plugin else ""
    try:
        build = resolve_callable(spec.build, what=f"builder of model {spec.name!r}{origin}")
        model = build(config)
    except GanzooError:
        raise
    except (ValueError, TypeError) as exc:
        # a config value the builder rejects, or networks that break a protocol (GANModel checks)
        raise ConfigError(f"cannot build {spec.name!r}{origin} with this config: {exc}") from exc
    except Exception as exc:  # anything else is the plugin's fault: say which plugin
        import torch

        oom = (torch.cuda.OutOfMemoryError, MemoryError)  # torch.OutOfMemoryError is the former
        if isinstance(exc, oom) or "can't allocate" in str(exc):
            raise ConfigError(
                f"building {spec.name!r}{origin} with this config needs more memory than there "
                "is: choose smaller sizes (ganzoo info shows the config)"
            ) from None
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise PluginError(
            f"the builder of {spec.name!r}{origin} failed with {type(exc).__name__}: {detail} "
            "(a bug in the plugin: report it to its authors)"
        ) from exc
    expected = {GANModel.kind: GANModel, StyleTransferModel.kind: StyleTransferModel}.get(
        spec.kind, ZooModel
    )
    if not isinstance(model, expected):
        raise RegistrationError(
            f"builder of model {spec.name!r}{origin} returned "
            f"{type(model).__name__}, not a ganzoo.models.{expected.__name__}"
        )
    info = host.plugins.get(plugin)
    model.arch = spec.name
    model.config = config
    model.provenance = Provenance(
        arch=spec.name,
        kind=spec.kind,
        plugin=plugin,
        distribution=info.distribution if info is not None else "",
        version=info.version if info is not None else "",
    )
    if isinstance(model, GANModel):
        check_generator_shape(spec, model, origin)
    return model


def check_generator_shape(spec: ModelSpec, model: Any, origin: str = "") -> None:
    """Run the generator once on one latent vector and compare its images with the declared
    ``image_shape``, so that a mismatch is an error when the model is built rather than deep
    inside training. Free on the meta device; a generator that raises here is left to the
    trainer and the conformance kit, which say more about it."""
    import torch

    from .models import eval_mode

    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]), eval_mode(model.generator):
            if model.device.type == "meta":  # no real latent: a huge latent_dim costs nothing
                z = model.sample_latent(1, device="meta")
            else:
                z = model.sample_latent(1, generator=torch.Generator().manual_seed(0))
            shape = tuple(model.final_image(model.generator(z)).shape)
        declared = tuple(model.image_shape)
    except Exception:
        return
    if shape[1:] != declared:
        raise RegistrationError(
            f"the generator of {spec.name!r}{origin} returns images of shape "
            f"{shape} for one latent vector, but its image_shape promises {declared}: make "
            "forward(z) return N×image_shape images, or fix image_shape"
        )


def describe(name: str) -> dict[str, Any]:
    """Everything ``ganzoo info`` shows about an architecture, as JSON-able data."""
    spec = get_spec(name)
    fields = []
    for f in dataclasses.fields(spec.config):
        default = field_default(f)
        fields.append(
            {
                "name": f.name,
                "type": type_name(f.type),
                "default": default if default is not dataclasses.MISSING else None,
                "help": field_help(f),
                "choices": list(f.metadata.get("choices", ())) or None,
            }
        )
    recipe = spec.recipe
    return {
        "name": spec.name,
        "kind": spec.kind,
        "summary": spec.summary,
        "paper": spec.paper,
        "plugin": get_registry().plugin_of(spec.name),
        "license": spec.license,
        "config": fields,
        "defaults": config_to_dict(spec.config()),
        "recipe": None
        if recipe is None
        else {
            "trainer": recipe.trainer,
            "loss": recipe.loss,
            "dataset": recipe.dataset,
            "options": _jsonable(recipe.options),
        },
        "presets": {
            k: {"config": _jsonable(p.config), "train": _jsonable(p.train), "summary": p.summary}
            for k, p in spec.presets.items()
        },
        "pretrained": [n.split(".", 1)[1] for n in list_models(f"{spec.name}.*", pretrained=True)],
    }


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(dict(values), default=str))
