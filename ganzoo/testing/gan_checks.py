"""Checks only GANs get: forward, backward, sample, train.

They exercise exactly what the shared trainer and samplers call: ``sample_latent``,
``generator(z)``, ``final_image``, ``prepare_real``, ``discriminator(...)``,
``generator_penalty`` and ``views()``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .report import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from torch import Tensor

    from .runner import Subject

#: batch size of the forward and backward checks (a multiple of the usual mbstd group of 4)
N = 4
#: how far outside [-1, 1] an eval-mode image may stray (rounding in tanh and clamps)
RANGE_TOLERANCE = 1e-4


def _tensors(x: Any) -> list[Tensor]:
    return list(x) if isinstance(x, list | tuple) else [x]


def _finite(x: Any, what: str) -> None:
    import torch

    for t in _tensors(x):
        if not isinstance(t, torch.Tensor):
            raise CheckFailed(f"{what} is {type(t).__name__}, not a torch.Tensor")
        if not torch.isfinite(t).all():
            raise CheckFailed(f"{what} holds NaN or infinite values")


def _logits(out: Any, what: str) -> None:
    import torch

    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} returned {type(out).__name__}, not a tensor of logits")
    if tuple(out.shape) != (N,):
        hint = ": flatten the last layer's output" if out.numel() == N else ""
        raise CheckFailed(
            f"{what} must return one logit per image, shape ({N},); got {tuple(out.shape)}{hint}"
        )
    _finite(out, what)


def _images(x: Any, s: Subject, what: str, shape: tuple[int, ...]) -> None:
    import torch

    if not isinstance(x, torch.Tensor):
        raise CheckFailed(f"{what} is {type(x).__name__}, not a tensor")
    if tuple(x.shape) != shape:
        raise CheckFailed(
            f"{what} has shape {tuple(x.shape)}, but generator.image_shape promises {shape[1:]}"
        )
    _finite(x, what)
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise CheckFailed(
            f"{what} spans [{lo:.3g}, {hi:.3g}] in eval mode; images must lie in [-1, 1] "
            "(end G with tanh, or clamp in eval mode)"
        )


def _latent(model: Any, seed: int = 0) -> Tensor:
    import torch

    z = model.sample_latent(N, generator=torch.Generator().manual_seed(seed))
    if not isinstance(z, torch.Tensor) or z.shape[0] != N:
        raise CheckFailed(f"sample_latent({N}) must return a tensor with {N} rows")
    return z.to(model.device)


def check_forward(s: Subject) -> None:
    """Eval-mode G gives finite images of ``image_shape`` in [-1, 1]; D gives N finite logits
    for G's output and for ``prepare_real`` of a real batch."""
    import torch

    model = s.model()
    model.eval()
    z = _latent(model)
    with torch.no_grad():
        out = model.generator(z)
        _finite(out, "the generator's output")
        _images(model.final_image(out), s, "final_image(generator(z))", (N, *model.image_shape))
        _logits(model.discriminator(out), "discriminator(generator(z))")
        real = torch.rand(N, *model.image_shape, device=model.device) * 2 - 1
        _logits(model.discriminator(model.prepare_real(real)), "discriminator(prepare_real(x))")


def _grads(net: Any, label: str) -> None:
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    if not any(g is not None and bool(g.abs().sum() > 0) for g in grads):
        raise CheckFailed(
            f"no gradient reaches the {label}: is its output detached (torch.no_grad, "
            ".detach(), .item(), numpy) somewhere in forward?"
        )
    for g in grads:
        if g is not None:
            _finite(g, f"a gradient of the {label}")


def check_backward(s: Subject) -> None:
    """In training mode, D(G(z)) back-propagates finite gradients into G and D, D's loss on a
    real batch does too, and ``generator_penalty`` (if any) is a finite scalar or None."""
    import torch

    model = s.new_model()
    model.train()
    z = _latent(model)
    model.discriminator(model.generator(z)).mean().backward()
    _grads(model.generator, "generator")
    _grads(model.discriminator, "discriminator")
    model.zero_grad(set_to_none=True)
    real = torch.rand(N, *model.image_shape, device=model.device) * 2 - 1
    model.discriminator(model.prepare_real(real)).mean().backward()
    _grads(model.discriminator, "discriminator (on real images)")
    extra = model.generator_penalty(z)
    if extra is not None:
        if not isinstance(extra, torch.Tensor) or extra.dim() != 0:
            shape = tuple(extra.shape) if isinstance(extra, torch.Tensor) else type(extra)
            raise CheckFailed(
                f"generator_penalty(z) must return a scalar tensor or None, got {shape}"
            )
        _finite(extra, "generator_penalty(z)")
        if not extra.requires_grad:
            raise CheckFailed("generator_penalty(z) is not connected to G's parameters")


