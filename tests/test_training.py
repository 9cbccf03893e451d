"""The adversarial trainer: exact resume, the G/D balance trick, divergence, the CLI round trip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.training import run
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.losses import BCE
from ganzoo.training.step import StepConfig, train_step

TINY = {
    "image_size": 16,
    "g_width": 8,
    "d_width": 8,
    "latent_dim": 16,
    "batch_size": 8,
    "log_every": 5,
    "progress": False,
    "n_samples": 4,
}

#: the same tiny DCGAN through the command line
TINY_CLI = ["--quiet", "--batch-size", "8", "--set", "image_size=16", "--set", "g_width=8",
            "--set", "d_width=8"]  # fmt: skip


def train(out, steps, resume=False, **extra):
    if resume:
        plan = run.plan_resume(out, {"steps": steps})
    else:
        plan = run.plan_new_run(
            "dcgan", data="digits", layers=[{**TINY, **extra, "steps": steps}], out=out
        )
    return run.execute(plan)


def weights(ckpt):
    out = {}
    for name in ("generator", "discriminator", "training_state"):
        for k, v in load_file(str(ckpt / f"{name}.safetensors")).items():
            out[f"{name}/{k}"] = v
    return out


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    train(tmp_path / "a", 12, checkpoint_every=0, ema=True)
    train(tmp_path / "b", 6, checkpoint_every=0, ema=True)
    train(tmp_path / "b", 12, resume=True)
    a = weights(latest_checkpoint(tmp_path / "a"))
    b = weights(latest_checkpoint(tmp_path / "b"))
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]
    ema_a = load_file(str(latest_checkpoint(tmp_path / "a") / "generator_ema.safetensors"))
    ema_b = load_file(str(latest_checkpoint(tmp_path / "b") / "generator_ema.safetensors"))
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    # the resumed run's log continues without duplicated steps
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").open()]
    assert steps == sorted(set(steps)) and steps[-1] == 12


def test_run_directory_layout(tmp_path):
    train(tmp_path / "r", 10, sample_every=5, checkpoint_every=5)
    r = tmp_path / "r"
    cfg = json.loads((r / "config.json").read_text())
    assert cfg["arch"] == "dcgan" and cfg["model"]["image_size"] == 16
    assert cfg["train"]["steps"] == 10
    assert (r / "checkpoints" / "latest").read_text().strip() == "step-000010"
    assert sorted(p.name for p in (r / "samples").glob("*.png")) == [
        "step-000005.png",
        "step-000010.png",
    ]
    assert (r / "loss.png").stat().st_size > 0
    rows = [json.loads(x) for x in (r / "metrics.jsonl").open()]
    assert [row["step"] for row in rows] == [5, 10]
    assert {"d_loss", "g_loss", "img_per_s"} <= rows[0].keys()
    assert not list((r / "checkpoints").glob(".tmp-*"))


def step_once(model, threshold):
    opt_g = torch.optim.Adam(model.generator.parameters(), 1e-3)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), 1e-3)
    import contextlib

    cfg = StepConfig(BCE, 1, 0.0, 0.0, 1, 4, threshold, contextlib.nullcontext)
    before_d = [p.detach().clone() for p in model.discriminator.parameters()]
    before_g = [p.detach().clone() for p in model.generator.parameters()]
    torch.manual_seed(0)
    stats = train_step(
        model, torch.rand(8, 1, 16, 16) * 2 - 1, torch.randn(8, 16), opt_g, opt_d, cfg, 0
    )
    d_changed = any(
        not torch.equal(a, p)
        for a, p in zip(before_d, model.discriminator.parameters(), strict=True)
    )
    g_changed = any(
        not torch.equal(a, p) for a, p in zip(before_g, model.generator.parameters(), strict=True)
    )
    return stats, d_changed, g_changed


def test_d_skip_below_really_skips_ds_update():
    torch.manual_seed(0)
    tiny = dict(image_size=16, g_width=8, d_width=8, latent_dim=16)
    stats, d_changed, g_changed = step_once(ganzoo.create_model("dcgan", **tiny), 1e9)
    assert stats["d_skipped"].item() == 1.0
    assert not d_changed and g_changed  # D kept its weights; G still trained
    stats, d_changed, _ = step_once(ganzoo.create_model("dcgan", **tiny), 0.0)
    assert stats["d_skipped"].item() == 0.0 and d_changed


def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    from ganzoo.data import ImageSet
    from ganzoo.training.trainer import AdversarialTrainer

    train(tmp_path / "r", 5, checkpoint_every=5)
    kept = latest_checkpoint(tmp_path / "r")
    before = weights(kept)
    plan = run.plan_resume(tmp_path / "r", {"steps": 10, "checkpoint_every": 1})
    model = ganzoo.create_model(
        "dcgan", **{k: TINY[k] for k in ("image_size", "g_width", "d_width", "latent_dim")}
    )
    poisoned = ImageSet(torch.full((16, 1, 16, 16), float("nan")), name="nan")
    with pytest.raises(
        ganzoo.GanzooError, match=r"non-finite.*last good checkpoint is .*step-000005"
    ):
        AdversarialTrainer().fit(model, poisoned, plan.options, plan.run_dir, resume=True)
    assert latest_checkpoint(tmp_path / "r") == kept
    assert not (tmp_path / "r" / "checkpoints" / "step-000006").exists()
    after = weights(kept)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cli_train_then_sample_round_trip(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["train", "dcgan", "--steps", "6", "--out", str(out), *TINY_CLI]
    args += ["--set", "log_every=3", "--sample-every", "3"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    grid = tmp_path / "grid.png"
    result = runner.invoke(cli, ["sample", str(out), "-o", str(grid), "--n", "9"])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(grid) as img:  # 3×3 images of 16 px with 2 px padding, enlarged 4×
        assert img.size == ((3 * (16 + 2) + 2) * 4,) * 2
    gif = tmp_path / "walk.gif"
    result = runner.invoke(
        cli, ["sample", str(out), "--interpolate", "--n", "2", "--frames", "3", "-o", str(gif)]
    )
    assert result.exit_code == 0, result.output
    with Image.open(gif) as img:
        assert img.n_frames == 6
    # the same run dir again is refused: nothing already saved is overwritten
    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and "already exists" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "dcgn"], "did you mean 'dcgan'"),
        (["train", "dcgan", "--set", "nope=1"], "unknown option 'nope'"),
        (["train", "dcgan", "--loss", "hinj"], "unknown loss 'hinj'"),
        (["train", "dcgan", "--data", "/no/such/folder"], "neither a dataset name"),
        (["sample", "/no/such/run"], ""),
    ],
)
def test_cli_user_errors_are_one_line_with_exit_2(tmp_path, args, message):
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "x"), "--steps", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_ctrl_c_writes_a_checkpoint_that_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ganzoo", "train", "dcgan", "--steps", "100000", "--out"]
    cmd += [str(out), *TINY_CLI, "--checkpoint-every", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # the shell's status for Ctrl-C: a stop, not an error
    assert "interrupted at step" in err and "--resume" in err
    assert "Error" not in err and "Traceback" not in err
    ckpt = latest_checkpoint(out)
    step = json.loads((ckpt / "trainer.json").read_text())["step"]
    assert step > 0
    env = {**os.environ}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganzoo",
            "train",
            "--resume",
            str(out),
            "--steps",
            str(step + 2),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert latest_checkpoint(out).name == f"step-{step + 2:06d}"
