"""``python benchmarks/publish.py NAME --push ORG`` for real (issue #16): a tiny recipe is trained,
scored, exported into a scratch registry and pushed through the real huggingface_hub client to
the Hub-compatible test server on 127.0.0.1; the catalogue row it writes pins the commit the
push returned, and loads from the Hub (sha256 checked) once the shipped copy is gone."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tomllib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.catalog import get_entry
from ganzoo.cli import cli
from ganzoo.errors import WeightsError
from ganzoo.serialization import file_sha256

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import HUB_TOKEN
except ImportError:
    from hub_server import HUB_TOKEN

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
NAME = "dcgan.pushtest"
REPO = "me/dcgan-pushtest"
#: a recipe small enough to train, score and export in seconds
TINY_RECIPE = {
    "arch": "dcgan",
    "steps": 3,
    "seed": 0,
    "options": {"g_width": 8, "d_width": 8, "batch_size": 16, "ema": True},
    "summary": "a tiny DCGAN (test)",
}


def load_publish():
    spec = importlib.util.spec_from_file_location("publish", ROOT / "benchmarks" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generator_equal(a, b) -> bool:
    sa, sb = a.sampling_generator().state_dict(), b.sampling_generator().state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_publish_pushes_and_the_catalogue_row_loads_from_the_hub(
    hub, hf_env, tmp_path, monkeypatch
):
    publish = load_publish()
    monkeypatch.setitem(publish.RECIPES, NAME, TINY_RECIPE)
    registry = tmp_path / "registry"
    registry.mkdir()
    hf_env.set_token(HUB_TOKEN)
    fields = publish.main(
        [NAME, "--push", "me", "--registry", str(registry), "--run", str(tmp_path / "run")]
    )

    # the row pins the commit the push made, and the files' digests
    commit = hub.repos[REPO].branches["main"]
    assert fields["repo_id"] == REPO and fields["revision"] == commit
    catalog = tomllib.loads((registry / "catalog.toml").read_text())
    row = catalog["models"][NAME]
    assert row["revision"] == commit and row["conditional"] is False
    assert row["command"].startswith("ganzoo train dcgan --steps 3 --seed 0 ")
    assert row["metrics"]["fd"] > 0 and row["metrics"]["num_classes"] == 10
    shipped = registry / "weights" / NAME
    remote = hub.files(REPO)
    for file, digest in row["sha256"].items():
        assert file_sha256(shipped / file) == digest
        assert hashlib.sha256(remote[file]).hexdigest() == digest, file  # what was pushed
    assert "discriminator.safetensors" not in remote  # one generator: what sampling needs
    assert "generator_ema.safetensors" not in remote

    # the better-scoring generator ships, stored in float16, and the row's figures are those
    # of exactly the stored weights
    metrics = row["metrics"]
    assert metrics["fd"] == pytest.approx(
        min(metrics["fd_ema"], metrics["fd_raw_generator"]), rel=0.02
    )
    from safetensors import safe_open

    with safe_open(str(shipped / "generator.safetensors"), "pt") as fh:
        dtypes = {fh.get_tensor(k).dtype for k in fh.keys()}  # noqa: SIM118
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    monkeypatch.setenv("GANZOO_CATALOG", str(registry / "catalog.toml"))
    local = ganzoo.from_pretrained(NAME)
    assert "shipped" in local.pretrained_from and local.generator_ema is None
    assert all(p.dtype == torch.float32 for p in local.generator.parameters())
    report = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["eval", NAME, "--device", "cpu", "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["metrics"]["fd"] == pytest.approx(metrics["fd"], abs=1e-3)
    info = CliRunner().invoke(cli, ["info", NAME])
    assert "shipped with ganzoo" in info.output and f"{REPO}@{commit}" in info.output
    for p in sorted(shipped.iterdir()):
        p.unlink()
    shipped.rmdir()
    ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8).push_to_hub(
        REPO, token=HUB_TOKEN
    )  # main moves on: the catalogue stays on its commit
    fetched = ganzoo.from_pretrained(NAME)
    assert REPO in fetched.pretrained_from and "shipped" not in fetched.pretrained_from
    assert generator_equal(fetched, local)
    assert get_entry(NAME).shipped is False
    info = CliRunner().invoke(cli, ["info", NAME])
    assert info.exit_code == 0, info.output
    assert f"from:     the Hub: {REPO}@{commit}" in info.output

    # a digest that does not match what the Hub serves is refused
    text = (registry / "catalog.toml").read_text()
    digest = row["sha256"]["generator.safetensors"]
    (registry / "catalog.toml").write_text(text.replace(digest, "0" * 64))
    with pytest.raises(WeightsError, match="sha256"):
        ganzoo.from_pretrained(NAME, force_download=True)
