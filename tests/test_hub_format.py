"""The shareable model folder: save_pretrained, model cards, local loading, runs and exports,
and the one-line errors for broken folders. No network here (see test_hub_server.py)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, GanzooError, PluginError, UnknownNameError, WeightsError
from ganzoo.hub import export_checkpoint, from_pretrained, parse_source
from ganzoo.serialization import FORMAT_VERSION


def same_weights(a, b) -> bool:
    nets_a, nets_b = a.networks(), b.networks()
    if set(nets_a) != set(nets_b):
        return False
    for name in nets_a:
        sa, sb = nets_a[name].state_dict(), nets_b[name].state_dict()
        if sa.keys() != sb.keys() or not all(torch.equal(sa[k], sb[k]) for k in sa):
            return False
    return True


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, GanzooError)
    assert message and "\n" not in message
    return message


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_save_pretrained_writes_weights_config_card_and_sample(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(
        tmp_path / "m",
        dataset="digits",
        metrics={"fid": 31.5},
        training={"steps": 1234, "betas_g": (0.5, 0.999)},
    )
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "generator.safetensors",
        "sample.png",
    ]
    meta = json.loads((out / "config.json").read_text())
    assert meta["format"] == "ganzoo" and meta["format_version"] == FORMAT_VERSION
    assert meta["arch"] == "dcgan" and meta["kind"] == "gan"
    assert meta["plugin_distribution"] == "ganzoo" and meta["plugin_version"]
    assert meta["config"]["image_size"] == 16 and meta["config"]["g_width"] == 8
    assert meta["networks"] == ["discriminator", "generator"]

    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "ganzoo"
    assert {"dcgan", "gan"} <= set(card.data.tags)
    assert card.data.pipeline_tag == "unconditional-image-generation"
    assert card.data.license == "apache-2.0"
    assert card.data.datasets == ["digits"]
    assert "](sample.png)" in card.text
    assert "31.5" in card.text and "1234" in card.text  # metrics and recipe in the body

    grid = Image.open(out / "sample.png")
    assert grid.width > 4 * 16 and grid.height > 4 * 16  # 16 samples of 16 px, enlarged


def test_local_folder_round_trip_is_exact(tmp_path, tiny_dcgan):
    tiny_dcgan.save_pretrained(tmp_path / "m", dataset="digits")
    loaded = ganzoo.from_pretrained(str(tmp_path / "m"))
    assert same_weights(tiny_dcgan, loaded)
    assert not loaded.training  # ready to sample
    assert torch.equal(loaded.sample(4, seed=3), tiny_dcgan.sample(4, seed=3))
    assert loaded.card_info["dataset"] == "digits"
    # re-saving keeps what the weights were published with
    loaded.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["dataset"] == "digits"


def test_saving_the_same_model_again_writes_the_same_bytes(tmp_path, tiny_dcgan):
    """Published files are pinned by sha256 (registry/catalog.toml): a model retrained bit for
    bit must not get new digests because safetensors wrote its metadata in another order."""
    from ganzoo.serialization import file_sha256

    digests = set()
    for i in range(8):
        tiny_dcgan.save_pretrained(tmp_path / str(i))
        digests.add(file_sha256(tmp_path / str(i) / "generator.safetensors"))
    assert len(digests) == 1
    assert same_weights(ganzoo.from_pretrained(tmp_path / "0"), tiny_dcgan)


def test_without_discriminator_and_stale_files(tmp_path, tiny_dcgan):
    out = tmp_path / "m"
    tiny_dcgan.save_pretrained(out)
    tiny_dcgan.save_pretrained(out, include_discriminator=False)
    assert not (out / "discriminator.safetensors").exists()
    assert json.loads((out / "config.json").read_text())["networks"] == ["generator"]
    loaded = from_pretrained(out)
    assert torch.equal(loaded.sample(4), tiny_dcgan.sample(4))


def test_ema_generator_is_saved_and_used(tmp_path, tiny_dcgan):
    ema = tiny_dcgan.enable_ema()
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(0.05)
    tiny_dcgan.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "generator_ema.safetensors").is_file()
    loaded = from_pretrained(tmp_path / "m")
    assert same_weights(tiny_dcgan, loaded)
    assert torch.equal(loaded.sample(2), tiny_dcgan.sample(2, ema=True))
    assert not torch.equal(loaded.sample(2), loaded.sample(2, ema=False))


def test_run_dir_loads_its_latest_checkpoint(make_run):
    models = {}
    for step in (10, 20):
        torch.manual_seed(step)
        models[step] = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8)
    run = make_run(models, latest=20)
    assert same_weights(from_pretrained(run), models[20])
    assert same_weights(from_pretrained(run / "checkpoints" / "step-000010"), models[10])
    (run / "checkpoints" / "latest").unlink()  # without the pointer: the highest step
    assert same_weights(from_pretrained(str(run)), models[20])


def test_export_cli_writes_a_shareable_folder_with_the_recipe(tmp_path, tiny_dcgan, make_run):
    run = make_run({30: tiny_dcgan}, latest=30)
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(run), str(out), "--metric", "fid=42.5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "discriminator.safetensors",
        "generator.safetensors",
        "sample.png",
    ]
    meta = json.loads((out / "config.json").read_text())
    assert meta["dataset"] == "digits" and meta["step"] == 30
    assert meta["training"]["batch_size"] == 8 and meta["metrics"] == {"fid": 42.5}
    assert meta["training"]["last logged values"]["d_loss"] == pytest.approx(1.28)
    card = (out / "README.md").read_text()
    assert "batch_size" in card and "42.5" in card
    assert same_weights(from_pretrained(out), tiny_dcgan)


def test_an_export_is_the_same_bytes_whatever_the_machine_s_speed(tmp_path, tiny_dcgan, make_run):
    # The catalogue pins published files by sha256: exporting the same weights again on a
    # busier machine (another img/s in the log) must not change a byte.
    run = make_run({30: tiny_dcgan}, latest=30)
    first = export_checkpoint(run, tmp_path / "a", include_discriminator=False)
    log = run / "metrics.jsonl"
    log.write_text(log.read_text().replace('"img_per_s": 512.5', '"img_per_s": 97.25'))
    second = export_checkpoint(run, tmp_path / "b", include_discriminator=False)
    meta = json.loads((first / "config.json").read_text())
    assert "img_per_s" not in meta["training"]["last logged values"]
    assert "d_loss" in meta["training"]["last logged values"]
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_export_refuses_its_own_checkpoint_and_unknown_steps(tmp_path, tiny_dcgan, make_run):
    run = make_run({5: tiny_dcgan}, latest=5)
    with pytest.raises(ConfigError):
        export_checkpoint(run / "checkpoints" / "step-000005", run / "checkpoints" / "step-000005")
    with pytest.raises(WeightsError) as err:
        export_checkpoint(run, tmp_path / "x", step=7)
    assert "step-000005" in one_line_error(err)


@pytest.mark.slow
def test_a_real_training_run_exports_and_loads(tmp_path):
    run = tmp_path / "trained"
    args = ["train", "dcgan", "--steps", "2", "--batch-size", "8", "--out", str(run)]
    args += ["--set", "image_size=16", "--set", "g_width=8", "--set", "d_width=8"]
    result = CliRunner().invoke(cli, [*args, "--checkpoint-every", "2"])
    assert result.exit_code == 0, result.output
    out = export_checkpoint(run, tmp_path / "out")
    meta = json.loads((out / "config.json").read_text())
    assert meta["step"] == 2 and meta["dataset"] == "digits"
    assert not (out / "training_state.safetensors").exists()
    assert torch.equal(from_pretrained(out).sample(2), from_pretrained(run).sample(2))


@pytest.mark.parametrize(
    ("kind", "pipeline"),
    [("gan", "unconditional-image-generation"), ("style-transfer", "image-to-image")],
)
def test_card_metadata_by_kind(kind, pipeline):
    from ganzoo.hub.card import card_data

    data = card_data(arch="some_arch", kind=kind, license="mit", dataset=None)
    assert data.pipeline_tag == pipeline and data.library_name == "ganzoo"
    assert {"ganzoo", "some_arch", kind} <= set(data.tags) and data.license == "mit"


def test_conditional_card_is_tagged_not_unconditional():
    """A class-conditional GAN is found by the tag ``class-conditional-image-generation``: the Hub
    has no such task and refuses an unknown pipeline tag, and the unconditional one would be
    wrong; an unconditional GAN keeps its pipeline tag and gets no conditional tags."""
    from ganzoo.hub.card import card_data

    cond = card_data(arch="dcgan", kind="gan", license=None, dataset="digits", conditional=True)
    assert cond.pipeline_tag is None
    assert {"class-conditional-image-generation", "class-conditional", "dcgan"} <= set(cond.tags)
    plain = card_data(arch="dcgan", kind="gan", license=None, dataset="digits")
    assert plain.pipeline_tag == "unconditional-image-generation"
    assert not {t for t in plain.tags if "conditional" in t}


def test_style_transfer_model_round_trip(tmp_path):
    model = ganzoo.create_model("gatys")  # built in: a missing plugin is a failure, not a skip
    out = model.save_pretrained(tmp_path / "style")
    card = ModelCard.load(out / "README.md")
    assert card.data.pipeline_tag == "image-to-image" and "style-transfer" in card.data.tags
    assert same_weights(from_pretrained(out), model)


# -- broken folders: each a one-line GanzooError -----------------------------------------------
def test_truncated_safetensors(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    weights = out / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(WeightsError) as err:
        from_pretrained(out)
    message = one_line_error(err)
    assert "generator.safetensors" in message and "truncated" in message


def test_tampered_header(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    weights = out / "discriminator.safetensors"
    data = bytearray(weights.read_bytes())
    data[8:16] = b"\xff" * 8  # the JSON header is no longer JSON
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError) as err:
        from_pretrained(out)
    assert "discriminator.safetensors" in one_line_error(err)


def test_missing_tensor(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    state = load_file(out / "generator.safetensors")
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, out / "generator.safetensors")
    with pytest.raises(WeightsError) as err:
        from_pretrained(out)
    assert "missing 1" in one_line_error(err)


def test_newer_format_is_refused_with_advice(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    edit_config(out, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ConfigError) as err:
        from_pretrained(out)
    assert "upgrade ganzoo" in one_line_error(err)


def test_unknown_architecture_names_the_plugin_to_install(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    edit_config(out, arch="nosuch_gan", plugin_distribution="ganzoo-nosuch")
    with pytest.raises(PluginError) as err:
        from_pretrained(out)
    assert "pip install ganzoo-nosuch" in one_line_error(err)


def test_pickled_weights_are_refused(tmp_path, tiny_dcgan):
    out = tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    (out / "generator.safetensors").rename(out / "generator.bin")
    with pytest.raises(WeightsError) as err:
        from_pretrained(out)
    assert "pickle" in one_line_error(err)
    only_pickles = tmp_path / "pickles"
    only_pickles.mkdir()
    (only_pickles / "model.pt").write_bytes(b"\x80\x04not really")
    with pytest.raises(WeightsError) as err:
        from_pretrained(only_pickles)
    assert "pickle" in one_line_error(err)


def test_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError) as err:
        from_pretrained(tmp_path / "empty")
    assert "config.json" in one_line_error(err)
    with pytest.raises(WeightsError):
        from_pretrained(str(tmp_path / "not" / "there"))
    with pytest.raises(ConfigError):
        from_pretrained("no-such-thing")


# -- what a source string means ----------------------------------------------------------------
def test_parse_source_forms(tmp_path, monkeypatch):
    assert parse_source("org/name").kind == "hub"
    src = parse_source("org/name@v1.0")
    assert (src.repo_id, src.revision) == ("org/name", "v1.0")
    src = parse_source("hf://org/name", revision="abc")
    assert (src.kind, src.repo_id, src.revision) == ("hub", "org/name", "abc")
    with pytest.raises(ConfigError):
        parse_source("org/name@v1", revision="v2")
    with pytest.raises(ConfigError):
        parse_source("hf://not a repo")
    (tmp_path / "org" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert parse_source("org/name").kind == "local"  # an existing folder wins
    with pytest.raises(ConfigError):
        parse_source("org/name", revision="v1")


def test_unknown_catalogue_tag(tmp_path, monkeypatch):
    monkeypatch.delenv("GANZOO_CATALOG", raising=False)
    with pytest.raises(UnknownNameError) as err:
        from_pretrained("dcgan.nosuchtag")
    assert "dcgan.nosuchtag" in one_line_error(err)


# -- the catalogue file --------------------------------------------------------------------------
def test_shipped_catalogue_is_valid():
    from ganzoo.catalog import catalog_path, make_entry, read_catalog_file

    path = catalog_path()
    assert path is not None and path.parent.name in ("registry", "_catalog")
    for name, fields in read_catalog_file(path).items():
        make_entry(name, fields, str(path))  # raises on a malformed entry


def test_catalogue_entries_are_checked(tmp_path, monkeypatch):
    from ganzoo.catalog import get_entry, pretrained_rows

    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        'format_version = 1\n[models."dcgan.floating"]\nrepo_id = "org/x"\nrevision = "main"\n'
        '[models."dcgan.floating".sha256]\n"generator.safetensors" = "' + "0" * 64 + '"\n'
    )
    monkeypatch.setenv("GANZOO_CATALOG", str(catalog))
    with pytest.raises(ConfigError) as err:
        get_entry("dcgan.floating")
    assert "40-character commit" in one_line_error(err)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pretrained_rows() == []
    assert any("dcgan.floating" in str(w.message) for w in caught)
    catalog.write_text("format_version = 99\n")
    with pytest.raises(ConfigError) as err:
        get_entry("dcgan.floating")
    assert "upgrade ganzoo" in one_line_error(err)
