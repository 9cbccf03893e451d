"""Setting up a training run: resolve every option, create the run directory, build, fit.

Options are layered, later wins: the trainer's defaults, the architecture's
:class:`~ganzoo.TrainingRecipe`, a preset (its ``config`` and ``train`` parts), a TOML file,
``--set key=value`` and the named CLI flags. On the command line model keys and training keys
share one flat namespace (``--set width=32 --set lr_g=1e-4``), which is why a config may not
reuse a training option's name; a key that is neither is an error listing both sets of valid
keys, and every layer's values are checked, even one a later layer overrides (``--set steps=abc
--steps 10`` is an error, not a silent pick).

:func:`execute` holds the run directory's lock for the whole fit, so two processes never train
one run; it removes what a killed checkpoint write left, refuses a ``--steps`` total the run has
already reached, and turns running out of memory or disk into one line that says what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import apply_overrides, check_value, config_to_dict, unknown_option
from ..errors import ConfigError, GanzooError
from ..rundir import CONFIG as RUN_CONFIG
from ..rundir import RUN_FORMAT, RunDir, is_disk_full
from ..tracking import check_loggers
from .options import TrainOptions

#: options that may change when a run is resumed; everything else would break exactness
RESUMABLE = {
    "steps",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "log_every",
    "loggers",
    "progress",
    "device",
    "eval_every",
    "eval_n",
    "eval_features",
    "data_on_device",
    "data_workers",
    "data_prepare_workers",
    # health watches and remedies; they change no step of a run that stays healthy
    "health",
    "on_diverge",
    "on_collapse",
    "collapse_patience",
    "rollback_tries",
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
    #: start over in a folder whose run stopped before its first checkpoint
    overwrite: bool = False

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


def recipe_of(spec: Any) -> Any:
    """The spec's :class:`~ganzoo.TrainingRecipe`; a spec without one cannot be trained."""
    if spec.recipe is None:
        raise ConfigError(
            f"model {spec.name!r} ({spec.kind}) has no training recipe: `ganzoo train` does not "
            "train it (see `ganzoo info " + spec.name + "`)"
        )
    return spec.recipe


def resolve_options(
    arch: str, preset: str | None, layers: list[Mapping[str, Any]]
) -> tuple[Any, TrainOptions]:
    """Merge option layers into (model config, training options), checking every key."""
    from ..api import get_preset, get_spec, split_options

    spec = get_spec(arch)
    recipe = recipe_of(spec)
    train_fields = {f.name for f in dataclasses.fields(TrainOptions)}
    model_fields = {f.name for f in dataclasses.fields(spec.config)}
    clash = train_fields & model_fields
    if clash:
        raise ConfigError(f"model {arch!r} config reuses training option names: {sorted(clash)}")
    check_layers([spec.config, TrainOptions], layers)
    chosen = get_preset(spec, preset) if preset is not None else None
    model_keys: dict[str, Any] = dict(chosen.config) if chosen else {}
    rest: dict[str, Any] = {
        "loss": recipe.loss,
        **recipe.options,
        **(chosen.train if chosen else {}),
    }
    for layer in layers:
        model_layer, rest_layer = split_options(
            spec, {k: v for k, v in layer.items() if v is not None}
        )
        model_keys.update(model_layer)
        rest.update(rest_layer)
    unknown = set(rest) - train_fields
    if unknown:
        raise unknown_option(sorted(unknown)[0], [spec.config, TrainOptions], repr(arch))
    model_config = apply_overrides(spec.config(), model_keys, what=f"model {arch!r}")
    options = apply_overrides(TrainOptions(), rest, what="training")
    return model_config, options


def check_layers(classes: Iterable[type], layers: Iterable[Mapping[str, Any]]) -> None:
    """Check the type of every value of every layer against the field it sets, so that a bad
    value is an error even when a later layer overrides it. Unknown keys are left to the
    caller, which names the valid ones."""
    fields = {f.name: cls for cls in classes for f in dataclasses.fields(cls)}
    for layer in layers:
        for key, value in layer.items():
            if value is not None and key in fields:
                check_value(fields[key], key, value)


def default_run_dir(arch: str) -> Path:
    return Path("runs") / f"{arch}-{time.strftime('%Y%m%d-%H%M%S')}"


