"""The conformance kit catches a deliberately broken model for each property it checks, and says
what to fix; plugin errors (missing builder module, wrong API range, a crash on import) are
named errors, in Python and in the CLI; GANZOO_PLUGINS selects plugins in the CLI.

The broken models come from real installed distributions (a package plus a ``*.dist-info`` with
a ``ganzoo`` entry point, see ``plugin_dist.py``), so the kit sees them as a user's plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import ganzoo
from ganzoo import plugins
from ganzoo.testing import ConformanceError, check_model

from .plugin_dist import write_distribution
from .test_plugins import run_cli


def expected_checks() -> list[str]:
    """Every check passes, except ``capture``, skipped where there is no CUDA."""
    import torch

    return [c for c in ganzoo.testing.CHECKS if c != "capture" or torch.cuda.is_available()]


PLUGIN = "ganzoo_kit_broken"

# The plugin module: declarations only (no torch), one model per defect.
INIT = '''
    """Tiny GANs, each broken in one way, for the conformance kit's tests."""
    from dataclasses import dataclass, field

    import ganzoo

    @dataclass
    class Cfg:
        size: int = ganzoo.param(8, "side")

    @dataclass
    class NoHelp:
        size: int = 8

    @dataclass
    class NotJson:
        size: int = ganzoo.param(8, "side")
        tags: set = ganzoo.param({"a"}, "a set, which JSON cannot hold")

    MODELS = {
        "kit_ok": "build_ok",
        "kit_no_help": "build_ok",
        "kit_bad_preset": "build_ok",
        "kit_not_json": "build_ok",
        "kit_missing_fn": "nope",
        "kit_not_generator": "build_not_generator",
        "kit_numpy_init": "build_numpy_init",
        "kit_no_tanh": "build_no_tanh",
        "kit_wrong_shape": "build_wrong_shape",
        "kit_logits_2d": "build_logits_2d",
        "kit_detached": "build_detached",
        "kit_bad_penalty": "build_bad_penalty",
        "kit_py_random": "build_py_random",
        "kit_ignores_z": "build_ignores_z",
        "kit_plain_attribute": "build_plain_attribute",
        "kit_uncopyable": "build_uncopyable",
    }

    @ganzoo.hookimpl
    def ganzoo_register_models(registrar):
        for name, fn in MODELS.items():
            config = {"kit_no_help": NoHelp, "kit_not_json": NotJson}.get(name, Cfg)
            presets = {"small": {"wdth": 3}} if name == "kit_bad_preset" else {}
            registrar.add_model(ganzoo.ModelSpec(
                name=name, kind="gan", summary="a broken GAN", config=config,
                build=f"ganzoo_kit_broken.nets:{fn}", presets=presets,
                recipe=ganzoo.TrainingRecipe()))
        registrar.add_model(ganzoo.ModelSpec(
            name="kit_style", kind="style-transfer", summary="not a GAN", config=Cfg,
            build="ganzoo_kit_broken.nets:build_style"))
