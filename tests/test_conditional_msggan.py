"""Class-conditional MSG-GAN: the class embedding joined to z, a projection D on the final
block, every scale drawn for the class asked for; the unconditional model is unchanged."""

from __future__ import annotations

import contextlib

import pytest
import torch

import ganzoo
from ganzoo.errors import ConfigError
from ganzoo.training.losses import RAHINGE
from ganzoo.training.step import StepConfig, train_step

TINY_MSG = {"image_size": 16, "latent_dim": 16, "fmap_base": 128, "fmap_max": 16, "fmap_min": 8}


def tiny(**extra):
    torch.manual_seed(0)
    return ganzoo.create_model("msggan", **TINY_MSG, **extra)


def test_both_networks_depend_on_the_labels_and_train_with_its_loss():
    model = tiny(conditional=True, num_classes=3)
    assert not torch.allclose(model.sample(4, seed=1, labels=0), model.sample(4, seed=1, labels=2))
    pyramid = model.generator(torch.randn(4, 16), torch.zeros(4, dtype=torch.long))
    assert [x.shape[-1] for x in pyramid] == [4, 8, 16]
    d = model.discriminator
    assert not torch.allclose(
        d(pyramid, torch.zeros(4, dtype=torch.long)), d(pyramid, torch.ones(4, dtype=torch.long))
    )

    opt_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    cfg = StepConfig(RAHINGE, 1, 0.0, 1.0, 1, 1, None, contextlib.nullcontext)
    y = torch.arange(8) % 3
    before = (model.generator.embed.weight.clone(), model.discriminator.embed.weight.clone())
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    stats = train_step(model, real, model.sample_latent(8), opt_g, opt_d, cfg, 0, None, None, y, y)
    assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert not torch.equal(before[0], model.generator.embed.weight)
    assert not torch.equal(before[1], model.discriminator.embed.weight)


def test_the_scales_view_draws_the_class_asked_for():
    model = tiny(conditional=True, num_classes=3)
    view = model.views()["scales"]
    sevens, zeros = view(n=2, seed=0, labels=2), view(n=2, seed=0, labels=0)
    assert sevens.images.shape == zeros.images.shape and not torch.equal(
        sevens.images, zeros.images
    )
    with pytest.raises(ConfigError, match="0-2"):
        view(n=2, seed=0, labels=5)
    with pytest.raises(ConfigError, match="unconditional"):
        tiny().views()["scales"](n=2, seed=0, labels=1)


def test_the_unconditional_model_keeps_its_weights_layout():
    names = set(tiny().state_dict())
    assert not any("embed" in n for n in names)
    conditional = set(tiny(conditional=True, num_classes=3).state_dict())
    assert {n for n in conditional if "embed" not in n} - {"generator.first.weight"} <= names
