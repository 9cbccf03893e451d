"""The README's promises: its set-up commands and its complete minimal plugin work as written."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest

import ganzoo
from ganzoo import plugins

from .plugin_dist import write_distribution

README = Path(__file__).resolve().parents[1] / "README.md"


def code_block(marker: str) -> str:
    """The fenced python block of the README whose first line is ``marker``."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        if block.startswith(marker):
            return block
    raise AssertionError(f"README has no python block starting with {marker!r}")


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


def readme_commands() -> list[str]:
    """Every ``ganzoo COMMAND`` the README's command-line examples use."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(.*?)```", text, re.S)
    found = re.findall(r"^(?:torchrun .*?-m )?ganzoo ([a-z-]+)", "\n".join(blocks), re.M)
    return sorted(set(found))


@pytest.mark.parametrize("command", readme_commands())
def test_every_command_the_readme_shows_exists(command):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
