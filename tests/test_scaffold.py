"""`ganzoo new-plugin NAME` writes a plugin package that installs and passes the kit as written.

Two ways of installing the generated package, both without touching the environment the tests
run in: the quick tests put the project folder on ``sys.path`` next to a ``*.dist-info`` holding
its entry point (what pip writes for an editable install), and the slow test installs it for
real, with pip, into a throwaway virtual environment layered on this interpreter (see
:func:`layered_venv`), then runs the generated tests there.
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo import plugins
from ganzoo.cli import cli
from ganzoo.testing import check_model


def expected_checks() -> list[str]:
    """Every check passes, except ``capture``, skipped where there is no CUDA."""
    import torch

    return [c for c in ganzoo.testing.CHECKS if c != "capture" or torch.cuda.is_available()]


NAME = "scaffold_gan"
PACKAGE = f"ganzoo_{NAME}"
PROJECT = "ganzoo-scaffold-gan"


def new_plugin(*args: str):
    return CliRunner().invoke(cli, ["new-plugin", *args])


@pytest.fixture
def generated(tmp_path):
    result = new_plugin(NAME, "--dir", str(tmp_path), "--summary", "A GAN from the scaffold")
    assert result.exit_code == 0, result.output
    return tmp_path / PROJECT


@pytest.fixture
def installed(generated, monkeypatch):
    """The generated project importable, with the entry point pip would have installed."""
    info = generated / f"{PACKAGE}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{NAME} = {PACKAGE}\n")
    monkeypatch.syspath_prepend(str(generated))
    plugins.reset()
    yield generated
    for module in [m for m in sys.modules if m.startswith(PACKAGE)]:
        del sys.modules[module]
    plugins.reset()


def test_writes_a_complete_project(generated):
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        f"{PACKAGE}/__init__.py",
        f"{PACKAGE}/model.py",
        "pyproject.toml",
        f"tests/test_{NAME}.py",
    ]
    meta = tomllib.loads((generated / "pyproject.toml").read_text())
    assert meta["project"]["name"] == PROJECT
    assert meta["project"]["entry-points"]["ganzoo"] == {NAME: PACKAGE}
    assert meta["project"]["dependencies"] == ["ganzoo>=0.1"]
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [PACKAGE]
    readme = (generated / "README.md").read_text()
    assert f"pytest --ganzoo-plugin {NAME}" in readme and "$ pip install -e ." in readme
    assert 'MODELS = ["scaffold_gan"]' in (generated / f"tests/test_{NAME}.py").read_text()


def test_generated_plugin_registers_and_passes_the_kit(installed, tmp_path):
    spec = ganzoo.get_spec(NAME)
    assert ganzoo.get_registry().plugin_of(NAME) == NAME
    assert spec.summary == "A GAN from the scaffold"
    assert "tiny" in spec.presets
    info = plugins.get_host().plugins[NAME]
    assert info.ok and info.distribution == PROJECT
    report = check_model(NAME, workdir=tmp_path / "kit")
    assert report.ok and report.passed == expected_checks()
    # the default (not tiny) configuration builds too, at the size ganzoo info advertises
    assert ganzoo.create_model(NAME).sample(2).shape == (2, 1, 32, 32)


def test_generated_api_range_accepts_this_ganzoo(installed):
    import importlib

    from ganzoo.plugins import api_incompatibility

    module = importlib.import_module(PACKAGE)
    assert module.GANZOO_API == ">=1,<2"
    assert api_incompatibility(module) == ""


def test_generated_code_is_lint_clean(generated):
    ruff = [sys.executable, "-m", "ruff"]  # a dev dependency: its absence fails the test
    # run inside the generated project, as its author would: there ganzoo is a third-party
    # package, and no configuration of ganzoo's own applies
    common = ["--isolated", "--line-length", "100", "--no-cache"]
    rules = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "RUF001,RUF002,RUF003"]
    lint = subprocess.run(
        [*ruff, "check", *common, *rules, "."], cwd=generated, capture_output=True
    )
    assert lint.returncode == 0, lint.stdout.decode()
    fmt = subprocess.run(
        [*ruff, "format", "--check", *common, "."], cwd=generated, capture_output=True
    )
    assert fmt.returncode == 0, fmt.stdout.decode()


def test_several_models_in_one_distribution(tmp_path, monkeypatch):
    """One entry point, one package, a module and a spec per model; `pytest --ganzoo-plugin
    PLUGIN` (what the generated README says) resolves to every model."""
    result = new_plugin("one_gan", "two_gan", "--plugin", "my_gans", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    project = tmp_path / "ganzoo-my-gans"
    package = project / "ganzoo_my_gans"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "one_gan.py", "two_gan.py"]
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["ganzoo"] == {"my_gans": "ganzoo_my_gans"}
    assert "pytest --ganzoo-plugin my_gans" in (project / "README.md").read_text()
    info = project / "ganzoo_my_gans-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganzoo-my-gans\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[ganzoo]\nmy_gans = ganzoo_my_gans\n")
    monkeypatch.syspath_prepend(str(project))
    plugins.reset()
    try:
        from ganzoo.testing.pytest_plugin import resolve_names

        assert resolve_names(["my_gans"]) == [("one_gan", ""), ("two_gan", "")]
        assert ganzoo.get_registry().by_plugin("my_gans") == {"models": ["one_gan", "two_gan"]}
        report = check_model("two_gan", only=["build", "forward", "sample"])
        assert report.ok
    finally:
        for module in [m for m in sys.modules if m.startswith("ganzoo_my_gans")]:
            del sys.modules[module]
        plugins.reset()


@pytest.mark.parametrize(
    "args, message",
    [
        (["dcgan"], "a model named 'dcgan' is already registered by plugin 'dcgan'"),
        (["ok_gan", "dcgan"], "a model named 'dcgan' is already registered"),
        (["ok_gan", "--plugin", "Bad"], "'Bad' is not a valid plugin name"),
        (["MyGan"], "'MyGan' is not a valid model name"),
        (["class"], "'class' is not a valid model name"),
        (["ok_gan", "--summary", 'say "hi"'], "--summary must be one non-empty line"),
    ],
)
def test_bad_names_are_one_line_errors(args, message, tmp_path):
    result = new_plugin(*args, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_refuses_to_overwrite(generated):
    before = (generated / "README.md").read_text()
    result = new_plugin(NAME, "--dir", str(generated.parent))
    assert result.exit_code == 2 and "already exists and is not empty" in result.output
    assert (generated / "README.md").read_text() == before


def layered_venv(env_dir: Path) -> str:
    """A new virtual environment that sees every package this interpreter sees; its python.

    ``--system-site-packages`` is not enough: it exposes the *base* interpreter's packages, so
    when the tests themselves run in a virtualenv (as most people run them) ganzoo, torch and
    pip would be missing. Instead a ``.pth`` file in the new environment adds this interpreter's
    site directories with :func:`site.addsitedir`, which also runs their own ``.pth`` files (the
    hooks of editable installs). Whatever pip installs there goes into the new environment only.
    """
    venv.create(env_dir, with_pip=False)
    python = str(env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        dirs.append(site.getusersitepackages())
    lines = [f"import site; site.addsitedir({d!r})" for d in dirs if Path(d).is_dir()]
    (Path(purelib) / "_outer_environment.pth").write_text("\n".join(lines) + "\n")
    return python


@pytest.mark.slow
def test_pip_installs_the_generated_plugin_and_its_tests_pass(generated, tmp_path):
    python = layered_venv(tmp_path / "venv")
    # PYTHONPATH stays: the new environment must run the very ganzoo this test imports
    env = {k: v for k, v in os.environ.items() if k != "GANZOO_PLUGINS"}

    def run(*args: str, cwd: Path = tmp_path) -> str:
        out = subprocess.run(
            [python, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, f"{' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    module, prefix = run(
        "-c", "import ganzoo, sys; print(ganzoo.__file__); print(sys.prefix)"
    ).splitlines()
    assert module == ganzoo.__file__
    assert Path(prefix).resolve() == (tmp_path / "venv").resolve()
    run("-m", "pip", "install", "--no-deps", "-q", "-e", str(generated))
    assert NAME in run("-m", "ganzoo", "list")
    tests = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=generated)
    assert "2 passed" in tests
    # installed into the throwaway environment, not into the one running these tests
    assert importlib.util.find_spec(PACKAGE) is None
