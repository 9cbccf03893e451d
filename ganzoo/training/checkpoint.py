"""Checkpoints: a model folder plus the optimisers, RNG states and step, all in safetensors.

``RUN/checkpoints/step-XXXXXX/`` is written to a temporary folder first and renamed into place,
and ``RUN/checkpoints/latest`` (a text file naming the newest folder) is replaced atomically, so a
crash or Ctrl-C while saving never leaves a half-written checkpoint behind the name ``latest``.
The folder is also a model folder: ``ganzoo.from_pretrained(checkpoint_dir)`` loads it. Where the
folders live and how they are named and ordered is :mod:`ganzoo.rundir`'s business; this module
owns what is inside one. A checkpoint is written only when every parameter, buffer and optimiser
tensor is finite, and resuming skips (and names) a newest checkpoint that is unreadable.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..errors import ConfigError, GanzooError, WeightsError
from ..rundir import RunDir, parse_step, step_name
from ..serialization import read_config, read_tensors, save_model_files

STATE_FILE = "training_state.safetensors"
TRAINER_FILE = "trainer.json"

__all__ = ["latest_checkpoint", "list_checkpoints", "save_checkpoint", "step_name"]


class NonFiniteWeights(WeightsError):
    """Weights or optimiser state hold NaN or infinity: such a checkpoint is never written."""


def nonfinite(named: Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the floating-point tensors that hold a NaN or an infinity (one host sync)."""
    pairs = [(n, t) for n, t in named if t.is_floating_point() or t.is_complex()]
    if not pairs:
        return []
    flags = torch.stack([torch.isfinite(t).all().to("cpu") for _, t in pairs]).tolist()
    return [n for (n, _), ok in zip(pairs, flags, strict=True) if not ok]


def model_tensors(model: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """Every parameter *and buffer* of every network, as ``network/name`` (BatchNorm's running
    statistics reach infinity before any loss does)."""
    for net_name, net in model.networks().items():
        for key, value in net.state_dict().items():
            yield f"{net_name}/{key}", value


def describe_nonfinite(bad: list[str]) -> str:
    """``"discriminator/net.3.running_var"``, or the first three and a count of the rest."""
    return ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")


def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser's state_dict into tensors (for safetensors) and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, values in state["state"].items():
        plain_values = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                plain_values[key] = value
        plain["state"][str(idx)] = plain_values
    return tensors, plain


def unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: Any,
    optimizers: dict[str, torch.optim.Optimizer],
    rng: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
    keep: int = 0,
) -> Path:
    """Write ``checkpoints/step-XXXXXX`` atomically and point ``latest`` at it.

    Refuses (:class:`NonFiniteWeights`) when any parameter, buffer or optimiser tensor is not
    finite. A write that fails (a full disk) removes its temporary folder and raises: the
    previous checkpoints and ``latest`` are untouched. ``keep`` > 0 then deletes all but the
    ``keep`` newest checkpoints, ordered by step number.
    """
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"step": step, "optimizers": {}, **(extra or {})}
    for name, opt in optimizers.items():
        t, p = flatten_optimizer(f"optim.{name}", opt.state_dict())
        tensors.update(t)
        plain["optimizers"][name] = p
    bad = nonfinite([*model_tensors(model), *tensors.items()])
    if bad:
        raise NonFiniteWeights(
            f"not writing checkpoint {step_name(step)}: NaN or infinite values in "
            f"{describe_nonfinite(bad)}"
        )
    for name, state in rng.items():
        tensors[f"rng.{name}"] = state
    run = RunDir(run_dir)
    tmp = run.new_checkpoint_folder(step)
    try:
        save_model_files(model, tmp)
        save_file(
            {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()},
            str(tmp / STATE_FILE),
        )
        (tmp / TRAINER_FILE).write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
        final = run.commit_checkpoint(tmp, step)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.rotate(keep, newest=step)
    return final


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """A run's complete checkpoint folders, oldest step first (by number, not by name)."""
    return RunDir(run_dir).checkpoints()


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The newest complete checkpoint of a run (via ``latest``, else the highest step)."""
    return RunDir(run_dir).latest()


def load_training_state(ckpt: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(trainer.json contents, tensors of the training state) of a checkpoint folder."""
    try:
        plain = json.loads((ckpt / TRAINER_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{ckpt / TRAINER_FILE} is unreadable ({exc})") from None
    if not isinstance(plain, dict) or not isinstance(plain.get("step"), int):
        raise WeightsError(f"{ckpt / TRAINER_FILE} has no integer step")
    if plain["step"] != parse_step(ckpt.name):
        raise WeightsError(f"{ckpt / TRAINER_FILE} says step {plain['step']}, not {ckpt.name}")
    return plain, read_tensors(ckpt / STATE_FILE)


@dataclass
class ResumePoint:
    """The checkpoint a run resumes from, and the newer ones skipped because they are broken."""

    path: Path
    step: int
    state: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    skipped: list[str]


def check_intact(ckpt: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a whole checkpoint (training state and every network) and check every tensor is
    finite; a :class:`GanzooError` says what is wrong with it."""
    plain, tensors = load_training_state(ckpt)
    meta = read_config(ckpt)
    named = list(tensors.items())
    for name in meta.get("networks") or []:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{ckpt / 'config.json'} lists a network named {name!r}")
        named += [(f"{name}/{k}", v) for k, v in read_tensors(ckpt / f"{name}.safetensors").items()]
    bad = nonfinite(named)
    if bad:
        raise NonFiniteWeights(f"NaN or infinite values in {describe_nonfinite(bad)}")
    return plain, tensors


def find_resume_point(run_dir: str | Path, *, report: bool = True) -> ResumePoint:
    """The newest intact checkpoint to resume from: the one ``latest`` names, else an older one.

    A checkpoint that cannot be read (truncated, garbled, non-finite) is skipped, and with
    ``report`` a warning names it and says why. Checkpoints newer than the one ``latest``
    names are stale (left behind by an earlier fallback) and not considered.
    """
    run = RunDir(run_dir)
    found = run.checkpoints()
    if not found:
        raise WeightsError(f"{run} has no checkpoint to resume from")
    name = run.latest_name()
    newest = parse_step(name) if name and (run.checkpoints_path / name).is_dir() else None
    order = [p for p in reversed(found) if newest is None or (parse_step(p.name) or 0) <= newest]
    skipped: list[str] = []
    for ckpt in order:
        try:
            plain, tensors = check_intact(ckpt)
        except GanzooError as exc:
            skipped.append(f"{ckpt.name} is unusable ({exc})")
            continue
        if skipped and report:
            for note in skipped:
                warnings.warn(f"{note}; resuming from {ckpt.name}", stacklevel=2)
        return ResumePoint(ckpt, int(plain["step"]), plain, tensors, skipped)
    raise WeightsError(f"no intact checkpoint in {run} to resume from: {'; '.join(skipped)}")
