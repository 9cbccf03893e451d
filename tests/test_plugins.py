"""Plugin discovery through real entry points; hooks called through pluggy; broken plugins and
name clashes are named and withdrawn; the pre-registrar API still works, with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo import plugins
from ganzoo.testing import isolated_plugins

from .plugin_dist import BROKEN_PLUGIN, GOOD_PLUGIN, LEGACY_PLUGIN, write_distribution


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site directory on sys.path; the plugin host is reloaded around the test."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    plugins.reset()
    yield path
    for name in [m for m in sys.modules if m.startswith("ganzoo_thirdparty")]:
        del sys.modules[name]
    plugins.reset()


def run_cli(site, *args, env_extra=None):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def plugin_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]


def test_third_party_plugin_is_listed_by_the_cli(site):
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    out = run_cli(site, "list")
    assert out.returncode == 0, out.stderr
    assert "thirdgan" in out.stdout and "dcgan" in out.stdout
    from ganzoo.cli import cli

    listed = json.loads(CliRunner().invoke(cli, ["plugins", "--all", "--json"]).output)
    found = {p["name"]: p for p in listed}
    assert found["ganzoo_thirdparty_good"]["distribution"] == "ganzoo-thirdparty-good"
    assert found["ganzoo_thirdparty_good"]["registered"] == {"models": ["thirdgan"]}
    core = found["ganzoo"]["registered"]
    assert "bce" in core["losses"] and "digits" in core["datasets"] and "train" in core["commands"]
    assert found["gatys"]["registered"]["commands"] == ["stylize"]


def test_third_party_model_builds_in_process(site):
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    assert "thirdgan" in ganzoo.list_models()
    model = ganzoo.create_model("thirdgan")
    assert model.sample(2).shape == (2, 1, 16, 16)
    assert ganzoo.get_registry().plugin_of("thirdgan") == "ganzoo_thirdparty_good"
    assert model.provenance.distribution == "ganzoo-thirdparty-good"


def test_plugin_that_raises_on_import_is_named_and_others_still_load(site):
    write_distribution(site, "ganzoo-thirdparty-broken", "ganzoo_thirdparty_broken", BROKEN_PLUGIN)
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    messages = plugin_warnings(ganzoo.list_models)
    assert {"dcgan", "thirdgan"} <= set(ganzoo.list_models())
    assert any("ganzoo_thirdparty_broken" in m and "broken on purpose" in m for m in messages)
    assert not plugins.get_host().plugins["ganzoo_thirdparty_broken"].ok
    # the CLI: one warning line naming the plugin, a normal exit, the rest listed
    out = run_cli(site, "list")
    assert out.returncode == 0
    assert "thirdgan" in out.stdout
    warning_lines = [ln for ln in out.stderr.splitlines() if "ganzoo_thirdparty_broken" in ln]
    assert len(warning_lines) == 1 and "Traceback" not in out.stderr
    status = run_cli(site, "plugins")
    assert "FAILED" in status.stdout and "broken on purpose" in status.stdout


CLASH = GOOD_PLUGIN.replace('name="thirdgan"', 'name="dcgan"').replace(
    "    @ganzoo.hookimpl\n    def ganzoo_register_models",
    "    @ganzoo.hookimpl\n    def ganzoo_register_losses(registrar):\n"
    '        registrar.add_loss("bce", "ganzoo.training.losses:HINGE")\n\n'
    "    @ganzoo.hookimpl\n    def ganzoo_register_models",
)


def test_a_third_party_plugin_cannot_take_a_builtin_name(site):
    """The clashing plugin sorts before ``dcgan`` and still loses, and is the one named."""
    write_distribution(site, "ganzoo-aaa", "ganzoo_thirdparty_aaa", CLASH, entry_name="aaa")
    messages = plugin_warnings(ganzoo.list_models)
    registry = ganzoo.get_registry()
    assert (
        registry.plugin_of("dcgan") == "dcgan" and registry.losses.entry("bce").plugin == "ganzoo"
    )
    (message,) = messages
    assert message.startswith("ganzoo plugin aaa (ganzoo-aaa) was not loaded")
    assert (
        "taken by ganzoo's built-in plugin" in message and "plugin 'aaa' cannot replace" in message
    )
    assert not plugins.get_host().plugins["aaa"].ok and plugins.get_host().plugins["dcgan"].ok
    assert registry.by_plugin("aaa") == {}  # its other registrations are withdrawn too
    # an entry point that reuses a built-in's entry-point name is refused the same way
    write_distribution(site, "ganzoo-dup", "ganzoo_thirdparty_dup", GOOD_PLUGIN, "dcgan")
    plugins.reset()
    messages = plugin_warnings(ganzoo.list_models)
    assert any(m.startswith("ganzoo plugin dcgan (ganzoo-dup)") for m in messages)
    assert ganzoo.get_registry().plugin_of("dcgan") == "dcgan"
    assert plugins.get_host().plugins["dcgan"].distribution == "ganzoo"
    out = run_cli(site, "list")
    assert out.returncode == 0 and "dcgan" in out.stdout
    blamed = [ln for ln in out.stderr.splitlines() if "was not loaded" in ln]
    assert blamed and all("ganzoo-aaa" in ln or "ganzoo-dup" in ln for ln in blamed)


def test_two_third_party_plugins_with_one_name_name_each_other(site):
    write_distribution(site, "ganzoo-one", "ganzoo_thirdparty_one", GOOD_PLUGIN, "one")
    write_distribution(site, "ganzoo-two", "ganzoo_thirdparty_two", GOOD_PLUGIN, "two")
    (message,) = plugin_warnings(ganzoo.list_models)
    assert "model 'thirdgan' is registered twice" in message
    assert "plugin 'one' (ganzoo-one)" in message and "plugin 'two'" in message
    assert ganzoo.get_registry().plugin_of("thirdgan") == "one"


def test_incompatible_api_version_is_not_loaded(site):
    source = "GANZOO_API = '>=2'\n" + GOOD_PLUGIN.replace("\n    ", "\n").lstrip()
    write_distribution(site, "ganzoo-thirdparty-future", "ganzoo_thirdparty_future", source)
    plugin_warnings(ganzoo.list_models)
    assert "thirdgan" not in ganzoo.list_models()
    info = plugins.get_host().plugins["ganzoo_thirdparty_future"]
    assert "needs ganzoo plugin API >=2" in info.error


def test_ganzoo_plugins_env_selects_plugins(site, monkeypatch):
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    monkeypatch.setenv("GANZOO_PLUGINS", "ganzoo_thirdparty_good")
    assert ganzoo.list_models() == ["thirdgan"]
    plugins.reset()
    monkeypatch.setenv("GANZOO_PLUGINS", "none")
    assert ganzoo.list_models() == []
    # the core's own losses, datasets and commands are always there
    assert "bce" in ganzoo.get_registry().losses and "train" in ganzoo.get_registry().commands


class OrderedPlugin:
    """Hook implementations that only pluggy's own machinery calls correctly."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @ganzoo.hookimpl(specname="ganzoo_register_models", tryfirst=True)
    def first(self) -> None:  # a subset of the hook's arguments: none at all
        self.calls.append("first")

    @ganzoo.hookimpl(specname="ganzoo_register_models", trylast=True)
    def last(self, registrar: ganzoo.Registrar) -> None:
        self.calls.append("last")
        registrar.add_model(
            ganzoo.ModelSpec(
                name="ordered_gan",
                kind=ganzoo.GAN,
                summary="registered through specname",
                config=ganzoo.get_spec("dcgan").config,
                build="ganzoo_dcgan.model:build",
                recipe=ganzoo.TrainingRecipe(),
            )
        )

    @ganzoo.hookimpl(specname="ganzoo_register_models", wrapper=True)
    def around(self, registrar: ganzoo.Registrar):
        self.calls.append("before")
        yield
        self.calls.append(f"after:{registrar.plugin}")


