"""The EMA generator of a BatchNorm GAN (DCGAN) samples with its own BatchNorm statistics: the
trained G's running statistics do not fit the average of G's weights (issue #16: DCGAN's EMA
scored FD 110.6 with them against its raw G's 47.9)."""

from __future__ import annotations

import copy

import pytest
import torch

import ganzoo
from ganzoo.training.ema import (
    BN_BATCH,
    BN_SAMPLES,
    BN_SEED,
    batchnorm_layers,
    recompute_batchnorm,
)

from .cli_checks import TINY, ganzoo_cli, ok

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_dcgan_with_ema(conditional: bool = False):
    torch.manual_seed(0)
    extra = {"conditional": True, "num_classes": 3} if conditional else {}
    model = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, **extra)
    ema = model.enable_ema()
    with torch.no_grad():  # an average unlike G, as after training
        for p in ema.parameters():
            p.mul_(1.5).add_(0.01)
    return model, ema


def first_bn_input_mean(model, net) -> torch.Tensor:
    """The per-channel mean of what the first BatchNorm layer sees over the same latents."""
    seen = []
    net = copy.deepcopy(net)  # its forward in train mode would move the statistics
    layer = batchnorm_layers(net)[0]
    handle = layer.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    gen = torch.Generator().manual_seed(BN_SEED)
    net.train()
    with torch.no_grad():  # batch by batch, as the latents and labels are drawn
        for _ in range(BN_SAMPLES // BN_BATCH):
            args = [model.sample_latent(BN_BATCH, generator=gen, device="cpu")]
            if model.conditional:
                args.append(model.sample_labels(BN_BATCH, generator=gen, device="cpu"))
            net(*args)
    handle.remove()
    return torch.cat(seen).mean((0, 2, 3))


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_recomputed_statistics_are_the_averaged_generators_own(conditional):
    model, ema = tiny_dcgan_with_ema(conditional)
    copied = batchnorm_layers(ema)[0].running_mean.clone()  # G's, as update_ema copies them
    rng = torch.get_rng_state()
    assert recompute_batchnorm(model, ema) is True
    assert torch.equal(torch.get_rng_state(), rng), "the caller's random state is untouched"
    assert not ema.training
    layer = batchnorm_layers(ema)[0]
    assert layer.momentum == 0.1  # restored
    own = first_bn_input_mean(model, ema)
    assert torch.allclose(layer.running_mean, own, atol=1e-5)
    assert not torch.allclose(layer.running_mean, copied, atol=1e-3)
    again = layer.running_mean.clone()
    recompute_batchnorm(model, ema)  # a function of the weights alone: the same again
    assert torch.equal(layer.running_mean, again)


def test_a_generator_without_batchnorm_is_left_alone():
    torch.manual_seed(0)
    model = ganzoo.create_model("stylegan_lite", preset="tiny")
    ema = model.enable_ema()
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    assert recompute_batchnorm(model, ema) is False
    assert all(torch.equal(before[k], v) for k, v in ema.state_dict().items())


def test_training_checkpoints_hold_the_emas_own_statistics(tmp_path):
    ok(ganzoo_cli("train", "dcgan", "--out", tmp_path / "r", "--steps", 4, *TINY,
                  "--set", "ema=true", "--set", "ema_decay=0.5"))  # fmt: skip
    model = ganzoo.from_pretrained(tmp_path / "r")
    ema_stats = batchnorm_layers(model.generator_ema)[0].running_mean.clone()
    g_stats = batchnorm_layers(model.generator)[0].running_mean
    assert not torch.allclose(ema_stats, g_stats, atol=1e-4), "not G's copied statistics"
    recompute_batchnorm(model, model.generator_ema)
    assert torch.allclose(batchnorm_layers(model.generator_ema)[0].running_mean, ema_stats)
