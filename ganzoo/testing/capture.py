"""The ``capture`` check: a GAN's training step can be captured in a CUDA graph, or the model
says why not.

ganzoo's trainer captures the whole step (both phases, both optimiser steps, the EMA) in CUDA
graphs on a GPU (:mod:`ganzoo.training.graphs`). A model that does host-side work in its step
(reads a value back with ``.item()``, branches on a tensor, changes shape per call) cannot be
captured; it declares so with a class attribute, the reason the trainer prints when it trains
eagerly::

    class MyGAN(ganzoo.GANModel):
        capture_blocker = "the generator picks its depth from the data on the host"

Without CUDA the check verifies only that declaration and is skipped, saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .report import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from .runner import Subject

#: steps run through the captured step (eager warm-up, the capture, then replays)
STEPS = 5
N = 4


def check_capture(s: Subject) -> None:
    """On CUDA: a few training steps of the model replayed from a CUDA graph stay finite and
    change both networks. Everywhere: ``capture_blocker`` is None or a non-empty string."""
    import torch

    from ..training.graphs import WARMUP, declared_blocker

    model = s.model()
    try:
        declared = declared_blocker(model)
    except TypeError as exc:
        raise CheckFailed(str(exc)) from None
    if declared is not None:
        return  # declared, with a reason the trainer will print: nothing to capture
    if not torch.cuda.is_available():
        raise CheckSkipped("capturing a CUDA graph needs CUDA (capture_blocker is well-formed)")
    runner, model = _runner(model)
    nets = (("generator", model.generator), ("discriminator", model.discriminator))
    try:
        for step in range(STEPS):
            if step == STEPS - 1:  # a replay
                before = {k: [p.detach().clone() for p in net.parameters()] for k, net in nets}
            stats = runner(step, *_batch(model, step))
        torch.cuda.synchronize()
    except Exception as exc:
        raise CheckFailed(f"the captured step raised {s.explain(exc)}") from exc
    if runner.blocker is not None or runner.captures == 0:
        raise CheckFailed(
            f"the training step could not be captured in a CUDA graph ({runner.blocker}): "
            "keep the step free of host reads (.item(), tensor-dependent Python branches) or "
            "declare capture_blocker = 'why' on the model class"
        )
    bad = [k for k, v in stats.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckFailed(f"replayed steps gave non-finite {', '.join(sorted(bad))}")
    for label, net in nets:
        if all(torch.equal(a, b) for a, b in zip(before[label], net.parameters(), strict=True)):
            raise CheckFailed(
                f"a replayed step (after {WARMUP} eager ones) left the {label}'s weights as "
                "they were: the graph did not train it"
            )


def _runner(model: Any) -> tuple[Any, Any]:
    import copy

    import torch

    from ..plugins import get_registry
    from ..training.graphs import StepRunner, build_optimizers
    from ..training.options import TrainOptions
    from ..training.step import StepConfig

    dev = torch.device("cuda")
    model = copy.deepcopy(model).to(dev).train()
    options = TrainOptions(batch_size=N, device="cuda", g_reg_every=1)
    opt_g, opt_d = build_optimizers(model, options, dev)
    loss = get_registry().losses.get(options.loss)
    cfg = StepConfig(loss, 1, 0.0, 0.0, 1, 1, None, lambda: torch.autocast("cuda", torch.bfloat16))
    return StepRunner(model, opt_g, opt_d, cfg, options, blocker=None), model


def _batch(model: Any, step: int) -> tuple[Any, ...]:
    import torch

    gen = torch.Generator().manual_seed(step)
    real = (torch.rand(N, *model.image_shape, generator=gen) * 2 - 1).cuda()
    z = model.sample_latent(N, generator=gen, device="cpu").cuda()
    if not getattr(model, "conditional", False):
        return real, z, None, None
    y = torch.randint(model.num_classes, (N,), generator=gen).cuda()
    return real, z, y, y.clone()