def plan_new_run(
    arch: str,
    *,
    data: str | None,
    preset: str | None = None,
    layers: list[Mapping[str, Any]] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> RunPlan:
    """Resolve a new run's options and check that its folder can take it (nothing written).

    ``overwrite`` starts over in a folder holding a run that stopped before its first
    checkpoint; a folder with checkpoints, or one that is not a run, is never overwritten.
    """
    from ..api import get_spec

    spec = get_spec(arch)
    model_config, options = resolve_options(spec.name, preset, layers or [])
    run_dir = Path(out) if out else default_run_dir(spec.name)
    check_new_run_folder(RunDir(run_dir), overwrite, check_lock=True)
    return RunPlan(
        spec.name, model_config, options, data or spec.recipe.dataset, run_dir, False, overwrite
    )


def check_new_run_folder(run: RunDir, overwrite: bool, check_lock: bool = False) -> None:
    """Refuse a folder a new run would damage, saying how to continue or start over
    (``check_lock``: first refuse a run another process is training right now)."""
    if run.path.exists() and not run.path.is_dir():
        raise GanzooError(f"--out {run} is a file, not a folder: choose another --out")
    if not run.contents():
        return
    if check_lock:
        run.check_free()
    if run.checkpoints():
        raise GanzooError(
            f"{run} already exists and holds a run with checkpoints (newest {run.latest().name}): "
            f"continue it with --resume {run}, or choose another --out"
        )
    if not run.is_run():
        raise GanzooError(
            f"{run} already exists and is not a ganzoo run (it holds {run.contents()[0]}, ...): "
            "choose another --out"
        )
    if not overwrite:
        raise GanzooError(
            f"{run} already exists and holds a run that stopped before its first checkpoint: "
            "start it over with "
            "--overwrite, or choose another --out"
        )


def plan_resume(run_dir: str | Path, overrides: Mapping[str, Any]) -> RunPlan:
    """Rebuild the plan of an existing run; only :data:`RESUMABLE` options may change."""
    from ..api import get_spec

    run = Path(run_dir)
    path = run / RUN_CONFIG
    if not path.is_file():
        raise GanzooError(f"{run} is not a ganzoo run directory (no {RUN_CONFIG})")
    RunDir(run).check_free()  # its trainer is running: say so before anything else
    saved = RunDir(run).read_config()
    if saved is None:
        raise ConfigError(f"{path} is not valid JSON: it is damaged")
    if saved.get("format") != RUN_FORMAT:
        raise ConfigError(f"{path} is not a ganzoo run config")
    check_layers([TrainOptions], [overrides])
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
    if not RunDir(run).checkpoints():
        raise GanzooError(
            f"{run} has no checkpoint to resume from (it stopped before its first one): start "
            f"it over with ganzoo train {spec.name} --out {run} --overwrite"
        )
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
    """Lock the run, build the model and data, write the run config, and fit."""
    is_main = world is None or world.is_main
    run = RunDir(plan.run_dir)
    created = is_main and not run.path.exists()
    try:
        with run.lock() if is_main else contextlib.nullcontext():
            if is_main:
                prepare_folder(plan, run)
            if world is not None:
                world.barrier()  # no rank reads checkpoints while rank 0 tidies the folder
            try:
                return _build_and_fit(plan, run, world, is_main)
            except GanzooError:
                raise
            except Exception as exc:
                error = resource_error(exc, plan, run)
                if error is None:
                    raise
                raise error from None
    except BaseException:
        if created:  # a failure before anything was written leaves no empty folder behind
            run.remove_if_unused()
        raise


def prepare_folder(plan: RunPlan, run: RunDir) -> None:
    """Under the lock: tidy the leftovers of a killed checkpoint write, check the folder again
    (another process may have started in it since planning) and check the step to reach."""
    for note in run.clean_leftovers():
        warnings.warn(f"{run.checkpoints_path}: {note}", stacklevel=2)
    if not plan.resume:
        check_new_run_folder(run, plan.overwrite)
        if plan.overwrite:
            run.clear_for_restart()
        return
    from .checkpoint import find_resume_point

    step = find_resume_point(run.path, report=False).step
    if plan.options.steps <= step:
        raise ConfigError(
            f"{run} is already at step {step}; --steps is the new total, not steps to add: "
            f"pass more than {step} (e.g. --steps {2 * step})"
        )


def _build_and_fit(plan: RunPlan, run: RunDir, world: Any, is_main: bool) -> dict[str, float]:
    import torch

    from ..api import build_from_config, get_spec
    from ..data import open_dataset
    from ..plugins import get_registry

    spec = get_spec(plan.arch)
    torch.manual_seed(plan.options.seed)  # the same seed gives the same initial weights
    config = plan.model_config
    if getattr(config, "conditional", False) and not getattr(config, "num_classes", 0):
        # the classes come from the data, whose shape comes from the model: shape first
        config = dataclasses.replace(config, conditional=False)
    model = build_from_config(spec, config)
    c, h, _ = model.image_shape
    data = open_dataset(
        plan.data, h, c, quiet=world is not None and not world.is_main, **data_options(plan.options)
    )
    if classes_from_data(plan, data) or config is not plan.model_config:
        torch.manual_seed(plan.options.seed)
        model = build_from_config(spec, plan.model_config)
    get_registry().losses.get(plan.options.loss)  # an unknown loss fails before any file is written
    check_loggers(plan.options.loggers)  # so does a tracker that is unknown or not installed
    if plan.resume:
        saved = run.read_config() or plan.to_json()
        saved["train"] = config_to_dict(plan.options)
    else:
        saved = plan.to_json()
    if is_main:
        run.write_config(saved)
    trainer = get_registry().trainers.get(recipe_of(spec).trainer)()

    def rebuild() -> Any:  # a rollback before the first checkpoint starts over from step 0
        torch.manual_seed(plan.options.seed)
        return build_from_config(spec, plan.model_config)

    from .rollback import fit_with_rollback

    return fit_with_rollback(trainer, model, data, plan, world, rebuild)


def classes_from_data(plan: RunPlan, data: Any) -> bool:
    """Fill a conditional config's ``num_classes`` and ``class_names`` from the dataset.

    A model config with a ``conditional`` field set true is built for the dataset's classes;
    returns True when the config changed (the model must be rebuilt). A dataset without labels
    is a one-line error; a resumed run keeps its saved classes, which must still fit the data.
    """
    from ..data.labels import stream_class_names

    config = plan.model_config
    if not getattr(config, "conditional", False):
        return False
    where = f"dataset {plan.data!r}"
    if getattr(data, "labels", None) is None or len(data.labels) == 0:
        # a labelled stream (its ClassLabel names; labels come with its batches), or an error
        names = list(stream_class_names(data, where))
        found = len(names)
    else:
        found = int(data.labels.max()) + 1
        names = list(getattr(data, "classes", None) or [str(i) for i in range(found)])
        if len(names) < found:
            names += [str(i) for i in range(len(names), found)]
    if found < 2:
        raise ConfigError(f"{where} has a single class: a conditional model needs at least two")
    if getattr(config, "num_classes", 0):
        if config.num_classes < found:
            raise ConfigError(
                f"the model has {config.num_classes} classes but {where} has labels up to "
                f"{found - 1}"
            )
        return False
    updates = {"num_classes": len(names)}
    if hasattr(config, "class_names"):
        updates["class_names"] = tuple(names)
    plan.model_config = dataclasses.replace(config, **updates)
    return True


_ALLOCATION = re.compile(r"(?:tried to allocate|Tried to allocate) ([\d.]+ ?[KMGT]?i?B|\d+ bytes)")


def _size(text: str) -> str:
    """``"8796093022208 bytes"`` -> ``"8.0 TiB"``; CUDA's ``"20.00 GiB"`` stays as it is."""
    if not text.endswith(" bytes"):
        return text
    value = float(text.split()[0])
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "bytes" else f"{value:.0f} bytes"
        value /= 1024
    return text


def resource_error(exc: BaseException, plan: RunPlan, run: RunDir) -> GanzooError | None:
    """One line for running out of memory or disk during training (None for other errors)."""
    import torch

    from .trainer import latest_or_none

    last = latest_or_none(run.path)
    resume = f"ganzoo train --resume {run} --steps {plan.options.steps}"
    if is_disk_full(exc):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        if last is not None:
            then = f"{last.name} is intact: free some space, then continue with {resume}"
        else:
            then = (
                "no checkpoint was written yet: free some space, then start over with "
                f"ganzoo train {plan.arch} --out {run} --overwrite"
            )
        return GanzooError(f"no space left on the device holding {run}{where}; {then}")
    text = str(exc)
    cpu_oom = isinstance(exc, RuntimeError) and "can't allocate memory" in text
    cuda_oom = torch.cuda.OutOfMemoryError  # torch.OutOfMemoryError from torch 2.5 on
    if not (isinstance(exc, cuda_oom) or cpu_oom):
        return None
    match = _ALLOCATION.search(text)
    need = f" (an allocation of {_size(match.group(1))} failed)" if match else ""
    device = "this machine" if cpu_oom else "the GPU"
    head = f"out of memory on {device} with batch size {plan.options.batch_size}{need}"
    if last is None:
        return GanzooError(
            f"{head}: start over with ganzoo train {plan.arch} --out {run} --overwrite and a "
            "smaller --batch-size"
        )
    return GanzooError(
        f"{head}; {last.name} is intact: free memory and continue with {resume}, or start a "
        "new run with a smaller --batch-size (a run keeps its batch size)"
    )
