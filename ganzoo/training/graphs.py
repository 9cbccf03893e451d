"""The fast path: the whole training step captured in CUDA graphs and replayed.

A GAN step at small batches is many small kernels and two optimiser steps: on a GPU it is bound
by kernel launches and host round-trips, not arithmetic. :class:`StepRunner` runs one step
(both phases of :func:`ganzoo.training.step.train_step`, both optimiser steps, the EMA update
and the health statistics) from *static buffers*: the step's real images, latents and labels
are copied into tensors allocated once, and the step's statistics come back in tensors the
step writes. Nothing in it reads a value back to the host, and its random numbers come from
torch's default generator, which CUDA graphs handle, so on CUDA the same function is captured
once per *kind* of step and replayed:

* the plain step, and the steps that also run lazy R1 (every ``r1_every`` D steps) or the
  model's generator penalty (every ``g_reg_every`` G steps), each captured as its own graph;
* the EMA's copy phase (before ``ema_start``) and its averaging phase.

Each kind runs eagerly (on a side stream) for :data:`WARMUP` steps before it is captured, as
PyTorch's CUDA-graph rules ask; those steps are real training steps, so a captured run trains
the same steps as an eager one. On the CPU, and wherever capture is off, the runner calls the
same function eagerly: that is what the CPU tests compare with the plain step.

Graphs hold the optimisers' hyper-parameters they were captured with: when a learning rate or
beta changes outside the step, the graphs are dropped and captured again. A resume or a
rollback builds a new trainer run, hence new graphs. What cannot be captured runs eagerly, and
:func:`capture_blocker` says why in one line: a model that declares it
(``GANModel.capture_blocker``), a model with a training schedule (progressive growing changes
shapes and α between steps), ADA (its p moves on a host-side counter), torchrun, compile=true,
or a capture that failed (a model doing host-side work in its forward).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .ema import update_ema
from .step import StepConfig, train_step

#: eager steps of each kind before it is captured (PyTorch: warm up on a side stream first)
WARMUP = 2
#: how the fallback line starts
PREFIX = "ganzoo: fast path:"


def autocast_for(options: Any, device: torch.device) -> Callable[[], Any]:
    """The step's autocast: bf16 on CUDA with ``amp``, else none."""
    if device.type == "cuda" and options.amp:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def channels_last_on(options: Any, device: torch.device) -> bool:
    """Whether the run uses channels_last tensors: ``channels_last`` on CUDA (on by default),
    ``channels_last_cpu`` on the CPU (off by default, so CPU runs stay bit-identical to the
    runs before it, whose configs say ``channels_last: true`` and meant CUDA only)."""
    if device.type == "cuda":
        return bool(getattr(options, "channels_last", True))
    return bool(getattr(options, "channels_last_cpu", False))


def adam_flags(options: Any, device: torch.device, captured: bool | None = None) -> dict[str, Any]:
    """Adam's implementation switches for this run: on CUDA with ``fused_adam`` the fused
    kernels, and capturable state (the step count on the device) when the step is captured;
    on the CPU the defaults (foreach), so CPU results stay what they were.

    ``captured`` is whether the trainer will capture the step (``capture_blocker(...) is
    None``); None (a caller that captures by hand) means whenever ``cuda_graphs`` is on and
    ``compile`` off. A run that trains eagerly (torchrun, a schedule, ADA, a declared
    blocker) then keeps the plain Adam state, whose step count lives on the host."""
    flags: dict[str, Any] = {"fused": None, "capturable": False}
    if device.type == "cuda":
        if options.fused_adam:
            flags["fused"] = True
        if captured is None:
            captured = bool(options.cuda_graphs and not options.compile)
        if captured:
            flags["capturable"] = True
    return flags


def adopt_adam_flags(
    optimizers: Any, options: Any, device: torch.device, captured: bool | None = None
) -> None:
    """After a resume: give restored optimisers this run's switches, not the checkpoint's
    (``load_state_dict`` takes the saved ``fused``/``capturable``: a GPU run's checkpoint
    resumed on the CPU would otherwise ask for capturable Adam there), and put each step
    count where those switches want it (on the parameter's device when fused or capturable,
    on the CPU otherwise). ``captured`` as for :func:`adam_flags`: pass the value the
    optimisers were built with, so the two agree."""
    flags = adam_flags(options, device, captured)
    on_device = bool(flags["fused"] or flags["capturable"])
    for opt in optimizers:
        for group in opt.param_groups:
            group.update(flags)
            for p in group["params"]:
                state = opt.state.get(p, {})
                step = state.get("step")
                if isinstance(step, torch.Tensor):
                    where = p.device if on_device else torch.device("cpu")
                    state["step"] = step.to(device=where, dtype=torch.float32)


