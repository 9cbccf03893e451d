"""Where the trainer runs: one process, or one rank of a torchrun job.

:class:`World` hides the difference from the loop: the local share of a global batch, which
process writes files, averaging logged values over ranks, wrapping the networks and saving and
restoring every rank's random state. ``World.from_env()`` reads the variables torchrun sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); :meth:`World.start` joins the process group (NCCL on
GPUs, gloo on CPU) with a timeout, so a rank that dies or hangs ends the job with an error
instead of a silent wait.

How the two training phases are made correct under data parallelism (see docs/distributed.md):

* **G** is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`. It runs forward once
  per step and backward once per step (through D, in G's phase), which is exactly DDP's contract;
  a ``generator_penalty`` computed on the plain module joins the same backward, and DDP's hooks
  fire once per parameter after autograd has summed every path, so its gradient is averaged too.
* **D** is *not* wrapped in DDP. D's phase calls it two or three times (real, fake, the WGAN-GP
  interpolates) and differentiates through it twice (R1, WGAN-GP use ``autograd.grad`` with
  ``create_graph``), and G's phase runs it with ``requires_grad`` off: all of these are traps for
  DDP's reducer. Instead :class:`AveragedGradients` calls the plain module and, after D's
  backward, averages D's gradients over the ranks with one all-reduce of a flat buffer (as
  NVlabs' StyleGAN2-ADA does). The same all-reduce averages D's loss, so ``d_skip_below`` takes
  the same decision on every rank.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError, GanzooError

#: seconds a collective may wait for the other ranks before the job fails (env override)
TIMEOUT_ENV = "GANZOO_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
#: per-rank random states saved in a checkpoint (the batch generator is shared by all ranks)
PER_RANK_RNG = ("torch", "cuda")


class DistributedError(GanzooError):
    """Another process of a torchrun job died or stopped answering."""


def derived_seed(seed: int, rank: int, step: int) -> int:
    """A seed for (seed, rank, step), the same on every machine and Python version."""
    digest = hashlib.sha256(f"ganzoo:{seed}:{rank}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def timeout_from_env() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw.strip() else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds")
    return timedelta(seconds=seconds)


@dataclass
class World:
    """The processes of a training job (one, unless launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    distributed: bool = False
    started: bool = False

    @classmethod
    def single(cls) -> World:
        return cls()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> World:
        """The world torchrun describes in the environment, or a single process."""
        env = os.environ if environ is None else environ
        if "RANK" not in env or "WORLD_SIZE" not in env:
            return cls.single()
        try:
            rank, size = int(env["RANK"]), int(env["WORLD_SIZE"])
            local = int(env.get("LOCAL_RANK", "0"))
        except ValueError:
            raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
        if not 0 <= rank < size:
            raise ConfigError(f"RANK={rank} is outside WORLD_SIZE={size}")
        return cls(rank=rank, world_size=size, local_rank=local, distributed=True)

    @property
    def is_main(self) -> bool:
        """Only this process writes checkpoints, samples, metrics and the progress bar."""
        return self.rank == 0

    # -- joining and leaving -------------------------------------------------------------------
    def start(self, device: str = "auto") -> torch.device:
        """Choose this rank's device, join the process group (once) and wait for every rank.

        Under torchrun ``cuda`` (or ``cuda:N``, or ``auto`` with a GPU) means ``cuda:LOCAL_RANK``:
        one GPU per process. Call it after planning a run and before writing anything, so no
        rank sees another rank's files while it validates the run directory.
        """
        if not self.distributed:
            from .trainer import resolve_device

            self.device = resolve_device(device)
            return self.device
        if self.started:
            return self.device
        import torch.distributed as dist

        want_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if want_cuda:
            if not torch.cuda.is_available():
                raise ConfigError(f"--device {device}: CUDA is not available; use --device cpu")
            if self.local_rank >= torch.cuda.device_count():
                raise ConfigError(
                    f"local rank {self.local_rank} has no GPU (this machine has "
                    f"{torch.cuda.device_count()}): use --nproc-per-node "
                    f"{torch.cuda.device_count()} or fewer"
                )
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        elif device != "cpu" and device != "auto":
            raise ConfigError(f"--device {device!r}: use cpu, cuda or auto under torchrun")
        else:
            self.device = torch.device("cpu")
        timeout = timeout_from_env()
        if not dist.is_initialized():
            extra: dict[str, Any] = {}
            if want_cuda and "device_id" in inspect.signature(dist.init_process_group).parameters:
                extra["device_id"] = self.device  # binds NCCL to this rank's GPU (torch >= 2.3)
            dist.init_process_group("nccl" if want_cuda else "gloo", timeout=timeout, **extra)
        self.started = True
        self.barrier()
        return self.device

    def close(self) -> None:
        """Leave the process group after a run that ended normally."""
        if self.distributed and self.started:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.started = False

    # -- batches -------------------------------------------------------------------------------
    def local_batch(self, global_batch: int) -> int:
        """This rank's share of ``--batch-size``, which is global across ranks."""
        if global_batch % self.world_size:
            raise ConfigError(
                f"batch_size {global_batch} is not divisible by the {self.world_size} processes"
            )
        return global_batch // self.world_size

    def shard(self, x: Tensor, groups: int = 1) -> Tensor:
        """This rank's slice of a global batch drawn identically on every rank.

        ``x`` holds ``groups`` global batches stacked along dim 0 (``d_steps`` real batches);
        each rank keeps the same slice of each. Every rank drawing the whole global batch from
        one shared generator and keeping its slice makes the data a run sees independent of the
        number of processes: N ranks together see exactly the batches 1 process would.
        """
        if self.world_size == 1:
            return x
        per_group = x.shape[0] // groups
        b = self.local_batch(per_group)
        grouped = x.reshape(groups, per_group, *x.shape[1:])
        return grouped[:, self.rank * b : (self.rank + 1) * b].reshape(groups * b, *x.shape[1:])

    # -- networks ------------------------------------------------------------------------------
    def wrap(self, model: Any, options: Any) -> tuple[nn.Module, nn.Module]:
        """The modules the step calls for G and D: DDP for G, gradient averaging for D.

        Also converts BatchNorm to SyncBatchNorm when ``options.sync_batchnorm`` is set, makes
        every rank start from rank 0's weights, and gives ranks other than 0 their own global
        random stream (noise inputs, WGAN-GP's interpolation weights).
        """
        if not self.distributed:
            return model.generator, model.discriminator
        from torch.nn.parallel import DistributedDataParallel

        if options.sync_batchnorm:
            if self.device.type != "cuda":
                raise ConfigError(
                    "sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm does not run on CPU); "
                    "drop --set sync_batchnorm=true or train with --device cuda"
                )
            convert = nn.SyncBatchNorm.convert_sync_batchnorm
            model.generator = convert(model.generator)
            model.discriminator = convert(model.discriminator)
        if self.rank != 0:
            torch.manual_seed(derived_seed(options.seed, self.rank, 0))
        ids = [self.device.index] if self.device.type == "cuda" else None
        g = DistributedDataParallel(model.generator, device_ids=ids)  # syncs buffers from rank 0
        d = AveragedGradients(model.discriminator, self)
        return g, d

    # -- collectives ---------------------------------------------------------------------------
    def reduce_mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average logged values over ranks (every rank must call it with the same keys)."""
        if not self.distributed:
            return values
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(keys, (t / self.world_size).tolist(), strict=True))

    def barrier(self) -> None:
        if self.distributed and self.started:
            import torch.distributed as dist

            ids = [self.device.index] if self.device.type == "cuda" else None
            dist.barrier(device_ids=ids)

    def gather_rng(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Every rank's random state for a checkpoint (a collective; rank 0 gets them all).

        The batch generator (``gen``) is the same on every rank and kept once; the global
        torch/CUDA states differ per rank and are kept as ``torch.rankR``/``cuda.rankR``.
        """
        if not self.distributed:
            return state
        import torch.distributed as dist

        out = dict(state)
        for key in PER_RANK_RNG:
            if key not in state:
                continue
            mine = state[key].to(self.device)
            parts = [torch.empty_like(mine) for _ in range(self.world_size)]
            dist.all_gather(parts, mine)
            for r in range(1, self.world_size):
                out[f"{key}.rank{r}"] = parts[r].cpu()
        return out

    def checkpoint_info(self) -> dict[str, Any]:
        """What trainer.json records about the world that wrote it."""
        return {"world_size": self.world_size}

    def restore_rng(self, checkpoint: Path, seed: int, step: int) -> None:
        """Give this rank its own random state after the trainer restored rank 0's.

        Same number of processes as the run that wrote the checkpoint: each rank gets back its
        own saved state, so the run continues bit for bit. A different number: the batch
        generator (shared by all ranks) and rank 0 continue from the checkpoint; ranks 1.. start
        fresh streams derived from (seed, rank, step). Reproducible for a given checkpoint and
        world size, though not identical to any uninterrupted run.
        """
        if not self.distributed or self.rank == 0:
            return
        import json

        from safetensors import safe_open

        from .checkpoint import STATE_FILE, TRAINER_FILE

        saved = json.loads((checkpoint / TRAINER_FILE).read_text(encoding="utf-8"))
        same_world = int(saved.get("world_size", 1)) == self.world_size
        with safe_open(str(checkpoint / STATE_FILE), framework="pt") as fh:
            keys = set(fh.keys())
            own = {
                k: fh.get_tensor(f"rng.{k}.rank{self.rank}")
                for k in PER_RANK_RNG
                if f"rng.{k}.rank{self.rank}" in keys
            }
        if same_world and "torch" in own:
            torch.set_rng_state(own["torch"].to(torch.uint8).cpu())
            if "cuda" in own and self.device.type == "cuda":
                torch.cuda.set_rng_state(own["cuda"].to(torch.uint8).cpu(), self.device)
        else:
            torch.manual_seed(derived_seed(seed, self.rank, step))

    def explain_failure(self, exc: BaseException, run_dir: Path) -> DistributedError | None:
        """A one-line error for a collective that failed because another rank died or hung."""
        if not self.distributed or not is_collective_failure(exc):
            return None
        from .trainer import latest_or_none

        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        last = latest_or_none(run_dir)
        where = f"the last checkpoint is {last}" if last else "no checkpoint was written yet"
        return DistributedError(
            f"rank {self.rank} of {self.world_size}: another process of this job died or "
            f"stopped answering ({detail}); {where}: continue with torchrun ... -m ganzoo "
            f"train --resume {run_dir} (raise {TIMEOUT_ENV} if a rank is merely slow)"
        )


def is_collective_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a torch.distributed failure (peer gone, timeout, store lost)."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):  # torch >= 2.1
        return True
    text = str(exc)
    markers = ("gloo", "NCCL", "Connection closed by peer", "Connection reset", "Timed out")
    return isinstance(exc, RuntimeError) and any(m in text for m in markers)


class AveragedGradients(nn.Module):
    """D under torchrun: calls the module unchanged; averages its gradients on request.

    Unlike DDP it does nothing during forward or backward, so D may run any number of forwards,
    double backward (R1, WGAN-GP) and frozen forwards (G's phase) per step. The step calls
    :meth:`average_gradients` between D's backward and ``opt_d.step()``.
    """

    def __init__(self, module: nn.Module, world: World) -> None:
        super().__init__()
        import torch.distributed as dist

        self.module = module
        self.world = world
        with torch.no_grad():  # every rank starts from rank 0's weights, as DDP does for G
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t, 0)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def average_gradients(self, *extra: Tensor) -> list[Tensor]:
        """Replace each gradient by its mean over ranks; return ``extra`` averaged likewise.

        One all-reduce of one flat buffer (gradients, then ``extra`` scalars). A parameter
        without a gradient contributes zeros and keeps ``grad is None`` (Adam then skips it,
        as it would in one process); the model must use the same parameters on every rank.
        """
        import torch.distributed as dist

        params = list(self.module.parameters())
        parts = [
            (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
            for p in params
        ]
        parts += [e.detach().reshape(-1).float() for e in extra]
        flat = torch.cat(parts)
        dist.all_reduce(flat)
        flat /= self.world.world_size
        offset = 0
        for p in params:
            n = p.numel()
            if p.grad is not None:
                p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n
        out = []
        for e in extra:
            out.append(flat[offset : offset + e.numel()].view_as(e).to(e.dtype))
            offset += e.numel()
        return out
