"""Progressive growing (ganzoo_progan): the schedule, the fade-in, exact resume mid-fade-in,
saving and loading a model mid-growth, and the CLI on grown and growing models."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from ganzoo_progan.growth import growth_at, phase_starts, scaled_phase_images
from safetensors.torch import load_file

import ganzoo
from ganzoo.errors import ConfigError
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.run import execute, plan_new_run, plan_resume
from ganzoo.training.schedule import ScheduleContext, sync_optimizer
from tests.cli_checks import ganzoo_cli, one_line_error

#: a 16 px ProGAN whose phases last 4 steps of 8 images: 4 px (steps 0-3), 8 px fade-in (4-7),
#: 8 px (8-11), 16 px fade-in (12-15), 16 px from step 16 on
TRAIN = {
    "image_size": 16,
    "latent_dim": 16,
    "fmap_base": 128,
    "fmap_max": 16,
    "fmap_min": 8,
    "phase_images": 32,
    "batch_size": 8,
    "n_samples": 4,
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
    "progress": False,
}


def train(run_dir, steps: int, **options):
    plan = plan_new_run("progan", data="digits", layers=[{**TRAIN, **options, "steps": steps}],
                        out=run_dir)  # fmt: skip
    execute(plan)
    return run_dir


def tiny_model(**overrides) -> ganzoo.models.GANModel:
    torch.manual_seed(0)
    keys = {k: TRAIN[k] for k in ("image_size", "latent_dim", "fmap_base", "phase_images")}
    return ganzoo.create_model("progan", **{**keys, "fmap_max": 16, "fmap_min": 8, **overrides})


def test_growth_schedule_resolution_and_alpha_by_images_shown():
    # 32 px (3 levels above 4×4), 640 images a phase at 64 a step: 10 steps a phase
    def at(step, sizes=None):
        g = growth_at(step, 3, 640, sizes or {}, 64)
        return g.resolution, round(g.alpha, 4), g.name

    assert at(0) == (4, 1.0, "4px") and at(9) == (4, 1.0, "4px")
    assert at(10) == (8, 0.0, "8px fade-in")  # the new block starts at α = 0
    assert at(15) == (8, 0.5, "8px fade-in")  # 320 of 640 images into the fade-in
    assert at(19) == (8, 0.9, "8px fade-in")
    assert at(20) == (8, 1.0, "8px")
    assert at(30) == (16, 0.0, "16px fade-in")
    assert at(55) == (32, 0.5, "32px fade-in")
    assert at(60) == (32, 1.0, "32px") and at(10_000) == (32, 1.0, "32px")
    # a smaller batch at 16 px: its phases last 640 / 32 = 20 steps, α moves 32 images a step
    small = {"16": 32}
    assert at(30, small) == (16, 0.0, "16px fade-in")
    assert at(40, small) == (16, 0.5, "16px fade-in")
    assert growth_at(40, 3, 640, small, 64).batch_size == 32
    assert at(70, small) == (32, 0.0, "32px fade-in")
    assert [s for s, _ in phase_starts(3, 640, small, 64)] == [0, 10, 20, 30, 50, 70, 80]


def test_paper_schedule_scaled_to_the_dataset():
    assert scaled_phase_images(0, 30_000) == 800_000  # the paper's CelebA-HQ
    assert scaled_phase_images(0, 1797) == 47_920  # digits: 26.7 epochs a phase
    assert scaled_phase_images(0, None) == 800_000  # a stream of unknown size
    assert scaled_phase_images(5000, 1797) == 5000


def test_fade_in_blends_the_upsampled_lower_resolution_with_the_new_block():
    model = tiny_model().eval()
    g, d = model.generator, model.discriminator
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(1))
    model.set_growth(1, 1.0)
    low = g(z)  # 8 px, enlarged to 16
    assert torch.equal(low, F.interpolate(F.avg_pool2d(low, 2), scale_factor=2))
    model.set_growth(2, 1.0)
    high = g(z)
    model.set_growth(2, 0.0)
    assert torch.allclose(g(z), low, atol=1e-6)  # α = 0: exactly the network below
    model.set_growth(2, 0.25)
    g.train()  # unclamped, so the blend is exactly linear
    blend = g(z)
    model.set_growth(1, 1.0)
    low_raw = g(z)
    model.set_growth(2, 1.0)
    high_raw = g(z)
    assert torch.allclose(blend, torch.lerp(low_raw, high_raw, 0.25), atol=1e-5)
    assert not torch.allclose(high, low, atol=1e-3)
    # D: at α = 0 it sees the image through the block below, at 0.5 half of each (on images
    # as D gets them: at 16 px the fade-in's input; at 8 px the same, averaged to 8 px, enlarged)
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    model.set_growth(1, 1.0)
    low_x = F.avg_pool2d(x, 2)
    assert torch.equal(d(low_x), d(F.interpolate(low_x, scale_factor=2)))
    d_low = d(low_x)
    model.set_growth(2, 1.0)
    d_high = d(x)
    model.set_growth(2, 0.0)
    assert torch.allclose(d(x), d_low, atol=1e-5)
    model.set_growth(2, 0.5)
    assert not torch.allclose(d(x), d_high, atol=1e-4)
    # real images are smoothed like G's: at α = 0 they are the 8 px images, enlarged
    model.set_growth(2, 0.0)
    real = model.prepare_real(x)
    model.set_growth(1, 1.0)
    assert torch.allclose(real, model.prepare_real(x), atol=1e-6)
    assert real.shape == x.shape


def test_gradient_penalty_sees_the_current_resolution():
    """D's input gradient on an enlarged 8 px image has the norm of its gradient at 8 px."""
    model = tiny_model()
    model.set_growth(1, 1.0)
    low = torch.rand(3, 1, 8, 8, requires_grad=True)
    big = F.interpolate(low.detach(), scale_factor=2).requires_grad_(True)
    (g_low,) = torch.autograd.grad(model.discriminator(low).sum(), low)
    (g_big,) = torch.autograd.grad(model.discriminator(big).sum(), big)
    assert torch.allclose(g_low.flatten(1).norm(dim=1), g_big.flatten(1).norm(dim=1))


