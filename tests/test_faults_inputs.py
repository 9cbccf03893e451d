"""Fault injection, hostile input: every mistake and every hostile download is one line.

The traceback list of the reliability issue, each through the CLI (exit status 2, one line, no
"Traceback"); downloads that try to reach a pickle (Hub backbones), echo text (a config's
package name) or allocate a huge network (a config's sizes); plugins whose builder crashes or
whose generator breaks its promised shape; metrics given non-finite features or one sample.
The run-directory faults are in ``tests/test_faults.py``.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo import plugins

from .cli_checks import TINY, ganzoo_cli, one_line_error
from .plugin_dist import write_distribution

pytestmark = pytest.mark.usefixtures("one_thread")


# -- the traceback list, through the CLI ----------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--lr-g", "nan"], "lr_g=nan"),
        (["--lr-d", "inf"], "lr_d=inf"),
        (["--set", "r1_gamma=nan"], "r1_gamma=nan"),
        (["--set", "d_skip_below=nan"], "d_skip_below=nan"),
        (["--set", "gp_weight=-1"], "gp_weight must not be negative"),
        (["--set", "betas_g=[2, 0]"], "betas_g must be two numbers in [0, 1)"),
        (["--set", "betas_g=[0.5]"], "tuple[float, float]"),
        (["--device", "bogus"], "'bogus' is not a device"),
        (["--seed", "99999999999999999999"], "seed must be between 0 and"),
        (["--set", "steps=abc", "--steps", "3"], "steps='abc'"),
    ],
)
def test_bad_training_options_are_one_line(tmp_path, args, fragment):
    out = tmp_path / "run"
    one_line_error(ganzoo_cli("train", "dcgan", "--out", out, "--steps", "2", *TINY, *args),
                   fragment)  # fmt: skip
    assert not out.exists()  # refused before anything was written


def test_a_bad_value_given_on_resume_is_one_line(tmp_path):
    out = tmp_path / "run"
    assert ganzoo_cli("train", "dcgan", "--out", out, "--steps", "2", *TINY).exit_code == 0
    one_line_error(ganzoo_cli("train", "--resume", out, "--set", "steps=abc", "--steps", "4"),
                   "steps='abc'")  # fmt: skip


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_a_huge_seed_is_one_line(tmp_path, tiny_dcgan, command):
    tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    args = ["-o", tmp_path / "x.png"] if command == "sample" else ["--device", "cpu"]
    result = ganzoo_cli(command, tmp_path / "m", "--seed", "99999999999999999999", *args)
    one_line_error(result, "--seed", "out of range")


@pytest.fixture
def pictures(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("content.png", "style.png"):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


STYLIZE = ["--random-weights", "--backbone", "vgg11", "--size", "24", "-q"]


@pytest.mark.parametrize("where", ["dir", "under-file", "extension"])
def test_stylize_checks_its_output_path_before_optimising(tmp_path, pictures, where):
    target = {
        "dir": tmp_path,
        "under-file": pictures[0] / "x.png",
        "extension": tmp_path / "out.notanimage",
    }[where]
    # 10^6 steps: this can only return in time if the path is checked before optimising
    result = ganzoo_cli("stylize", *pictures, "-o", target, "--steps", "1000000", *STYLIZE)
    one_line_error(result, "-o")


def test_stylize_refuses_a_nan_weight(tmp_path, pictures):
    result = ganzoo_cli("stylize", *pictures, "-o", tmp_path / "o.png", "--style-weight", "nan",
                        "--steps", "1000000", *STYLIZE)  # fmt: skip
    one_line_error(result, "style_weight=nan")


# -- Hub ids and file names -----------------------------------------------------------------------
def test_invalid_hub_ids_and_traversing_file_names_are_one_line(hub, tiny_dcgan, tmp_path):
    one_line_error(ganzoo_cli("sample", "org/..", "-o", tmp_path / "x.png"), "not a valid Hub")
    tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    files = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    hub.seed("org/evil", {**files, "../../evil.safetensors": b"x"})
    one_line_error(ganzoo_cli("sample", "org/evil", "-o", tmp_path / "x.png"), "'..'")
    assert not (tmp_path.parent / "evil.safetensors").exists()


# -- 9. backbones from the Hub: safetensors only --------------------------------------------------
@pytest.fixture
def timm_repos(hub, tmp_path):
    """Two Hub repos of one tiny timm network: one with safetensors, one with a pickle only."""
    import timm
    from timm.models._hub import save_for_hf

    torch.manual_seed(0)
    save_for_hf(timm.create_model("test_resnet"), tmp_path / "tiny", safe_serialization="both")
    files = {p.name: p.read_bytes() for p in (tmp_path / "tiny").iterdir()}
    hub.seed("org/safe", {k: v for k, v in files.items() if k != "pytorch_model.bin"})
    hub.seed("org/pickle", {k: v for k, v in files.items() if k != "model.safetensors"})
    return hub


def test_a_hub_backbone_loads_from_safetensors(timm_repos, pictures, tmp_path):
    args = ["--backbone", "hf-hub:org/safe", "--steps", "2", "--size", "32", "-q"]
    result = ganzoo_cli("stylize", *pictures, "-o", tmp_path / "o.png", *args)
    assert result.exit_code == 0, result.output
    assert timm_repos.count("GET", "org/safe/resolve/main/model.safetensors") == 1


def test_a_hub_backbone_with_only_a_pickle_is_refused_without_downloading_it(
    timm_repos, pictures, tmp_path
):
    args = ["--backbone", "hf-hub:org/pickle", "--steps", "2", "--size", "32", "-q"]
    result = ganzoo_cli("stylize", *pictures, "-o", tmp_path / "o.png", *args)
    one_line_error(result, "org/pickle has no model.safetensors", "never unpickles")
    assert timm_repos.count("GET", "pytorch_model.bin") == 0  # not even fetched


def test_timm_features_never_load_a_cached_pickle(hub, hf_env, tmp_path):
    """A pickle in the cache is not weights to the timm: extractor; the safetensors file is."""
    import timm
    from huggingface_hub import hf_hub_download
    from timm.models._hub import save_for_hf

    from ganzoo.metrics import get_extractor

    name = "test_resnet.r160_in1k"  # timm's pretrained config points at timm/test_resnet...
    repo = timm.models.get_pretrained_cfg(name).hf_hub_id
    save_for_hf(timm.create_model("test_resnet"), tmp_path / "w", safe_serialization="both")
    hub.seed(repo, {"pytorch_model.bin": (tmp_path / "w" / "pytorch_model.bin").read_bytes()})
    hf_hub_download(repo, "pytorch_model.bin")  # now in the cache
    with pytest.raises(ganzoo.GanzooError, match=r"model\.safetensors"):
        get_extractor(f"timm:{name}", device=torch.device("cpu"))
    hub.put_file(repo, "model.safetensors", (tmp_path / "w" / "model.safetensors").read_bytes())
    hf_hub_download(repo, "model.safetensors")
    extractor = get_extractor(f"timm:{name}", device=torch.device("cpu"))
    assert extractor(torch.zeros(2, 1, 16, 16))[0].shape == (2, extractor.dim)


# -- 10. and 11. downloaded configs ---------------------------------------------------------------
def edit_config(folder, **changes):
    path = folder / "config.json"
    meta = json.loads(path.read_text())
    for key, value in changes.items():
        target = meta["config"] if key in meta["config"] else meta
        target[key] = value
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("dist, shown", [("evil; rm -rf ~", False), ("ganzoo-stargan", True)])
def test_a_configs_package_name_is_echoed_only_when_valid(tmp_path, tiny_dcgan, dist, shown):
    tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    edit_config(tmp_path / "m", arch="stargan", plugin_distribution=dist)
    line = one_line_error(ganzoo_cli("sample", tmp_path / "m", "-o", tmp_path / "x.png"),
                          "'stargan'")  # fmt: skip
    assert (f"pip install {dist}" in line) is shown and ("rm -rf" in line) is False


def test_a_config_implying_a_huge_network_is_refused_before_allocating(tmp_path, tiny_dcgan):
    tiny_dcgan.save_pretrained(tmp_path / "m", sample=False)
    edit_config(tmp_path / "m", latent_dim=10**9)  # G's first layer: 10^9 × 32 × 16 floats
    one_line_error(ganzoo_cli("sample", tmp_path / "m", "-o", tmp_path / "x.png"),
                   "the network its config builds expects", "1000000000")  # fmt: skip


def test_an_unsaved_network_cannot_be_made_huge(tmp_path, tiny_dcgan):
    tiny_dcgan.save_pretrained(tmp_path / "m", include_discriminator=False, sample=False)
    edit_config(tmp_path / "m", d_width=10**5, max_width=10**6)  # about 3·10^11 parameters in D
    one_line_error(ganzoo_cli("sample", tmp_path / "m", "-o", tmp_path / "x.png"),
                   "refusing to allocate", "discriminator")  # fmt: skip


# -- plugins that crash or break their promised shape ---------------------------------------------
FAULTY = '''
    """Models whose builders go wrong in ways a user cannot fix."""
    from dataclasses import dataclass
    import ganzoo

    @dataclass
    class Cfg:
        size: int = ganzoo.param(8, "side")

    @ganzoo.hookimpl
    def ganzoo_register_models(registrar):
        for name in ("faulty_crash", "faulty_shape", "faulty_nan"):
            registrar.add_model(ganzoo.ModelSpec(
                name=name, kind="gan", summary="broken on purpose", config=Cfg,
                build=f"ganzoo_faulty.nets:build_{name[7:]}", recipe=ganzoo.TrainingRecipe()))
'''

NETS = """
import torch
from torch import nn
from ganzoo.models import GANModel

