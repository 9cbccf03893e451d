"""DiffAugment and ADA's adaptive p: shapes, gradients, p=0, the same ops on real and fake,
every built-in GAN, exact resume."""

from __future__ import annotations

import contextlib

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.training import run
from ganzoo.training.augment import OPS, Augmenter, augment, cutout, parse_policy, translation
from ganzoo.training.losses import BCE
from ganzoo.training.step import StepConfig, train_step

pytestmark = pytest.mark.usefixtures("one_thread")


def batch(n=4, c=3, s=16, seed=0):
    return torch.rand(n, c, s, s, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("ops", [(op,) for op in OPS] + [OPS])
def test_ops_keep_shapes_and_pass_gradients(ops):
    x = batch().requires_grad_(True)
    y = augment(x, ops, 1.0)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    pyramid = [batch(s=4), batch(s=8), batch(s=16)]
    out = augment(pyramid, ops, 1.0)
    assert [t.shape for t in out] == [t.shape for t in pyramid]


def test_p_zero_is_the_identity_and_p_one_changes_every_image():
    x = batch()
    torch.manual_seed(0)
    assert torch.equal(augment(x, OPS, 0.0), x)
    assert torch.equal(augment(x, OPS, torch.tensor(0.0)), x)
    changed = (augment(x, OPS, 1.0) != x).flatten(1).any(1)
    assert changed.all()


def test_a_pyramid_gets_the_same_draw_at_every_scale():
    """Shifting a 16 px image by k px and an 8 px one by k/2 px: the coarse augmented image is
    the average pooling of the fine one (for even shifts), as MSG-GAN's real pyramid is."""
    fine = batch(n=8, c=1, s=16)
    coarse = torch.nn.functional.avg_pool2d(fine, 2)
    torch.manual_seed(3)
    apply = torch.ones(8, dtype=torch.bool)
    out_coarse, out_fine = translation([coarse, fine], apply, ratio=0.25)
    shifted = (out_fine != fine).flatten(1).any(1)
    assert shifted.any()
    # the cut-out box covers the same share of each scale
    c16, c8 = cutout([fine, torch.ones(8, 1, 8, 8)], apply)
    hidden_fine = (c16 == 0).float().mean(dim=(1, 2, 3))
    hidden_coarse = (c8 == 0).float().mean(dim=(1, 2, 3))
    assert torch.allclose(hidden_fine, hidden_coarse, atol=0.2)
    assert out_coarse.shape == coarse.shape


def test_policy_names_are_checked():
    assert parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(ValueError, match="translation"):
        parse_policy("colour")


def test_ada_raises_p_while_d_is_sure_of_reals_and_lowers_it_otherwise():
    aug = Augmenter("ada", device="cpu", interval=2, kimg=0.1, batch_size=10, target=0.6)
    assert float(aug.p) == 0.0
    for _ in range(10):
        aug.observe_real(torch.full((10,), 3.0))  # D calls every real image real: overfitting
    high = float(aug.p)
    assert high > 0.5
    for _ in range(4):
        aug.observe_real(-torch.ones(10))
    assert float(aug.p) < high
    for _ in range(100):
        aug.observe_real(torch.full((10,), 3.0))
    assert float(aug.p) == 1.0  # clamped
    state = aug.state()
    other = Augmenter("ada")
    other.load_state(state)
    assert float(other.p) == 1.0
    assert float(Augmenter("diffaugment").p) == 1.0


def test_the_step_shows_d_augmented_real_and_fake_images_in_both_phases():
    torch.manual_seed(0)
    model = ganzoo.create_model("dcgan", preset="tiny")
    seen = []
    model.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    opt_g = torch.optim.Adam(model.generator.parameters())
    opt_d = torch.optim.Adam(model.discriminator.parameters())
    cfg = StepConfig(BCE, 1, 0.0, 0.0, 1, 4, None, contextlib.nullcontext)
    cfg.augment = Augmenter("diffaugment", ("cutout",))
    real = torch.ones(8, 1, 16, 16)
    train_step(model, real, torch.randn(8, 16), opt_g, opt_d, cfg, 0)
    assert len(seen) == 3  # real and fake in D's phase, fake in G's phase
    box = (16 * 0.5) ** 2
    for images in seen:  # every image D saw has the cut-out square (clipped at the border)
        assert ((images == 0).flatten(1).sum(1) >= box / 4).all()


TINY = {"batch_size": 8, "log_every": 2, "progress": False, "n_samples": 4,
        "sample_every": 0, "checkpoint_every": 0}  # fmt: skip


@pytest.mark.parametrize("arch", ["dcgan", "stylegan_lite", "msggan"])
@pytest.mark.parametrize("mode", ["diffaugment", "ada"])
def test_every_builtin_gan_trains_with_augmentation(tmp_path, arch, mode):
    plan = run.plan_new_run(
        arch,
        data="digits",
        preset="tiny",
        layers=[{**TINY, "steps": 4, "augment": mode}],
        out=tmp_path / "run",
    )
    final = run.execute(plan)
    assert all(torch.isfinite(torch.tensor(v)) for v in final.values() if isinstance(v, float))
    assert "aug_p" in final


def test_resume_with_ada_continues_p_and_is_bit_identical(tmp_path):
    opts = {**TINY, "augment": "ada", "ada_kimg": 0.05, "ada_interval": 1}

    def go(out, steps, resume=False):
        if resume:
            plan = run.plan_resume(out, {"steps": steps})
        else:
            plan = run.plan_new_run("dcgan", data="digits", preset="tiny",
                                    layers=[{**opts, "steps": steps}], out=out)  # fmt: skip
        return run.execute(plan)

    go(tmp_path / "a", 8)
    go(tmp_path / "b", 4)
    go(tmp_path / "b", 8, resume=True)
    for name in ("generator", "discriminator"):
        a = load_file(str(tmp_path / "a/checkpoints/step-000008" / f"{name}.safetensors"))
        b = load_file(str(tmp_path / "b/checkpoints/step-000008" / f"{name}.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_bad_augment_values_are_one_line_errors(tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    for bad in ("augment=blur", "augment_policy=colour"):
        result = CliRunner().invoke(
            cli, ["train", "dcgan", "--set", bad, "--out", str(tmp_path / "r"), "--quiet"]
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_ada_under_torchrun_keeps_one_p_for_every_rank(tmp_path):
    """Two CPU processes (gloo): ADA's sign statistics go through an all-reduce every
    ada_interval steps; the run completes, p moves and is logged and checkpointed."""
    import json

    from .test_distributed import TINY_CLI, torchrun

    out = tmp_path / "run"
    done = torchrun(
        "-m", "ganzoo", "train", "dcgan", *TINY_CLI, "--steps", "8", "--out", out,
        "--set", "augment=ada", "--set", "ada_interval=1", "--set", "ada_kimg=0.01",
        "--set", "log_every=2", "--checkpoint-every", "8", "--sample-every", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    ps = [r["aug_p"] for r in rows if "aug_p" in r]
    assert len(ps) == 4 and all(0.0 <= p <= 1.0 for p in ps) and max(ps) > 0
    state = json.loads((out / "checkpoints/step-000008/trainer.json").read_text())
    assert 0.0 <= state["augment_p"] <= 1.0
