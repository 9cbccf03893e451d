"""Remedies that act: roll a run back to its last good checkpoint and go on more gently.

``--on-diverge rollback`` (``--set on_diverge=rollback``): when a loss or a weight becomes NaN
or infinite, the run goes back to its newest checkpoint (always finite: checkpoints are only
written when every tensor is), halves both learning rates and continues. ``--set
on_collapse=rollback``: the same when a mode collapse has lasted ``collapse_patience`` logging
intervals, back to the newest checkpoint written before the collapse began; the checkpoints
written during the collapse are kept, renamed ``collapsed-step-XXXXXX``, so nothing trained is
lost. After ``rollback_tries`` rollbacks the run stops with the usual error.

Each rollback rewrites the run's ``config.json`` with the halved learning rates (a later
``--resume`` continues with them) and leaves a ``{"kind": "health", "event": "rollback"}``
record in ``metrics.jsonl``, which ``ganzoo doctor`` shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..config import config_to_dict
from ..errors import GanzooError
from ..rundir import RunDir, parse_step
from .health import TrainingCollapsed


def fit_with_rollback(
    trainer: Any,
    model: Any,
    data: Any,
    plan: Any,
    world: Any,
    rebuild: Callable[[], Any],
) -> dict[str, float]:
    """``trainer.fit`` for ``plan``, rolled back and continued as the options ask.

    ``rebuild`` makes a fresh model (the run's seed): a divergence before the first checkpoint
    starts over from step 0 with the halved learning rates.
    """
    from .trainer import TrainingDiverged

    options, resume, tries = plan.options, plan.resume, 0
    last: int | None = None  # the step the previous rollback went back to
    notes: list[dict[str, Any]] = []  # every rollback's record, as metrics.jsonl holds them
    run = RunDir(plan.run_dir)
    is_main = world is None or world.is_main
    trainer.health_notes = []
    while True:
        try:
            return trainer.fit(model, data, options, plan.run_dir, resume=resume, world=world)
        except (TrainingDiverged, TrainingCollapsed) as exc:
            collapsed = isinstance(exc, TrainingCollapsed)
            wanted = (options.on_collapse if collapsed else options.on_diverge) == "rollback"
            if not wanted:
                raise
            if tries >= options.rollback_tries:
                raise type(exc)(
                    f"{exc} (gave up after {tries} rollback(s), each halving the learning rates)",
                    **({"since": exc.since} if collapsed else {}),
                ) from None
            tries += 1
            target = _target(run, exc.since if collapsed else None)
            if target is not None and last is not None and target <= last:
                # diverged again before passing the last rollback's checkpoint: that one was
                # finite but already doomed (Adam's moments, BatchNorm statistics): go further
                target = _target(run, last - 1) if last > 0 else None
            last = target
            if target is None and collapsed:
                raise GanzooError(
                    f"{exc}; no checkpoint was written before the collapse began, so there is "
                    "nothing to roll back to: lower --checkpoint-every, or retrain with the "
                    "remedies of `ganzoo doctor`"
                ) from None
            options = dataclasses.replace(options, lr_g=options.lr_g / 2, lr_d=options.lr_d / 2)
            plan.options = options
            what = "a mode collapse" if collapsed else "a divergence"
            message = (
                f"rolled back to step {target or 0} after {what} ({str(exc).split('; ')[0]}); "
                "learning rates "
                f"halved to lr_g={options.lr_g:g}, lr_d={options.lr_d:g} "
                f"(rollback {tries} of at most {options.rollback_tries})"
            )
            if is_main:
                if target is not None:
                    run.set_aside_after(target, "collapsed" if collapsed else "diverged")
                if target is None:
                    run.metrics.repair(0)  # the steps logged before will be logged again
                saved = run.read_config() or plan.to_json()
                saved["train"] = config_to_dict(options)
                run.write_config(saved)
            if world is not None:
                world.barrier()
            # earlier rollbacks' records past the new target are cut from metrics.jsonl on
            # resume: they are written again, at the target's step, before the new one
            at = target or 0
            again = [{**n, "step": at} for n in notes if n["step"] > at]
            new = {
                "step": at,
                "event": "rollback",
                "diagnosis": "mode_collapse" if collapsed else "nonfinite",
                "severity": "warning",
                "message": message,
            }
            notes = [n for n in notes if n["step"] <= at] + [*again, new]
            trainer.health_notes = [*again, new]
            if target is None:
                model = rebuild()
            resume = target is not None


def _target(run: RunDir, before: int | None) -> int | None:
    """The step of the checkpoint to go back to: the newest one (``before`` None), or the
    newest at or before step ``before``; None when there is none."""
    if before is None:
        from .checkpoint import find_resume_point

        try:
            return find_resume_point(run.path, report=False).step
        except GanzooError:
            return None
    steps = [parse_step(p.name) for p in run.checkpoints()]
    steps = [s for s in steps if s is not None and (before is None or s <= before)]
    return max(steps) if steps else None