def test_schedule_sets_generator_ema_and_discriminator_and_logs_the_phase():
    model = tiny_model()
    model.enable_ema()
    ctx = ScheduleContext(batch_size=8, dataset_size=1000)
    phase = model.training_schedule(14, ctx)  # the 16 px fade-in, 2 steps of 4 in
    assert phase.name == "16px fade-in" and phase.metrics == {"resolution": 16.0, "alpha": 0.5}
    for net in (model.generator, model.generator_ema, model.discriminator):
        assert net.stage == (2, 0.5) and float(net.alpha) == 0.5 and int(net.level) == 2


def test_a_per_resolution_batch_larger_than_the_runs_is_refused_before_training(tmp_path):
    result = ganzoo_cli("train", "progan", "--out", tmp_path / "r", "--steps", 3, "--quiet",
                        "--preset", "tiny", "--set", 'batch_sizes={"16": 64}')  # fmt: skip
    one_line_error(result, "batch_sizes asks for 64 images at 16 px", "--batch-size")
    assert not list((tmp_path / "r").glob("checkpoints/step-*"))  # refused before step 0
    with pytest.raises(ConfigError, match="batch_sizes names resolution '12'"):
        ganzoo.create_model("progan", preset="tiny", batch_sizes={"12": 4})


def test_every_phase_writes_a_sample_grid_and_a_checkpoint(tmp_path):
    run = train(tmp_path / "r", 18)
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("step-*"))
    assert ckpts == [f"step-{s:06d}" for s in (4, 8, 12, 16, 18)]
    samples = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert samples == [f"step-{s:06d}.png" for s in (4, 8, 12, 16, 18)]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").open()]
    assert [r["resolution"] for r in rows[:5]] == [4, 4, 4, 4, 8]
    assert [r["alpha"] for r in rows[4:8]] == [0.0, 0.25, 0.5, 0.75]


def all_tensors(ckpt):
    return {
        f"{f.stem}/{k}": v
        for f in sorted(ckpt.glob("*.safetensors"))
        for k, v in load_file(f).items()
    }


