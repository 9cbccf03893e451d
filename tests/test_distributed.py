"""Distributed training under torchrun: 2 CPU processes (gloo) against 1.

The launches go through PyTorch's own launcher, ``python -m torch.distributed.run``, in a
subprocess, exactly as a user runs them. Each launch costs a few seconds of process start-up,
so one launch serves several assertions.

Where 2 processes must equal 1: a DCGAN with its BatchNorm layers removed (``dist_worker.py``).
Both runs see the same global batches (every rank draws the global batch from one shared
generator and keeps its slice), so the only difference is the order of floating-point additions
when per-rank gradients are averaged instead of summed over one batch. After 4 steps that moves
the weights by about 1e-6 of their change since initialisation; the test allows 1e-3. Optimiser
moments must agree to 1e-4 of their norm, which also catches gradients summed instead of
averaged (Adam's weight update would hide a factor of 2; its moments do not). With BatchNorm
(plain DCGAN) each rank normalises by its own shard's statistics, so N processes legitimately
differ from one: those runs are only checked for identical ranks and exact same-size resume.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import ConfigError
from ganzoo.training.distributed import World, derived_seed

try:  # tests/ as a package, or as a plain folder on sys.path
    from .dist_worker import tiny_model, train_tiny
except ImportError:
    from dist_worker import tiny_model, train_tiny

WORKER = Path(__file__).parent / "dist_worker.py"
TINY_CLI = [
    "--batch-size",
    "8",
    "--set",
    "image_size=16",
    "--set",
    "g_width=8",
    "--set",
    "d_width=8",
    "--set",
    "latent_dim=16",
    "--quiet",
]


def torchrun(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 240):
    """``python -m torch.distributed.run --standalone --nproc-per-node 2 ARGS`` on the CPU."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a rendezvous on a free local port: parallel test runs don't collide
        "--nproc-per-node",
        "2",
        *map(str, args),
    ]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)


def tensors(run: Path, step: int) -> dict[str, torch.Tensor]:
    ckpt = run / "checkpoints" / f"step-{step:06d}"
    out = {}
    for path in sorted(ckpt.glob("*.safetensors")):
        out.update({f"{path.stem}/{k}": v for k, v in load_file(str(path)).items()})
    return out


def rewind(src: Path, dst: Path, step: int) -> Path:
    """A copy of run ``src`` whose newest checkpoint is ``step`` (later ones removed)."""
    shutil.copytree(src, dst)
    for ckpt in (dst / "checkpoints").glob("step-*"):
        if int(ckpt.name.split("-")[1]) > step:
            shutil.rmtree(ckpt)
    (dst / "checkpoints" / "latest").write_text(f"step-{step:06d}\n")
    return dst


def assert_same_training(a: Path, b: Path, step: int = 4) -> None:
    """Runs a and b reached the same weights and optimiser state (see the module docstring)."""
    x, y = tensors(a, step), tensors(b, step)
    init = {
        f"{n}/{k}": v
        for n, net in tiny_model().networks().items()
        for k, v in net.state_dict().items()
    }
    init.update({f"generator_ema/{k}": v for k, v in tiny_model().generator.state_dict().items()})
    for key in sorted(x.keys() & y.keys()):
        u, v = x[key].double(), y[key].double()
        if key.startswith("training_state/rng") or not x[key].is_floating_point():
            assert torch.equal(x[key], y[key]), key
        elif key in init:  # a weight: compare with how far training moved it
            moved = (u - init[key].double()).norm()
            assert moved > 0, key
            assert (u - v).norm() <= 1e-3 * moved, (key, (u - v).norm() / moved)
        else:  # Adam's moments
            assert (u - v).norm() <= 1e-4 * u.norm() + 1e-30, (key, (u - v).norm() / u.norm())
    networks = {k.split("/")[0] for k in x}
    assert {"generator", "discriminator", "generator_ema", "training_state"} <= networks


