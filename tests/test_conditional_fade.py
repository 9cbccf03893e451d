"""Conditional StyleGAN-lite's class fade-in (transitional conditioning, Shahbazi et al. 2022):
unconditional at first, then the class input rises to full weight; exact across a resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.training import run
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.distributed import World

TINY_SG = {"image_size": 16, "latent_dim": 16, "w_dim": 16, "mapping_layers": 2,
           "g_channel_base": 128, "d_channel_base": 128, "max_width": 16}  # fmt: skip


def test_while_the_class_weight_is_zero_the_networks_ignore_the_labels():
    from ganzoo_stylegan_lite.conditioning import set_class_weight

    torch.manual_seed(0)
    model = ganzoo.create_model("stylegan_lite", conditional=True, num_classes=3, **TINY_SG)
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    a, b = torch.zeros(4, dtype=torch.long), torch.full((4,), 2)
    model.eval()
    set_class_weight(model, 0.0)  # the unconditional phase
    assert torch.equal(model.sample(4, seed=1, labels=0), model.sample(4, seed=1, labels=2))
    assert torch.equal(model.discriminator(images, a), model.discriminator(images, b))
    set_class_weight(model, 1.0)  # fully conditional, as built for sampling
    assert not torch.allclose(model.sample(4, seed=1, labels=0), model.sample(4, seed=1, labels=2))
    assert not torch.allclose(model.discriminator(images, a), model.discriminator(images, b))


def plan(out, steps):
    # batch 4: unconditional for 2 steps (8 images), then the class fades in over 4 steps
    layers = [{**TINY_SG, "batch_size": 4, "progress": False, "n_samples": 4, "log_every": 1,
               "conditional": True, "cond_start_images": 8, "cond_fade_images": 16,
               "steps": steps, "checkpoint_every": 0}]  # fmt: skip
    return run.plan_new_run("stylegan_lite", data="digits", layers=layers, out=out)


def test_the_class_fades_in_and_a_resume_mid_fade_is_exact(tmp_path):
    run.execute(plan(tmp_path / "a", 8))
    run.execute(plan(tmp_path / "b", 4))  # stops mid-fade
    mid = load_file(str(latest_checkpoint(tmp_path / "b") / "generator.safetensors"))
    assert 0.0 < float(mid["mapping_net.cond_weight"]) < 1.0  # saved with the weight it had
    run.execute(run.plan_resume(tmp_path / "b", {"steps": 8}))

    rows = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").open()]
    weights = [r["cond_weight"] for r in rows if "cond_weight" in r]
    assert weights[0] == 0.0 and weights[-1] == 1.0 and weights == sorted(weights)
    assert any(0.0 < w < 1.0 for w in weights)
    for name in ("generator", "generator_ema", "discriminator"):
        a = load_file(str(latest_checkpoint(tmp_path / "a") / f"{name}.safetensors"))
        b = load_file(str(latest_checkpoint(tmp_path / "b") / f"{name}.safetensors"))
        assert a.keys() == b.keys() and float(a[next(k for k in a if "cond_weight" in k)]) == 1.0
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_conditional_from_the_first_step_has_no_schedule():
    from ganzoo.training.schedule import ScheduleContext

    model = ganzoo.create_model(
        "stylegan_lite", conditional=True, num_classes=3,
        cond_start_images=0, cond_fade_images=0, **TINY_SG,
    )  # fmt: skip
    assert model.training_schedule(0, ScheduleContext(4, 100)) is None
    plain = ganzoo.create_model("stylegan_lite", **TINY_SG)
    assert plain.training_schedule(0, ScheduleContext(4, 100)) is None
    assert not any("cond_weight" in k for k in plain.generator.state_dict())


def test_the_fade_is_an_in_place_schedule_that_cuda_graphs_and_torchrun_can_follow():
    """The fade only fills buffers, so the fast path captures it (graphs read the buffers at
    their addresses) and torchrun may train it; ProGAN, which grows, stays eager."""
    from ganzoo.training.graphs import capture_blocker
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.schedule import ModelSchedule

    gpu, opts = torch.device("cuda"), TrainOptions(batch_size=4)
    kw = {"distributed": False, "scheduled": True}
    cond = ganzoo.create_model("stylegan_lite", conditional=True, num_classes=3, **TINY_SG)
    assert type(cond).schedule_in_place and capture_blocker(cond, opts, gpu, **kw) is None
    grows = ganzoo.create_model("progan", preset="tiny")
    assert "training schedule" in capture_blocker(grows, opts, gpu, **kw)

    class CutsTheBatch(type(cond)):  # declares in place, yet asks for a smaller batch
        def training_schedule(self, step, context):
            from ganzoo.training.schedule import TrainingPhase

            return TrainingPhase("half", batch_size=context.batch_size // 2)

    liar = CutsTheBatch(cond.generator, cond.discriminator, num_classes=3)
    with pytest.raises(ganzoo.ConfigError, match="schedule_in_place"):
        ModelSchedule(liar, opts, 100, World()).begin(0)
