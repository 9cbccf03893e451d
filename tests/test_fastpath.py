"""The fast path (ganzoo.training.graphs): the static-buffer step, its switches and fallbacks.

On the CPU the runner calls the step eagerly from its static buffers; these tests check that it
trains exactly what the plain step did, that every fast-path switch leaves CPU results
unchanged, and that a model that cannot be captured is told apart with its reason. The tests
marked ``gpu`` capture the step in CUDA graphs (benchmarks/gpu_check.sh runs them).
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.data import ImageSet
from ganzoo.training.ema import update_ema
from ganzoo.training.graphs import (
    PREFIX,
    StepRunner,
    build_optimizers,
    capture_blocker,
    declared_blocker,
    make_runner,
)
from ganzoo.training.losses import BCE
from ganzoo.training.options import TrainOptions
from ganzoo.training.step import StepConfig, train_step
from ganzoo.training.trainer import AdversarialTrainer

CPU = torch.device("cpu")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def tiny(seed: int = 0, **config) -> ganzoo.GANModel:
    torch.manual_seed(seed)
    return ganzoo.create_model(
        "dcgan", image_size=16, g_width=8, d_width=8, latent_dim=16, **config
    )


def batches(model, n: int, steps: int, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        real = torch.rand(n, *model.image_shape, generator=gen) * 2 - 1
        yield real, model.sample_latent(n, generator=gen, device="cpu")


def config(**kw) -> StepConfig:
    values = dict(d_steps=1, gp_weight=0.0, r1_gamma=0.0, r1_every=1, g_reg_every=4)
    values.update(kw)
    return StepConfig(BCE, autocast=contextlib.nullcontext, d_skip_below=None, **values)


@pytest.mark.parametrize(
    "step_kw",
    [
        {},
        {"r1_gamma": 1.0, "r1_every": 2},  # lazy R1: a step kind of its own
        {"d_skip_below": 0.9},  # D's update undone on the device
    ],
)
def test_static_step_trains_exactly_what_the_plain_step_did(step_kw):
    skip = step_kw.pop("d_skip_below", None)
    options = TrainOptions(ema=True, ema_start=2, ema_decay=0.9)
    a, b = tiny(), tiny()
    a.enable_ema(), b.enable_ema()
    opts_a, opts_b = build_optimizers(a, options, CPU), build_optimizers(b, options, CPU)
    cfg_a, cfg_b = config(**step_kw), config(**step_kw)
    cfg_a.d_skip_below = cfg_b.d_skip_below = skip
    runner = StepRunner(b, *opts_b, cfg_b, options, blocker="not on CUDA")
    for step, (real, z) in enumerate(batches(a, 8, 6)):
        # today's loop: the step, then the EMA, as the trainer did before the runner
        ref = train_step(a, real, z, *opts_a, cfg_a, step)
        update_ema(a.generator_ema, a.generator, 0.9 if step >= 2 else 0.0)
        got = runner(step, real, z)
        assert ref.keys() == got.keys()
        for key in ref:
            assert torch.equal(ref[key], got[key]), (step, key)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    for opt_a, opt_b in zip(opts_a, opts_b, strict=True):
        for pa, pb in zip(opt_a.state.values(), opt_b.state.values(), strict=True):
            assert all(torch.equal(pa[k], pb[k]) for k in pa)


def test_static_buffers_are_reused_and_a_new_shape_runs_on_its_own_batch():
    model = tiny()
    options = TrainOptions()
    runner = StepRunner(model, *build_optimizers(model, options, CPU), config(), options)
    (r1, z1), (r2, z2) = batches(model, 8, 2)
    runner(0, r1, z1)
    buffer = runner.buffers["real"]
    runner(1, r2, z2)
    assert runner.buffers["real"] is buffer and torch.equal(buffer, r2)
    small_real, small_z = r1[:4], z1[:4]  # a smaller batch (a schedule's phase): not copied in
    stats = runner(2, small_real, small_z)
    assert torch.isfinite(stats["d_loss"]) and runner.buffers["real"] is buffer
    assert torch.equal(buffer, r2)


def train_run(out: Path, steps: int = 6, resume: bool = False, **extra) -> dict:
    torch.manual_seed(0)
    model = tiny()
    data = ImageSet(torch.rand(40, 1, 16, 16) * 2 - 1)
    values = dict(steps=steps, batch_size=8, log_every=1, sample_every=0, checkpoint_every=0)
    values.update(n_samples=4, progress=False, device="cpu", **extra)
    options = TrainOptions(**values)
    out.mkdir(parents=True, exist_ok=True)
    AdversarialTrainer().fit(model, data, options, out, resume=resume)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_fast_path_switches_leave_cpu_results_unchanged(tmp_path):
    on = dict(amp=True, channels_last=True, fused_adam=True, cuda_graphs=True)  # the defaults
    off = dict(amp=False, channels_last=False, fused_adam=False, cuda_graphs=False)
    a = train_run(tmp_path / "on", ema=True, **on)
    b = train_run(tmp_path / "off", ema=True, **off)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [json.loads(x) for x in (tmp_path / "on" / "metrics.jsonl").open()]
    assert len(rows) == 6 and rows[-1]["step"] == 6


def test_channels_last_on_the_cpu_trains_the_same_model_within_rounding(tmp_path):
    """Opt-in on the CPU (faster there): the same training up to float rounding, and the
    run's checkpoint holds ordinary (contiguous) tensors that load anywhere."""
    from ganzoo.rundir import RunDir

    nchw = train_run(tmp_path / "nchw")
    nhwc = train_run(tmp_path / "nhwc", channels_last_cpu=True, checkpoint_every=3)
    conv = next(v for v in nhwc.values() if v.dim() == 4)  # it did train in channels_last
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for k in nchw:
        if nchw[k].is_floating_point():
            torch.testing.assert_close(nhwc[k], nchw[k], rtol=1e-3, atol=1e-4, msg=k)
    loaded = ganzoo.from_pretrained(RunDir(tmp_path / "nhwc").latest())
    assert all(t.is_contiguous() for t in loaded.state_dict().values())


