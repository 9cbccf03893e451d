"""Run by tests/test_distributed.py under torchrun (and imported by it for one-process runs).

``python -m torch.distributed.run --nproc-per-node 2 tests/dist_worker.py MODE ...``

``tiny RUN:STEPS[:resume] ... [--dump DIR]``
    The real trainer on a DCGAN with its BatchNorm layers removed (per-rank batch statistics
    would make N processes differ from one by design), one job after another in one launch.
    With ``--dump`` every rank writes each job's final parameters and buffers to
    ``DIR/JOB/rankR.safetensors``.
``feed OUT PARQUET``
    Each rank reads 6 steps of batches (global batch 4) from ``PARQUET`` streamed and prepared
    (read from the cache), and writes the labels it saw to ``OUT/<kind>-rankR.json``.
``cli ARGS...``
    ``ganzoo ARGS`` exactly as ``-m ganzoo`` runs it. ``GANZOO_TEST_FAIL=kill:S`` or
    ``hang:S`` makes rank 1 die (SIGKILL, as the OOM killer would) or hang (a stuck rank) when
    its generator starts step S (0-based), to test how the survivors end the job.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: the options of the BatchNorm-free runs: two D steps per G step and R1, both sharded
TINY_OPTIONS: dict[str, Any] = {
    "batch_size": 8,
    "d_steps": 2,
    "r1_gamma": 1.0,
    "loss": "bce",
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "ema": True,
    "log_every": 2,
    "checkpoint_every": 2,
    "sample_every": 0,
    "n_samples": 4,
    "progress": False,
    "device": "cpu",
    "seed": 0,
}


def strip_batchnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            strip_batchnorm(child)


def tiny_model() -> Any:
    import ganzoo

    torch.manual_seed(0)  # the same initial weights in every process, as run.execute does
    model = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, latent_dim=16)
    strip_batchnorm(model.generator)
    strip_batchnorm(model.discriminator)
    return model


def train_tiny(run_dir: Path, steps: int, resume: bool = False, world: Any = None) -> Any:
    """Fit the BatchNorm-free DCGAN on digits; return the model."""
    from ganzoo.data import load_dataset
    from ganzoo.training.distributed import World
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.trainer import AdversarialTrainer

    world = world or World.single()
    model = tiny_model()
    data = load_dataset("digits", 16, 1)
    if world.is_main:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    world.barrier()
    options = TrainOptions(**{**TINY_OPTIONS, "steps": steps})
    AdversarialTrainer().fit(model, data, options, Path(run_dir), resume=resume, world=world)
    return model


def tiny(args: list[str]) -> None:
    from safetensors.torch import save_file

    from ganzoo.training.distributed import World

    dump = None
    if "--dump" in args:
        i = args.index("--dump")
        dump = Path(args[i + 1])
        args = args[:i] + args[i + 2 :]
    world = World.from_env()
    world.start("cpu")
    for i, job in enumerate(args):
        run_dir, steps, *flag = job.split(":")
        model = train_tiny(Path(run_dir), int(steps), resume=flag == ["resume"], world=world)
        if dump is not None:
            (dump / str(i)).mkdir(parents=True, exist_ok=True)
            state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(dump / str(i) / f"rank{world.rank}.safetensors"))
    world.close()


def feed(out: Path, parquet: str) -> None:
    """The labels of the batches each rank gets, streaming and from the prepared cache."""
    import json

    from ganzoo.data import open_dataset
    from ganzoo.data.feed import open_feed
    from ganzoo.training.distributed import World
    from ganzoo.training.options import TrainOptions

    world = World.from_env()
    world.start("cpu")
    options = TrainOptions(
        batch_size=4, steps=6, data_shuffle_buffer=0, data_workers=0, data_on_device=False
    )
    out.mkdir(parents=True, exist_ok=True)
    for kind, streaming in (("stream", True), ("prepared", False)):
        data = open_dataset(parquet, 8, 1, streaming=streaming, quiet=True)
        batches = open_feed(data, options, world, "cpu", 0)
        seen = [batches.batch(step).labels.tolist() for step in range(6)]
        batches.close()
        (out / f"{kind}-rank{world.rank}.json").write_text(json.dumps(seen))
    world.close()


def install_failure(spec: str) -> None:
    """Make rank 1 die or hang when its generator starts step ``S`` (0-based)."""
    if os.environ.get("RANK") != "1" or not spec:
        return
    how, at = spec.split(":")
    calls = {"n": 0}

    def hook(module: nn.Module, inputs: Any) -> None:
        # training steps only: building the model runs the generator once in eval mode
        if type(module).__name__ != "DCGANGenerator" or not module.training:
            return
        calls["n"] += 1
        if calls["n"] == int(at) + 1:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)

    nn.modules.module.register_module_forward_pre_hook(hook)


def main() -> None:
    mode, rest = sys.argv[1], sys.argv[2:]
    if mode == "tiny":
        tiny(rest)
    elif mode == "feed":
        feed(Path(rest[0]), rest[1])
    elif mode == "cli":
        install_failure(os.environ.get("GANZOO_TEST_FAIL", ""))
        from ganzoo.cli import main as cli_main

        sys.exit(cli_main(rest))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