def test_hooks_are_called_through_pluggy():
    plugin = OrderedPlugin()
    with isolated_plugins({"ordered": plugin}) as host:
        assert plugin.calls == ["before", "first", "last", "after:ordered"]
        assert host.registry.plugin_of("ordered_gan") == "ordered"
        assert host.plugins["ordered"].hooks == ["ganzoo_register_models"]
        assert "ordered_gan" in ganzoo.list_models()
    assert "ordered_gan" not in ganzoo.list_models()  # nothing leaks out of the block


def test_the_pre_registrar_api_works_with_deprecation_warnings(site):
    write_distribution(site, "ganzoo-legacy", "ganzoo_thirdparty_legacy", LEGACY_PLUGIN)
    with pytest.warns(DeprecationWarning) as caught:
        spec = ganzoo.get_spec("thirdgan")
    # the warnings point at the plugin's own code, never at ganzoo's
    core = str(Path(ganzoo.__file__).parent)
    assert not [w for w in caught if w.filename.startswith(core)]
    texts = " | ".join(str(w.message) for w in caught if w.filename.startswith(str(site)))
    assert "'register' argument of ganzoo hooks is deprecated" in texts
    assert "'cli' argument" in texts and "ModelSpec(trainer=" not in texts
    assert "ModelSpec(loss=, train_defaults=) is deprecated" in texts
    assert "preset 'small' mixes training options (lr_g)" in texts
    assert spec.recipe == ganzoo.TrainingRecipe(loss="hinge", options={"steps": 7})
    assert spec.presets["small"] == ganzoo.Preset({"image_size": 8}, {"lr_g": 1e-3})
    assert ganzoo.get_registry().commands.entry("third").plugin == "ganzoo_thirdparty_legacy"
    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, ["third"])
    assert result.exit_code == 0 and "hello from thirdgan" in result.output
