"""MSG-GAN plugin: pyramids in and out, gradients at every scale, combine functions, saving,
the scales grid. Tiny widths so every test runs in well under a second on a CPU."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganzoo
from ganzoo.errors import ConfigError
from ganzoo.serialization import load_model_files

TINY = {"latent_dim": 16, "fmap_base": 128, "fmap_max": 16, "fmap_min": 4}

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides):
    return ganzoo.create_model("msggan", **{**TINY, **overrides})


def box_downsample(images: torch.Tensor, side: int) -> torch.Tensor:
    """Mean over each f×f block, written without pooling ops, as an independent reference."""
    n, c, h, _ = images.shape
    f = h // side
    return images.reshape(n, c, side, f, side, f).mean(dim=(3, 5))


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
def test_generator_emits_every_scale_and_discriminator_scores_them(size):
    model = tiny(image_size=size, channels=3)
    z = torch.randn(2, 16)
    pyramid = model.generator(z)
    sides = [4 * 2**i for i in range(len(pyramid))]
    assert sides[-1] == size
    assert [tuple(x.shape) for x in pyramid] == [(2, 3, s, s) for s in sides]
    logits = model.discriminator(pyramid)
    assert logits.shape == (2,)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("combine", ["simple", "lin_cat", "cat_lin"])
def test_discriminator_gets_gradient_at_every_scale(combine):
    model = tiny(image_size=32, combine=combine)
    pyramid = [x.detach().requires_grad_(True) for x in model.generator(torch.randn(3, 16))]
    model.discriminator(pyramid).sum().backward()
    for x in pyramid:
        assert x.grad is not None, f"no gradient at {x.shape[-1]}×{x.shape[-1]}"
        assert x.grad.abs().sum() > 0, f"zero gradient at {x.shape[-1]}×{x.shape[-1]}"


def test_every_to_rgb_of_the_generator_learns_from_the_discriminator():
    """The point of MSG-GAN: D's loss reaches each intermediate block's image directly."""
    model = tiny(image_size=32)
    model.discriminator(model.generator(torch.randn(3, 16))).sum().backward()
    for i, to_rgb in enumerate(model.generator.to_rgb):
        assert to_rgb.weight.grad is not None and to_rgb.weight.grad.abs().sum() > 0, i


def test_real_pyramid_is_average_pooling():
    model = tiny(image_size=64, channels=3)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    pyramid = model.prepare_real(images)
    assert [x.shape[-1] for x in pyramid] == [4, 8, 16, 32, 64]
    assert torch.equal(pyramid[-1], images)
    for x in pyramid:
        torch.testing.assert_close(x, box_downsample(images, x.shape[-1]))
        assert x.device == images.device and x.dtype == images.dtype


def test_discriminator_builds_the_same_pyramid_from_one_full_size_batch():
    model = tiny(image_size=32)
    images = torch.rand(4, 1, 32, 32) * 2 - 1
    by_tensor = model.discriminator(images)
    by_pyramid = model.discriminator(model.prepare_real(images))
    torch.testing.assert_close(by_tensor, by_pyramid)


def test_discriminator_refuses_a_pyramid_of_the_wrong_shape():
    model = tiny(image_size=32)
    pyramid = model.generator(torch.randn(2, 16))
    with pytest.raises(ValueError, match="4 scales"):
        model.discriminator(pyramid[1:])
    with pytest.raises(ValueError, match="16×16"):
        model.discriminator([*pyramid[:2], pyramid[3], pyramid[3]])
    with pytest.raises(ValueError, match="side 32"):
        model.prepare_real(torch.zeros(2, 1, 16, 16))


@pytest.mark.parametrize("batch", [1, 3, 5, 6])
def test_minibatch_std_works_for_any_batch_size(batch):
    model = tiny(image_size=16)
    logits = model.discriminator(model.generator(torch.randn(batch, 16)))
    assert logits.shape == (batch,) and torch.isfinite(logits).all()


def test_minibatch_std_measures_the_spread_of_the_batch():
    from ganzoo_msggan.layers import MinibatchStd

    layer = MinibatchStd(4)
    same = torch.randn(1, 2, 4, 4).expand(4, -1, -1, -1)
    varied = torch.randn(4, 2, 4, 4)
    assert layer(same).shape == (4, 3, 4, 4)
    assert layer(same)[:, -1].max() < 1e-3
    assert layer(varied)[:, -1].min() > 0.1


def test_equalised_layers_keep_unit_weights_and_stable_activations():
    """Weights are stored N(0, 1) whatever the fan-in; the run-time scale keeps outputs O(1)."""
    from ganzoo_msggan.layers import EqualConv2d

    torch.manual_seed(0)
    for fan_in in (4, 256):
        conv = EqualConv2d(fan_in, 64, 3)
        assert 0.9 < conv.weight.std().item() < 1.1
        out = conv(torch.randn(8, fan_in, 8, 8))
        assert 0.7 < out.std().item() < 2.5


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    from ganzoo_msggan.layers import PixelNorm

    x = torch.randn(2, 8, 4, 4) * torch.rand(2, 1, 4, 4) * 10
    torch.testing.assert_close(
        PixelNorm()(x).square().mean(dim=1), torch.ones(2, 4, 4), rtol=1e-4, atol=1e-4
    )


def test_rgb_init_scales_the_first_images_but_not_the_learning_rate():
    """rgb_init=0.1 starts G from near-grey images: the same network and latents give exactly a
    tenth of the rgb_init=1 (paper) images, while the equalised run-time scale is unchanged."""
    z = torch.randn(3, 16)
    torch.manual_seed(0)
    quiet = tiny(image_size=16, channels=3).generator
    torch.manual_seed(0)
    loud = tiny(image_size=16, channels=3, rgb_init=1.0).generator
    for q, lo in zip(quiet(z), loud(z), strict=True):
        torch.testing.assert_close(q, 0.1 * lo)
    assert [t.scale for t in quiet.to_rgb] == [t.scale for t in loud.to_rgb]
    assert ganzoo.model_config("msggan", preset="paper").rgb_init == 1.0


def test_combine_functions_differ_in_width_and_unknown_one_is_a_config_error():
    widths = {}
    for combine in ("simple", "lin_cat", "cat_lin"):
        d = tiny(image_size=16, combine=combine).discriminator
        widths[combine] = [m.out_channels for m in d.combines]
    assert widths["simple"] == [w + 1 for w in widths["cat_lin"]]
    assert widths["lin_cat"] == [w + w // 2 for w in widths["cat_lin"]]
    with pytest.raises(ConfigError, match="combine"):
        tiny(combine="concat")


def test_scales_grid_has_one_column_per_resolution(tmp_path):
    from ganzoo_msggan.sampling import save_scales_grid, scale_images, scales_grid

    model = tiny(image_size=32)
    n = 3
    grid = scales_grid(model, n, seed=7)
    k = len(model.resolutions)
    assert k == 4
    assert grid.shape == (n * k, 1, 32, 32)
    assert grid.min() >= -1 and grid.max() <= 1
    pyramid = scale_images(model, n, seed=7)
    rows = grid.reshape(n, k, 1, 32, 32)
    for col, level in enumerate(pyramid):
        side = level.shape[-1]
        # every column is its own resolution, enlarged: pooling it back gives that scale
        torch.testing.assert_close(box_downsample(rows[:, col], side), level)
        if side < 32:  # nearest upsampling: constant over each block
            assert torch.equal(rows[:, col], F.interpolate(level, size=32, mode="nearest"))
    torch.testing.assert_close(rows[:, -1], model.sample(n, seed=7))

    path = save_scales_grid(model, tmp_path / "scales.png", n=n, seed=7)
    with Image.open(path) as png:
        width, height = png.size
    assert width / height == pytest.approx(k / n, rel=0.05)


def test_scales_view_for_the_sample_command_tiles_one_column_per_scale():
    """``ganzoo sample RUN --scales`` calls ``model.views()["scales"]`` and tiles the grid
    ``nrow`` images per row."""
    model = tiny(image_size=16)
    model.enable_ema()
    grid = model.views()["scales"](n=2, seed=0, ema=True)
    assert grid.nrow == len(model.resolutions) == 3
    assert grid.images.shape == (2 * 3, 1, 16, 16)
    with pytest.raises(ConfigError, match="truncation"):
        model.views()["scales"](n=2, seed=0, ema=True, truncation=0.5)


def test_scales_grid_needs_a_multi_scale_generator():
    from ganzoo_msggan.sampling import scales_grid

    dcgan = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8)
    with pytest.raises(ConfigError, match="multi-scale"):
        scales_grid(dcgan, 2)


# -- through the shared trainer ---------------------------------------------------------------
TRAIN = {
    **TINY,
    "image_size": 16,
    "steps": 3,
    "batch_size": 8,
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
    "n_samples": 4,
    "progress": False,
    "device": "cpu",
}


def train_tiny(run_dir, **options):
    from ganzoo.training.run import execute, plan_new_run

    plan = plan_new_run("msggan", data="digits", layers=[{**TRAIN, **options}], out=run_dir)
    return plan, execute(plan)


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp", "lsgan", "rahinge"])
def test_each_loss_trains_a_few_finite_steps_with_the_shared_trainer(tmp_path, loss):
    import json

    from ganzoo.training.checkpoint import latest_checkpoint

    plan, _ = train_tiny(tmp_path / "run", loss=loss)
    assert plan.options.loss == loss
    records = [
        json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in records] == [1, 2, 3]
    for record in records:
        for key in ("d_loss", "g_loss"):
            assert torch.isfinite(torch.tensor(record[key])), (key, record)
    if loss == "wgan-gp":  # the penalty ran, over the pyramid D takes
        assert all(r["gp"] > 0 for r in records)
    trained = load_model_files(latest_checkpoint(tmp_path / "run"))
    assert trained.generator_ema is not None  # the paper's EMA is on by default
    torch.manual_seed(plan.options.seed)
    initial = ganzoo.create_model("msggan", **{k: TRAIN[k] for k in (*TINY, "image_size")})
    for net in ("generator", "discriminator"):
        before = torch.cat([p.flatten() for p in getattr(initial, net).parameters()])
        after = torch.cat([p.flatten() for p in getattr(trained, net).parameters()])
        assert torch.isfinite(after).all()
        assert not torch.allclose(before, after), f"{net} did not train"


def test_r1_penalty_trains_with_pyramids(tmp_path):
    _, final = train_tiny(tmp_path / "run", r1_gamma=1.0, steps=2)
    assert final["r1"] > 0 and torch.isfinite(torch.tensor(final["r1"]))


def test_gradient_penalty_is_taken_over_every_scale():
    """WGAN-GP interpolates each scale with one alpha per sample and takes the gradient norm
    over all scales together (the official MSG-GAN code penalised only part of the input)."""
    from ganzoo.training.losses import gradient_penalty

    model = tiny(image_size=16)
    d = model.discriminator
    real = model.prepare_real(torch.rand(4, 1, 16, 16) * 2 - 1)
    fake = [x.detach() for x in model.generator(torch.randn(4, 16))]
    torch.manual_seed(0)
    gp = gradient_penalty(d, real, fake)

    torch.manual_seed(0)
    alpha = torch.rand(4, 1, 1, 1)
    mixed = [
        (alpha * r + (1 - alpha) * f).requires_grad_(True) for r, f in zip(real, fake, strict=True)
    ]
    grads = torch.autograd.grad(d(mixed).sum(), mixed)
    per_scale = torch.stack([g.flatten(1).square().sum(1) for g in grads])  # scales × N
    assert (per_scale.sum(1) > 0).all()  # every scale contributes to the norm
    expected = ((per_scale.sum(0).sqrt() - 1) ** 2).mean()
    finest_only = ((per_scale[-1].sqrt() - 1) ** 2).mean()
    torch.testing.assert_close(gp, expected, rtol=1e-4, atol=1e-6)
    assert not torch.isclose(gp, finest_only)


def test_sample_scales_command_writes_one_column_per_resolution(tmp_path):
    """The user's path: ``ganzoo sample RUN --scales`` on a trained run."""
    from click.testing import CliRunner

    from ganzoo.cli.main import cli

    train_tiny(tmp_path / "run", steps=1)
    out = tmp_path / "scales.png"
    result = CliRunner().invoke(
        cli, ["sample", str(tmp_path / "run"), "--scales", "--n", "5", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(out) as png:
        width, height = png.size
    assert width / height == pytest.approx(3 / 5, rel=0.05)  # 4, 8, 16 px: 3 columns, 5 rows
