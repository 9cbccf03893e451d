"""The README's promises: every Python snippet and its complete minimal plugin work as written,
and every command line it shows names real commands and options."""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

import ganzoo
from ganzoo import plugins

from .hub_server import HUB_TOKEN
from .plugin_dist import write_distribution

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: python blocks that are files of the example plugin, run by test_readme_plugin_*
PLUGIN_FILE = "# ganzoo_tinygan/"


def fenced_blocks() -> list[tuple[str, str]]:
    """The README's fenced code blocks as (language, text), in order."""
    blocks, lang, lines = [], None, []
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```") and lang is None:
            lang, lines = line[3:].strip(), []
        elif line.startswith("```"):
            blocks.append((lang, "\n".join(lines) + "\n"))
            lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, "the README has an unclosed code block"
    return blocks


def python_blocks() -> list[str]:
    return [text for lang, text in fenced_blocks() if lang == "python"]


def code_block(marker: str) -> str:
    """The fenced python block of the README whose first line is ``marker``."""
    for block in python_blocks():
        if block.startswith(marker):
            return block
    raise AssertionError(f"README has no python block starting with {marker!r}")


SNIPPETS = [b for b in python_blocks() if not b.startswith(PLUGIN_FILE)]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ganzoo_gatys.backbone.RandomWeightsWarning")
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_python_snippet_runs_as_written(snippet, hub, tmp_path, monkeypatch, one_thread):
    """Each snippet runs unchanged, in a fresh folder, against the loopback test Hub (with a
    token, as after `hf auth login`); nothing here can reach the internet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    exec(compile(snippet, str(README), "exec"), {"__name__": "readme"})
    if "push_to_hub(" in snippet:
        assert "me/dcgan-digits32" in hub.repos and hub.repos["me/dcgan-digits32"].private
    for saved in re.findall(r'\.save\("([^"]+)"\)', snippet):
        assert (tmp_path / saved).is_file(), saved


def test_every_python_block_is_run():
    blocks = python_blocks()
    plugin_files = [b.splitlines()[0] for b in blocks if b.startswith(PLUGIN_FILE)]
    assert sorted(plugin_files) == [
        "# ganzoo_tinygan/__init__.py — declarations only: no torch import, so `ganzoo list` "
        "stays fast",
        "# ganzoo_tinygan/model.py — imported only when a model is built",
    ]
    assert len(SNIPPETS) == len(blocks) - 2 >= 2


def shell_blocks() -> list[str]:
    return [text for lang, text in fenced_blocks() if lang == ""]


def ganzoo_command_lines() -> list[list[str]]:
    """Every ``ganzoo ...`` command of the README's shell blocks, as arguments after ``ganzoo``."""
    found = []
    for block in shell_blocks():
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word == "ganzoo" and (i == 0 or words[i - 1] in ("-m", "&&")):
                    found.append(words[i + 1 :])
    return found


def test_readme_command_lines_name_real_commands_and_options():
    import click

    from ganzoo.cli import cli

    lines = ganzoo_command_lines()
    assert len(lines) > 15
    ctx = click.Context(cli)
    for args in lines:
        command = cli.get_command(ctx, args[0])
        assert command is not None, args
        while isinstance(command, click.Group):  # `ganzoo data prepare ...`: the subcommand
            args = args[1:]
            command = command.get_command(ctx, args[0])
            assert command is not None, args
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for word in args[1:]:
            if word.startswith("-") and word != "...":
                assert word.split("=")[0] in known, f"ganzoo {args[0]}: no option {word}"


def test_readme_says_how_to_install_cpu_only_torch_and_fetch_the_backbone():
    text = README.read_text(encoding="utf-8")
    cpu = "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"
    assert cpu in text
    from ganzoo_gatys import GatysConfig

    backbone = GatysConfig().backbone  # the default the README must explain how to fetch
    assert f"hf download timm/{backbone} model.safetensors" in text
    assert "GANZOO_THREADS=1" in text and "--threads 1" in text


def test_dev_extra_holds_only_what_the_tests_use():
    """`[dev]` stays lean: each of its packages is one the test suite runs, and the README
    says which they are."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = [
        re.split(r"[<>=!~ \[]", r, maxsplit=1)[0]
        for r in meta["project"]["optional-dependencies"]["dev"]
    ]
    tests = "\n".join(f.read_text(encoding="utf-8") for f in (ROOT / "tests").glob("*.py"))
    text = README.read_text(encoding="utf-8")
    for name in dev:
        assert re.search(rf"\b{name}\b", tests), f"[dev] has {name}, which no test uses"
        assert name in text, f"the README does not say why [dev] has {name}"


def test_readme_plugin_registers_builds_and_trains(tmp_path, monkeypatch):
    site = tmp_path / "site"
    pkg = write_distribution(
        site,
        "ganzoo-tinygan",
        "ganzoo_tinygan",
        code_block("# ganzoo_tinygan/__init__.py"),
        entry_name="tinygan",
    )
    (pkg / "model.py").write_text(code_block("# ganzoo_tinygan/model.py"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    plugins.reset()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", plugins.PluginWarning)
            assert "tinygan" in ganzoo.list_models()
        model = ganzoo.create_model("tinygan")
        assert model.sample(4).shape == (4, 1, 16, 16)
        from ganzoo.training import run

        plan = run.plan_new_run(
            "tinygan",
            data="digits",
            out=tmp_path / "run",
            layers=[{"steps": 3, "batch_size": 8, "log_every": 1, "progress": False}],
        )
        final = run.execute(plan)
        assert set(final) >= {"d_loss", "g_loss"}
    finally:
        for name in [m for m in sys.modules if m.startswith("ganzoo_tinygan")]:
            del sys.modules[name]
        plugins.reset()