def test_capture_blocker_names_the_reason():
    model = tiny()
    opts = TrainOptions()
    gpu = torch.device("cuda")
    kw = {"distributed": False, "scheduled": False}
    assert capture_blocker(model, opts, CPU, **kw) == "not on CUDA"
    assert capture_blocker(model, opts, gpu, **kw) is None  # DCGAN captures
    assert capture_blocker(model, TrainOptions(cuda_graphs=False), gpu, **kw) == (
        "cuda_graphs=false"
    )
    assert "compile=true" in capture_blocker(model, TrainOptions(compile=True), gpu, **kw)
    assert "ada" in capture_blocker(model, TrainOptions(augment="ada"), gpu, **kw)
    assert "torchrun" in capture_blocker(model, opts, gpu, distributed=True, scheduled=False)
    assert "training schedule" in capture_blocker(
        model, opts, gpu, distributed=False, scheduled=True
    )


class HostSyncGAN(ganzoo.GANModel):
    """A plugin-style model that declares it cannot be captured."""

    capture_blocker = "its generator reads its latents' scale back to the host"


def declared(seed: int = 0) -> HostSyncGAN:
    base = tiny(seed)
    return HostSyncGAN(base.generator, base.discriminator)


def test_a_declared_model_trains_eagerly_saying_why():
    model = declared()
    gpu = torch.device("cuda")
    reason = capture_blocker(model, TrainOptions(), gpu, distributed=False, scheduled=False)
    assert reason == f"HostSyncGAN cannot be captured: {HostSyncGAN.capture_blocker}"
    lines: list[str] = []
    runner = make_runner(
        model, *build_optimizers(model, TrainOptions(), CPU), config(), TrainOptions(), gpu,
        g_model=None, d_model=None, health=None, distributed=False, scheduled=False,
        say=lines.append,
    )  # fmt: skip
    assert lines == [f"{PREFIX} {reason}; training eagerly"]
    assert not runner.captured and runner.blocker == reason


def test_cpu_runs_say_nothing_about_graphs():
    model = tiny()
    lines: list[str] = []
    make_runner(
        model, *build_optimizers(model, TrainOptions(), CPU), config(), TrainOptions(), CPU,
        g_model=None, d_model=None, health=None, distributed=False, scheduled=False,
        say=lines.append,
    )  # fmt: skip
    assert lines == []


