"""Checks every kind of model gets: spec, registration, build, save_load, info.

Each check takes the :class:`~ganzoo.testing.runner.Subject` and raises
:class:`~ganzoo.testing.report.CheckFailed` with a message that names the broken property and
says what to change. torch is imported inside the checks, never at module import.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from .report import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from .runner import Subject


# -- spec ---------------------------------------------------------------------------------------
def check_spec(s: Subject) -> None:
    """Config fields have help and JSON defaults; presets, defaults and names all resolve."""
    from ..api import model_config
    from ..config import apply_overrides, config_from_dict, config_to_dict, field_help
    from ..errors import GanzooError
    from ..plugins import get_registry
    from ..training.options import TrainOptions

    spec, cls = s.spec, s.spec.config
    for f in dataclasses.fields(cls):
        if not field_help(f):
            raise CheckFailed(
                f"config field {cls.__name__}.{f.name} has no help string: declare it with "
                f'ganzoo.param(default, "what it does") so `ganzoo info` can explain it'
            )
    defaults = cls()
    for f in dataclasses.fields(cls):
        try:
            json.dumps(getattr(defaults, f.name))
        except (TypeError, ValueError):
            raise CheckFailed(
                f"the default of config field {cls.__name__}.{f.name} "
                f"({getattr(defaults, f.name)!r}) is not plain JSON data: config.json and "
                "`ganzoo info` need numbers, strings, booleans, None, lists or dicts"
            ) from None
    try:
        again = config_from_dict(cls, config_to_dict(defaults), what=f"model {spec.name!r}")
    except GanzooError as exc:
        raise CheckFailed(f"the default config does not survive config.json: {exc}") from None
    if again != defaults:
        raise CheckFailed(
            "the default config changes when written to config.json and read back: "
            f"{config_to_dict(defaults)} became {config_to_dict(again)}"
        )
    train_fields = {f.name for f in dataclasses.fields(TrainOptions)}
    recipe = spec.recipe
    if recipe is not None:
        clash = sorted(train_fields & {f.name for f in dataclasses.fields(cls)})
        if clash:
            raise CheckFailed(
                f"config field {clash[0]!r} has the name of a training option: `ganzoo train "
                "--set` could not tell them apart; rename the field"
            )
    for name, preset in spec.presets.items():
        try:
            model_config(spec, name)
        except GanzooError as exc:
            raise CheckFailed(f"preset {name!r} does not apply: {exc}") from None
        unknown = sorted(set(preset.train) - train_fields)
        if unknown:
            raise CheckFailed(
                f"preset {name!r} sets training option {unknown[0]!r}, which TrainOptions "
                "does not have"
            )
        try:
            apply_overrides(TrainOptions(), dict(preset.train), what=f"preset {name!r}")
        except GanzooError as exc:
            raise CheckFailed(f"preset {name!r} does not apply: {exc}") from None
    if recipe is not None:
        try:
            apply_overrides(TrainOptions(), dict(recipe.options), what="the recipe's options")
        except GanzooError as exc:
            raise CheckFailed(f"TrainingRecipe.options are invalid: {exc}") from None
        registry = get_registry()
        for value, table, attr in (
            (recipe.trainer, registry.trainers, "trainer"),
            (recipe.loss, registry.losses, "loss"),
            (recipe.dataset, registry.datasets, "dataset"),
        ):
            if value not in table:
                raise CheckFailed(f"TrainingRecipe.{attr}: {table.unknown_message(value)}")
    elif spec.kind == "gan":
        raise CheckFailed(
            "a GAN needs a training recipe: ModelSpec(recipe=ganzoo.TrainingRecipe(...)) "
            "(the defaults train it with the adversarial trainer and the bce loss)"
        )


# -- registration -------------------------------------------------------------------------------
_PROBE = (
    "import json, sys, ganzoo\n"
    "before = 'torch' in sys.modules\n"
    "names = ganzoo.list_models()\n"
    "print(json.dumps({'before': before, 'after': 'torch' in sys.modules, 'names': names}))\n"
)


def check_registration(s: Subject) -> None:
    """In a fresh process that loads only this plugin, the model is listed and torch is not
    imported (``ganzoo list`` must stay fast)."""
    from ..plugins import discover

    plugin = s.plugin
    if plugin not in {ep.name for ep in discover()}:
        raise CheckSkipped(f"plugin {plugin!r} is not installed through a 'ganzoo' entry point")
    env = {
        **os.environ,
        "GANZOO_PLUGINS": plugin,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckFailed(f"a fresh process could not list the models: {tail}")
    probe = json.loads(lines[-1])
    if s.name not in probe["names"]:
        warning = [ln for ln in proc.stderr.splitlines() if plugin in ln]
        raise CheckFailed(
            f"a fresh process with GANZOO_PLUGINS={plugin} does not register {s.name!r}"
            + (f": {warning[-1].strip()}" if warning else "")
        )
    if probe["before"]:
        raise CheckSkipped("torch is imported at interpreter start-up here; cannot tell")
    if probe["after"]:
        raise CheckFailed(
            f"registering plugin {plugin!r} imports torch, which makes every `ganzoo list` "
            "slow: import torch only in the builder's module (ModelSpec.build = "
            "'package.module:function'), not in the plugin's __init__"
        )


# -- build --------------------------------------------------------------------------------------
def check_build(s: Subject) -> None:
    """The builder returns the declared kind of model, with networks that can be saved, and the
    same torch seed gives the same initial weights."""
    import torch
    from torch import nn

    from ..models import GANModel, ZooModel

    model = s.model()
    if model.arch != s.name or not isinstance(model.config, s.spec.config):
        raise CheckFailed("create_model did not set model.arch and model.config")
    if not isinstance(model, ZooModel):
        raise CheckFailed(f"the builder returned {type(model).__name__}, not a ganzoo.ZooModel")
    nets = model.networks()
    if not isinstance(nets, dict) or not all(isinstance(v, nn.Module) for v in nets.values()):
        raise CheckFailed("networks() must return a dict of file stem -> torch.nn.Module")
    bad = [n for n in nets if not n.replace("_", "").isalnum()]
    if bad:
        raise CheckFailed(f"network name {bad[0]!r} is not a plain file stem (letters, digits, _)")
    if s.spec.kind == "gan":
        if not isinstance(model, GANModel):
            raise CheckFailed(f"a GAN's builder must return a ganzoo.GANModel, not {type(model)}")
        if not {"generator", "discriminator"} <= set(nets):
            raise CheckFailed(
                f"networks() lists {sorted(nets)}: a GAN's must include 'generator' and "
                "'discriminator', or checkpoints and saved models lose them"
            )
        g = model.generator
        if not isinstance(g.latent_dim, int) or g.latent_dim < 1:
            raise CheckFailed(f"generator.latent_dim must be a positive int, got {g.latent_dim!r}")
        shape = tuple(g.image_shape)
        if len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape):
            raise CheckFailed(
                f"generator.image_shape must be (channels, height, width) ints, got {shape!r}"
            )
        for label, net in (("generator", g), ("discriminator", model.discriminator)):
            if not any(p.requires_grad for p in net.parameters()):
                raise CheckFailed(f"the {label} has no trainable parameters")
    again = s.new_model()
    for net_name, net in nets.items():
        theirs = again.networks()[net_name].state_dict()
        for key, value in net.state_dict().items():
            if key not in theirs or not torch.equal(value, theirs[key]):
                raise CheckFailed(
                    f"two builds after torch.manual_seed(0) differ in {net_name}.{key}: draw "
                    "initial weights from torch's generator only (not NumPy or Python's random), "
                    "so that --seed reproduces a run"
                )


# -- save_load ----------------------------------------------------------------------------------
def check_save_load(s: Subject) -> None:
    """``save_pretrained`` then ``from_pretrained`` restores every weight and the same outputs.

    The weights are moved away from their initial values first, so the check cannot pass by a
    fresh build coinciding with the saved model.
    """
    import torch

    from ..hub import from_pretrained
    from ..models import GANModel

    model = s.new_model(seed=1)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.add_(torch.randn_like(p) * 0.01)
    if isinstance(model, GANModel):  # move BatchNorm statistics and other buffers too
        model.train()
        with torch.no_grad():
            z = model.sample_latent(4, generator=torch.Generator().manual_seed(0))
            model.discriminator(model.generator(z.to(s.device)))
        model.eval()
    folder = s.workdir / f"{s.name}-saved"
    model.save_pretrained(folder)
    missing = [n for n in model.networks() if not (folder / f"{n}.safetensors").is_file()]
    if missing or not (folder / "config.json").is_file():
        raise CheckFailed(f"save_pretrained wrote no {(missing or ['config.json'])[0]} file")
    loaded = from_pretrained(folder, device=s.device)
    if type(loaded) is not type(model):
        raise CheckFailed(f"from_pretrained returned {type(loaded).__name__}, not {type(model)}")
    if loaded.config != model.config:
        raise CheckFailed("from_pretrained rebuilt the model with another config than was saved")
    for net_name, net in model.networks().items():
        theirs = loaded.networks()[net_name].state_dict()
        for key, value in net.state_dict().items():
            if key not in theirs or not torch.equal(value.cpu(), theirs[key].cpu()):
                raise CheckFailed(f"{net_name}.{key} differs after from_pretrained")
    if isinstance(model, GANModel):
        before = model.sample(4, seed=1)
        after = loaded.sample(4, seed=1)
        if not torch.equal(before, after):
            raise CheckFailed(
                "from_pretrained gave other images than the saved model for the same seed: "
                "every tensor the networks use must be a parameter or a persistent buffer "
                "(register_buffer), not a plain attribute"
            )


# -- info ---------------------------------------------------------------------------------------
def _invoke(args: list[str]) -> Any:
    from click.testing import CliRunner

    from ..cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=True)


def _cli_failure(args: list[str], result: Any) -> CheckFailed:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        what = f"{type(result.exception).__name__}: {result.exception}"
    else:
        what = (result.output.strip().splitlines() or [f"exit status {result.exit_code}"])[-1]
    return CheckFailed(f"`ganzoo {' '.join(args)}` failed: {what}")


def check_info(s: Subject) -> None:
    """``ganzoo info NAME`` (text and JSON) and ``ganzoo list`` render the model."""
    for args in (["info", s.name], ["info", s.name, "--json"], ["list", "--json"]):
        result = _invoke(args)
        if result.exit_code != 0:
            raise _cli_failure(args, result)
        if args[-1] != "--json":
            missing = [
                f.name for f in dataclasses.fields(s.spec.config) if f.name not in result.output
            ]
            if s.name not in result.output or missing:
                raise CheckFailed(
                    f"`ganzoo info {s.name}` does not show {(missing or [s.name])[0]}"
                )
            continue
        try:
            data = json.loads(result.output)
        except ValueError:
            raise CheckFailed(f"`ganzoo {' '.join(args)}` did not print JSON") from None
        names = [data["name"]] if isinstance(data, dict) else [d["name"] for d in data]
        if s.name not in names:
            raise CheckFailed(f"`ganzoo {' '.join(args)}` does not list {s.name!r}")
