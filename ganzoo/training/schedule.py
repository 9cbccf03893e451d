"""A model's training schedule: the hook the trainer calls between steps.

A model whose shape or mixing changes during training (progressive growing: a new block faded in
over a number of images, then stabilised) says so through
:meth:`ganzoo.models.GANModel.training_schedule`. The trainer calls it before every step with the
step number; the model puts itself (and its EMA copy) into the state that step trains in and
returns a :class:`TrainingPhase`: the phase's name, the batch size of the step and numbers to log.
The state must be a pure function of the step (and of :class:`ScheduleContext`), so that resuming
from a checkpoint at any step, mid-fade-in included, continues exactly.

What the trainer does with it lives here, so the loop only calls :class:`ModelSchedule`:

* when the phase's name changes it writes a sample grid and a checkpoint (every phase has both);
* it keeps each optimiser's parameter list equal to its network's parameters (in module order),
  carrying the Adam state of the parameters it already had, so a model may add parameters when
  it grows; the same order after a resume makes the saved optimiser state fit again;
* it trims the step's batch to the phase's batch size (a prefix of the step's real images and
  latents, so the data order and random streams stay those of the run's ``batch_size``);
* it logs the phase's numbers (resolution, fade-in α) with the step's losses.

A model without a schedule (the default returns None) is never called again: its steps are
exactly what they were before the hook existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError


@dataclass(frozen=True)
class ScheduleContext:
    """What a schedule may depend on besides the step: fixed for the whole run (a resumed run
    has the same), so the state at a step never depends on when the run was interrupted."""

    batch_size: int  #: the run's ``batch_size`` (the most images a step can take)
    dataset_size: int | None  #: images in the training set; None for a stream


@dataclass(frozen=True)
class TrainingPhase:
    """What :meth:`GANModel.training_schedule` returns for one step.

    ``name`` identifies the phase ("16px fade-in"): the trainer writes a sample grid and a
    checkpoint whenever it changes. ``batch_size`` (at most the run's, None for the run's) is the
    number of images this step trains on. ``metrics`` are logged with the step's losses
    (averaged over ``log_every`` steps like them)."""

    name: str
    batch_size: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


class ModelSchedule:
    """The trainer's side of the hook: one per run."""

    def __init__(self, model: Any, options: Any, dataset_size: int | None, world: Any) -> None:
        self.model = model
        self.options = options
        self.world = world
        self.context = ScheduleContext(options.batch_size, dataset_size)
        self.phase: TrainingPhase | None = model.training_schedule(0, self.context)
        self.active = self.phase is not None
        #: the schedule only rewrites buffers (GANModel.schedule_in_place): torchrun and CUDA
        #: graphs can follow it
        self.in_place = bool(getattr(model, "schedule_in_place", False))
        if self.active and world.distributed and not self.in_place:
            # DistributedDataParallel needs a gradient for every parameter of G at every step,
            # which blocks not yet grown do not get
            raise ConfigError(
                f"{model.arch or type(model).__name__} changes during training (it has a "
                "training schedule), which torchrun's DistributedDataParallel cannot follow: "
                "train it in one process"
            )

    def begin(self, step: int) -> None:
        """Put the model in the state of ``step``, the first step this process trains (before
        the optimisers are built, so that a model grown at that step is restored whole)."""
        if self.active:
            self.phase = self._call(step)

    def before_step(self, step: int) -> bool:
        """Call the hook for ``step``; True when a new phase starts here."""
        if not self.active:
            return False
        previous = self.phase
        self.phase = self._call(step)
        return previous is not None and previous.name != self.phase.name

    def _call(self, step: int) -> TrainingPhase:
        phase = self.model.training_schedule(step, self.context)
        if not isinstance(phase, TrainingPhase):
            raise ConfigError(
                f"{self.model.arch or type(self.model).__name__}.training_schedule returned "
                f"{type(phase).__name__} at step {step}; it must return a TrainingPhase every "
                "step once it returned one at step 0"
            )
        n = phase.batch_size
        if self.in_place and n is not None and n != self.options.batch_size:
            raise ConfigError(
                f"{self.model.arch or type(self.model).__name__} declares schedule_in_place, "
                f"but its phase {phase.name!r} asks for batches of {n} images: a schedule that "
                "cuts the batch is not in place (set schedule_in_place = False)"
            )
        if n is not None and not (1 <= n <= self.options.batch_size):
            raise ConfigError(
                f"the phase {phase.name!r} asks for batches of {n} images but the run's "
                f"batch_size is {self.options.batch_size}: raise --batch-size to at least {n}"
            )
        if n is not None and n % self.world.world_size:
            raise ConfigError(
                f"the phase {phase.name!r} asks for batches of {n} images, which "
                f"{self.world.world_size} processes cannot split evenly"
            )
        return phase

    def trim(
        self, real: Tensor, real_y: Tensor | None, z: Tensor, fake_y: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor, Tensor | None]:
        """The step's batch cut to the phase's batch size (this process's share of it)."""
        n = self.phase.batch_size if self.phase is not None else None
        if n is None or n == self.options.batch_size:
            return real, real_y, z, fake_y
        local = n // self.world.world_size
        d = self.options.d_steps

        def cut(t: Tensor | None) -> Tensor | None:  # d_steps batches stacked: cut each
            if t is None:
                return None
            return t.reshape(d, -1, *t.shape[1:])[:, :local].reshape(-1, *t.shape[1:])

        return cut(real), cut(real_y), z[:local], None if fake_y is None else fake_y[:local]

    def metrics(self, device: Any) -> dict[str, Tensor]:
        """The phase's numbers as device tensors, accumulated like the losses."""
        if self.phase is None:
            return {}
        return {k: torch.full((), float(v), device=device) for k, v in self.phase.metrics.items()}


def sync_optimizer(optimizer: torch.optim.Optimizer, params: list[Tensor]) -> bool:
    """Make ``optimizer``'s one parameter group hold exactly ``params`` (in this order).

    The state of parameters it already held is kept (Adam's moments are keyed by the tensor);
    new ones start without state, as at a first step; state of parameters no longer present is
    dropped. Returns True when anything changed. An optimiser with several groups is left alone:
    the trainer builds one group per network."""
    if len(optimizer.param_groups) != 1:
        raise ValueError("sync_optimizer handles optimisers with one parameter group")
    group = optimizer.param_groups[0]
    if len(group["params"]) == len(params) and all(
        a is b for a, b in zip(group["params"], params, strict=True)
    ):
        return False
    keep = {id(p) for p in params}
    for p in list(optimizer.state):
        if id(p) not in keep:
            del optimizer.state[p]
    group["params"] = list(params)
    return True


def resume_step(run_dir: Any) -> int:
    """The step a resumed run starts at (its newest intact checkpoint's); the trainer restores
    that checkpoint afterwards and reports any broken one then."""
    from .checkpoint import find_resume_point

    return find_resume_point(run_dir, report=False).step