@pytest.mark.parametrize("bad", ["", "   ", True, 3])
def test_a_malformed_declaration_is_an_error(bad):
    model = declared()
    model.capture_blocker = bad
    with pytest.raises(TypeError, match="capture_blocker must be None or a non-empty string"):
        declared_blocker(model)


def test_the_kit_checks_the_declaration(tmp_path):
    from ganzoo.testing import check_model

    report = check_model("dcgan", workdir=tmp_path, only=["capture"])
    if torch.cuda.is_available():
        assert report.passed == ["capture"], report.summary()
    else:
        assert "needs CUDA" in report.skipped["capture"]


def test_cpu_adam_is_the_default_adam():
    model = tiny()
    for opt in build_optimizers(model, TrainOptions(fused_adam=True), CPU):
        assert not opt.defaults["fused"] and not opt.defaults["capturable"]


@pytest.mark.slow
def test_compile_trains_like_eager_within_tolerance(tmp_path):
    pytest.importorskip("torch._inductor")
    a = train_run(tmp_path / "eager", steps=3)
    b = train_run(tmp_path / "compiled", steps=3, compile=True)
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4, msg=k)


# -- on a GPU (benchmarks/gpu_check.sh) ----------------------------------------------------------
def gpu_fit(out: Path, model, steps: int, resume: bool = False, **extra) -> list[dict]:
    data = ImageSet(torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    options = TrainOptions(
        steps=steps,
        batch_size=16,
        log_every=1,
        sample_every=0,
        checkpoint_every=0,
        n_samples=4,
        progress=True,
        device="cuda",
        **extra,
    )
    trainer = AdversarialTrainer()
    out.mkdir(parents=True, exist_ok=True)
    trainer.fit(model, data, options, out, resume=resume)
    gpu_fit.runner = trainer.step_runner
    return [json.loads(x) for x in (out / "metrics.jsonl").open()]


@pytest.mark.gpu
@cuda
def test_graph_and_eager_losses_agree_over_the_first_steps(tmp_path):
    eager = gpu_fit(tmp_path / "eager", tiny(), 12, cuda_graphs=False)
    graph = gpu_fit(tmp_path / "graph", tiny(), 12)
    assert gpu_fit.runner.captured and gpu_fit.runner.captures >= 1
    for e, g in zip(eager, graph, strict=True):
        for key in ("d_loss", "g_loss"):
            assert g[key] == pytest.approx(e[key], rel=0.05, abs=0.02), (e["step"], key)


@pytest.mark.gpu
@cuda
def test_resume_after_capture_is_exact(tmp_path):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    whole, part = tiny(), tiny()
    gpu_fit(tmp_path / "a", whole, 12, ema=True)
    gpu_fit(tmp_path / "b", part, 6, ema=True)
    resumed = tiny(5)  # other initial weights: everything must come from the checkpoint
    gpu_fit(tmp_path / "b", resumed, 12, resume=True, ema=True)
    assert gpu_fit.runner.captures >= 1  # graphs were captured again after the resume
    for (name, p), q in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


class HostSyncGenerator(nn.Module):
    """A generator that reads a value back to the host in its forward (cannot be captured)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.latent_dim, self.image_shape = inner.latent_dim, inner.image_shape

    def forward(self, z):
        if float(z.abs().max()) > 100:  # a host read: illegal while capturing
            z = z.clamp(-100, 100)
        return self.inner(z)


@pytest.mark.gpu
@cuda
def test_uncapturable_models_fall_back_with_one_line(tmp_path, capfd):
    gpu_fit(tmp_path / "declared", declared(), 6)
    err = capfd.readouterr().err
    assert err.count(PREFIX) == 1 and HostSyncGAN.capture_blocker in err
    base = tiny()
    sync = ganzoo.GANModel(HostSyncGenerator(copy.deepcopy(base.generator)), base.discriminator)
    rows = gpu_fit(tmp_path / "sync", sync, 8)
    err = capfd.readouterr().err
    assert err.count(PREFIX) == 1 and "capture failed" in err, err
    assert not gpu_fit.runner.captured and len(rows) == 8
    assert all(r["d_loss"] == r["d_loss"] for r in rows)  # finite, trained eagerly


# -- Gatys: the static (graph-ready) optimisation loop -------------------------------------------
class TwoLayerFeatures(nn.Module):
    """A stand-in for the cut backbone: two conv layers, features by node name."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x):
        a = torch.relu(self.a(x))
        return {"a": a, "b": torch.relu(self.b(a))}


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_gatys_static_loop_optimises_exactly_like_the_plain_one(optimizer):
    from ganzoo_gatys.losses import Objective, gram
    from ganzoo_gatys.optimize import Tracker, optimise

    net = TwoLayerFeatures().requires_grad_(False)
    gen = torch.Generator().manual_seed(0)
    content, style, start = (torch.rand(1, 3, 24, 24, generator=gen) for _ in range(3))
    with torch.no_grad():
        c, s = net(content), net(style)
    objective = Objective({"b": c["b"]}, {n: gram(s[n]) for n in "ab"}, {"a": 0.5, "b": 0.5},
                          1.0, 1e3, 0.1)  # fmt: skip
    results = []
    for graphs in (False, True):
        tracker = Tracker(25)
        image = optimise(start, net, objective, steps=25, optimizer=optimizer, lr=None,
                         tracker=tracker, graphs=graphs)  # fmt: skip
        tracker.close()
        results.append((image, tracker.history))
    (plain, plain_hist), (static, static_hist) = results
    assert torch.equal(plain, static)
    assert plain_hist == static_hist and len(plain_hist) >= 20
    assert plain_hist[-1]["total"] < plain_hist[0]["total"]  # it did optimise


def test_sampling_on_the_cpu_ignores_amp():
    model = tiny()
    assert torch.equal(model.sample(4, seed=1), model.sample(4, seed=1, amp=False))
    assert model.sample(4, seed=1, amp=True).dtype == torch.float32


@pytest.mark.gpu
@cuda
def test_bf16_sampling_on_the_gpu_is_close_to_float32():
    model = tiny().cuda()
    fast, exact = model.sample(64, seed=1), model.sample(64, seed=1, amp=False)
    assert fast.dtype == torch.float32 and fast.device.type == "cuda"
    assert (fast - exact).abs().mean() < 0.02  # bf16 keeps ~3 significant digits


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_gatys_graphs_and_eager_agree_on_the_gpu(optimizer):
    tiny_gatys = {"backbone": "vgg11", "backbone_weights": "random", "style_weight": 1e9,
                  "content_layers": ["conv3_1"], "style_layers": ["conv1_1", "conv2_1"],
                  "size": 64, "steps": 12, "optimizer": optimizer}  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    content, style = (torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1 for _ in range(2))
    st = ganzoo.create_model("gatys", **tiny_gatys)
    eager = st.run(content, [style], device="cuda", cuda_graphs=False)
    graphed = st.run(content, [style], device="cuda", cuda_graphs=True)
    assert len(eager.history) == len(graphed.history)
    for e, g in zip(eager.history, graphed.history, strict=True):
        assert g["total"] == pytest.approx(e["total"], rel=1e-2), e["step"]
    assert (eager.image - graphed.image).abs().max() < 0.05


def test_a_gpu_runs_checkpoint_resumes_on_the_cpu_with_the_cpus_adam(tmp_path):
    """A checkpoint written by the fast path records fused, capturable Adam; resumed on the
    CPU the run takes the CPU's Adam (capturable Adam is refused there) and continues exactly
    like an uninterrupted CPU run."""
    from ganzoo.rundir import RunDir
    from ganzoo.training.checkpoint import TRAINER_FILE

    whole = train_run(tmp_path / "whole", steps=6)
    train_run(tmp_path / "gpu", steps=3)
    state_file = RunDir(tmp_path / "gpu").latest() / TRAINER_FILE
    state = json.loads(state_file.read_text())
    for opt in state["optimizers"].values():  # what a CUDA run's checkpoint says
        for group in opt["param_groups"]:
            group.update(fused=True, capturable=True)
    state_file.write_text(json.dumps(state))
    resumed = train_run(tmp_path / "gpu", steps=6, resume=True)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
