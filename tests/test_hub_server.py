"""Push and pull through the real huggingface_hub client, over HTTP on 127.0.0.1, against the
Hub-compatible test server of tests/hub_server.py (see conftest.py's ``hub`` fixture).

Downloads that olah (real Hub-mirror software) can serve as well are tested there instead, because
its answers are a real server's, not this module's imitation: a missing repository, revision
pinning. This server stays for what olah cannot do: uploads, private repos and tokens, and
counting requests (a pickle is never even downloaded)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from huggingface_hub import ModelCard

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import ConfigError, GanzooError, HubError, PluginError, WeightsError
from ganzoo.hub import from_pretrained, push_folder

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import HUB_TOKEN, closed_port_url
except ImportError:
    from hub_server import HUB_TOKEN, closed_port_url

REPO = "me/tiny-dcgan"


def weights_equal(a, b) -> bool:
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def tiny(seed: int):
    torch.manual_seed(seed)
    return ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8)


def one_line(excinfo: pytest.ExceptionInfo) -> str:
    assert isinstance(excinfo.value, GanzooError)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_push_then_pull_round_trips_byte_identical_files(hub, tiny_dcgan, tmp_path):
    folder = tiny_dcgan.save_pretrained(tmp_path / "local", dataset="digits")
    url, commit = push_folder(folder, REPO, token=HUB_TOKEN)
    assert url == f"{hub.url}/{REPO}" and commit == hub.repos[REPO].branches["main"]
    assert hub.count("POST", "/commit/") == 1  # one commit for every file
    remote = hub.files(REPO)
    local = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(local) <= set(remote)
    assert all(remote[name] == data for name, data in local.items())

    loaded = from_pretrained(f"hf://{REPO}")
    snapshot = hub_snapshot(loaded)
    assert {p.name: p.read_bytes() for p in snapshot.iterdir()} == local
    assert weights_equal(loaded, tiny_dcgan)
    assert torch.equal(loaded.sample(4, seed=1), tiny_dcgan.sample(4, seed=1))
    assert loaded.card_info["dataset"] == "digits"


def test_model_push_to_hub_is_one_commit_with_a_card(hub, tiny_dcgan):
    url = tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN)
    assert url == f"{hub.url}/{REPO}"
    assert hub.count("POST", "/api/repos/create") == 1
    assert hub.count("POST", "/commit/") == 1
    remote = hub.files(REPO)
    assert {"config.json", "generator.safetensors", "discriminator.safetensors"} <= set(remote)
    assert {"README.md", "sample.png"} <= set(remote)
    card = ModelCard(remote["README.md"].decode())
    assert card.data.library_name == "ganzoo" and "dcgan" in card.data.tags
    assert f'from_pretrained("{REPO}")' in card.text
    assert weights_equal(from_pretrained(REPO), tiny_dcgan)


def hub_snapshot(model) -> Path:
    """The cache folder a Hub-loaded model came from (``org/name@COMMIT``)."""
    from ganzoo.hub.download import download

    repo, commit = model.pretrained_from.split("@")
    return download(repo, commit, local_files_only=True)


def test_pushing_again_adds_a_commit_and_pins_still_work(hub, tmp_path):
    first, second = tiny(1), tiny(2)
    first.push_to_hub(REPO, token=HUB_TOKEN)
    commit_one = hub.repos[REPO].branches["main"]
    second.push_to_hub(REPO, token=HUB_TOKEN)
    assert hub.repos[REPO].branches["main"] != commit_one
    assert weights_equal(from_pretrained(REPO), second)
    assert weights_equal(from_pretrained(f"{REPO}@{commit_one}"), first)
    assert weights_equal(from_pretrained(REPO, revision=commit_one), first)
    own_cache = tmp_path / "own-cache"
    assert weights_equal(from_pretrained(REPO, cache_dir=own_cache), second)
    assert (own_cache / "models--me--tiny-dcgan" / "snapshots").is_dir()
    with pytest.raises(HubError) as err:
        from_pretrained(f"{REPO}@no-such-branch")
    assert "no-such-branch" in one_line(err)


def test_push_to_a_branch_leaves_main_alone(hub, tiny_dcgan):
    url = tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN, revision="dev")
    assert url.endswith("/tree/dev")
    assert "generator.safetensors" not in hub.files(REPO, "main")
    assert "generator.safetensors" in hub.files(REPO, "dev")
    assert weights_equal(from_pretrained(f"{REPO}@dev"), tiny_dcgan)


def test_private_repo_needs_the_token_to_read(hub, tiny_dcgan, hf_env):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN, private=True)
    assert hub.repos[REPO].private
    with pytest.raises(HubError) as err:
        from_pretrained(REPO)
    assert "hf auth login" in one_line(err)
    hf_env.set_token(HUB_TOKEN)
    assert weights_equal(from_pretrained(REPO), tiny_dcgan)


def test_cached_repo_loads_offline_without_a_request(hub, tiny_dcgan, hf_env):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN)
    from_pretrained(REPO)
    seen = len(hub.requests)
    hf_env.set_offline(True)
    assert weights_equal(from_pretrained(REPO), tiny_dcgan)
    assert weights_equal(from_pretrained(f"hf://{REPO}"), tiny_dcgan)
    assert len(hub.requests) == seen  # HF_HUB_OFFLINE=1: nothing went out
    hf_env.set_offline(False)
    assert weights_equal(from_pretrained(REPO, local_files_only=True), tiny_dcgan)
    assert len(hub.requests) == seen
    hf_env.set_endpoint(closed_port_url())  # the Hub is down: the cache still answers
    assert weights_equal(from_pretrained(REPO), tiny_dcgan)


def test_uncached_repo_offline_says_what_to_do(hf_env):
    with pytest.raises(HubError) as err:
        from_pretrained("someone/never-downloaded")
    message = one_line(err)
    assert "cannot reach the Hub" in message and "HF_HUB_OFFLINE=1" in message
    assert "local folder" in message
    with pytest.raises(HubError) as err:
        from_pretrained("someone/never-downloaded", local_files_only=True)
    assert "local_files_only=True" in one_line(err)
    hf_env.set_offline(True)
    with pytest.raises(HubError) as err:
        from_pretrained("someone/never-downloaded")
    message = one_line(err)
    assert "HF_HUB_OFFLINE=1 is set" in message and "local folder" in message


def test_pickle_only_repo_is_refused_without_downloading_pickles(hub):
    hub.seed("someone/pickles", {"pytorch_model.bin": b"\x80\x04fake", "config.json": b"{}"})
    with pytest.raises(WeightsError) as err:
        from_pretrained("someone/pickles")
    message = one_line(err)
    assert "pickle" in message and "pytorch_model.bin" in message
    assert hub.count("GET", "pytorch_model.bin") == 0


def test_repo_that_is_not_a_ganzoo_model(hub):
    hub.seed("someone/other", {"model.safetensors": b"\x00" * 8})
    with pytest.raises(WeightsError) as err:
        from_pretrained("someone/other")
    assert "not a ganzoo model" in one_line(err)


def test_truncated_weights_on_the_hub(hub, tiny_dcgan):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN)
    data = hub.files(REPO)["generator.safetensors"]
    hub.put_file(REPO, "generator.safetensors", data[: len(data) // 3])
    with pytest.raises(WeightsError) as err:
        from_pretrained(REPO)
    assert "truncated" in one_line(err)


def test_unknown_architecture_and_newer_format_on_the_hub(hub, tiny_dcgan):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN)
    meta = json.loads(hub.files(REPO)["config.json"])
    foreign = {**meta, "arch": "nosuch_gan", "plugin_distribution": "ganzoo-nosuch"}
    hub.put_file(REPO, "config.json", json.dumps(foreign).encode())
    with pytest.raises(PluginError) as err:
        from_pretrained(REPO)
    assert "pip install ganzoo-nosuch" in one_line(err)
    newer = {**meta, "format_version": meta["format_version"] + 1}
    hub.put_file(REPO, "config.json", json.dumps(newer).encode())
    with pytest.raises(ConfigError) as err:
        from_pretrained(REPO)
    assert "upgrade ganzoo" in one_line(err)


def test_cli_sample_from_the_hub(hub, tiny_dcgan, tmp_path):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN)
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(cli, ["sample", f"hf://{REPO}", "-o", str(grid), "--n", "4"])
    assert result.exit_code == 0, result.output
    assert grid.stat().st_size > 0


# -- pushing --------------------------------------------------------------------------------------
def test_push_without_a_token_says_how_to_log_in(hub, tiny_dcgan):
    with pytest.raises(HubError) as err:
        tiny_dcgan.push_to_hub(REPO)
    message = one_line(err)
    assert "hf auth login" in message and "HF_TOKEN" in message
    assert not [r for r in hub.requests if r[0] == "POST"]


def test_push_with_a_rejected_token(hub, tiny_dcgan):
    with pytest.raises(HubError) as err:
        tiny_dcgan.push_to_hub(REPO, token="hf_wrong")
    assert "401" in one_line(err)
    assert REPO not in hub.repos


def test_cli_push_of_a_run_and_of_a_saved_folder(hub, hf_env, tiny_dcgan, tmp_path, make_run):
    run = make_run({8: tiny_dcgan}, latest=8)
    hf_env.set_token(HUB_TOKEN)
    result = CliRunner().invoke(cli, ["push", str(run), "me/from-run", "--no-discriminator"])
    assert result.exit_code == 0, result.output
    assert f"{hub.url}/me/from-run" in result.output
    remote = hub.files("me/from-run")
    assert "training_state.safetensors" not in remote and "trainer.json" not in remote
    assert "discriminator.safetensors" not in remote
    assert json.loads(remote["config.json"])["training"]["batch_size"] == 8

    folder = tiny_dcgan.save_pretrained(tmp_path / "saved")
    result = CliRunner().invoke(cli, ["push", str(folder), "me/saved", "--private"])
    assert result.exit_code == 0, result.output
    assert hub.repos["me/saved"].private
    assert hub.files("me/saved")["README.md"] == (folder / "README.md").read_bytes()

    hf_env.set_token(None)
    result = CliRunner().invoke(cli, ["push", str(folder), "me/saved"])
    assert result.exit_code == 2 and "hf auth login" in result.output


# -- the catalogue ---------------------------------------------------------------------------------
def write_catalog(path: Path, name: str, repo: str, commit: str, sums: dict[str, str]) -> Path:
    lines = [
        "format_version = 1",
        f'[models."{name}"]',
        f'repo_id = "{repo}"',
        f'revision = "{commit}"',
        'summary = "test weights"',
        "image_size = 16",
        'dataset = "digits"',
        f'[models."{name}".sha256]',
        *[f'"{file}" = "{digest}"' for file, digest in sums.items()],
        f'[models."{name}".metrics]',
        "fid = 99.5",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_catalogue_tag_downloads_the_pinned_revision_and_verifies(
    hub, tiny_dcgan, tmp_path, monkeypatch
):
    tiny_dcgan.push_to_hub(REPO, token=HUB_TOKEN, include_discriminator=False)
    commit = hub.repos[REPO].branches["main"]
    remote = hub.files(REPO)
    sums = {"generator.safetensors": sha256(remote["generator.safetensors"])}
    catalog = write_catalog(tmp_path / "catalog.toml", "dcgan.tinytest", REPO, commit, sums)
    monkeypatch.setenv("GANZOO_CATALOG", str(catalog))

    tiny(5).push_to_hub(REPO, token=HUB_TOKEN)  # main moves on; the tag stays pinned
    assert weights_equal(ganzoo.from_pretrained("dcgan.tinytest"), tiny_dcgan)
    assert weights_equal(ganzoo.create_model("dcgan.tinytest", pretrained=True), tiny_dcgan)

    result = CliRunner().invoke(cli, ["list", "--pretrained"])
    assert result.exit_code == 0 and "dcgan.tinytest" in result.output and REPO in result.output
    result = CliRunner().invoke(cli, ["list", "--pretrained", "--json"])
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["dcgan.tinytest"]
    assert rows[0]["repo_id"] == REPO and rows[0]["metrics"] == {"fid": 99.5}

    write_catalog(catalog, "dcgan.tinytest", REPO, commit, {"generator.safetensors": "0" * 64})
    with pytest.raises(WeightsError) as err:
        ganzoo.from_pretrained("dcgan.tinytest")
    assert "sha256" in one_line(err)
