"""A new user's first hour: offline failures that come fast, mistyped paths and option names that
point at the right one, outputs of a sensible size, Ctrl-C that is not an error, and threads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.errors import HubError, WeightsError
from ganzoo.hub import from_pretrained

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import HUB_TOKEN
except ImportError:
    from hub_server import HUB_TOKEN

pytestmark = pytest.mark.usefixtures("one_thread")

#: a bound on a hang, not a speed claim: before, these took 80 s, or never returned
HANG_BOUND_S = 15


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(result) -> str:
    """The one ``Error:`` line of a failed command (exit 2, no traceback)."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def fresh_backbones():
    from ganzoo_gatys import backbone as bb

    bb._TRUNKS.clear()
    bb._NETS.clear()
    yield
    bb._TRUNKS.clear()
    bb._NETS.clear()


# -- 2. offline: one quick attempt, then the hint -------------------------------------------------
@pytest.mark.filterwarnings("ignore::ganzoo_gatys.backbone.RandomWeightsWarning")
def test_stylize_without_cached_weights_fails_fast_naming_flags(hf_env, fresh_backbones, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (48, 48), (200, 40, 40)).save(photo)
    start = time.monotonic()
    result = invoke("stylize", photo, photo, "-o", tmp_path / "out.png", "--size", "40", "-q")
    assert time.monotonic() - start < HANG_BOUND_S
    line = error_line(result)
    assert "vgg19.tv_in1k" in line and "hf download timm/vgg19.tv_in1k model.safetensors" in line
    # said to a shell user: flags, not Python arguments
    assert "--backbone-weights FILE.safetensors" in line and "--random-weights" in line
    assert "backbone_weights=" not in line


def test_download_from_a_silent_hub_fails_fast(hf_env, silent_hub_url):
    hf_env.set_endpoint(silent_hub_url)
    start = time.monotonic()
    with pytest.raises(HubError) as exc:
        from_pretrained("someone/never-downloaded")
    assert time.monotonic() - start < HANG_BOUND_S
    message = str(exc.value)
    assert "cannot reach the Hub" in message and "no answer within" in message
    assert "HF_HUB_OFFLINE=1" in message and "\n" not in message


def test_a_cached_repo_loads_when_the_hub_stops_answering(hub, hf_env, tiny_dcgan, silent_hub_url):
    tiny_dcgan.push_to_hub("me/tiny", token=HUB_TOKEN)
    from_pretrained("me/tiny")  # now cached
    hf_env.set_endpoint(silent_hub_url)
    start = time.monotonic()
    model = from_pretrained("me/tiny")
    assert time.monotonic() - start < HANG_BOUND_S
    got, want = model.generator.state_dict(), tiny_dcgan.generator.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_push_to_a_silent_hub_fails_fast(hf_env, tiny_dcgan, silent_hub_url):
    hf_env.set_endpoint(silent_hub_url)
    start = time.monotonic()
    with pytest.raises(HubError, match=r"cannot reach the Hub .* to push to me/tiny"):
        tiny_dcgan.push_to_hub("me/tiny", token=HUB_TOKEN)
    assert time.monotonic() - start < HANG_BOUND_S


# -- 3. a mistyped local path is not a Hub error --------------------------------------------------
@pytest.fixture
def in_project(tmp_path, monkeypatch, make_run, tiny_dcgan):
    """The current folder holds runs/dcgan-20261129-1600 (a real run) and runs/msggan-old."""
    monkeypatch.chdir(tmp_path)
    run = make_run({2: tiny_dcgan}, latest=2)
    (tmp_path / "runs").mkdir()
    run.rename(tmp_path / "runs" / "dcgan-20261129-1600")
    (tmp_path / "runs" / "msggan-old").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "runs/dcgan-2026112-1600", "-o", "x.png"],
        ["eval", "runs/dcgan-2026112-1600"],
        ["export", "runs/dcgan-2026112-1600", "out"],
        ["push", "runs/dcgan-2026112-1600", "me/model"],
        ["train", "--resume", "runs/dcgan-2026112-1600"],
    ],
    ids=lambda args: args[0] if args[0] != "train" else "resume",
)
def test_mistyped_run_is_no_such_run_with_the_closest_name(in_project, hf_env, args):
    line = error_line(invoke(*args))
    assert "no such run, checkpoint or folder: runs/dcgan-2026112-1600" in line
    assert "did you mean runs/dcgan-20261129-1600?" in line
    assert "msggan" not in line and "Hub" not in line.split("(")[0]