'''

NETS = """
    import random
    import threading

    import numpy as np
    import torch
    from torch import nn

    from ganzoo.models import GANModel, StyleTransferModel

    class G(nn.Module):
        def __init__(self, size=8):
            super().__init__()
            self.latent_dim, self.image_shape = 4, (1, size, size)
            self.net = nn.Linear(4, size * size)

        def raw(self, z):
            return self.net(z).view(z.shape[0], *self.image_shape)

        def forward(self, z):
            return torch.tanh(self.raw(z))

    class D(nn.Module):
        def __init__(self, size=8):
            super().__init__()
            self.net = nn.Linear(size * size, 1)

        def forward(self, x):
            return self.net(x.flatten(1)).flatten()

    class NoTanh(G):
        def forward(self, z):
            return 3 * self.raw(z)

    class WrongShape(G):
        def forward(self, z):
            return torch.tanh(self.raw(z)).view(z.shape[0], 1, 4, 16)

    class Logits2d(D):
        def forward(self, x):
            return self.net(x.flatten(1))

    class Detached(G):
        def forward(self, z):
            return torch.tanh(self.raw(z)).detach()

    class PyRandom(G):
        def forward(self, z):
            return torch.tanh(self.raw(z) + random.random())

    class IgnoresZ(G):
        def __init__(self):
            super().__init__()
            self.const = nn.Parameter(torch.randn(1, *self.image_shape))

        def forward(self, z):
            return torch.tanh(self.const).expand(z.shape[0], *self.image_shape)

    class PlainAttribute(G):
        def __init__(self):
            super().__init__()
            self.offset = torch.rand(1) * 2  # not a buffer: neither saved nor loaded

        def forward(self, z):
            return torch.tanh(self.raw(z) + self.offset)

    class Uncopyable(G):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()  # the trainer's EMA deep-copies G

    class BadPenalty(GANModel):
        def generator_penalty(self, z):
            return self.generator(z).flatten(1).mean(1)  # one value per sample, not a scalar

    def build_ok(config):
        return GANModel(G(), D())

    def build_not_generator(config):
        return GANModel(nn.Linear(4, 64), D())

    def build_numpy_init(config):
        g = G()
        with torch.no_grad():
            g.net.weight.copy_(torch.from_numpy(np.random.randn(64, 4)))
        return GANModel(g, D())

    def build_no_tanh(config):
        return GANModel(NoTanh(), D())

    def build_wrong_shape(config):
        return GANModel(WrongShape(), D())

    def build_logits_2d(config):
        return GANModel(G(), Logits2d())

    def build_detached(config):
        return GANModel(Detached(), D())

    def build_bad_penalty(config):
        return BadPenalty(G(), D())

    def build_py_random(config):
        return GANModel(PyRandom(), D())

    def build_ignores_z(config):
        return GANModel(IgnoresZ(), D())

    def build_plain_attribute(config):
        return GANModel(PlainAttribute(), D())

    def build_uncopyable(config):
        return GANModel(Uncopyable(), D())

    class Style(StyleTransferModel):
        def __init__(self):
            super().__init__()
            self.net = nn.Conv2d(3, 3, 1)

        def networks(self):
            return {"net": self.net}

    def build_style(config):
        return Style()
"""

TORCH_AT_IMPORT = """
import torch  # the mistake: registration now imports torch
from ganzoo_kit_broken import Cfg
import ganzoo

@ganzoo.hookimpl
def ganzoo_register_models(registrar):
    registrar.add_model(ganzoo.ModelSpec(
        name="kit_heavy", kind="gan", summary="imports torch early", config=Cfg,
        build="ganzoo_kit_broken.nets:build_ok", recipe=ganzoo.TrainingRecipe()))
"""

MISSING_MODULE = """
from ganzoo_kit_broken import Cfg
import ganzoo

@ganzoo.hookimpl
def ganzoo_register_models(registrar):
    registrar.add_model(ganzoo.ModelSpec(
        name="kit_nowhere", kind="gan", summary="its builder is missing", config=Cfg,
        build="ganzoo_kit_nowhere.model:build", recipe=ganzoo.TrainingRecipe()))
"""

CRASH = "raise ImportError('the plugin needs libfoo')\n"
TYPO = MISSING_MODULE.replace("ganzoo_register_models", "ganzoo_register_model")
FUTURE = "GANZOO_API = '>=2,<3'\n" + MISSING_MODULE.replace("kit_nowhere", "kit_future")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The broken distributions, installed on sys.path for this module's tests."""
    path = tmp_path_factory.mktemp("site")
    pkg = write_distribution(path, "ganzoo-kit-broken", PLUGIN, INIT)
    (pkg / "nets.py").write_text(textwrap.dedent(NETS), encoding="utf-8")
    write_distribution(path, "ganzoo-kit-heavy", "ganzoo_kit_heavy", TORCH_AT_IMPORT)
    write_distribution(path, "ganzoo-kit-missing", "ganzoo_kit_missing", MISSING_MODULE)
    write_distribution(path, "ganzoo-kit-crash", "ganzoo_kit_crash", CRASH)
    write_distribution(path, "ganzoo-kit-future", "ganzoo_kit_future", FUTURE)
    write_distribution(path, "ganzoo-kit-typo", "ganzoo_kit_typo", TYPO)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(path))
        plugins.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", plugins.PluginWarning)
            plugins.get_host()
        yield path
    for name in [m for m in sys.modules if m.startswith("ganzoo_kit_")]:
        del sys.modules[name]
    plugins.reset()


def failures(name: str, **kwargs) -> dict[str, str]:
    """The failed checks of ``name`` (the slow subprocess and training checks left out unless
    asked for)."""
    if "only" not in kwargs:
        kwargs.setdefault("skip", ("registration", "train"))
    with pytest.raises(ConformanceError) as excinfo:
        check_model(name, **kwargs)
    err = excinfo.value
    assert f"model {name!r}" in str(err) and err.report.model == name
    for check, message in err.failures.items():
        assert f"{check}: {message}" in str(err)  # every failure is in the error's message
    return err.failures


@pytest.mark.slow
def test_the_unbroken_model_passes_every_check(site, tmp_path):
    report = check_model("kit_ok", workdir=tmp_path)
    assert report.ok and not report.failures
    assert set(report.passed) == set(expected_checks())
    assert (tmp_path / "kit_ok-run" / "checkpoints" / "latest").is_file()


@pytest.mark.parametrize(
    "name, check, fragments",
    [
        ("kit_no_help", "spec", ["NoHelp.size has no help string", "ganzoo.param"]),
        ("kit_bad_preset", "spec", ["preset 'small' does not apply", "unknown option 'wdth'"]),
        ("kit_not_json", "spec", ["NotJson.tags", "not plain JSON"]),
        ("kit_not_json", "info", ["`ganzoo info kit_not_json` failed", "not JSON serializable"]),
        ("kit_missing_fn", "build", ["has no attribute 'nope'", f"plugin {PLUGIN!r}"]),
        ("kit_not_generator", "build", ["Linear is not a ganzoo Generator", f"{PLUGIN!r}"]),
        ("kit_numpy_init", "build", ["two builds after torch.manual_seed(0) differ", "NumPy"]),
        ("kit_no_tanh", "forward", ["images must lie in [-1, 1]", "tanh"]),
        # caught when the model is built (not deep inside training): the build check fails
        ("kit_wrong_shape", "build", ["shape (1, 1, 4, 16)", "promises (1, 8, 8)"]),
        ("kit_logits_2d", "forward", ["one logit per image", "(4, 1)", "flatten"]),
        ("kit_detached", "backward", ["no gradient reaches the generator", "detached"]),
        ("kit_bad_penalty", "backward", ["generator_penalty(z) must return a scalar", "(4,)"]),
        ("kit_py_random", "sample", ["gave other images the second time", "Python's random"]),
        ("kit_ignores_z", "sample", ["identical images", "ignores z"]),
        ("kit_plain_attribute", "save_load", ["other images", "persistent buffer"]),
    ],
)
def test_each_broken_property_fails_with_a_useful_message(site, name, check, fragments):
    failed = failures(name)
    assert check in failed, failed
    for fragment in fragments:
        assert fragment in failed[check]


def test_a_defect_is_pinned_on_its_own_check(site):
    """Only the broken property fails: the other checks of the same model still pass."""
    assert set(failures("kit_no_tanh")) == {"forward"}
    assert set(failures("kit_plain_attribute")) == {"save_load"}
    assert set(failures("kit_logits_2d")) == {"forward"}


def test_checks_that_need_a_model_are_skipped_when_it_does_not_build(site):
    report = check_model("kit_not_generator", skip=["registration"], raise_on_failure=False)
    assert set(report.failures) == {"build"}
    assert report.skipped["forward"] == "not run: the build failed"
    assert "spec" in report.passed and "info" in report.passed


def test_training_failure_is_caught_by_the_train_check(site, tmp_path):
    failed = failures("kit_uncopyable", only=["train"], workdir=tmp_path)
    assert "3 training steps raised TypeError" in failed["train"]
    assert "lock" in failed["train"]


@pytest.mark.slow
def test_registration_that_imports_torch_fails(site):
    failed = failures("kit_heavy", only=["registration"])
    assert "registering plugin 'ganzoo_kit_heavy' imports torch" in failed["registration"]
    assert check_model("kit_ok", only=["registration"]).passed == ["registration"]


def test_a_model_that_is_not_registered_names_the_plugins_that_failed(site):
    with pytest.raises(ConformanceError) as excinfo:
        check_model("kit_crashed")
    message = str(excinfo.value)
    assert "unknown model 'kit_crashed'" in message
    assert "ganzoo_kit_crash: import failed: ImportError: the plugin needs libfoo" in message


def test_non_gan_kinds_get_the_checks_that_apply(site):
    report = check_model("kit_style", skip=["registration"])
    assert report.passed == ["spec", "build", "save_load", "info"]


def test_missing_builder_module_is_refused_at_registration(site):
    info = plugins.get_host().plugins["ganzoo_kit_missing"]
    assert not info.ok
    assert "build='ganzoo_kit_nowhere.model:build' names module" in info.error
    assert "'ganzoo_kit_nowhere' is not installed or misspelt" in info.error
    assert "kit_nowhere" not in ganzoo.list_models()


def test_kit_arguments_are_checked():
    with pytest.raises(ganzoo.ConfigError, match="unknown conformance check 'speed'"):
        check_model("dcgan", only=["speed"])
    with pytest.raises(ganzoo.ConfigError, match="unknown option 'imagesize'"):
        check_model("dcgan", imagesize=16)


@pytest.mark.slow
def test_cli_names_every_broken_plugin_and_why(site, tmp_path):
    table = run_cli(site, "plugins")
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    rows = {ln.split()[0]: ln.split() for ln in table.stdout.splitlines() if ln.strip()}
    for broken in (
        "ganzoo_kit_missing",
        "ganzoo_kit_future",
        "ganzoo_kit_crash",
        "ganzoo_kit_typo",
    ):
        assert rows[broken][1] == "FAILED"
    assert rows[PLUGIN][1] == "ok"
    listed = json.loads(run_cli(site, "plugins", "--json").stdout)
    errors = {p["name"]: p["error"] for p in listed}
    assert "cannot be found" in errors["ganzoo_kit_missing"]
    offers = f"needs ganzoo plugin API >=2,<3, this ganzoo offers {plugins.PLUGIN_API_VERSION}"
    assert offers in errors["ganzoo_kit_future"]
    assert "the plugin needs libfoo" in errors["ganzoo_kit_crash"]
    assert "ganzoo_register_model is not a ganzoo hook (misspelt?)" in errors["ganzoo_kit_typo"]
    # networks that break the protocol: one line at build time, exit status 2, plugin named
    out = run_cli(site, "train", "kit_not_generator", "--steps", "1", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"(plugin {PLUGIN!r})" in out.stderr and "is not a ganzoo Generator" in out.stderr
    assert not (tmp_path / "r").exists()


def test_ganzoo_plugins_selects_plugins_in_the_cli(site):
    only = run_cli(site, "list", "--json", env_extra={"GANZOO_PLUGINS": PLUGIN})
    assert only.returncode == 0, only.stderr
    names = {row["name"] for row in json.loads(only.stdout)}
    assert "kit_ok" in names and "dcgan" not in names
    assert only.stderr == ""  # the broken plugins were not even imported
    none = run_cli(site, "list", env_extra={"GANZOO_PLUGINS": "none"})
    assert none.returncode == 0 and none.stdout == "" and "no model matches" in none.stderr
    typo = run_cli(site, "list", env_extra={"GANZOO_PLUGINS": "dcgan,dcgna"})
    assert "dcgan" in typo.stdout and "kit_ok" not in typo.stdout
    assert "GANZOO_PLUGINS names plugins that are not installed: dcgna" in typo.stderr


@pytest.mark.slow
def test_pytest_option_runs_the_kit_as_one_item_per_check(site, tmp_path):
    """`pytest --ganzoo-plugin PLUGIN` in a project with no tests of its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfs"]
    # the subprocess and training checks have tests of their own above
    select = [
        "-k",
        "(kit_ok or kit_no_tanh-forward or kit_style or nosuch) and not train and not registration",
    ]
    out = subprocess.run(
        [*args, "--ganzoo-plugin", PLUGIN, *select, "--ganzoo-plugin", "nosuch"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = out.stdout
    assert out.returncode == 1, text + out.stderr
    assert "2 failed, 11 passed" in text  # kit_ok: 7 checks, kit_style: 4, and two failures
    # each failure is shown as the kit's message, under the item's name
    assert "FAILED ganzoo::ganzoo_conformance[kit_no_tanh-forward]" in text
    assert "kit_no_tanh: forward: final_image(generator(z)) spans" in text
    assert "FAILED ganzoo::ganzoo_conformance[nosuch-registered]" in text
    assert "unknown model 'nosuch'" in text
    assert "Traceback" not in text and "gan_checks.py" not in text  # the message, not the stack
