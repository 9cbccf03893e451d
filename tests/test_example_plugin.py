"""The example third-party plugin, installed with pip, end to end through the CLI:
list -> info -> train (a few steps) -> sample -> export (save) -> sample the export (load).

CI installs it first (`python -m pip install -e examples/ganzoo-mlpgan` in .ci/run), so this
never skips there; elsewhere it skips, saying how to install it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("ganzoo_mlpgan") is None,
        reason="the example plugin is not installed: python -m pip install -e "
        "examples/ganzoo-mlpgan (CI does)",
    ),
]


def ganzoo_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run the installed CLI; fail with its stderr when it does not exit 0."""
    out = subprocess.run(
        [sys.executable, "-m", "ganzoo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, f"ganzoo {' '.join(args)} failed:\n{out.stderr}"
    return out.stdout


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_example_plugin_through_the_cli(tmp_path):
    listed = json.loads(ganzoo_cli("list", "--json", cwd=tmp_path))
    row = next(r for r in listed if r["name"] == "mlpgan")
    assert row["kind"] == "gan" and row["plugin"] == "mlpgan"
    plugins = json.loads(ganzoo_cli("plugins", "--json", cwd=tmp_path))
    mine = next(p for p in plugins if p["name"] == "mlpgan")
    assert mine["distribution"] == "ganzoo-mlpgan" and mine["loaded"] and not mine["builtin"]
    only = ganzoo_cli("list", cwd=tmp_path, env={"GANZOO_PLUGINS": "mlpgan"})
    assert "mlpgan" in only and "dcgan" not in only

    info = ganzoo_cli("info", "mlpgan", cwd=tmp_path)
    assert "g_hidden" in info and "[256, 512, 1024]" in info and "tiny:" in info

    run = tmp_path / "run"
    ganzoo_cli(
        *("train", "mlpgan", "--steps", "4", "--batch-size", "8", "--out", str(run)),
        *("--sample-every", "2", "--checkpoint-every", "2", "--device", "cpu", "--quiet"),
        cwd=tmp_path,
    )
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000004"
    assert (run / "samples" / "step-000002.png").is_file()
    assert len((run / "metrics.jsonl").read_text().splitlines()) >= 1
    saved = json.loads((run / "config.json").read_text())
    assert saved["arch"] == "mlpgan" and saved["model"]["image_size"] == 28

    ganzoo_cli("sample", str(run), "-o", "from-run.png", "--n", "4", "--seed", "3", cwd=tmp_path)
    grid = pixels(tmp_path / "from-run.png")
    assert grid.shape[0] >= 28 and grid.shape[1] >= 2 * 28 and grid.std() > 0

    ganzoo_cli("export", str(run), "exported", cwd=tmp_path)
    exported = tmp_path / "exported"
    meta = json.loads((exported / "config.json").read_text())
    assert meta["arch"] == "mlpgan" and meta["plugin_distribution"] == "ganzoo-mlpgan"
    assert (exported / "generator.safetensors").is_file()
    # the export loads to the same weights (in this process: the CLI sample ran above)
    import ganzoo
    from ganzoo.images import save_grid

    again = ganzoo.from_pretrained(exported).sample(4, seed=3)
    save_grid(again, tmp_path / "again.png")
    assert np.array_equal(pixels(tmp_path / "again.png"), grid)
