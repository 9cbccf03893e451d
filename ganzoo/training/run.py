"""Setting up a training run: resolve every option, create the run directory, build, fit.

Options are layered, later wins: the trainer's defaults, the architecture's
``train_defaults``, a preset, a TOML file, ``--set key=value`` and the named CLI flags. Model
keys and training keys share one flat namespace (``--set width=32 --set lr_g=1e-4``); a key that
is neither is an error listing both sets of valid keys.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import apply_overrides, config_to_dict, valid_keys_message
from ..errors import ConfigError, GanzooError
from .options import TrainOptions

RUN_FORMAT = "ganzoo-run"
RUN_CONFIG = "config.json"
#: options that may change when a run is resumed; everything else would break exactness
RESUMABLE = {
    "steps",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "log_every",
    "progress",
    "device",
    "eval_every",
    "eval_n",
    "eval_features",
    "data_on_device",
    "data_workers",
    "data_prepare_workers",
}


@dataclasses.dataclass
class RunPlan:
    """Everything a run needs, resolved and checked before anything is written."""

    arch: str
    model_config: Any
    options: TrainOptions
    data: str
    run_dir: Path
    resume: bool = False

    def to_json(self) -> dict[str, Any]:
        from .. import __version__

        return {
            "format": RUN_FORMAT,
            "format_version": 1,
            "arch": self.arch,
            "data": self.data,
            "model": config_to_dict(self.model_config),
            "train": config_to_dict(self.options),
            "ganzoo_version": __version__,
        }


def resolve_options(
    arch: str, preset: str | None, layers: list[Mapping[str, Any]]
) -> tuple[Any, TrainOptions]:
    """Merge option layers into (model config, training options), checking every key."""
    from ..api import get_spec, preset_values, split_options

    spec = get_spec(arch)
    train_fields = {f.name for f in dataclasses.fields(TrainOptions)}
    model_fields = {f.name for f in dataclasses.fields(spec.config)}
    clash = train_fields & model_fields
    if clash:
        raise ConfigError(f"model {arch!r} config reuses training option names: {sorted(clash)}")
    merged: dict[str, Any] = {"loss": spec.loss, **spec.train_defaults}
    for layer in [preset_values(spec, preset), *layers]:
        merged.update({k: v for k, v in layer.items() if v is not None})
    model_keys, rest = split_options(spec, merged)
    unknown = set(rest) - train_fields
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown option {key!r} for {arch!r}; "
            f"{valid_keys_message([spec.config, TrainOptions])}"
        )
    model_config = apply_overrides(spec.config(), model_keys, what=f"model {arch!r}")
    options = apply_overrides(TrainOptions(), rest, what="training")
    return model_config, options


def default_run_dir(arch: str) -> Path:
    return Path("runs") / f"{arch}-{time.strftime('%Y%m%d-%H%M%S')}"


def plan_new_run(
    arch: str,
    *,
    data: str | None,
    preset: str | None = None,
    layers: list[Mapping[str, Any]] | None = None,
    out: str | Path | None = None,
) -> RunPlan:
    from ..api import get_spec

    spec = get_spec(arch)
    model_config, options = resolve_options(spec.name, preset, layers or [])
    run_dir = Path(out) if out else default_run_dir(spec.name)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise GanzooError(
            f"{run_dir} already exists and is not empty; continue it with "
            f"--resume {run_dir}, or choose another --out"
        )

    return RunPlan(spec.name, model_config, options, data or spec.default_dataset, run_dir)


def plan_resume(run_dir: str | Path, overrides: Mapping[str, Any]) -> RunPlan:
    """Rebuild the plan of an existing run; only :data:`RESUMABLE` options may change."""
    from ..api import get_spec

    run = Path(run_dir)
    path = run / RUN_CONFIG
    if not path.is_file():
        raise GanzooError(f"{run} is not a ganzoo run directory (no {RUN_CONFIG})")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc})") from None
    if saved.get("format") != RUN_FORMAT:
        raise ConfigError(f"{path} is not a ganzoo run config")
    changed = {k for k, v in overrides.items() if v is not None and saved["train"].get(k) != v}
    frozen = sorted(changed - RESUMABLE)
    if frozen:
        raise ConfigError(
            f"cannot change {', '.join(frozen)} when resuming (it would not continue the same "
            f"run); only {', '.join(sorted(RESUMABLE))} may change"
        )
    spec = get_spec(saved["arch"])
    model_config = apply_overrides(spec.config(), saved["model"], what=f"model {spec.name!r}")
    train = {**saved["train"], **{k: v for k, v in overrides.items() if v is not None}}
    options = apply_overrides(TrainOptions(), train, what="training")
    return RunPlan(spec.name, model_config, options, saved["data"], run, resume=True)


def data_options(options: TrainOptions) -> dict[str, Any]:
    """The ``open_dataset`` arguments a run's ``data_*`` options set."""
    return {
        "streaming": options.data_streaming,
        "image_column": options.data_image_column,
        "label_column": options.data_label_column,
        "config": options.data_config,
        "max_pixels": options.data_max_pixels,
        "workers": options.data_prepare_workers,
    }


def execute(plan: RunPlan, world: Any = None) -> dict[str, float]:
    """Build the model and data, write the run config, and fit."""
    import torch

    from ..api import build_from_config, get_spec
    from ..data import open_dataset
    from ..plugins import get_registry

    spec = get_spec(plan.arch)
    torch.manual_seed(plan.options.seed)  # the same seed gives the same initial weights
    model = build_from_config(spec, plan.model_config)
    c, h, _ = model.image_shape
    data = open_dataset(
        plan.data, h, c, quiet=world is not None and not world.is_main, **data_options(plan.options)
    )
    get_registry().losses.get(plan.options.loss)  # an unknown loss fails before any file is written
    if plan.resume:
        from .checkpoint import latest_checkpoint

        latest_checkpoint(plan.run_dir)  # fail early, before touching the run
        saved = json.loads((plan.run_dir / RUN_CONFIG).read_text(encoding="utf-8"))
        saved["train"] = config_to_dict(plan.options)
        is_main = world is None or world.is_main
        if is_main:
            (plan.run_dir / RUN_CONFIG).write_text(json.dumps(saved, indent=2) + "\n")
    elif world is None or world.is_main:
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        (plan.run_dir / RUN_CONFIG).write_text(json.dumps(plan.to_json(), indent=2) + "\n")
    trainer = get_registry().trainers.get(spec.trainer)()
    return trainer.fit(model, data, plan.options, plan.run_dir, resume=plan.resume, world=world)