# -- fast checks, no process group -------------------------------------------------------------
def test_from_env_reads_torchrun_variables():
    assert not World.from_env({}).distributed
    w = World.from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert (w.rank, w.world_size, w.local_rank, w.distributed, w.is_main) == (3, 8, 1, True, False)
    with pytest.raises(ConfigError, match="outside"):
        World.from_env({"RANK": "8", "WORLD_SIZE": "8"})


def test_shards_of_every_rank_make_up_the_global_batch():
    x = torch.arange(2 * 8).reshape(16, 1)  # d_steps=2 global batches of 8, stacked
    shards = [World(rank=r, world_size=4, distributed=True).shard(x, groups=2) for r in range(4)]
    assert all(s.shape == (4, 1) for s in shards)
    # each rank holds 2 samples of each D step's batch; together they are every sample once
    assert sorted(torch.cat(shards).flatten().tolist()) == list(range(16))
    assert shards[1].flatten().tolist() == [2, 3, 10, 11]
    with pytest.raises(ConfigError, match="not divisible"):
        World(rank=0, world_size=3, distributed=True).shard(x, groups=2)
    assert World.single().shard(x) is x


def test_sync_batchnorm_on_cpu_is_a_clear_error():
    from ganzoo.training.options import TrainOptions

    world = World(rank=0, world_size=2, distributed=True, started=True)
    with pytest.raises(ConfigError, match="sync_batchnorm needs CUDA"):
        world.wrap(tiny_model(), TrainOptions(sync_batchnorm=True))


def test_derived_seeds_differ_by_rank_and_step_and_are_stable():
    seeds = {derived_seed(0, r, s) for r in range(4) for s in (0, 100)}
    assert len(seeds) == 8 and derived_seed(5, 1, 7) == derived_seed(5, 1, 7)