def check_sample(s: Subject) -> None:
    """``sample(n, seed)`` is reproducible, differs across seeds, and lies in [-1, 1]; every
    entry of ``views()`` renders."""
    import torch

    model = s.model()
    shape = (N, *model.image_shape)
    a = model.sample(N, seed=1)
    _images(a, s, f"sample({N}, seed=1)", shape)
    if not torch.equal(a, model.sample(N, seed=1)):
        raise CheckFailed(
            "sample(seed=1) gave other images the second time: draw randomness only from torch "
            "(sample() seeds it), never from NumPy or Python's random, and keep no state that "
            "changes between calls"
        )
    if torch.equal(a, model.sample(N, seed=2)):
        raise CheckFailed(
            "sample(seed=1) and sample(seed=2) gave identical images: the generator ignores z"
        )
    from ..models import ImageGrid

    for view, render in model.views().items():
        grid = render(n=2, seed=0, ema=None)
        if not isinstance(grid, ImageGrid):
            raise CheckFailed(
                f"view {view!r} returned {type(grid).__name__}: return a "
                "ganzoo.models.ImageGrid(images, nrow)"
            )
        first = grid.images
        if not isinstance(first, torch.Tensor) or first.dim() != 4:
            raise CheckFailed(f"view {view!r} must return an N×C×H×W tensor of images")
        _finite(first, f"view {view!r}")
        if float(first.abs().max()) > 1 + RANGE_TOLERANCE:
            raise CheckFailed(f"view {view!r} returned values outside [-1, 1]")
        if not torch.equal(first, render(n=2, seed=0, ema=None).images):
            raise CheckFailed(f"view {view!r} is not reproducible for a fixed seed")


def check_train(s: Subject) -> None:
    """A few steps through ``ganzoo.training.run`` (the code path of ``ganzoo train``) finish
    with finite losses, write the run directory, and change both networks' weights."""
    import torch

    from ..hub import from_pretrained
    from ..training import run

    if s.spec.recipe is None:
        raise CheckSkipped("the model has no training recipe")
    kit = {
        "steps": s.train_steps,
        "batch_size": N,
        "log_every": 1,
        "sample_every": 0,
        "checkpoint_every": 0,
        "n_samples": N,
        "ema": True,  # exercise the moving-average copy of G too
        "progress": False,
        "device": s.device,
        "seed": 0,
    }
    layers = [{**kit, **s.model_overrides, **s.train_overrides}]
    out = s.workdir / f"{s.name}-run"
    plan = run.plan_new_run(s.name, data=s.data, preset=s.preset, layers=layers, out=out)
    try:
        final = run.execute(plan)
    except Exception as exc:
        raise CheckFailed(f"{s.train_steps} training steps raised {s.explain(exc)}") from exc
    for key in ("d_loss", "g_loss"):
        if not math.isfinite(float(final.get(key, math.nan))):
            raise CheckFailed(f"training finished without a finite {key}: got {final}")
    steps = plan.options.steps
    logged = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    if len(logged) != steps or json.loads(logged[-1])["step"] != steps:
        raise CheckFailed(f"metrics.jsonl should hold {steps} records, it holds {len(logged)}")
    if not (out / "samples" / f"step-{steps:06d}.png").is_file():
        raise CheckFailed("training wrote no sample grid")
    trained = from_pretrained(out, device=s.device)
    initial = s.new_model(seed=plan.options.seed)  # run.execute seeds torch so before building
    for label in ("generator", "discriminator"):
        before = initial.networks()[label].state_dict()
        after = trained.networks()[label].state_dict()
        if all(torch.equal(before[k], after[k].to(before[k].device)) for k in before):
            raise CheckFailed(
                f"{steps} training steps left the {label}'s weights unchanged: do its "
                "parameters reach the optimiser (registered submodules, requires_grad)?"
            )
    if "generator_ema" not in trained.networks():
        raise CheckFailed("the checkpoint of a run with ema=true has no generator_ema")
