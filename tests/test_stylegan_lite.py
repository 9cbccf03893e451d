"""StyleGAN-lite: shapes, demodulation, truncation, style mixing, R1, save/load, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.serialization import load_model_files, save_model_files

# Narrow networks keep every test to a fraction of a second on a CPU.
TINY = {
    "g_channel_base": 256,
    "d_channel_base": 256,
    "max_width": 16,
    "latent_dim": 16,
    "w_dim": 16,
}

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides):
    torch.manual_seed(0)
    return ganzoo.create_model("stylegan_lite", **{**TINY, **overrides})


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(size, channels):
    model = tiny(image_size=size, channels=channels)
    g = model.generator
    z = torch.randn(3, g.latent_dim)
    images, ws = g(z, return_w=True)
    assert images.shape == (3, channels, size, size)
    assert ws.shape == (3, g.num_ws, g.w_dim)
    assert g.num_ws == 2 * (size.bit_length() - 1) - 2
    logits = model.discriminator(images)
    assert logits.shape == (3,)
    assert torch.isfinite(images).all() and torch.isfinite(logits).all()
    (logits.sum()).backward()
    assert all(p.grad is not None for p in g.synthesis_net.parameters() if p.requires_grad)


def test_image_size_must_be_a_supported_power_of_two():
    with pytest.raises(ganzoo.ConfigError):
        ganzoo.create_model("stylegan_lite", image_size=48)
    with pytest.raises(ganzoo.ConfigError):
        ganzoo.create_model("stylegan_lite", mixing_prob=1.5)


def test_demodulated_weights_have_unit_norm_and_forward_uses_them():
    from ganzoo_stylegan_lite.layers import ModulatedConv2d

    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 7, 3, w_dim=6)
    w = torch.randn(4, 6) * 3
    weight = conv.modulated_weight(w)  # N×out×in×k×k
    norms = weight.square().sum(dim=(2, 3, 4)).sqrt()
    torch.testing.assert_close(norms, torch.ones(4, 7))
    # The fast forward pass equals a grouped convolution with exactly these kernels.
    x = torch.randn(4, 5, 8, 8)
    expected = F.conv2d(x.reshape(1, 20, 8, 8), weight.reshape(28, 5, 3, 3), padding=1, groups=4)
    torch.testing.assert_close(conv(x, w), expected.view(4, 7, 8, 8), rtol=1e-4, atol=1e-5)
    # Without demodulation the style's scale goes straight through.
    plain = ModulatedConv2d(5, 7, 3, w_dim=6, demodulate=False)
    assert not torch.allclose(plain.modulated_weight(w).square().sum(dim=(2, 3, 4)), norms)


def test_mean_w_is_tracked_in_training_mode_only():
    g = tiny().generator
    z = torch.randn(64, g.latent_dim)
    g.train()
    g(z)
    tracked = g.mean_w.clone()
    assert tracked.abs().sum() > 0
    g.eval()
    g(torch.randn(64, g.latent_dim))
    torch.testing.assert_close(g.mean_w, tracked)


def test_truncation_zero_gives_the_same_image_for_every_z():
    model = tiny()
    model.generator.train()
    model.generator(torch.randn(64, model.latent_dim))  # move mean_w away from zero
    full = model.sample(6, seed=1, ema=False)
    assert (full - full[:1]).abs().amax() > 1e-4  # different z, different images
    same = model.sample(6, seed=1, ema=False, truncation=0.0)
    torch.testing.assert_close(same, same[:1].expand_as(same))
    # and that image is the one of the mean w
    g = model.generator.eval()
    torch.testing.assert_close(same[0], g.synthesis(g.broadcast(g.mean_w[None]))[0].clamp(-1, 1))


def _record(module):
    out = {}
    module.register_forward_hook(lambda m, i, o: out.__setitem__("x", o.detach().clone()))
    return out


def test_mixing_uses_both_latents_in_the_matching_layers():
    g = tiny().generator.eval()
    syn = g.synthesis_net
    first_conv, last_conv = _record(syn.conv4), _record(syn.convs1[-1])
    k = g.num_ws // 2  # layers < k from the coarse latent, >= k from the fine one
    w_coarse, w_fine, w_other = g.mapping(torch.randn(6, g.latent_dim)).chunk(3)

    def run(coarse, fine):
        ws = torch.cat([g.broadcast(coarse)[:, :k], g.broadcast(fine)[:, k:]], dim=1)
        image = g.synthesis(ws)
        return image, first_conv["x"], last_conv["x"]

    base = run(w_coarse, w_fine)
    new_fine = run(w_coarse, w_other)
    new_coarse = run(w_other, w_fine)
    # Changing the fine latent leaves the 4×4 layer alone but changes the last layer and image.
    torch.testing.assert_close(new_fine[1], base[1])
    assert not torch.allclose(new_fine[2], base[2])
    assert not torch.allclose(new_fine[0], base[0])
    # Changing the coarse latent changes the 4×4 layer and the image.
    assert not torch.allclose(new_coarse[1], base[1])
    assert not torch.allclose(new_coarse[0], base[0])


def test_style_mixing_regularisation_in_training_mode_only():
    g = tiny(mixing_prob=1.0).generator
    z = torch.randn(8, g.latent_dim)
    g.train()
    _, ws = g(z, return_w=True)
    w = g.mapping(z)
    torch.testing.assert_close(ws[:, 0], w)  # layer 0 always takes the sample's own w
    switched = ~torch.isclose(ws[:, -1], w).all(dim=1)
    assert switched.all()  # with probability 1 every sample takes a second w at the end
    g.eval()
    _, ws = g(z, return_w=True)
    torch.testing.assert_close(ws, g.broadcast(w))


def test_mixing_grid_layout_and_extremes():
    from ganzoo_stylegan_lite.sampling import mixing_grid

    model = tiny()
    num_ws = model.generator.num_ws
    grid = mixing_grid(model, rows=2, cols=3, seed=5)
    assert grid.shape == (12, 1, 32, 32)
    assert grid.min() >= -1 and grid.max() <= 1
    cols, rows = grid[1:4], grid[[4, 8]]
    cells = torch.stack([grid[5:8], grid[9:12]])
    assert not torch.allclose(cells[0], cells[1])  # rows differ in their coarse styles
    # All layers from the row source: every cell is its row's image; none: its column's.
    all_rows = mixing_grid(model, rows=2, cols=3, seed=5, crossover=num_ws)
    torch.testing.assert_close(all_rows[[5, 6, 7]], rows[0:1].expand(3, -1, -1, -1))
    all_cols = mixing_grid(model, rows=2, cols=3, seed=5, crossover=0)
    torch.testing.assert_close(all_cols[[9, 10, 11]], cols)
    with pytest.raises(ganzoo.ConfigError):
        mixing_grid(model, crossover=num_ws + 1)


def test_interpolate_w_walks_between_two_images():
    from ganzoo_stylegan_lite.sampling import interpolate_w

    model = tiny()
    frames = interpolate_w(model, steps=9, rows=2, seed=2)
    assert frames.shape == (18, 1, 32, 32)
    row = frames[:9]
    steps = (row[1:] - row[:-1]).abs().mean(dim=(1, 2, 3))
    assert steps.max() < (row[-1] - row[0]).abs().mean()  # small steps, far endpoints
    torch.testing.assert_close(frames, interpolate_w(model, steps=9, rows=2, seed=2))


def test_views_for_ganzoo_sample():
    model = tiny()
    views = model.views()
    mix = views["mix"](n=4, seed=0, ema=None, truncation=0.7)
    assert mix.images.shape == (9, 1, 32, 32) and mix.nrow == 3
    torch.testing.assert_close(mix.images, views["mix"](n=4, seed=0, truncation=0.7).images)
    walk = views["walk"](n=10, seed=0)
    assert walk.images.shape == (16, 1, 32, 32) and walk.nrow == 8
    with pytest.raises(ganzoo.ConfigError):
        views["walk"](n=4, seed=0, scales=True)
    with pytest.raises(ganzoo.ConfigError, match="no EMA generator"):  # as sample(ema=True)
        views["mix"](n=4, seed=0, ema=True)


def test_ema_means_the_same_in_sample_and_in_views():
    """``ganzoo sample``'s default (--ema) is ``ema=None``: the moving average when there is
    one; --no-ema is ``ema=False``; the same for a view as for model.sample."""
    model = tiny().eval()
    model.enable_ema()
    with torch.no_grad():  # make the EMA copy differ from G, so a mix-up would show
        for p in model.generator_ema.parameters():
            p.add_(0.05)
    mix = model.views()["mix"]
    for ema in (None, True, False):
        net = model.sampling_generator(ema)
        assert (net is model.generator_ema) == (ema is not False)
        torch.testing.assert_close(mix(n=4, ema=ema).images, mix(n=4, ema=ema).images)
    assert not torch.equal(mix(n=4, ema=None).images, mix(n=4, ema=False).images)
    assert torch.equal(mix(n=4, ema=None).images, mix(n=4, ema=True).images)
    assert not torch.equal(model.sample(2, ema=None), model.sample(2, ema=False))


def test_cli_sample_mix_and_truncation(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from ganzoo.cli.main import cli

    model = tiny()
    model.enable_ema()
    save_model_files(model, tmp_path / "model")
    out = tmp_path / "mix.png"
    args = ["sample", str(tmp_path / "model"), "--mix", "--n", "9", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # 4×4 cells of 32 px (2 px padding), enlarged twice for viewing
    assert Image.open(out).size == (2 * (4 * 34 + 2), 2 * (4 * 34 + 2))
    grids = {}
    for label, flag in (("flag", ["--truncation", "0"]), ("arg", ["--arg", "truncation=0"])):
        out = tmp_path / f"{label}.png"
        args = ["sample", str(tmp_path / "model"), *flag, "--n", "4", "-o", str(out)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        grids[label] = Image.open(out).tobytes()
    plain = tmp_path / "plain.png"
    CliRunner().invoke(cli, ["sample", str(tmp_path / "model"), "--n", "4", "-o", str(plain)])
    # a generic generator argument reaches the model exactly as the named flag does
    assert grids["flag"] == grids["arg"] != Image.open(plain).tobytes()
    args = ["sample", str(tmp_path / "model"), "--arg", "truncaton=0", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "takes no 'truncaton'" in result.output
    assert "truncation" in result.output


def test_r1_penalty_matches_hand_computed_gradient():
    from ganzoo.training import losses

    # D(x) = <a, x> + c/2 |x|^2 has gradient a + c·x: R1 = mean_n |a + c x_n|^2.
    torch.manual_seed(0)
    a, c = torch.randn(1, 2, 3, 3), 0.7
    real = torch.randn(4, 2, 3, 3).requires_grad_(True)
    logits = (real * a).sum(dim=(1, 2, 3)) + 0.5 * c * real.square().sum(dim=(1, 2, 3))
    expected = (a + c * real.detach()).square().sum(dim=(1, 2, 3)).mean()
    penalty = losses.r1_penalty(logits, real)
    torch.testing.assert_close(penalty, expected)
    penalty.backward()  # differentiable: the trainer steps D on it
    assert real.grad is not None


def test_path_length_penalty_optional_and_differentiable():
    assert tiny().generator_penalty(torch.randn(4, 16)) is None
    model = tiny(path_length_weight=2.0)
    model.train()
    penalty = model.generator_penalty(torch.randn(4, model.latent_dim))
    assert penalty.dim() == 0 and torch.isfinite(penalty)
    penalty.backward()
    assert model.generator.synthesis_net.convs1[0].conv.weight.grad.abs().sum() > 0
    assert model.generator.path_length_mean > 0


def _d_loss(model, real, z):
    """The core's bce (non-saturating logistic) D loss on a fixed real batch and fixed z."""
    from ganzoo.plugins import get_registry

    g = model.generator
    was_training = g.training
    g.eval()  # fixed noise, no style mixing: the same z gives the same fakes
    try:
        with torch.no_grad():
            fake = g(z)
            loss = get_registry().losses.get("bce")
            return loss.d_loss(model.discriminator(real), model.discriminator(fake)).item()
    finally:
        g.train(was_training)


