"""Optimising the pixels: L-BFGS or Adam over an image kept in [0, 1].

A *step* is one evaluation of the objective (one forward and one backward pass through the cut
backbone), for both optimisers, so step counts compare across optimisers and with the PyTorch
tutorial's loop. L-BFGS runs in chunks of at most 20 iterations per ``step()`` call (the
tutorial's default), each iteration evaluating the objective once. The image is clamped to
[0, 1] before every evaluation and at the end. Losses stay on the device and are read back only
when the progress bar or a callback needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .backbone import FeatureNet
from .losses import Objective

LBFGS_CHUNK = 20  #: L-BFGS iterations per optimizer.step() call
LOG_EVERY = 10  #: steps between progress-bar updates (each one reads the losses back)


@dataclass
class Tracker:
    """Counts steps across pyramid levels, keeps the loss history and drives the progress bar
    and the user's callback."""

    total_steps: int
    progress: bool = False
    callback: Callable[[int, Tensor, dict[str, float]], None] | None = None
    callback_every: int = 0
    step: int = 0
    level: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    _pending: list[tuple[int, int, Tensor, Tensor]] = field(default_factory=list)
    _bar: object = None

    def __post_init__(self) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total_steps, unit="step", desc="stylize", leave=False)

    def record(self, total: Tensor, parts: Tensor, image: Tensor) -> None:
        """Called after every evaluation with the (not yet read) losses and the image."""
        self.step += 1
        self._pending.append((self.step, self.level, total.detach(), parts))
        due_callback = self.callback is not None and self.callback_every > 0
        due_callback = due_callback and self.step % self.callback_every == 0
        if due_callback or self.step % LOG_EVERY == 0:
            self.flush()
        if self._bar is not None:
            self._bar.update(1)
        if due_callback:
            self.callback(self.step, image.detach().clamp(0, 1) * 2 - 1, self.history[-1])

    def flush(self) -> None:
        """Read the pending losses back to the host (one synchronisation)."""
        if not self._pending:
            return
        values = torch.stack([torch.cat([t.view(1), p]) for _, _, t, p in self._pending]).cpu()
        for (step, level, _, _), row in zip(self._pending, values.tolist(), strict=True):
            total, content, style, tv = row
            self.history.append(
                {
                    "step": step,
                    "level": level,
                    "total": total,
                    "content": content,
                    "style": style,
                    "tv": tv,
                }
            )
        self._pending.clear()
        if self._bar is not None:
            last = self.history[-1]
            self._bar.set_postfix(
                content=f"{last['content']:.3g}",
                style=f"{last['style']:.3g}",
                tv=f"{last['tv']:.3g}",
                refresh=False,
            )

    def close(self) -> None:
        self.flush()
        if self._bar is not None:
            self._bar.close()


def optimise(
    image: Tensor,
    net: FeatureNet,
    objective: Objective,
    *,
    steps: int,
    optimizer: str,
    lr: float | None,
    adam_beta1: float = 0.9,
    adam_eps: float = 1e-8,
    tracker: Tracker,
    graphs: bool = False,
) -> Tensor:
    """Minimise ``objective`` over the pixels of ``image`` (1×3×H×W in [0, 1]) for ``steps``
    evaluations; returns the optimised image, detached, in [0, 1].

    Each evaluation (with Adam: and its step) runs from fixed tensors through
    :class:`ganzoo.training.graphed.GraphedCall`; with ``graphs`` and the image on CUDA it is
    captured in a CUDA graph and replayed, else called eagerly (the same computation)."""
    # The parameter is stored N×H×W×C and contiguous (L-BFGS flattens it with .view); its
    # N×C×H×W permutation is a free channels-last view, the layout the backbone runs fastest in.
    param = image.detach().permute(0, 2, 3, 1).contiguous().requires_grad_(True)
    return _optimise_loop(
        param, net, objective, steps, optimizer, lr, adam_beta1, adam_eps, tracker,
        capture=graphs and param.is_cuda,
    )  # fmt: skip


def _lbfgs_in_chunks(
    opt: torch.optim.LBFGS, closure: Callable[[], Tensor], steps: int, tracker: Tracker
) -> None:
    """Run L-BFGS for ``steps`` evaluations, ``LBFGS_CHUNK`` at a time (its line search may
    evaluate more than once a step: the tracker counts evaluations)."""
    done = 0
    while done < steps:
        chunk = min(LBFGS_CHUNK, steps - done)
        opt.param_groups[0]["max_iter"] = chunk
        opt.param_groups[0]["max_eval"] = chunk * 5 // 4  # torch's default ratio
        before = tracker.step
        opt.step(closure)
        done += max(1, tracker.step - before)


def _optimise_loop(
    param: Tensor,
    net: FeatureNet,
    objective: Objective,
    steps: int,
    optimizer: str,
    lr: float | None,
    adam_beta1: float,
    adam_eps: float,
    tracker: Tracker,
    *,
    capture: bool,
) -> Tensor:
    """:func:`optimise`'s loop over ``param`` (N×H×W×C), every evaluation a
    :class:`GraphedCall` on fixed tensors: captured in a CUDA graph and replayed with
    ``capture``, else called eagerly (the same computation, so the two give the same image).
    The losses are copied out for the tracker after each call (a replay overwrites them)."""
    import sys

    from ganzoo.training.graphed import GraphedCall

    def evaluate() -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            param.clamp_(0, 1)
        x = param.permute(0, 3, 1, 2)
        total, parts = objective(x, net(x))
        total.backward()
        return total.detach(), parts.detach()

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    def record() -> Tensor:
        total, parts = call()
        tracker.record(total.clone(), parts.clone(), param.permute(0, 3, 1, 2))
        return total.clone()

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([param], lr=lr or 1.0, max_iter=LBFGS_CHUNK, history_size=100)

        def lbfgs_eval() -> tuple[Tensor, Tensor]:
            opt.zero_grad(set_to_none=False)
            return evaluate()

        call = GraphedCall(lbfgs_eval, capture, say=say)
        _lbfgs_in_chunks(opt, record, steps, tracker)
    else:
        opt = torch.optim.Adam(
            [param], lr=lr or 0.02, betas=(adam_beta1, 0.999), eps=adam_eps, capturable=capture
        )

        def adam_step() -> tuple[Tensor, Tensor]:
            opt.zero_grad(set_to_none=True)
            out = evaluate()
            opt.step()
            return out

        call = GraphedCall(adam_step, capture, say=say)
        for _ in range(steps):
            record()
    with torch.no_grad():
        param.clamp_(0, 1)
    return param.detach().permute(0, 3, 1, 2)
