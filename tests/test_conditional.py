"""Class-conditional GANs: labels from the data to the networks, sampling a class, the errors."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganzoo
from ganzoo.data import ImageSet
from ganzoo.errors import ConfigError
from ganzoo.training import run
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.losses import BCE, HINGE, LSGAN, RAHINGE, WGAN_GP
from ganzoo.training.options import TrainOptions
from ganzoo.training.step import StepConfig, train_step
from ganzoo.training.trainer import AdversarialTrainer

from .cli_checks import TINY, ganzoo_cli, ok, one_line_error

TINY_COND = {"image_size": 16, "g_width": 8, "d_width": 8, "latent_dim": 16}


def tiny_cdcgan(num_classes: int = 10):
    torch.manual_seed(0)
    return ganzoo.create_model("dcgan", conditional=True, num_classes=num_classes, **TINY_COND)


def halves(n: int = 256) -> ImageSet:
    """Two trivially separable classes: class 0 bright on the left, class 1 on the right."""
    y = torch.arange(n) % 2
    x = -torch.ones(n, 1, 16, 16)
    x[y == 0, :, :, :8] = 1
    x[y == 1, :, :, 8:] = 1
    x += 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return ImageSet(x.clamp(-1, 1), y, "halves")


def bright_side(images: torch.Tensor) -> torch.Tensor:
    """The class a sample of :func:`halves` looks like: 1 when its right half is brighter."""
    return (images[..., 8:].mean((1, 2, 3)) > images[..., :8].mean((1, 2, 3))).long()


def test_a_conditional_model_learns_to_draw_the_class_it_is_asked_for(tmp_path):
    model = tiny_cdcgan(2)
    options = TrainOptions(
        steps=150,
        batch_size=32,
        lr_g=1e-3,
        lr_d=1e-3,
        sample_every=0,
        checkpoint_every=0,
        progress=False,
        device="cpu",
        log_every=50,
    )
    AdversarialTrainer().fit(model, halves(), options, tmp_path)
    for c in (0, 1):
        accuracy = (bright_side(model.sample(64, labels=c)) == c).float().mean().item()
        assert accuracy >= 0.9, (c, accuracy)  # chance is 0.5
    # the training grid has one class per row
    assert Image.open(tmp_path / "samples" / "step-000150.png").size[0] > 0


@pytest.mark.parametrize("loss", [BCE, HINGE, WGAN_GP, LSGAN, RAHINGE], ids=lambda x: x.name)
def test_every_loss_and_penalty_takes_labels(loss):
    model = tiny_cdcgan(3)
    opt_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    cfg = StepConfig(loss, 2, 10.0 if loss is WGAN_GP else 0.0, 1.0, 1, 1, None, torch.no_grad)
    cfg.autocast = __import__("contextlib").nullcontext
    real = torch.rand(16, 1, 16, 16) * 2 - 1
    real_y, fake_y = torch.arange(16) % 3, torch.arange(8) % 3
    d_embed = model.discriminator.embed.weight.clone()
    g_embed = model.generator.embed.weight.clone()
    stats = train_step(
        model, real, model.sample_latent(8), opt_g, opt_d, cfg, 0, None, None, real_y, fake_y
    )
    assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert "r1" in stats and ("gp" in stats) == (loss is WGAN_GP)
    # both class embeddings are trained by the adversarial game
    assert not torch.equal(d_embed, model.discriminator.embed.weight)
    assert not torch.equal(g_embed, model.generator.embed.weight)


def test_conditional_output_depends_on_the_labels_and_wrong_labels_are_refused():
    model = tiny_cdcgan(10)
    a, b = model.sample(4, seed=1, labels=3), model.sample(4, seed=1, labels=5)
    assert not torch.allclose(a, b)
    assert torch.equal(a, model.sample(4, seed=1, labels=torch.tensor([3, 3, 3, 3])))
    for bad, words in [(10, "out of range"), (-1, "out of range"), (2.5, "not an integer")]:
        with pytest.raises(ConfigError, match=words) as err:
            model.sample(2, labels=bad)
        assert "0-9" in str(err.value)
    with pytest.raises(ConfigError, match="3 class labels for 2 images"):
        model.sample(2, labels=[1, 2, 3])
    with pytest.raises(ConfigError, match="unconditional"):
        ganzoo.create_model("dcgan", **TINY_COND).sample(2, labels=1)
    with pytest.raises(ConfigError, match="num_classes"):
        ganzoo.create_model("dcgan", conditional=True, **TINY_COND)


def test_save_and_load_keep_the_classes(tmp_path):
    model = ganzoo.create_model(
        "dcgan", conditional=True, num_classes=2, class_names=("cat", "dog"), **TINY_COND
    )
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["num_classes"] == 2 and config["class_names"] == ["cat", "dog"]
    card = (tmp_path / "m" / "README.md").read_text()
    assert "class-conditional" in card and "labels=1" in card and "--class 0-1" in card
    assert "unconditional-image-generation" not in card
    loaded = ganzoo.from_pretrained(tmp_path / "m")
    assert loaded.num_classes == 2 and loaded.class_names == ["cat", "dog"]
    assert torch.equal(model.sample(2, labels=1), loaded.sample(2, labels=1))


def conditional_run(out, steps, *extra):
    cond = ["--set", "conditional=true"]
    return ganzoo_cli("train", "dcgan", "--out", out, "--steps", steps, *TINY, *cond, *extra)


def test_cli_trains_and_samples_a_class(tmp_path):
    ok(conditional_run(tmp_path / "r", 2))
    saved = json.loads((tmp_path / "r" / "config.json").read_text())["model"]
    assert saved["num_classes"] == 10 and saved["class_names"] == [str(i) for i in range(10)]
    ok(ganzoo_cli("sample", tmp_path / "r", "--class", "7", "--n", "4", "-o", tmp_path / "7.png"))
    result = ganzoo_cli("sample", tmp_path / "r", "--class", "0-9", "-o", tmp_path / "all.png")
    ok(result)
    width, height = Image.open(tmp_path / "all.png").size
    assert height > width  # ten rows of eight
    ok(ganzoo_cli("sample", tmp_path / "r", "--class", "7", "--interpolate", "--n", "2",
                  "--frames", "2", "-o", tmp_path / "walk.gif"))  # fmt: skip
    for bad in ["10", "x", "1.5", "9-3"]:
        one_line_error(
            ganzoo_cli("sample", tmp_path / "r", "--class", bad, "-o", tmp_path / "b.png"),
            "valid classes: 0-9",
        )


def test_cli_errors_for_unconditional_and_unlabelled(tmp_path, tiny_dcgan):
    tiny_dcgan.save_pretrained(tmp_path / "u")
    one_line_error(ganzoo_cli("sample", tmp_path / "u", "--class", "1"), "unconditional")
    one_line_error(
        conditional_run(tmp_path / "r", 2, "--data", "photos"), "conditional=true", "labels"
    )


def test_conditional_resume_is_exact(tmp_path):
    def plan(out, steps):
        layers = [{**TINY_COND, "batch_size": 8, "progress": False, "n_samples": 4,
                   "conditional": True, "steps": steps, "checkpoint_every": 0}]  # fmt: skip
        return run.plan_new_run("dcgan", data="digits", layers=layers, out=out)

    run.execute(plan(tmp_path / "a", 8))
    run.execute(plan(tmp_path / "b", 4))
    run.execute(run.plan_resume(tmp_path / "b", {"steps": 8}))
    for name in ("generator", "discriminator"):
        a = load_file(str(latest_checkpoint(tmp_path / "a") / f"{name}.safetensors"))
        b = load_file(str(latest_checkpoint(tmp_path / "b") / f"{name}.safetensors"))
        assert a.keys() == b.keys() and "embed.weight" in a
        assert all(torch.equal(a[k], b[k]) for k in a), name


class DigitPicker(torch.nn.Module):
    """A "generator" that returns real digits of the requested class (a perfect conditional
    model), chosen by the latent."""

    def __init__(self, data: ImageSet) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = 4, tuple(data.images.shape[1:])
        self.by_class = [data.images[data.labels == c] for c in range(10)]
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, labels):
        picks = [
            self.by_class[int(y)][int(abs(float(v)) * 1e4) % len(self.by_class[int(y)])]
            for v, y in zip(z[:, 0], labels, strict=True)
        ]
        return torch.stack(picks)


class Critic(torch.nn.Module):
    def forward(self, images, labels):
        return images.flatten(1).mean(1)


def test_eval_scores_class_accuracy_and_per_class_fd():
    from ganzoo.data import load_dataset
    from ganzoo.metrics import Evaluator
    from ganzoo.metrics.report import format_report
    from ganzoo.models import GANModel

    data = load_dataset("digits", 32, 1)
    evaluator = Evaluator(data)
    perfect = GANModel(DigitPicker(data), Critic(), num_classes=10)
    scores = evaluator.score_model(perfect)
    assert scores["class_accuracy"] > 0.9 and len(scores["class_fd"]) == 10
    shuffled = GANModel(DigitPicker(data), Critic(), num_classes=10)
    shuffled.generator.by_class = shuffled.generator.by_class[1:] + shuffled.generator.by_class[:1]
    wrong = evaluator.score_model(shuffled)  # every class drawn as the next one
    assert wrong["class_accuracy"] < 0.2
    assert wrong["class_fd_mean"] > 2 * scores["class_fd_mean"]
    text = format_report(evaluator.report(scores))
    assert "class accuracy" in text and "per-class FD" in text
    unconditional = evaluator.score_model(ganzoo.create_model("dcgan", image_size=32))
    assert "class_accuracy" not in unconditional


def test_conditional_stylegan_lite_takes_labels_in_every_term():
    torch.manual_seed(0)
    model = ganzoo.create_model(
        "stylegan_lite",
        conditional=True,
        num_classes=3,
        image_size=16,
        latent_dim=16,
        w_dim=16,
        g_channel_base=64,
        d_channel_base=64,
        max_width=16,
        path_length_weight=2.0,
    )
    a, b = model.sample(4, seed=1, labels=0), model.sample(4, seed=1, labels=2)
    assert not torch.allclose(a, b)
    opt_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    import contextlib

    cfg = StepConfig(WGAN_GP, 1, 10.0, 1.0, 1, 1, None, contextlib.nullcontext)
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    y = torch.arange(8) % 3
    before = model.generator.mapping_net.embed.weight.clone()
    stats = train_step(model, real, model.sample_latent(8), opt_g, opt_d, cfg, 0, None, None, y, y)
    assert {"r1", "gp", "g_penalty"} <= set(stats)
    assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert not torch.equal(before, model.generator.mapping_net.embed.weight)


@pytest.mark.parametrize("arch", ["dcgan", "stylegan_lite", "msggan"])
def test_the_conformance_kit_checks_conditional_models(arch, tmp_path):
    from ganzoo.testing import check_model

    report = check_model(
        arch,
        only=["forward", "backward", "sample", "save_load", "train"],
        conditional=True,
        num_classes=10,
        workdir=tmp_path,
        train_steps=2,
    )
    assert "sample" in report.passed and report.ok


def test_the_kit_catches_a_generator_that_ignores_its_labels(tmp_path):
    model = tiny_cdcgan(10)
    with torch.no_grad():
        model.generator.embed.weight.zero_()  # every class embedded alike: labels ignored
    from ganzoo.testing import gan_checks
    from ganzoo.testing.report import CheckFailed
    from ganzoo.testing.runner import Subject

    subject = Subject("dcgan", overrides={"conditional": True, "num_classes": 10}, workdir=tmp_path)
    subject._model = model
    with pytest.raises(CheckFailed, match="ignores its labels"):
        gan_checks.check_conditional(subject)


def test_eval_every_and_dataset_label_frequencies_work_for_a_conditional_run(tmp_path):
    layers = [{**TINY_COND, "batch_size": 8, "progress": False, "n_samples": 4, "steps": 2,
               "conditional": True, "label_dist": "dataset", "eval_every": 2, "eval_n": 40,
               "log_every": 1}]  # fmt: skip
    run.execute(run.plan_new_run("dcgan", data="digits", layers=layers, out=tmp_path / "r"))
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").open()]
    scored = [r for r in rows if "eval_class_accuracy" in r]
    assert scored and 0.0 <= scored[-1]["eval_class_accuracy"] <= 1.0
    assert "eval_class_fd_mean" in scored[-1]


def test_info_shows_the_classes_of_runs_and_saved_folders(tmp_path, tiny_dcgan):
    model = ganzoo.create_model(
        "dcgan", conditional=True, num_classes=2, class_names=("cat", "dog"), **TINY_COND
    )
    model.save_pretrained(tmp_path / "m")
    result = ganzoo_cli("info", tmp_path / "m")
    ok(result)
    assert "model folder" in result.output and "model:    dcgan" in result.output
    assert "class-conditional, 2 classes: 0 = cat, 1 = dog" in result.output
    data = json.loads(ganzoo_cli("info", tmp_path / "m", "--json").output)
    assert data["conditional"] is True and data["class_names"] == ["cat", "dog"]

    ok(conditional_run(tmp_path / "r", 2))
    result = ganzoo_cli("info", tmp_path / "r")
    ok(result)
    assert "a ganzoo run" in result.output and "step 2 of 2" in result.output
    assert "class-conditional, 10 classes: 0, 1, 2" in result.output
    checkpoint = latest_checkpoint(tmp_path / "r")
    assert "10 classes" in ganzoo_cli("info", checkpoint).output

    tiny_dcgan.save_pretrained(tmp_path / "u")
    assert "unconditional" in ganzoo_cli("info", tmp_path / "u").output
    (tmp_path / "empty").mkdir()
    one_line_error(ganzoo_cli("info", tmp_path / "empty"), "not a ganzoo run")


def halves_parquet(path, n: int = 256):
    """:func:`halves` as a parquet file of PNGs with a ClassLabel column ("left", "right")."""
    import datasets

    data = halves(n)
    pixels = ((data.images[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    features = datasets.Features(
        {"image": datasets.Image(), "side": datasets.ClassLabel(names=["left", "right"])}
    )
    images = [Image.fromarray(p, mode="L") for p in pixels]
    ds = datasets.Dataset.from_dict(
        {"image": images, "side": data.labels.tolist()}, features=features
    )
    ds.to_parquet(str(path))
    return path


@pytest.mark.slow  # 150 streamed steps: about 30 s on two quiet cores
def test_a_streamed_labelled_dataset_trains_a_conditional_model(tmp_path, data_caches):
    source = halves_parquet(tmp_path / "halves.parquet")
    out = tmp_path / "run"
    stream = ["--set", "data_streaming=true", "--set", "conditional=true"]
    args = ["train", "dcgan", "--data", source, "--out", out, "--steps", 150, "--quiet"]
    args += ["--batch-size", 32, "--lr-g", 1e-3, "--lr-d", 1e-3, "--seed", 0, *stream]
    args += [f"--set={k}={v}" for k, v in TINY_COND.items()]
    ok(ganzoo_cli(*args))
    assert not data_caches.exists()  # streamed: nothing prepared
    model = ganzoo.from_pretrained(out)
    assert model.class_names == ["left", "right"]
    for c in (0, 1):  # the labels came with the streamed batches: each class is drawn
        accuracy = (bright_side(model.sample(64, labels=c)) == c).float().mean().item()
        assert accuracy >= 0.9, (c, accuracy)
    # a stream's class frequencies are not known up front
    tiny = [f"--set={k}={v}" for k, v in TINY_COND.items()]
    again = ["--steps", 1, *stream, "--set", "label_dist=dataset", *tiny]
    result = ganzoo_cli(*args[:5], tmp_path / "r2", *again)
    one_line_error(result, "label_dist=dataset", "stream")


def test_stylegan_views_draw_the_class_asked_for(tmp_path):
    from ganzoo_stylegan_lite.sampling import interpolate_w, mixing_grid

    torch.manual_seed(0)
    small = dict(image_size=16, latent_dim=16, w_dim=16, g_channel_base=64, d_channel_base=64)
    model = ganzoo.create_model("stylegan_lite", conditional=True, num_classes=3, **small)
    net = model.sampling_generator()
    # every source of a mixing grid asked for class 2 is what G draws for class 2
    grid = mixing_grid(model, 2, 2, seed=0, labels=2)
    rng = torch.Generator().manual_seed(0)
    z_rows = torch.randn(2, 16, generator=rng)
    with torch.no_grad():
        rows = net.synthesis(net.broadcast(net.mapping(z_rows, torch.full((2,), 2))))
    assert torch.allclose(grid[3], rows[0].clamp(-1, 1), atol=1e-5)  # row 0's source
    assert not torch.allclose(grid, mixing_grid(model, 2, 2, seed=0, labels=1))
    walk = interpolate_w(model, 3, 2, seed=0)  # row r walks within class r
    assert walk.shape[0] == 6 and not torch.allclose(walk, interpolate_w(model, 3, 2, labels=0))

    model.save_pretrained(tmp_path / "m")
    for view in (["--mix"], ["--view", "walk"]):
        ok(ganzoo_cli("sample", tmp_path / "m", *view, "--class", "1", "-o", tmp_path / "v.png"))
    result = ganzoo_cli(
        "sample", tmp_path / "m", "--mix", "--class", "0-2", "-o", tmp_path / "x.png"
    )
    assert result.exit_code == 2 and "one --class" in result.output
    one_line_error(
        ganzoo_cli("sample", tmp_path / "m", "--mix", "--class", "5", "-o", tmp_path / "y.png"),
        "valid classes: 0-2",
    )