def test_path_like_sources_are_never_sent_to_the_hub(in_project, hf_env, hub):
    for source in ("runs/nothing-like-that", "./missing", "~/no-such-folder-here", "a/b/c"):
        with pytest.raises(WeightsError, match="no such run, checkpoint or folder"):
            from_pretrained(source)
    assert hub.requests == []
    with pytest.raises(WeightsError) as exc:  # no close name: the newest ones are listed
        from_pretrained("runs/nothing-like-that")
    assert "runs/msggan-old" in str(exc.value) and "hf://runs/nothing-like-that" in str(exc.value)
    with pytest.raises(HubError, match="not found"):  # no folder "someone" here: a Hub id
        from_pretrained("someone/model")


# -- 4. did you mean, for option keys too ---------------------------------------------------------
def test_unknown_set_key_suggests_the_closest(tmp_path):
    line = error_line(invoke("train", "dcgan", "--set", "latent_dims=8", "--out", tmp_path / "r"))
    assert "unknown option 'latent_dims'" in line and "did you mean 'latent_dim'?" in line
    assert not (tmp_path / "r").exists()


# -- 6. outputs a person wants --------------------------------------------------------------------
def test_interpolate_defaults_to_a_short_loop(in_project):
    result = invoke("sample", "runs/dcgan-20261129-1600", "--interpolate", "-o", "walk.gif")
    assert result.exit_code == 0, result.output
    with Image.open(in_project / "walk.gif") as gif:
        frames, duration = gif.n_frames, gif.info["duration"]
    assert frames == 80 and duration == 50  # 8 latent points, 10 frames each: 4 s
    assert "80 frames through 8 latent points, 4.0 s" in result.output


def test_a_dataset_smaller_than_a_batch_warns(tmp_path):
    from ganzoo.training import run
    from ganzoo.training.trainer import SmallDatasetWarning

    folder = tmp_path / "eight"
    folder.mkdir()
    for i in range(8):
        Image.new("L", (16, 16), 30 * i).save(folder / f"{i}.png")
    options = {"image_size": 16, "g_width": 8, "d_width": 8, "steps": 1, "progress": False}
    plan = run.plan_new_run("dcgan", data=str(folder), layers=[options], out=tmp_path / "run")
    with pytest.warns(SmallDatasetWarning, match="8 images, fewer than one batch of 64"):
        run.execute(plan)


# -- 7. threads -----------------------------------------------------------------------------------
def test_threads_option_and_environment(monkeypatch, in_project):
    from ganzoo.cli.threads import choose_threads, default_threads

    monkeypatch.delenv("GANZOO_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert choose_threads(None) == (3, "OMP_NUM_THREADS")
    monkeypatch.setenv("GANZOO_THREADS", "2")
    assert choose_threads(None) == (2, "GANZOO_THREADS")
    assert choose_threads(1) == (1, "--threads")
    monkeypatch.delenv("GANZOO_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert choose_threads(None)[1] == "default" and default_threads() >= 1

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        result = invoke("sample", "runs/dcgan-20261129-1600", "-o", "g.png", "--threads", "1")
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    line = error_line(invoke("sample", "runs/dcgan-20261129-1600", "--threads", "0"))
    assert "--threads must be a positive number of threads" in line
    monkeypatch.setenv("GANZOO_THREADS", "many")
    line = error_line(invoke("train", "dcgan", "--steps", "1", "--out", "never"))
    assert "GANZOO_THREADS must be a positive number of threads, got 'many'" in line
    assert not Path("never").exists()


def test_commands_that_run_networks_take_threads():
    for command in ("train", "sample", "eval", "stylize"):
        assert "--threads N" in invoke(command, "--help").output, command
    assert "--threads" not in invoke("list", "--help").output
