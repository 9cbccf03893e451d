"""Tests of the example plugin: ganzoo's conformance kit, then what is particular to this model.

Run them after `pip install -e .` (the entry point must be installed for ganzoo to find the
plugin): `pytest`. `pytest --ganzoo-plugin mlpgan` runs the same kit as one test item per check.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.testing import check_model


def test_passes_the_ganzoo_conformance_kit(tmp_path):
    report = check_model("mlpgan", workdir=tmp_path)  # raises ConformanceError naming a failure
    assert "train" in report.passed and "save_load" in report.passed


def test_default_model_is_the_lessons_network():
    model = ganzoo.create_model("mlpgan")
    g, d = (
        [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]
        for net in (model.generator, model.discriminator)
    )
    assert g == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    assert d == [(784, 512), (512, 256), (256, 1)]
    assert any(isinstance(m, nn.BatchNorm1d) for m in model.generator.modules())
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    images = model.sample(3, seed=0)
    assert images.shape == (3, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1


def test_plugin_is_registered_under_its_entry_point():
    from ganzoo.plugins import get_host

    assert ganzoo.get_registry().plugin_of("mlpgan") == "mlpgan"
    # the host records the distribution the plugin came from (shown by `ganzoo plugins`)
    assert get_host().plugins["mlpgan"].distribution == "ganzoo-mlpgan"


def test_bad_config_is_a_one_line_error():
    with pytest.raises(ganzoo.ConfigError, match="g_hidden and d_hidden"):
        ganzoo.create_model("mlpgan", g_hidden=[])
    with pytest.raises(ganzoo.ConfigError, match="expects tuple"):
        ganzoo.create_model("mlpgan", d_hidden=256)


def test_config_changes_the_networks():
    torch.manual_seed(0)
    model = ganzoo.create_model("mlpgan", image_size=16, latent_dim=8, g_hidden=[32], d_hidden=[8])
    assert model.image_shape == (1, 16, 16) and model.latent_dim == 8
    assert model.discriminator(model.sample(2)).shape == (2,)