@pytest.mark.parametrize("extra", [{}, {"batch_sizes": {"16": 4}}], ids=["batch", "smaller-16px"])
def test_resume_in_the_middle_of_a_fade_in_is_bit_exact(tmp_path, extra):
    train(tmp_path / "a", 18, **extra)
    train(tmp_path / "b", 14, **extra)  # stops with the 16 px block half faded in
    growing = ganzoo.from_pretrained(tmp_path / "b")
    # the state of its last step, 13: 1 of the fade-in's steps of 8 (or 4) images done
    assert growing.growth == (16, 0.125 if extra else 0.25)
    execute(plan_resume(tmp_path / "b", {"steps": 18}))
    a, b = (
        all_tensors(latest_checkpoint(tmp_path / "a")),
        all_tensors(latest_checkpoint(tmp_path / "b")),
    )
    assert a.keys() == b.keys() and any(k.startswith("training_state/optim") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    # the losses, the schedule's numbers and the health figures logged are the same too
    keys = ("step", "d_loss", "g_loss", "gp", "d_real", "d_fake", "resolution", "alpha")
    keys += ("d_acc", "g_grad_norm", "div", "classes", "top_class")

    def rows(run):
        return [
            {k: r[k] for k in keys if k in r}
            for r in map(json.loads, (run / "metrics.jsonl").open())
        ]

    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_a_model_saved_mid_growth_samples_exports_and_loads_at_its_stage(tmp_path):
    run = train(tmp_path / "r", 14)
    model = ganzoo.from_pretrained(run)
    assert model.growth == (16, 0.25)
    images = model.sample(4, seed=3)
    assert images.shape == (4, 1, 16, 16)
    out = tmp_path / "export"
    assert ganzoo_cli("export", run, out).exit_code == 0
    again = ganzoo.from_pretrained(out)
    assert again.growth == (16, 0.25) and torch.equal(again.sample(4, seed=3), images)
    assert "Saved mid-growth at 16×16, fading in with α = 0.250" in (out / "README.md").read_text()
    result = ganzoo_cli("sample", out, "-o", tmp_path / "s.png", "--n", 4)
    assert result.exit_code == 0 and (tmp_path / "s.png").stat().st_size > 0
    result = ganzoo_cli("eval", run, "--n", 64, "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["fd"] > 0
    # at 8 px (stabilised) every 2×2 block of a sample is one pixel
    model.set_growth(1, 1.0)
    x = model.sample(2, seed=0)
    assert torch.equal(x, F.interpolate(F.avg_pool2d(x, 2), scale_factor=2))


def test_a_fully_grown_model_samples_evaluates_and_exports(tmp_path):
    run = train(tmp_path / "r", 20)
    model = ganzoo.from_pretrained(run)
    assert model.growth == (16, 1.0)
    out = tmp_path / "export"
    assert ganzoo_cli("export", run, out).exit_code == 0
    assert "Fully grown" in (out / "README.md").read_text()
    assert torch.equal(ganzoo.from_pretrained(out).sample(4, seed=1), model.sample(4, seed=1))
    result = ganzoo_cli("eval", out, "--n", 64, "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["fd"] > 0


def test_conformance_kit(tmp_path):
    from ganzoo.testing import check_model

    check_model("progan", workdir=tmp_path)  # raises unless every check passes


def test_sync_optimizer_keeps_state_of_kept_parameters_and_adds_new_ones():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([a], lr=0.1)
    a.grad = torch.ones(3)
    opt.step()
    moments = opt.state[a]["exp_avg"].clone()
    assert sync_optimizer(opt, [a, b]) and not sync_optimizer(opt, [a, b])
    assert torch.equal(opt.state[a]["exp_avg"], moments) and b not in opt.state
    a.grad, b.grad = torch.ones(3), torch.ones(2)
    opt.step()
    assert int(opt.state[b]["step"]) == 1 and int(opt.state[a]["step"]) == 2
    assert sync_optimizer(opt, [b]) and a not in opt.state


def test_a_growing_model_is_refused_under_torchrun_with_one_line():
    from ganzoo.training.distributed import World
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.schedule import ModelSchedule

    world = World(rank=0, world_size=2, local_rank=0, distributed=True)
    with pytest.raises(ConfigError, match="train it in one process"):
        ModelSchedule(tiny_model(), TrainOptions(batch_size=8), 100, world)
    plain = ganzoo.create_model("dcgan", preset="tiny")  # no schedule: nothing to refuse
    assert not ModelSchedule(plain, TrainOptions(batch_size=8), 100, world).active
