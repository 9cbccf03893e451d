"""Model folders on disk: ``save_pretrained``, finding the model inside a run, exporting a run.

A model folder is what :func:`ganzoo.serialization.save_model_files` writes (``config.json`` and
one ``.safetensors`` per network) plus, from ``save_pretrained``, a model card and a sample grid.
A training checkpoint (``RUN/checkpoints/step-XXXXXX``) is also a model folder; a run directory
points at its newest one through ``RUN/checkpoints/latest``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, WeightsError
from ..rundir import RUN_FORMAT, RunDir, parse_step
from ..serialization import (
    CONFIG_NAME,
    FORMAT_NAME,
    load_model_files,
    read_config,
    save_model_files,
)
from .card import SAMPLE_NAME, write_card

#: file suffixes of pickled weights, which ganzoo never loads
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: keys of config.json that say where weights come from (kept on a loaded model as card_info)
CARD_KEYS = ("dataset", "license", "training", "metrics", "step")


def _jsonable(value: Any) -> Any:
    """Plain JSON data (tuples become lists, unknown objects strings) for config.json."""
    return json.loads(json.dumps(value, default=str))


def write_sample(model: Any, path: Path) -> bool:
    """Save the model's :meth:`~ganzoo.models.ZooModel.card_sample` as a grid for the model
    card; False when the model shows no picture."""
    from ..images import save_grid

    images = model.card_sample()
    if images is None or len(images) == 0:
        return False
    save_grid(images, path)
    return True


def save_pretrained(
    model: Any,
    save_directory: str | Path,
    *,
    include_discriminator: bool = True,
    repo_id: str | None = None,
    dataset: str | None = None,
    license: str | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    step: int | None = None,
    sample: bool = True,
) -> Path:
    """Write ``model`` as a shareable folder: config.json, one .safetensors per network, a
    model card (README.md) and a sample grid (sample.png).

    ``include_discriminator=False`` leaves the discriminator out (enough to sample, smaller to
    download; training cannot resume from it). ``dataset``, ``license``, ``training`` (the
    recipe), ``metrics`` and ``step`` go into config.json and the card; a model loaded with
    :func:`ganzoo.from_pretrained` keeps the values it was published with unless they are
    given again. ``repo_id`` only fills in the card's usage example.
    """
    from ..api import get_spec

    if not model.arch:
        raise ConfigError("this model has no architecture name: build it with ganzoo.create_model")
    spec = get_spec(model.arch)
    known = dict(model.card_info or {})
    info = {
        "dataset": dataset if dataset is not None else known.get("dataset"),
        "license": license or known.get("license") or spec.license,
        "training": training if training is not None else known.get("training"),
        "metrics": metrics if metrics is not None else known.get("metrics"),
        "step": step if step is not None else known.get("step"),
    }
    extra = {k: _jsonable(v) for k, v in info.items() if v not in (None, "", {})}
    out = Path(save_directory)
    out.mkdir(parents=True, exist_ok=True)
    own = model.networks()
    networks = [n for n in own if include_discriminator or n != "discriminator"]
    for name in set(own) - set(networks):  # a stale file from an earlier save would mislead
        (out / f"{name}.safetensors").unlink(missing_ok=True)
    save_model_files(model, out, extra=extra, networks=networks)
    meta = read_config(out)
    if not (sample and write_sample(model, out / SAMPLE_NAME)):
        (out / SAMPLE_NAME).unlink(missing_ok=True)
    write_card(
        out,
        meta,
        summary=spec.summary,
        paper=spec.paper,
        repo_id=repo_id,
        parameters={n: sum(p.numel() for p in own[n].parameters()) for n in networks},
        sections=model.card_sections(),
        **{k: extra.get(k) for k in ("license", "dataset", "training", "metrics", "step")},
    )
    return out


# -- runs and checkpoints (their layout is ganzoo.rundir's) -----------------------------------
def is_run_dir(folder: Path) -> bool:
    """A training run: its config.json says ``ganzoo-run``, or it has a checkpoints folder."""
    return RunDir(folder).is_run()


def run_checkpoint(run_dir: Path, step: int | None = None) -> Path:
    """The checkpoint of ``run_dir`` at ``step``, or its newest (``checkpoints/latest``)."""
    run = RunDir(run_dir)
    return run.latest() if step is None else run.checkpoint(step)


def locate_model_folder(path: str | Path, step: int | None = None) -> Path:
    """The model folder a local path stands for: itself, or a run's (newest) checkpoint."""
    folder = Path(path).expanduser()
    if folder.is_file() and folder.name == CONFIG_NAME:
        folder = folder.parent
    if folder.is_file():
        raise WeightsError(f"{folder} is a file: pass the folder that holds {CONFIG_NAME}")
    if not folder.is_dir():
        raise no_such_source(str(path))
    if is_run_dir(folder):
        return run_checkpoint(folder, step)
    if step is not None:
        raise ConfigError(f"{folder} is a model folder, not a run: it has no checkpoint steps")
    if not (folder / CONFIG_NAME).is_file():
        refuse_pickles([p.name for p in folder.iterdir()], str(folder))
        raise WeightsError(
            f"{folder} is not a ganzoo model folder, checkpoint or run (no {CONFIG_NAME})"
        )
    return folder


#: the folder ``ganzoo train`` writes its runs into, relative to where it is started
RUNS_DIR = "runs"