# -- 2 processes against 1, BatchNorm-free -----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """one: 1 process, 4 steps. two: 2 processes, 4 steps. one_then_two: 1 process for 2 steps,
    resumed on 2 processes to 4. Both 2-process jobs run in one torchrun launch."""
    root = tmp_path_factory.mktemp("tiny")
    train_tiny(root / "one", 4)
    rewind(root / "one", root / "one_then_two", 2)
    done = torchrun(
        WORKER,
        "tiny",
        f"{root / 'two'}:4",
        f"{root / 'one_then_two'}:4:resume",
        "--dump",
        root / "dump",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.mark.slow
def test_both_ranks_end_with_identical_parameters(tiny_runs):
    for job in ("0", "1"):
        a = load_file(str(tiny_runs / "dump" / job / "rank0.safetensors"))
        b = load_file(str(tiny_runs / "dump" / job / "rank1.safetensors"))
        assert a.keys() == b.keys() and len(a) > 0
        assert all(torch.equal(a[k], b[k]) for k in a), job


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tiny_runs):
    assert_same_training(tiny_runs / "one", tiny_runs / "two")


@pytest.mark.slow
def test_resume_across_world_sizes(tiny_runs, tmp_path):
    # 1 -> 2: written by one process, continued by two
    assert_same_training(tiny_runs / "one", tiny_runs / "one_then_two")
    # 2 -> 1: written by two processes, continued by one
    two_then_one = rewind(tiny_runs / "two", tmp_path / "two_then_one", 2)
    train_tiny(two_then_one, 4, resume=True)
    assert_same_training(tiny_runs / "one", two_then_one)
    saved = json.loads((two_then_one / "checkpoints/step-000004/trainer.json").read_text())
    assert saved["world_size"] == 1


# -- the CLI under torchrun, with BatchNorm ------------------------------------------------------
@pytest.mark.slow
def test_torchrun_cli_rank_0_writes_once_and_same_size_resume_is_exact(tmp_path):
    out = tmp_path / "run"
    args = ["-m", "ganzoo", "train", "dcgan", *TINY_CLI, "--loss", "wgan-gp", "--steps", "4"]
    args += ["--checkpoint-every", "2", "--sample-every", "2", "--set", "log_every=1"]
    done = torchrun(*args, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    # rank 1 is silent: one start line, one summary, no line of ours twice
    assert done.stderr.count("training dcgan on digits for 4 steps on 2 processes") == 1
    assert done.stderr.count("done:") == 1 and done.stdout.count("run:") == 1
    ours = [ln for ln in done.stderr.splitlines() if ln.startswith(("ganzoo", "done", "Error"))]
    assert len(ours) == len(set(ours)), ours
    # each checkpoint written once, by rank 0, complete, in the one-process layout
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "latest",
        "step-000002",
        "step-000004",
    ]
    assert [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").open()] == [1, 2, 3, 4]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step-000002.png",
        "step-000004.png",
    ]
    state = tensors(out, 4)
    assert "training_state/rng.torch.rank1" in state
    plain = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, latent_dim=16)
    for net in ("generator", "discriminator"):  # the plain modules' names: no "module." prefix
        names = {k.split("/", 1)[1] for k in state if k.startswith(f"{net}/")}
        assert names == set(plain.networks()[net].state_dict()), net
    trainer = json.loads((out / "checkpoints/step-000004/trainer.json").read_text())
    assert trainer["world_size"] == 2

    # resumed on the same number of processes: bit for bit (WGAN-GP draws from each rank's
    # own random stream, so this needs every rank's saved RNG state back)
    again = rewind(out, tmp_path / "again", 2)
    done = torchrun("-m", "ganzoo", "train", "--resume", again, "--steps", "4", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = tensors(again, 4)
    assert state.keys() == resumed.keys()
    assert [k for k in state if not torch.equal(state[k], resumed[k])] == []

    # and a 2-process checkpoint continues in one process through the CLI
    result = CliRunner().invoke(cli, ["train", "--resume", str(again), "--steps", "5", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (again / "checkpoints" / "latest").read_text().strip() == "step-000005"


# -- data: each rank its own part of a stream, or its slice of the prepared global batch ---------
@pytest.mark.slow
def test_ranks_read_disjoint_parts_that_make_up_the_one_process_batches(tmp_path):
    import datasets
    from PIL import Image

    n = 24
    ds = datasets.Dataset.from_dict(
        {
            "image": [Image.new("L", (8, 8), 10 * (i % 20)) for i in range(n)],
            "label": list(range(n)),
        },
        features=datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")}),
    )
    parquet = tmp_path / "rows.parquet"
    ds.to_parquet(str(parquet))
    env = {"GANZOO_DATA_CACHE": str(tmp_path / "cache")}
    one = subprocess.run(
        [sys.executable, str(WORKER), "feed", str(tmp_path / "one"), str(parquet)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )
    assert one.returncode == 0, one.stderr[-3000:]
    done = torchrun(WORKER, "feed", tmp_path / "two", parquet, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    for kind in ("stream", "prepared"):
        single = json.loads((tmp_path / "one" / f"{kind}-rank0.json").read_text())
        ranks = [
            json.loads((tmp_path / "two" / f"{kind}-rank{r}.json").read_text()) for r in (0, 1)
        ]
        for step, batch in enumerate(single):
            a, b = ranks[0][step], ranks[1][step]
            assert len(a) == len(b) == 2 and not set(a) & set(b), (kind, step, a, b)
            assert sorted(a + b) == sorted(batch), (kind, step)  # the global batch, split
        if kind == "stream":  # in order, no shuffling: 6 steps of 4 read the 24 rows once
            assert sorted(v for batch in single for v in batch) == list(range(n))


# -- a rank that dies or hangs -------------------------------------------------------------------
def failing_run(tmp_path: Path, how: str, timeout_s: str = "600"):
    out = tmp_path / "run"
    args = ["cli", "train", "dcgan", *TINY_CLI, "--steps", "1000", "--checkpoint-every", "2"]
    env = {"GANZOO_TEST_FAIL": f"{how}:2", "GANZOO_DIST_TIMEOUT": timeout_s}
    done = torchrun(WORKER, *args, "--sample-every", "0", "--out", out, env=env, timeout=180)
    return out, done


def assert_checkpoint_intact(out: Path, resume: bool) -> None:
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-000002"
    assert not list((out / "checkpoints").glob(".tmp-*"))
    assert len(tensors(out, 2)) > 0  # every file of it reads back
    if resume:
        args = ["train", "--resume", str(out), "--steps", "3", "--quiet"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_job_and_the_checkpoint_survives(tmp_path):
    out, done = failing_run(tmp_path, "kill")
    assert done.returncode != 0
    # torchrun names the dead rank, or rank 0 reports the lost peer first
    assert "SIGKILL" in done.stderr or "died or stopped answering" in done.stderr
    assert_checkpoint_intact(out, resume=True)


@pytest.mark.slow
def test_a_hung_rank_fails_the_job_after_the_timeout_with_a_clear_error(tmp_path):
    out, done = failing_run(tmp_path, "hang", timeout_s="3")
    assert done.returncode != 0
    assert "Error: rank 0 of 2: another process of this job died or stopped answering" in (
        done.stderr
    )
    assert "step-000002" in done.stderr and "--resume" in done.stderr
    assert_checkpoint_intact(out, resume=False)


@pytest.mark.slow
def test_a_rollback_under_torchrun_moves_every_rank_back_together(tmp_path):
    """Losses that explode (``--on-diverge rollback``) are seen by every rank at once (they are
    averaged over ranks), so all ranks roll back to the same checkpoint, halve the same learning
    rates and finish; rank 0 alone records each rollback."""
    out = tmp_path / "run"
    args = ["-m", "ganzoo", "train", "dcgan", *TINY_CLI, "--steps", "30"]
    args += ["--lr-g", "2000", "--lr-d", "2000", "--on-diverge", "rollback"]
    args += ["--set", "rollback_tries=12", "--checkpoint-every", "2", "--set", "log_every=2"]
    done = torchrun(*args, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").open()]
    rollbacks = [r for r in records if r.get("event") == "rollback"]
    assert rollbacks and len({r["message"] for r in rollbacks}) == len(rollbacks)
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["lr_g"] == saved["lr_d"] == pytest.approx(2000 / 2 ** len(rollbacks))
    steps = [r["step"] for r in records if "d_loss" in r]
    assert steps == list(range(2, 31, 2))  # each logged once, by rank 0, up to the end
    state = tensors(out, 30)
    assert all(torch.isfinite(t).all() for k, t in state.items() if t.is_floating_point())
    trainer = json.loads((out / "checkpoints/step-000030/trainer.json").read_text())
    assert trainer["optimizers"]["g"]["param_groups"][0]["lr"] == pytest.approx(saved["lr_g"])


@pytest.mark.slow
def test_conditional_stylegan_lite_fades_the_class_in_under_torchrun(tmp_path):
    """A schedule that only fills buffers (GANModel.schedule_in_place) trains under torchrun:
    every rank sets the same class weight for the step, and the run goes through the fade."""
    out = tmp_path / "run"
    tiny = {"image_size": 16, "latent_dim": 16, "w_dim": 16, "mapping_layers": 2,
            "g_channel_base": 128, "d_channel_base": 128, "max_width": 16,
            "conditional": "true", "cond_start_images": 16, "cond_fade_images": 16,
            "log_every": 1}  # fmt: skip
    sets = [a for k, v in tiny.items() for a in ("--set", f"{k}={v}")]
    args = ["-m", "ganzoo", "train", "stylegan_lite", *sets, "--batch-size", "8", "--steps", "5"]
    done = torchrun(*args, "--quiet", "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = [json.loads(ln).get("cond_weight") for ln in (out / "metrics.jsonl").open()]
    weights = [w for w in weights if w is not None]
    assert weights[0] == 0.0 and weights[-1] == 1.0 and len(weights) == 5
    g = load_file(str(out / "checkpoints" / "step-000005" / "generator.safetensors"))
    assert float(g["mapping_net.cond_weight"]) == 1.0
