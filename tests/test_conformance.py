"""Every registered model passes the conformance kit, and the kit's pytest plugin is cheap.

The parametrisation covers whatever is registered when the tests are collected: the built-ins
and any installed third-party plugin (such as the example ``ganzoo-mlpgan`` that CI installs),
each built from its own ``tiny`` preset. These checks are the per-model tests every architecture
gets (build, forward, backward, sampling, save/load, training); the per-plugin test files test
only what is particular to one model.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest
import torch

import ganzoo
from ganzoo.plugins import get_host
from ganzoo.testing import CHECKS, check_model, checks_for


@pytest.mark.parametrize("name", ganzoo.list_models())
def test_registered_model_passes_the_kit(name, tmp_path, one_thread):
    spec = ganzoo.get_spec(name)
    builtin = get_host().plugins[ganzoo.get_registry().plugin_of(name)].builtin
    assert "tiny" in spec.presets or not builtin  # the built-ins' tests stay seconds long
    report = check_model(name, workdir=tmp_path)
    kind = spec.kind
    assert list(report.results) == checks_for(kind)
    # the only checks allowed to be skipped: registration, where torch is preloaded, and
    # capture without CUDA (on CUDA every built-in is captured or declares why not)
    skippable = {"registration"} | (set() if torch.cuda.is_available() else {"capture"})
    assert set(report.skipped) <= skippable, report.summary()
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