def build_optimizers(
    model: Any, options: Any, device: torch.device, captured: bool | None = None
) -> tuple[Any, Any]:
    """G's and D's Adam, with :func:`adam_flags` (``captured`` as there)."""
    kwargs = {k: v for k, v in adam_flags(options, device, captured).items() if v}
    opt_g = torch.optim.Adam(
        model.generator.parameters(), lr=options.lr_g, betas=tuple(options.betas_g), **kwargs
    )
    opt_d = torch.optim.Adam(
        model.discriminator.parameters(), lr=options.lr_d, betas=tuple(options.betas_d), **kwargs
    )
    return opt_g, opt_d


def compile_networks(g_model: Any, d_model: Any, options: Any) -> tuple[Any, Any]:
    """``torch.compile`` the networks the step calls (``compile=true``); the model's own
    modules (what is saved and sampled) stay as they are, sharing the parameters."""
    if not options.compile:
        return g_model, d_model
    return torch.compile(g_model), torch.compile(d_model)


def declared_blocker(model: Any) -> str | None:
    """What the model says stops its step from being captured (None: nothing).

    A model declares it with the class attribute ``capture_blocker`` (a non-empty string,
    the reason); anything else there is an error, so a typo is not silently "capturable".
    """
    reason = getattr(model, "capture_blocker", None)
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError(
            f"{type(model).__name__}.capture_blocker must be None or a non-empty string saying "
            f"why the model cannot be captured in a CUDA graph, not {reason!r}"
        )
    return reason.strip()


def capture_blocker(
    model: Any, options: Any, device: torch.device, *, distributed: bool, scheduled: bool
) -> str | None:
    """Why this run's step is not captured in CUDA graphs (None: it is)."""
    if device.type != "cuda":
        return "not on CUDA"
    if not options.cuda_graphs:
        return "cuda_graphs=false"
    name = getattr(model, "arch", "") or type(model).__name__
    declared = declared_blocker(model)
    if declared is not None:
        return f"{name} cannot be captured: {declared}"
    if options.compile:
        return "compile=true runs the compiled networks without CUDA graphs"
    if distributed:
        return "under torchrun the gradients are averaged between processes outside the graph"
    if scheduled and not getattr(model, "schedule_in_place", False):
        return f"{name} has a training schedule that changes its shape and fade-in between steps"
    if options.augment == "ada":
        return "augment=ada moves p on a host-side counter"
    return None


