"""Plugin discovery through real entry points; broken plugins are named and skipped."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

import ganzoo
from ganzoo import plugins

from .plugin_dist import BROKEN_PLUGIN, GOOD_PLUGIN, write_distribution


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


def test_third_party_plugin_is_listed_by_the_cli(site):
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    out = run_cli(site, "list")
    assert out.returncode == 0, out.stderr
    assert "thirdgan" in out.stdout and "dcgan" in out.stdout
    info = run_cli(site, "plugins")
    assert "ganzoo-thirdparty-good 0.1.0" in info.stdout


def test_third_party_model_builds_in_process(site):
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    assert "thirdgan" in ganzoo.list_models()
    model = ganzoo.create_model("thirdgan")
    assert model.sample(2).shape == (2, 1, 16, 16)
    assert ganzoo.get_spec("thirdgan").plugin == "ganzoo_thirdparty_good"


def test_plugin_that_raises_on_import_is_named_and_others_still_load(site):
    write_distribution(site, "ganzoo-thirdparty-broken", "ganzoo_thirdparty_broken", BROKEN_PLUGIN)
    write_distribution(site, "ganzoo-thirdparty-good", "ganzoo_thirdparty_good", GOOD_PLUGIN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = ganzoo.list_models()
    assert {"dcgan", "thirdgan"} <= set(names)
    messages = [str(w.message) for w in caught if issubclass(w.category, plugins.PluginWarning)]
    assert any("ganzoo_thirdparty_broken" in m and "broken on purpose" in m for m in messages)
    host = plugins.get_host()
    assert not host.plugins["ganzoo_thirdparty_broken"].ok
    # the CLI: one warning line naming the plugin, a normal exit, the rest listed
    out = run_cli(site, "list")
    assert out.returncode == 0
    assert "thirdgan" in out.stdout
    warning_lines = [ln for ln in out.stderr.splitlines() if "ganzoo_thirdparty_broken" in ln]
    assert len(warning_lines) == 1 and "Traceback" not in out.stderr
    status = run_cli(site, "plugins")
    assert "FAILED" in status.stdout and "broken on purpose" in status.stdout


def test_plugin_registering_a_taken_name_is_rejected_and_withdrawn(site):
    source = GOOD_PLUGIN.replace('name="thirdgan"', 'name="dcgan"')
    write_distribution(site, "ganzoo-thirdparty-dup", "ganzoo_thirdparty_dup", source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = ganzoo.get_spec("dcgan")
    assert spec.plugin == "dcgan"
    assert any("registered twice" in str(w.message) for w in caught)


def test_incompatible_api_version_is_not_loaded(site):
    source = "GANZOO_API = '>=2'\n" + GOOD_PLUGIN.replace("\n    ", "\n").lstrip()
    write_distribution(site, "ganzoo-thirdparty-future", "ganzoo_thirdparty_future", source)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
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
    # the core's own losses and datasets are always there
    assert "bce" in ganzoo.get_registry().losses
