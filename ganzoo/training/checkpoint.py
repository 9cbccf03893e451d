"""Checkpoints: a model folder plus the optimisers, RNG states and step, all in safetensors.

``RUN/checkpoints/step-XXXXXX/`` is written to a temporary folder first and renamed into place,
and ``RUN/checkpoints/latest`` (a text file naming the newest folder) is replaced atomically, so a
crash or Ctrl-C while saving never leaves a half-written checkpoint behind the name ``latest``.
The folder is also a model folder: ``ganzoo.from_pretrained(checkpoint_dir)`` loads it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..errors import WeightsError
from ..serialization import read_tensors, save_model_files

STATE_FILE = "training_state.safetensors"
TRAINER_FILE = "trainer.json"
LATEST = "latest"


def step_name(step: int) -> str:
    return f"step-{step:06d}"


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
    """Write ``checkpoints/step-XXXXXX`` atomically and point ``latest`` at it."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    tmp = root / f".tmp-{step_name(step)}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model_files(model, tmp)
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"step": step, "optimizers": {}, **(extra or {})}
    for name, opt in optimizers.items():
        t, p = flatten_optimizer(f"optim.{name}", opt.state_dict())
        tensors.update(t)
        plain["optimizers"][name] = p
    for name, state in rng.items():
        tensors[f"rng.{name}"] = state
    save_file(
        {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()},
        str(tmp / STATE_FILE),
    )
    (tmp / TRAINER_FILE).write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
    if final.exists():  # a re-run of the same step: replace it only once the new one is complete
        old = root / f".old-{step_name(step)}-{os.getpid()}"
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)
    latest_tmp = root / f".{LATEST}.tmp"
    latest_tmp.write_text(final.name + "\n", encoding="utf-8")
    os.replace(latest_tmp, root / LATEST)
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if p.is_dir())


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The newest complete checkpoint of a run (via ``latest``, else the highest step)."""
    run = Path(run_dir)
    pointer = run / "checkpoints" / LATEST
    if pointer.is_file():
        candidate = run / "checkpoints" / pointer.read_text(encoding="utf-8").strip()
        if (candidate / TRAINER_FILE).is_file():
            return candidate
    found = [p for p in list_checkpoints(run) if (p / TRAINER_FILE).is_file()]
    if not found:
        raise WeightsError(f"{run} has no checkpoint yet (no {run / 'checkpoints' / LATEST})")
    return found[-1]


def load_training_state(ckpt: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(trainer.json contents, tensors of the training state) of a checkpoint folder."""
    try:
        plain = json.loads((ckpt / TRAINER_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{ckpt / TRAINER_FILE} is unreadable ({exc})") from None
    return plain, read_tensors(ckpt / STATE_FILE)