class StepRunner:
    """One training step from static buffers: eager, or replayed from CUDA graphs.

    ``__call__(step, real, z, real_y, fake_y)`` copies the batch into the runner's buffers and
    runs the step (``train_step``, the EMA update, the health and augmentation statistics);
    it returns the statistics as device tensors that the next call overwrites (copy them to
    keep them). ``blocker`` is None to capture, or the reason to run eagerly.
    """

    def __init__(
        self,
        model: Any,
        opt_g: Any,
        opt_d: Any,
        cfg: StepConfig,
        options: Any,
        *,
        g_model: Any = None,
        d_model: Any = None,
        health: Any = None,
        blocker: str | None = "not on CUDA",
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.model, self.opt_g, self.opt_d, self.cfg = model, opt_g, opt_d, cfg
        self.options, self.g_model, self.d_model, self.health = options, g_model, d_model, health
        self.blocker, self.say = blocker, say
        self.buffers: dict[str, Tensor | None] = {}
        self.graphs: dict[tuple, tuple[Any, dict[str, Tensor]]] = {}
        self.seen: dict[tuple, int] = {}
        self.hyper: tuple = ()
        self.captures = 0  #: graphs captured so far (rebuilds included)
        from ..models import GANModel  # a model without a penalty has one kind of G step

        self.penalty = type(model).generator_penalty is not GANModel.generator_penalty
        self._autocast = cfg.autocast
        if blocker is None:
            if options.amp:  # autocast's weight cache must not outlive a capture (PyTorch docs)
                self.cfg.autocast = lambda: torch.autocast(
                    "cuda", dtype=torch.bfloat16, cache_enabled=False
                )
            self.side = torch.cuda.Stream()

    @property
    def captured(self) -> bool:
        """Whether steps are replayed from graphs (so far)."""
        return self.blocker is None

    # -- the step itself -------------------------------------------------------------------
    def kind(self, step: int) -> tuple:
        """What decides a step's kernels: lazy R1 per D step, G's penalty, the EMA's phase."""
        cfg = self.cfg
        r1 = tuple(
            cfg.r1_gamma > 0 and (step * cfg.d_steps + i) % cfg.r1_every == 0
            for i in range(cfg.d_steps)
        )
        ema = None
        if self.model.generator_ema is not None:
            ema = step >= self.options.ema_start
        return (r1, self.penalty and step % cfg.g_reg_every == 0, ema)

    def body(self, step: int) -> dict[str, Tensor]:
        """The step on the static buffers (what is captured)."""
        b, model = self.buffers, self.model
        stats = train_step(
            model,
            b["real"],
            b["z"],
            self.opt_g,
            self.opt_d,
            self.cfg,
            step,
            self.g_model,
            self.d_model,
            b["real_y"],
            b["fake_y"],
        )
        if model.generator_ema is not None:
            decay = self.options.ema_decay if step >= self.options.ema_start else 0.0
            update_ema(model.generator_ema, model.generator, decay)
        if self.health is not None:
            stats.update(self.health.step_stats(b["real"]))
        if self.cfg.augment is not None:
            stats.update(self.cfg.augment.stats())
        return stats

    def _load(self, real: Tensor, z: Tensor, real_y: Tensor | None, fake_y: Tensor | None) -> bool:
        """Copy the batch into the buffers (allocated at the first call); False when its
        shapes differ from the buffers' (the step then runs eagerly on the batch itself)."""
        new = {"real": real, "z": z, "real_y": real_y, "fake_y": fake_y}
        if not self.buffers:
            self.buffers = {k: None if v is None else v.clone() for k, v in new.items()}
            return True
        for key, value in new.items():
            buf = self.buffers[key]
            if (buf is None) != (value is None) or (
                buf is not None and (buf.shape != value.shape or buf.dtype != value.dtype)
            ):
                return False
        for key, value in new.items():
            if value is not None:
                self.buffers[key].copy_(value)
        return True

    def __call__(
        self,
        step: int,
        real: Tensor,
        z: Tensor,
        real_y: Tensor | None = None,
        fake_y: Tensor | None = None,
    ) -> dict[str, Tensor]:
        if not self._load(real, z, real_y, fake_y):
            batch = {"real": real, "z": z, "real_y": real_y, "fake_y": fake_y}
            saved, self.buffers = self.buffers, batch
            try:
                return self.body(step)
            finally:
                self.buffers = saved
        if self.blocker is not None:
            return self.body(step)
        return self._fast(step)

    # -- CUDA graphs -----------------------------------------------------------------------
    def _hyper(self) -> tuple:
        return tuple(
            (group["lr"], tuple(group["betas"]), group["eps"], group["weight_decay"])
            for opt in (self.opt_g, self.opt_d)
            for group in opt.param_groups
        )

    def _fast(self, step: int) -> dict[str, Tensor]:
        hyper = self._hyper()
        if hyper != self.hyper:  # changed outside the step: the graphs hold the old values
            self.graphs.clear()
            self.seen.clear()
            self.hyper = hyper
        key = self.kind(step)
        graph = self.graphs.get(key)
        if graph is not None:
            graph[0].replay()
            return dict(graph[1])  # the caller may add keys; the tensors are the graph's
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] <= WARMUP:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                out = self.body(step)
            torch.cuda.current_stream().wait_stream(self.side)
            return out
        try:
            g = torch.cuda.CUDAGraph()
            self.opt_g.zero_grad(set_to_none=True)
            self.opt_d.zero_grad(set_to_none=True)
            with torch.cuda.graph(g, capture_error_mode="thread_local"):
                out = self.body(step)
        except Exception as exc:  # a model doing host-side work in its step, for one
            torch.cuda.synchronize()
            self.fall_back(f"capture failed ({type(exc).__name__}: {first_line(exc)})")
            return self.body(step)
        self.graphs[key] = (g, out)
        self.captures += 1
        g.replay()
        return dict(out)

    def fall_back(self, reason: str) -> None:
        """Run eagerly from now on, saying why in one line."""
        self.blocker = reason
        self.graphs.clear()
        self.cfg.autocast = self._autocast
        if self.say is not None:
            self.say(f"{PREFIX} {reason}; training eagerly")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def make_runner(
    model: Any,
    opt_g: Any,
    opt_d: Any,
    cfg: StepConfig,
    options: Any,
    device: torch.device,
    *,
    g_model: Any,
    d_model: Any,
    health: Any,
    distributed: bool,
    scheduled: bool,
    say: Callable[[str], None] | None,
) -> StepRunner:
    """The trainer's runner: captured when :func:`capture_blocker` finds nothing against it,
    else eager, with one line saying why (on CUDA; the CPU has no graphs to miss)."""
    blocker = capture_blocker(model, options, device, distributed=distributed, scheduled=scheduled)
    if blocker is not None and device.type == "cuda" and options.cuda_graphs and say:
        say(f"{PREFIX} {blocker}; training eagerly")
    return StepRunner(
        model,
        opt_g,
        opt_d,
        cfg,
        options,
        g_model=g_model,
        d_model=d_model,
        health=health if getattr(health, "enabled", False) else None,
        blocker=blocker,
        say=say,
    )
