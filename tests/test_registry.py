"""The registry: specs, lookups with suggestions, duplicates, config overrides."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import ganzoo
from ganzoo.errors import ConfigError, RegistrationError, UnknownNameError
from ganzoo.registry import ModelSpec, Registrar, Registry


@dataclass
class TinyConfig:
    size: int = ganzoo.param(16, "side")
    rate: float = ganzoo.param(0.5, "a rate")
    name: str = ganzoo.param("a", "a name", choices=("a", "b"))
    betas: tuple[float, float] = ganzoo.param((0.0, 0.99), "a pair")
    maybe: float | None = ganzoo.param(None, "optional")


def spec(**kw) -> ModelSpec:
    fields = dict(
        name="tiny", kind="gan", summary="tiny", config=TinyConfig, build="ganzoo_dcgan.model:build"
    )
    return ModelSpec(**{**fields, **kw})


def test_unknown_model_suggests_closest_name():
    with pytest.raises(UnknownNameError, match=r"did you mean 'dcgan'"):
        ganzoo.get_spec("dcgn")


def test_list_models_filters_by_pattern_and_kind():
    assert "dcgan" in ganzoo.list_models()
    assert ganzoo.list_models("dc*") == ["dcgan"]
    assert ganzoo.list_models("zz*") == []
    assert "dcgan" not in ganzoo.list_models(kind="style-transfer")
    assert all(ganzoo.get_spec(n).kind == "gan" for n in ganzoo.list_models(kind="gan"))


def test_duplicate_name_names_both_plugins():
    registry = Registry()
    Registrar(registry, "first").add_model(spec())
    with pytest.raises(RegistrationError, match=r"'first'.*'second'"):
        Registrar(registry, "second").add_model(spec())


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(name="Bad Name"), "snake_case"),
        (dict(summary="two\nlines"), "one non-empty line"),
        (dict(build="no_colon"), "package.module:function"),
        (dict(config=dict), "dataclass"),
        (dict(presets={"x": ganzoo.Preset(train={"lr_g": 1.0})}), "no training recipe"),
        (dict(recipe={"loss": "bce"}), "ganzoo.TrainingRecipe"),
    ],
)
def test_invalid_specs_are_rejected_at_registration(bad, message):
    with pytest.raises(RegistrationError, match=message):
        Registrar(Registry(), "p").add_model(spec(**bad))


def test_registrar_checks_every_kind_of_item():
    registrar = Registrar(Registry(), "p")
    with pytest.raises(RegistrationError, match="loss 'x' as None"):
        registrar.add_loss("x", None)
    with pytest.raises(RegistrationError, match=r"must be a click\.Command"):
        registrar.add_command("hello", "not a reference")
    with pytest.raises(RegistrationError, match=r"not a ganzoo\.ModelSpec"):
        registrar.add_model({"name": "x"})
    with pytest.raises(RegistrationError, match=r"removed in plugin API 1\.0"):
        spec(pretrained={"tag": {}})


def test_override_unknown_key_lists_valid_keys():
    with pytest.raises(
        ConfigError,
        match=r"unknown option 'imag_size'.*did you mean 'image_size'"
        r".*valid keys: .*latent_dim",
    ):
        ganzoo.create_model("dcgan", imag_size=32)


def test_override_wrong_type_and_choice():
    with pytest.raises(ConfigError, match="expects int"):
        ganzoo.create_model("dcgan", latent_dim="big")
    with pytest.raises(ConfigError, match="not one of"):
        ganzoo.create_model("dcgan", image_size=48)


def test_overrides_coerce_types():
    from ganzoo.config import apply_overrides

    cfg = apply_overrides(TinyConfig(), {"rate": 1, "betas": [0.5, 0.9], "maybe": 2})
    assert cfg.rate == 1.0 and isinstance(cfg.rate, float)
    assert cfg.betas == (0.5, 0.9)
    assert cfg.maybe == 2.0
    with pytest.raises(ConfigError):
        apply_overrides(TinyConfig(), {"size": True})  # a bool is not an int here


def test_parse_assignments():
    from ganzoo.config import parse_assignments

    assert parse_assignments(["a=3", "b=0.5", "c=hinge", "d=[1, 2]", "e=none", "f=true"]) == {
        "a": 3,
        "b": 0.5,
        "c": "hinge",
        "d": [1, 2],
        "e": None,
        "f": True,
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments(["novalue"])


def test_presets_apply_and_unknown_preset_is_an_error():
    model = ganzoo.create_model("dcgan", preset="paper", g_width=4, d_width=4)
    assert model.image_shape == (3, 64, 64)
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        ganzoo.create_model("dcgan", preset="nope")


def test_a_presets_training_part_reaches_training_and_not_the_model(tmp_path):
    from ganzoo.training import run

    plan = run.plan_new_run("dcgan", data=None, preset="lesson", out=tmp_path / "r")
    assert plan.model_config.latent_dim == 100 and plan.options.lr_g == 2e-4
    assert plan.options.steps == 3000  # the recipe's options, under the preset
    plan = run.plan_new_run("msggan", data=None, preset="photos128", out=tmp_path / "r")
    assert plan.options.batch_size == 16 and plan.model_config.image_size == 128
    assert ganzoo.model_config("msggan", preset="photos128").image_size == 128
    with pytest.raises(ConfigError, match="has no training recipe"):
        run.plan_new_run("gatys", data=None, out=tmp_path / "g")


def test_describe_lists_every_config_field_with_help():
    info = ganzoo.describe("dcgan")
    assert {f["name"] for f in info["config"]} >= {"image_size", "channels", "latent_dim"}
    assert all(f["help"] for f in info["config"])


def test_import_ganzoo_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, ganzoo; ganzoo.list_models(); ganzoo.describe('dcgan'); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
