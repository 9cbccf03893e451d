"""The run's records around the training step: what :class:`AdversarialTrainer` writes.

:class:`RunBook` accumulates the step statistics on the device and reads them back only when
flushed (every ``log_every`` steps: one host sync), writes them to ``metrics.jsonl`` and the
trackers with the divergence check, writes checkpoints (refusing weights that went
non-finite) and fixed-latent sample grids. :func:`due_at` is the one place that says which of
those a step ends with, so the loop and the EMA's BatchNorm refresh
(:func:`ganzoo.training.ema.refresh_ema_statistics`) cannot disagree.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..images import save_grid
from ..rundir import RunDir
from .checkpoint import (
    describe_nonfinite,
    flatten_optimizer,
    model_tensors,
    nonfinite,
    save_checkpoint,
)
from .step import StepConfig


@dataclass(frozen=True)
class Due:
    """What the run writes after a step: a sample grid, an evaluation, a checkpoint."""

    sample: bool
    evaluate: bool
    checkpoint: bool

    @property
    def any(self) -> bool:
        """Whether the EMA generator is used (sampled, evaluated or saved) after the step."""
        return self.sample or self.evaluate or self.checkpoint


def due_at(options: Any, done: int) -> Due:
    """What is due once ``done`` steps are trained, from ``sample_every``, ``eval_every`` and
    ``checkpoint_every`` (0: never in the loop; the end of the run has its own rules)."""

    def every(n: int) -> bool:
        return bool(n and done % n == 0)

    return Due(
        every(options.sample_every), every(options.eval_every), every(options.checkpoint_every)
    )


class RunBook:
    """The bookkeeping of one :meth:`AdversarialTrainer.fit`: step statistics, metrics,
    checkpoints and sample grids. ``last_good`` is the step of the newest checkpoint (the
    start step until one is written)."""

    def __init__(
        self,
        run_dir: Path,
        model: Any,
        optimizers: dict[str, Any],
        cfg: StepConfig,
        options: Any,
        world: Any,
        gen: torch.Generator,
        log: Any,
        health: Any,
        bar: Any,
        grid: tuple[torch.Tensor, torch.Tensor | None, int | None],
        start: int,
    ) -> None:
        self.run_dir, self.model, self.optimizers, self.cfg = run_dir, model, optimizers, cfg
        self.options, self.world, self.gen, self.log = options, world, gen, log
        self.health, self.bar = health, bar
        self.fixed_z, self.fixed_labels, self.nrow = grid  # the sample grid's latents and rows
        self.acc: dict[str, torch.Tensor] = {}
        self.acc_steps = 0
        self.acc_images = 0  # images trained since the last flush (a schedule may cut the batch)
        self.t_last = time.perf_counter()
        self.last_good = start

    def add(self, stats: dict[str, torch.Tensor], images: int) -> None:
        """Accumulate one step's statistics (device tensors: no host sync) and its images."""
        acc = self.acc
        for k, v in stats.items():
            acc[k] = acc[k] + v if k in acc else v.clone()
        self.acc_steps += 1
        self.acc_images += images

    def diverged(self, what: str, first: int, last: int) -> Exception:
        """The error a run ends with when ``what`` went non-finite between two steps."""
        from .trainer import TrainingDiverged, latest_or_none

        where = latest_or_none(self.run_dir)
        self.health.nonfinite(last, what, first)
        return TrainingDiverged(
            f"{what} became non-finite between steps {first} and {last}; the last good "
            f"checkpoint is {where or 'none (no checkpoint was written yet)'}: lower "
            "--lr-g/--lr-d, add --set r1_gamma=1 or try --loss hinge"
        )

    def flush(self, step_done: int) -> dict[str, float]:
        """Read the accumulated statistics back (one host sync), average them over the steps
        and the ranks, and write them; raise :class:`TrainingDiverged` on a non-finite one.
        Returns the values written ({} when nothing was accumulated)."""
        if not self.acc_steps:
            return {}
        keys = list(self.acc)
        sums = torch.stack([self.acc[k].float() for k in keys]).tolist()  # one host sync
        values = {k: s / self.acc_steps for k, s in zip(keys, sums, strict=True)}
        now = time.perf_counter()
        values["img_per_s"] = self.acc_images / max(now - self.t_last, 1e-9)
        values = self.world.reduce_mean(values)
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise self.diverged(", ".join(bad), step_done - self.acc_steps, step_done)
        values.update(self.health.measure())
        self.log.write({"step": step_done, **values})
        self.health.check({"step": step_done, **values})
        self.bar.update(step_done - self.bar.n)
        self.bar.set_postfix(
            d=f"{values['d_loss']:.3f}",
            g=f"{values['g_loss']:.3f}",
            img_s=f"{values['img_per_s']:.0f}",
        )
        self.acc, self.acc_steps, self.acc_images, self.t_last = {}, 0, 0, now
        return values

    def checkpoint(self, step_done: int) -> None:
        """Flush, check the weights and optimiser state are finite, and save a checkpoint."""
        self.flush(step_done)  # never checkpoint weights that went non-finite
        # losses can stay finite while weights or BatchNorm statistics do not; every rank
        # checks (their weights agree), so none is left waiting for a checkpoint never written
        optim = [flatten_optimizer(k, o.state_dict())[0] for k, o in self.optimizers.items()]
        bad = nonfinite([*model_tensors(self.model), *(kv for t in optim for kv in t.items())])
        if bad:
            raise self.diverged(
                f"the weights ({describe_nonfinite(bad)})", self.last_good, step_done
            )
        world = self.world
        rng = world.gather_rng(rng_state(self.gen))  # every rank's random state (a collective)
        if world.is_main:
            save_checkpoint(
                self.run_dir,
                step_done,
                self.model,
                self.optimizers,
                rng,
                extra={**world.checkpoint_info(), **augment_state(self.cfg), **self.health.state()},
                keep=self.options.keep_checkpoints,
            )
        world.barrier()
        self.last_good = step_done

    def sample(self, step_done: int) -> None:
        """Write the fixed-latent sample grid of step ``step_done`` (main process only)."""
        if self.world.is_main:
            grid = save_grid(
                self.model.sample(self.options.n_samples, z=self.fixed_z, labels=self.fixed_labels),
                RunDir(self.run_dir).sample_path(step_done),
                nrow=self.nrow,
            )
            self.log.image("samples", grid, step_done)

    def evaluate(self, evaluate: Any, step_done: int) -> None:
        """Write the metrics of ``evaluate(model)``; its time is left out of ``img_per_s``."""
        t_eval = time.perf_counter()
        self.log.write({"step": step_done, **evaluate(self.model)})
        self.t_last += time.perf_counter() - t_eval  # img_per_s stays about training


def augment_state(cfg: StepConfig) -> dict[str, Any]:
    """What a checkpoint keeps of the augmenter (ADA's p), empty without one."""
    return cfg.augment.state() if cfg.augment is not None else {}


def rng_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"gen": gen.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def write_loss_plot(run_dir: Path) -> None:
    """Redraw ``loss.png``; a failure (a full disk) is a warning, never the error a run ends
    with, since the plot is derived from ``metrics.jsonl``."""
    from .plot import plot_losses

    run = RunDir(run_dir)
    try:
        plot_losses(run.metrics.path, run.loss_plot_path)
    except (OSError, ValueError) as exc:
        warnings.warn(f"could not draw {run.loss_plot_path} ({exc})", stacklevel=2)


def progress_bar(options: Any, start: int, enabled: bool) -> Any:
    """The run's tqdm bar (disabled off the main process or without ``progress``)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=options.steps,
        initial=start,
        disable=not (enabled and options.progress),
        unit="step",
        dynamic_ncols=True,
        desc="train",
    )