def no_such_source(text: str, *, hub: bool = False) -> WeightsError:
    """ "no such run, checkpoint or folder", with the closest existing names as suggestions.

    Candidates are the folders next to the one named (``runs/dcgan-2026`` → the folders in
    ``runs/``) and the runs under ``./runs``; without a close match the newest are listed.
    ``hub=True`` (the source could have been a Hub id) adds how to name a Hub repo instead.
    """
    import difflib

    path = Path(text).expanduser()
    parents = [path.parent] if str(path.parent) not in ("", ".") else []
    parents.append(Path(RUNS_DIR))
    found: dict[str, Path] = {}
    for parent in parents:
        try:
            found.update({str(parent / d.name): d for d in parent.iterdir() if d.is_dir()})
        except OSError:  # the parent does not exist either, or cannot be listed
            continue
    message = f"no such run, checkpoint or folder: {text}"
    ratio = {
        name: difflib.SequenceMatcher(None, path.name, folder.name).ratio()
        for name, folder in found.items()
    }
    best = max(ratio.values(), default=0.0)
    close = sorted((n for n, r in ratio.items() if r >= max(0.6, best - 0.1)), key=ratio.get)
    if close:
        message += "; did you mean " + " or ".join(reversed(close[-3:])) + "?"
    elif found:
        newest = sorted(found, key=lambda name: found[name].stat().st_mtime, reverse=True)[:3]
        message += f"; the newest folders: {', '.join(newest)}"
    if hub and text.count("/") == 1 and not text.startswith((".", "~", "/")):
        message += f" (a Hub repo of that name: hf://{text})"
    return WeightsError(message)


def refuse_pickles(files: list[str], where: str) -> None:
    """Raise if ``files`` (a folder's or repo's listing) holds pickled weights."""
    pickles = sorted(f for f in files if f.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        shown = ", ".join(pickles[:3]) + (", ..." if len(pickles) > 3 else "")
        raise WeightsError(
            f"{where} holds pickled weights ({shown}) but no usable .safetensors; ganzoo never "
            "loads pickles because unpickling a downloaded file can run arbitrary code: ask "
            "the author for safetensors weights (model.save_pretrained writes them)"
        )


def _ganzoo_config(folder: Path) -> dict[str, Any] | None:
    """config.json of ``folder`` if it is a ganzoo one (any format version), else None."""
    try:
        data = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT_NAME else None


def missing_weights(folder: Path) -> bool:
    """True when ``folder`` lacks a ganzoo config.json or a network's .safetensors file."""
    meta = _ganzoo_config(folder)
    if meta is None:
        return True
    files = [folder / f"{n}.safetensors" for n in meta.get("networks") or []]
    return not files or not all(f.is_file() for f in files)


def is_ganzoo_folder(folder: Path) -> bool:
    """True when ``folder`` has a ganzoo config.json (it may still be incomplete)."""
    return _ganzoo_config(folder) is not None


#: ``metrics.jsonl`` keys that measure the machine, not the weights: an exported card leaves
#: them out, so the same weights always export to the same bytes (the catalogue pins them)
MACHINE_KEYS = frozenset({"img_per_s"})


def _last_log(run_dir: Path, step: int | None) -> dict[str, float]:
    """The newest value of each ``metrics.jsonl`` key at or before ``step``: losses from the
    training log, scores from the last evaluation row when there is one (not throughput, which
    depends on the machine's load, not on the weights)."""
    last: dict[str, Any] = {}
    for record in RunDir(run_dir).metrics.read():
        at = record.get("step", 0)
        if step is None or (isinstance(at, int | float) and at <= step):
            last.update(record)
    return {
        k: round(v, 4) for k, v in last.items() if isinstance(v, float) and k not in MACHINE_KEYS
    }


def run_recipe(checkpoint: Path) -> dict[str, Any]:
    """``training``, ``dataset`` and ``step`` of the run a checkpoint belongs to (what is known)."""
    found: dict[str, Any] = {}
    step = parse_step(checkpoint.name)
    if step is not None:
        found["step"] = step
    run_dir = checkpoint.parent.parent
    run = RunDir(run_dir).read_config() if checkpoint.parent.name == "checkpoints" else None
    if run is None or run.get("format") != RUN_FORMAT:
        return found
    data = run.get("data")
    if isinstance(data, Mapping):
        data = data.get("name") or data.get("dataset") or data.get("path")
    if data:
        found["dataset"] = str(data)
    training = dict(run.get("train") or {})
    log = _last_log(run_dir, found.get("step"))
    if log:
        training["last logged values"] = log
    if training:
        found["training"] = training
    return found


def export_checkpoint(
    source: str | Path,
    out_dir: str | Path,
    *,
    step: int | None = None,
    include_discriminator: bool = True,
    **card: Any,
) -> Path:
    """Turn a run (its newest checkpoint, or ``step``) or a checkpoint folder into a
    ``save_pretrained`` folder, with the run's training recipe in the model card.

    ``card`` (``dataset``, ``license``, ``metrics``, ``repo_id``) overrides what the run records.
    """
    checkpoint = locate_model_folder(source, step)
    out = Path(out_dir).expanduser()
    if out.resolve() == checkpoint.resolve():
        raise ConfigError(f"export {checkpoint} to another folder, not onto itself")
    model = load_model_files(checkpoint)
    meta = read_config(checkpoint)
    model.card_info = {k: meta[k] for k in CARD_KEYS if k in meta}
    recipe = run_recipe(checkpoint)
    recipe.update({k: v for k, v in card.items() if v is not None})
    return save_pretrained(model, out, include_discriminator=include_discriminator, **recipe)