@pytest.mark.slow
def test_training_steps_through_shared_trainer_lower_d_loss(tmp_path):
    from ganzoo.api import build_from_config, get_spec
    from ganzoo.data import ImageSet, load_dataset
    from ganzoo.plugins import get_registry
    from ganzoo.training.run import resolve_options

    spec = get_spec("stylegan_lite")
    layer = {
        **TINY,
        "steps": 12,
        "batch_size": 8,
        "r1_every": 4,
        "device": "cpu",
        "progress": False,
        "sample_every": 0,
        "checkpoint_every": 0,
        "log_every": 4,
        "n_samples": 4,
    }
    config, options = resolve_options("stylegan_lite", None, [layer])
    # the StyleGAN2 recipe reaches the trainer from the spec, with no special case in the core
    assert tuple(options.betas_d) == (0.0, 0.99) and options.ema and options.r1_gamma > 0
    torch.manual_seed(0)
    model = build_from_config(spec, config)
    real = load_dataset("digits", 32, 1).images[:8]
    z = torch.randn(8, model.latent_dim)
    before = _d_loss(model, real, z)
    trainer = get_registry().trainers.get(spec.recipe.trainer)()
    trainer.fit(model, ImageSet(real, name="fixed"), options, tmp_path)
    after = _d_loss(model, real, z)
    assert after < before - 0.1, (before, after)
    # the trainer's EMA copies buffers, so truncation works on the EMA generator too
    torch.testing.assert_close(model.generator_ema.mean_w, model.generator.mean_w)
    assert model.generator.mean_w.abs().sum() > 0
    checkpoints = sorted((tmp_path / "checkpoints").glob("step-*"))
    loaded = load_model_files(checkpoints[-1])
    torch.testing.assert_close(loaded.sample(2, truncation=0.5), model.sample(2, truncation=0.5))