class G(nn.Module):
    def __init__(self, side=8, out_side=8, scale=1.0):
        super().__init__()
        self.latent_dim, self.image_shape = 4, (1, side, side)
        self.net, self.out_side, self.scale = nn.Linear(4, out_side * out_side), out_side, scale
    def forward(self, z):
        x = torch.tanh(self.net(z)).view(z.shape[0], 1, self.out_side, self.out_side)
        return x * self.scale

class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(64, 1)
    def forward(self, x):
        return self.net(x.flatten(1)).flatten()

def build_crash(config):
    raise ZeroDivisionError("the plugin divided by zero")

def build_shape(config):
    return GANModel(G(out_side=16), D())

def build_nan(config):
    return GANModel(G(scale=float("nan")), D())
"""


@pytest.fixture
def faulty(tmp_path, monkeypatch):
    pkg = write_distribution(tmp_path / "site", "ganzoo-faulty", "ganzoo_faulty", FAULTY)
    (pkg / "nets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    plugins.reset()
    yield
    for name in [m for m in sys.modules if m.startswith("ganzoo_faulty")]:
        del sys.modules[name]
    plugins.reset()


def test_a_builder_that_crashes_names_its_plugin(faulty, tmp_path):
    result = ganzoo_cli("train", "faulty_crash", "--out", tmp_path / "run", "--steps", "1")
    one_line_error(result, "'ganzoo_faulty'", "ZeroDivisionError", "divided by zero")


def test_a_generator_that_breaks_its_shape_fails_when_built(faulty, tmp_path):
    with pytest.raises(ganzoo.GanzooError, match=r"\(1, 1, 16, 16\).*promises \(1, 8, 8\)"):
        ganzoo.create_model("faulty_shape")
    result = ganzoo_cli("train", "faulty_shape", "--out", tmp_path / "run", "--steps", "1")
    one_line_error(result, "promises (1, 8, 8)")
    assert not (tmp_path / "run").exists()


def test_eval_of_a_model_emitting_nan_is_one_line(faulty, tmp_path):
    ganzoo.create_model("faulty_nan").save_pretrained(tmp_path / "m", sample=False)
    result = ganzoo_cli("eval", tmp_path / "m", "--n", "8", "--device", "cpu")
    one_line_error(result, "NaN or infinity", "8 of 8")


# -- metric functions -----------------------------------------------------------------------------
def features(n=16, d=4, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_metrics_refuse_non_finite_features(bad):
    from ganzoo.metrics import (
        frechet_distance_features,
        kernel_inception_distance,
        precision_recall,
    )

    real, fake = features(), features(seed=1)
    fake[3, 1] = bad  # one bad value among 64: recall went to 1.0 with an inf
    for metric in (frechet_distance_features, kernel_inception_distance, precision_recall):
        with pytest.raises(ganzoo.GanzooError, match="1 of 16 samples"):
            metric(real, fake)


def test_metrics_refuse_a_single_sample():
    from ganzoo.metrics import frechet_distance_features, kernel_inception_distance

    for metric in (frechet_distance_features, kernel_inception_distance):
        with pytest.raises(ganzoo.GanzooError, match="1 sample"):
            metric(features(), features(n=1))  # KID returned (nan, nan)
