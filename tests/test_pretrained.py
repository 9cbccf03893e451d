"""The published weights that ship with ganzoo (issue #16): the catalogue and the files agree,
each model loads, samples and scores what the catalogue says, and a modified file is refused."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

import ganzoo
from ganzoo.catalog import catalog_entries, catalog_path, get_entry
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, WeightsError
from ganzoo.serialization import file_sha256

from .cli_checks import one_line_error

#: every unconditional built-in GAN has weights on digits
PUBLISHED = ["dcgan.digits32", "msggan.digits32", "progan.digits32", "stylegan_lite.digits32"]
#: and every built-in GAN with a class-conditional form (ProGAN has none)
CONDITIONAL = ["dcgan.digits32-cond", "msggan.digits32-cond", "stylegan_lite.digits32-cond"]
SHIPPED = PUBLISHED + CONDITIONAL
#: how far a fresh evaluation may land from the catalogue's FD: the protocol is seeded, so only
#: floating-point differences between machines and torch builds move it
FD_TOLERANCE = 0.05  # relative


def shipped_entries() -> dict:
    good, bad = catalog_entries()
    assert not bad, bad
    return good


def test_every_unconditional_gan_has_shipped_weights():
    entries = shipped_entries()
    for name in PUBLISHED:
        assert name in entries, sorted(entries)
        entry = entries[name]
        assert entry.shipped and entry.dataset == "digits" and entry.image_size == 32
        assert entry.command.startswith(f"ganzoo train {entry.arch} ")
        assert {"fd", "fd_floor", "classes_covered"} <= set(entry.metrics)


def test_every_conditional_gan_has_shipped_conditional_weights():
    entries = shipped_entries()
    for name in CONDITIONAL:
        assert name in entries, sorted(entries)
        entry = entries[name]
        assert entry.conditional and "--set conditional=true" in entry.command
        assert {"class_accuracy", "class_fd_mean"} <= set(entry.metrics)


@pytest.mark.parametrize("name", SHIPPED)
def test_catalogue_and_shipped_files_agree(name):
    entry = get_entry(name)
    files = {p.name for p in entry.path.iterdir() if p.is_file()}
    assert files == set(entry.sha256), "every shipped file is pinned, and only those"
    for file, digest in entry.sha256.items():
        assert file_sha256(entry.path / file) == digest, file
    # one generator, all sampling needs: the one publish.py measured better (its EMA or the
    # trained G; both figures are kept), never the discriminator
    assert {p for p in files if p.endswith(".safetensors")} == {"generator.safetensors"}
    metrics = entry.metrics
    if "fd_ema" in metrics:
        best = min(metrics["fd_ema"], metrics["fd_raw_generator"])
        assert metrics["fd"] == pytest.approx(best, rel=0.02), metrics
    with safe_open(str(entry.path / "generator.safetensors"), "pt") as fh:
        dtypes = {fh.get_tensor(k).dtype for k in fh.keys()}  # noqa: SIM118
    assert torch.float16 in dtypes and torch.float32 not in dtypes  # stored at half the size


def test_every_shipped_weight_together_is_a_few_megabytes():
    """The weights ride in every ganzoo wheel: a few MB for all of them (issue #16)."""
    entries = shipped_entries()
    total = sum(p.stat().st_size for e in entries.values() for p in e.path.iterdir())
    assert total < 5_000_000, f"{total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_and_samples_in_eval_mode(name):
    model = ganzoo.from_pretrained(name)
    assert not model.training and not model.generator.training
    assert "shipped" in model.pretrained_from
    images = model.sample(8, seed=0)
    assert images.shape == (8, 1, 32, 32)
    assert model.conditional == get_entry(name).conditional
    assert torch.isfinite(images).all() and images.abs().max() <= 1
    assert images.std(0).mean() > 0.05, "different latents give different digits"


@pytest.mark.parametrize("name", SHIPPED)
def test_quick_eval_matches_the_catalogue(name, tmp_path):
    """A wrong export (the other generator, stale weights) moves FD far beyond the tolerance."""
    entry = get_entry(name)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["eval", name, "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    fd = report["metrics"]["fd"]
    assert abs(fd - entry.metrics["fd"]) <= FD_TOLERANCE * entry.metrics["fd"], (
        fd,
        entry.metrics,
    )
    assert report["metrics"]["classes_covered"] == entry.metrics["classes_covered"]
    if entry.conditional:  # asked for the held-out class mix, as publish.py scored it
        accuracy = report["metrics"]["class_accuracy"]
        assert abs(accuracy - entry.metrics["class_accuracy"]) <= 0.01, (accuracy, entry.metrics)


def test_shipped_progan_is_fully_grown():
    """A ProGAN keeps its growth stage with its weights: one exported mid-growth would sample
    small images enlarged. The published one is the grown 32×32 network, and its card says so."""
    entry = get_entry("progan.digits32")
    model = ganzoo.from_pretrained("progan.digits32")
    assert model.growth == (32, 1.0)
    assert "Fully grown" in (entry.path / "README.md").read_text()
    assert "--set phase_images=" in entry.command  # the schedule the weights were grown with


def tampered_catalogue(tmp_path: Path, monkeypatch, file: str) -> Path:
    """A copy of the catalogue and its shipped weights with one bit of ``file`` flipped."""
    copy = tmp_path / "registry"
    shutil.copytree(catalog_path().parent, copy)
    target = copy / "weights" / "dcgan.digits32" / file
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    monkeypatch.setenv("GANZOO_CATALOG", str(copy / "catalog.toml"))
    return target


@pytest.mark.parametrize("file", ["generator.safetensors", "config.json"])
def test_a_modified_shipped_file_is_refused(tmp_path, monkeypatch, file):
    target = tampered_catalogue(tmp_path, monkeypatch, file)
    with pytest.raises(WeightsError) as err:
        ganzoo.from_pretrained("dcgan.digits32")
    message = str(err.value)
    assert "\n" not in message and "modified" in message and str(target) in message
    out = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["sample", "dcgan.digits32", "-o", str(out)])
    one_line_error(result, "modified", "reinstall ganzoo")
    assert not out.exists()


def test_cli_samples_lists_and_describes_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["sample", "stylegan_lite.digits32", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    listing = CliRunner().invoke(cli, ["list", "--pretrained"])
    assert listing.exit_code == 0, listing.output
    header = listing.output.splitlines()[0].split()
    assert header[:3] == ["NAME", "MODEL", "DATA"] and "FD" in header and "CLASSES" in header
    for name in PUBLISHED:
        row = next(ln for ln in listing.output.splitlines() if ln.startswith(name + " "))
        fd = get_entry(name).metrics["fd"]
        assert f"{fd:.1f}" in row and "10/10" in row and "shipped" in row
    info = CliRunner().invoke(cli, ["info", "dcgan.digits32"])
    assert info.exit_code == 0, info.output
    assert "shipped with ganzoo" in info.output and "ganzoo train dcgan" in info.output
    assert "# " in info.output  # the model card follows


def test_catalogue_schema_for_shipped_entries(tmp_path, monkeypatch):
    sha = '"generator.safetensors" = "' + "0" * 64 + '"\n'
    catalog = tmp_path / "catalog.toml"

    def entry(extra: str) -> None:
        catalog.write_text(
            f'format_version = 1\n[models."dcgan.x"]\n{extra}\n[models."dcgan.x".sha256]\n{sha}'
        )

    monkeypatch.setenv("GANZOO_CATALOG", str(catalog))
    entry('path = "../elsewhere"')
    with pytest.raises(ConfigError, match="relative to the catalogue"):
        get_entry("dcgan.x")
    entry('path = "weights/x"\nrepo_id = "org/x"')  # a Hub copy needs its commit
    with pytest.raises(ConfigError, match="40-character commit"):
        get_entry("dcgan.x")
    entry('path = "weights/x"')  # a shipped-only entry whose folder is missing
    assert get_entry("dcgan.x").path == tmp_path / "weights" / "x"
    with pytest.raises(WeightsError, match="reinstall ganzoo"):
        ganzoo.from_pretrained("dcgan.x")


@pytest.mark.slow
def test_built_wheel_ships_the_weights(built_wheel):
    with zipfile.ZipFile(built_wheel) as zf:
        names = set(zf.namelist())
        for name in SHIPPED:
            entry = get_entry(name)
            for file, digest in entry.sha256.items():
                member = f"ganzoo/_catalog/weights/{name}/{file}"
                assert member in names, member
                import hashlib

                assert hashlib.sha256(zf.read(member)).hexdigest() == digest


def test_conditional_entries_draw_the_class_asked_for_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entries = shipped_entries()
    for name in CONDITIONAL:
        entry = entries[name]
        assert entry.conditional and "--set conditional=true" in entry.command
        assert entry.metrics["class_accuracy"] >= 0.95, entry.metrics
        model = ganzoo.from_pretrained(name)
        assert model.num_classes == 10 and model.class_names == [str(i) for i in range(10)]
        card = (entry.path / "README.md").read_text()
        assert "class-conditional" in card and "labels=7" in card and "--class 7" in card
    out = tmp_path / "sevens.png"
    result = CliRunner().invoke(
        cli, ["sample", "dcgan.digits32-cond", "--class", "7", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    bad = CliRunner().invoke(
        cli, ["sample", "dcgan.digits32-cond", "--class", "10", "-o", str(out)]
    )
    one_line_error(bad, "valid classes: 0-9")
    listing = CliRunner().invoke(cli, ["list", "--pretrained", "*cond", "--json"])
    rows = json.loads(listing.output)
    assert [r["name"] for r in rows] == CONDITIONAL and all(r["conditional"] for r in rows)
    listing = CliRunner().invoke(cli, ["list", "--pretrained", "*cond"])
    for name in CONDITIONAL:  # the COND column (the notes column may wrap onto more lines)
        row = next(ln for ln in listing.output.splitlines() if ln.startswith(name + " "))
        assert row.split()[4] == "yes", row
    info = CliRunner().invoke(cli, ["info", "dcgan.digits32-cond"])
    assert "class-conditional, 10 classes: 0, 1, 2" in info.output
