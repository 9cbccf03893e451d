"""Every registered model passes the conformance kit, and the kit's pytest plugin is cheap.

The parametrisation covers whatever is registered when the tests are collected: the built-ins
(at tiny sizes) and any installed third-party plugin (from its own ``tiny`` preset), such as the
example ``ganzoo-mlpgan`` that CI installs.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest

import ganzoo
from ganzoo.testing import CHECKS, check_model, checks_for

#: The smallest configurations of the built-ins (a model's own "tiny" preset is used first).
TINY = {
    "dcgan": {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16},
    "msggan": {"image_size": 16, "latent_dim": 16, "fmap_base": 128, "fmap_max": 16, "fmap_min": 8},
    "stylegan_lite": {
        "image_size": 16,
        "latent_dim": 16,
        "w_dim": 16,
        "mapping_layers": 2,
        "g_channel_base": 128,
        "d_channel_base": 128,
        "max_width": 16,
    },
    "gatys": {},  # building a Gatys model loads no backbone: the defaults are already cheap
}


@pytest.mark.parametrize("name", ganzoo.list_models())
def test_registered_model_passes_the_kit(name, tmp_path, one_thread):
    report = check_model(name, workdir=tmp_path, **TINY.get(name, {}))
    kind = ganzoo.get_spec(name).kind
    assert list(report.results) == checks_for(kind)
    # the only check allowed to be skipped is registration, where torch is preloaded
    assert set(report.skipped) <= {"registration"}, report.summary()
    if kind == "gan":
        assert (tmp_path / f"{name}-run" / "checkpoints" / "latest").is_file()


def test_every_builtin_is_covered():
    assert {"dcgan"} <= set(ganzoo.list_models())
    assert checks_for("gan") == list(CHECKS)
    assert checks_for("style-transfer") == ["spec", "registration", "build", "save_load", "info"]


def test_pytest_plugin_is_registered_and_imports_no_torch():
    entry = [ep for ep in md.entry_points(group="pytest11") if ep.name == "ganzoo"]
    assert [ep.value for ep in entry] == ["ganzoo.testing.pytest_plugin"]
    code = "import sys, ganzoo.testing.pytest_plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
