"""``ganzoo info PATH``: what a run, a checkpoint or a saved model folder holds, without torch.

Reads config.json only (the run's and its newest checkpoint's), so it answers in the time
``ganzoo list`` does: the architecture, the step, the training data and, for a GAN, whether it
is class-conditional and which classes it draws (what ``ganzoo sample --class`` accepts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import WeightsError
from ..rundir import RunDir, parse_step

CONFIG_NAME = "config.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} is unreadable ({exc}): not a ganzoo folder?") from None
    if not isinstance(data, dict):
        raise WeightsError(f"{path} is not a ganzoo config.json")
    return data


def folder_summary(path: Path) -> dict[str, Any]:
    """What ``ganzoo info`` shows about a run or model folder, as plain data."""
    run = RunDir(path)
    out: dict[str, Any] = {"path": str(path)}
    if run.is_run():
        meta_run = run.read_config() or {}
        out["what"] = "run"
        out["data"] = meta_run.get("data")
        steps = (meta_run.get("train") or {}).get("steps")
        out["steps"] = steps
        checkpoints = run.checkpoints()
        if not checkpoints:  # nothing trained yet: the run's own config is all there is
            out.update(arch=meta_run.get("arch"), kind="gan", config=meta_run.get("model") or {})
            out["step"] = None
            return _classes(out)
        folder = run.latest()
        out["checkpoint"] = str(folder)
    elif (path / CONFIG_NAME).is_file():
        folder = path
        out["what"] = "model folder"
    else:
        raise WeightsError(
            f"{path} is not a ganzoo run, checkpoint or model folder (no {CONFIG_NAME})"
        )
    meta = _read(folder / CONFIG_NAME)
    if meta.get("format") not in (None, "ganzoo"):
        raise WeightsError(f"{folder / CONFIG_NAME} is not a ganzoo model config")
    out.update(
        arch=meta.get("arch"),
        kind=meta.get("kind"),
        config=meta.get("config") or {},
        networks=meta.get("networks") or [],
        step=meta.get("step", parse_step(folder.name)),  # a checkpoint: its folder's name
    )
    out.setdefault("data", meta.get("dataset"))
    if meta.get("metrics"):
        out["metrics"] = meta["metrics"]
    return _classes(out)


def _classes(out: dict[str, Any]) -> dict[str, Any]:
    """Add ``conditional``, ``num_classes`` and ``class_names`` from the model config."""
    config = out.get("config") or {}
    k = int(config.get("num_classes") or 0)
    out["conditional"] = bool(k or config.get("conditional"))
    out["num_classes"] = k
    names = [str(n) for n in config.get("class_names") or []]
    out["class_names"] = names if len(names) == k else [str(i) for i in range(k)]
    return out


def describe_classes(info: dict[str, Any]) -> str:
    """One line: unconditional, or the classes ``--class`` takes (index = name)."""
    if not info["conditional"]:
        return "unconditional (no --class)"
    k = info["num_classes"]
    if not k:  # a run that has not started: the classes come from its data
        return "class-conditional (classes from the data when training starts)"
    names = info["class_names"]
    listed = ", ".join(n if n == str(i) else f"{i} = {n}" for i, n in enumerate(names))
    return f"class-conditional, {k} classes: {listed} (sample with --class)"


def folder_info(path: Path, as_json: bool) -> None:
    """Print :func:`folder_summary` (``ganzoo info RUN|FOLDER``)."""
    info = folder_summary(path)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['path']} — a ganzoo {info['what']}")
    click.echo(f"model:    {info['arch']} ({info.get('kind') or '?'})")
    if info["what"] == "run":
        step = info.get("step")
        done = f"step {step} of {info.get('steps')}" if step is not None else "no checkpoint yet"
        click.echo(
            f"progress: {done}" + (f" ({info['checkpoint']})" if "checkpoint" in info else "")
        )
    elif info.get("step") is not None:
        click.echo(f"step:     {info['step']}")
    if info.get("data"):
        click.echo(f"data:     {info['data']}")
    if info.get("kind") in (None, "gan"):
        click.echo(f"classes:  {describe_classes(info)}")
    if info.get("networks"):
        click.echo(f"networks: {', '.join(info['networks'])}")
    if info.get("metrics"):
        click.echo("metrics:  " + ", ".join(f"{k} {v}" for k, v in info["metrics"].items()))
    shown = {k: v for k, v in info["config"].items() if k not in ("class_names",)}
    click.echo("config:   " + ", ".join(f"{k}={json.dumps(v)}" for k, v in shown.items()))
