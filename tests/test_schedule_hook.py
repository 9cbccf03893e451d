"""The trainer's schedule hook with a model that adds parameters while it trains: the new ones
join the optimiser (the others keep their Adam state), each phase is checkpointed, and a run
resumed after the growth continues bit for bit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import ganzoo
from ganzoo.models import GANModel
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.run import execute, plan_new_run, plan_resume
from ganzoo.training.schedule import TrainingPhase

pytestmark = pytest.mark.usefixtures("one_thread")

GROW_AT = 3  #: the step at which G gains a layer


class SmallG(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = 8, (1, 4, 4)
        self.net = nn.Linear(8, 16)
        self.extra: nn.Linear | None = None

    def grow(self) -> None:
        """Add a layer, initialised from its own seed (the global random stream is the run's)."""
        layer = nn.Linear(16, 16)
        with torch.no_grad():
            g = torch.Generator().manual_seed(7)
            layer.weight.copy_(torch.randn(16, 16, generator=g) * 0.1)
            layer.bias.zero_()
        self.extra = layer.to(self.net.weight.device)

    def forward(self, z):
        x = self.net(z)
        if self.extra is not None:
            x = x + self.extra(x)
        x = x.view(-1, *self.image_shape)
        return x if self.training else x.clamp(-1, 1)


class SmallD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).flatten()


class GrowingGAN(GANModel):
    def training_schedule(self, step, context):
        if step >= GROW_AT and self.generator.extra is None:
            for g in (self.generator, self.generator_ema):
                if g is not None:
                    g.grow()
        return TrainingPhase("grown" if step >= GROW_AT else "small")


@dataclass
class ToyConfig(ganzoo.ModelConfig):
    image_size: int = ganzoo.param(4, "side")
    channels: int = ganzoo.param(1, "channels")


class ToyPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_models(self, registrar: ganzoo.Registrar) -> None:
        registrar.add_model(
            ganzoo.ModelSpec(
                name="growing_toy",
                kind=ganzoo.GAN,
                summary="a GAN whose generator gains a layer at step 3",
                config=ToyConfig,
                build=lambda config: GrowingGAN(SmallG(), SmallD()),
                recipe=ganzoo.TrainingRecipe(loss="hinge"),
            )
        )


OPTIONS = {"batch_size": 8, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
           "progress": False, "n_samples": 4, "lr_g": 1e-2, "ema": True}  # fmt: skip


def train(run_dir, steps):
    plan = plan_new_run(
        "growing_toy", data="digits", layers=[{**OPTIONS, "steps": steps}], out=run_dir
    )
    execute(plan)


def tensors(ckpt):
    return {f"{f.stem}/{k}": v for f in ckpt.glob("*.safetensors") for k, v in load_file(f).items()}


def test_added_parameters_train_and_resume_is_exact(fresh_registry, tmp_path):
    fresh_registry.add_plugin(ToyPlugin(), "toy")
    train(tmp_path / "a", 6)
    train(tmp_path / "b", 5)
    execute(plan_resume(tmp_path / "b", {"steps": 6}))
    a, b = tensors(latest_checkpoint(tmp_path / "a")), tensors(latest_checkpoint(tmp_path / "b"))
    assert a.keys() == b.keys() and [k for k in a if not torch.equal(a[k], b[k])] == []
    # the phase change wrote a checkpoint; before it G had no extra layer, after it G has one
    before = tensors(tmp_path / "a" / "checkpoints" / "step-000003")
    assert "generator/extra.weight" in before and "generator/extra.weight" in a
    # the layer trained (moved from its seeded start) and the EMA copy followed
    start = torch.randn(16, 16, generator=torch.Generator().manual_seed(7)) * 0.1
    assert torch.equal(before["generator/extra.weight"], start)
    assert not torch.equal(a["generator/extra.weight"], start)
    assert not torch.equal(a["generator_ema/extra.weight"], start)

    # Adam state for G: before the growth 2 tensors, after it 4 (the added weight and bias)
    def moments(t):
        return [k for k in t if k.startswith("training_state/optim.g.") and k.endswith(".exp_avg")]

    assert len(moments(a)) == len(moments(before)) + 2
