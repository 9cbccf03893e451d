"""Publish one catalogue entry: retrain it from scratch, evaluate it, export it, record it.

    python benchmarks/publish.py stylegan_lite.digits32            # train, eval, export, catalogue
    python benchmarks/publish.py dcgan.digits32 --push my-org       # ... and push it to the Hub
    python benchmarks/publish.py msggan.digits32 --run runs/x       # reuse a finished run there
    python benchmarks/publish.py dcgan.digits32-cond                # a class-conditional entry

Each entry's recipe (architecture, fixed step count, seed, options) is in :data:`RECIPES`; the
run is ``ganzoo train`` with exactly these options (the command is written into the catalogue),
on the CPU with one thread, so the same command gives the same weights. A run folder that
already holds the final step's checkpoint is not trained again. The model is scored with
``ganzoo eval``'s digits protocol (599 samples, latent seed 0) from its EMA generator and,
for the record, from its raw generator; the generator and its EMA (never the discriminator) are
exported to ``registry/weights/NAME/`` (shipped inside the wheel) and the entry's row in
``registry/catalog.toml`` is rewritten with the files' sha256, their size and the measured
figures. ``--push ORG`` also uploads the folder as ``ORG/ARCH-TAG`` with ``push_to_hub`` and
records the repo id and the full commit id it returns. A conditional entry (``conditional`` in
its options) also records its class accuracy and mean per-class Fréchet distance; its class
names are in its config.json. ``--registry DIR`` writes the weights and the catalogue row
somewhere else than ``registry/`` (a try, or a test).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REGISTRY = ROOT / "registry"

#: name -> (architecture, training steps, seed, options beyond the architecture's defaults, note)
RECIPES: dict[str, dict[str, Any]] = {
    "stylegan_lite.digits32": {
        "arch": "stylegan_lite",
        # FD along this run: 66.7 (1,000), 27.6 (1,500), 18.4 (2,000), 21.2 (2,500), 22.2
        # (3,000): longer does not help at these defaults (RESULTS.md)
        "steps": 2000,
        "seed": 0,
        "options": {},
        "summary": "StyleGAN-lite on the sklearn digits, 32 px grey",
    },
    "dcgan.digits32": {
        "arch": "dcgan",
        # FD of the EMA (its own BatchNorm statistics) / raw G along this run: 1,000: 101.8 /
        # 63.3; 2,000: 54.3 / 36.1; 3,000: 38.0 / 33.0; 4,000: 32.7 / 37.6 (RESULTS.md)
        "steps": 4000,
        "seed": 0,
        # An EMA of G (half-life ~700 steps), copied until step 500: the raw DCGAN generator
        # jitters from step to step.
        "options": {"ema": True, "ema_decay": 0.999, "ema_start": 500},
        "summary": "DCGAN on the sklearn digits, 32 px grey",
    },
    "dcgan.digits32-cond": {
        "arch": "dcgan",
        # FD EMA / raw G: 2,000: 47.0 / 26.1; 3,000: 24.8 / 21.6; 3,500: 20.9 / 20.0; 4,000:
        # 19.0 / 21.1, class accuracy 0.99-1.0 from 2,000 on (RESULTS.md)
        "steps": 4000,
        "seed": 0,
        # class embedding joined to z, projection D; the EMA as for dcgan.digits32
        "options": {"conditional": True, "ema": True, "ema_decay": 0.999, "ema_start": 500},
        "summary": "Class-conditional DCGAN on the sklearn digits, 32 px grey",
    },
    "stylegan_lite.digits32-cond": {
        "arch": "stylegan_lite",
        # With the class faded in after 4,000 images (the default since the within-class
        # collapse), FD (EMA) / recall / class accuracy along this run: 1,000: 30.3 / 0.59 /
        # 0.972; 1,500: 25.7 / 0.53 / 0.965; 2,000: 19.3 / 0.51 / 0.968; 2,500: 18.2 / 0.51 /
        # 0.972; 2,750: 15.1 / 0.53 / 0.973; 3,000: 18.8 / 0.55 / 0.977 (RESULTS.md)
        "steps": 2750,
        "seed": 0,
        # class embedding into the mapping network, projection D; the defaults otherwise
        "options": {"conditional": True},
        "summary": "Class-conditional StyleGAN-lite on the sklearn digits, 32 px grey",
    },
    "msggan.digits32": {
        "arch": "msggan",
        # FD along this run: 50.3 (750), 44.5 (1,000), 40.9 (1,250, the EMA's first steps)
        "steps": 1250,
        "seed": 0,
        "options": {},
        "summary": "MSG-GAN on the sklearn digits, 32 px grey",
    },
}
#: the aim every entry is measured against: FD within 1.5x the real-data floor, 10/10 classes
AIM_FACTOR = 1.5


def command(name: str) -> list[str]:
    """The ``ganzoo train`` command line that trains ``name`` (its output folder left out)."""
    r = RECIPES[name]
    cmd = ["ganzoo", "train", r["arch"], "--steps", str(r["steps"]), "--seed", str(r["seed"])]
    cmd += ["--threads", "1", "--device", "cpu"]
    for key, value in r["options"].items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    return cmd


def train(name: str, run_dir: Path) -> Path:
    """Train ``name`` into ``run_dir`` (or resume it there) up to its recipe's step count."""
    from click.testing import CliRunner

    from ganzoo.cli.main import cli
    from ganzoo.rundir import RunDir, parse_step

    steps = RECIPES[name]["steps"]
    run = RunDir(run_dir)
    done = {parse_step(c.name) for c in run.checkpoints()} if run.is_run() else set()
    if steps in done:  # steps only bound the loop: the checkpoint at `steps` is that run's end
        print(f"{name}: {run_dir} holds step {steps}; not training again", file=sys.stderr)
        return run_dir
    latest = max((s for s in done if s is not None), default=None)
    args = command(name)[1:]
    if latest is not None and latest < steps:
        args = ["train", "--resume", str(run_dir), "--steps", str(steps), "--threads", "1"]
    else:
        args += ["--out", str(run_dir), "--checkpoint-every", "250", "--sample-every", "500"]
    print("$ ganzoo " + shlex.join(args), file=sys.stderr)
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"{name}: training failed: {result.output.strip()}")
    return run_dir


def evaluate(folder: Path) -> dict[str, Any]:
    """The digits protocol's figures of the model in ``folder`` (EMA and raw generator); for
    a conditional model also its class accuracy and mean per-class Fréchet distance."""
    import ganzoo
    from ganzoo.data import load_dataset
    from ganzoo.metrics import Evaluator, Protocol

    model = ganzoo.from_pretrained(folder)
    evaluator = Evaluator(load_dataset("digits", 32, 1), Protocol())
    ema = evaluator.score_model(model)
    raw = evaluator.score_model(model, ema=False)
    floor = evaluator.floor()["fd"]
    out = {
        "fd": round(ema["fd"], 3),
        "fd_raw_generator": round(raw["fd"], 3),
        "fd_floor": round(floor, 3),
        "classes_covered": int(ema["classes_covered"]),
        "num_classes": int(ema["num_classes"]),
        "class_kl": round(ema["class_kl"], 4),
        "precision": round(ema["precision"], 4),
        "recall": round(ema["recall"], 4),
        "classes_covered_raw": int(raw["classes_covered"]),
        "class_kl_raw": round(raw["class_kl"], 4),
        "precision_raw": round(raw["precision"], 4),
        "recall_raw": round(raw["recall"], 4),
    }
    if model.conditional:
        for key, source in (("", ema), ("_raw", raw)):
            out[f"class_accuracy{key}"] = round(source["class_accuracy"], 4)
            out[f"class_fd_mean{key}"] = round(source["class_fd_mean"], 3)
        floor_cls = evaluator.class_floor()
        out["class_accuracy_floor"] = round(floor_cls["class_accuracy"], 4)
        out["class_fd_mean_floor"] = round(floor_cls["class_fd_mean"], 3)
    return out


def toml_value(value: Any) -> str:
    """One TOML value (strings, booleans, numbers and flat tables of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"cannot write {value!r} to the catalogue")


def entry_toml(name: str, fields: dict[str, Any]) -> str:
    """An entry as ``[models."NAME"]`` plus its sub-tables."""
    lines = [f'[models."{name}"]']
    tables = {k: v for k, v in fields.items() if isinstance(v, dict)}
    lines += [f"{k} = {toml_value(v)}" for k, v in fields.items() if k not in tables]
    for key, table in tables.items():
        lines += ["", f'[models."{name}".{key}]']
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines)


def write_catalog(path: Path, name: str, fields: dict[str, Any]) -> None:
    """Replace (or add) ``name``'s entry, keeping the file's header comment and other entries."""
    text = path.read_text(encoding="utf-8") if path.exists() else "format_version = 1\n"
    models = dict(tomllib.loads(text).get("models", {}))
    models[name] = fields
    header = text.split("\n[models", 1)[0].rstrip() + "\n"
    if "[models]" in header:
        header = header.replace("\n[models]\n", "\n")
    body = [entry_toml(n, models[n]) for n in sorted(models)]
    path.write_text(header + "\n" + "\n\n".join(body) + "\n", encoding="utf-8")


#: the figures a model card shows (the catalogue row keeps them all)
CARD_METRICS = ("fd", "classes_covered", "class_accuracy")


def card_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures the model card shows (the catalogue row keeps them all)."""
    return {k: v for k, v in metrics.items() if k in CARD_METRICS}


def save_generator(model: Any, folder: Path, metrics: dict[str, Any], repo_id: str | None) -> None:
    """Rewrite ``folder`` from ``model`` after an export was changed in memory: generator and
    EMA only, the card with :func:`card_metrics`."""
    from ganzoo.hub import save_pretrained

    save_pretrained(
        model,
        folder,
        include_discriminator=False,
        metrics=card_metrics(metrics),
        repo_id=repo_id,
    )


def export(
    name: str, run_dir: Path, metrics: dict[str, Any], repo_id: str | None, registry: Path
) -> Path:
    """Export the run's checkpoint at the recipe's step, without its discriminator, to
    ``registry/weights/NAME``."""
    import shutil

    from ganzoo.hub import export_checkpoint

    out = registry / "weights" / name
    if out.exists():
        shutil.rmtree(out)
    export_checkpoint(
        run_dir,
        out,
        step=RECIPES[name]["steps"],
        include_discriminator=False,
        dataset="digits",
        license="apache-2.0",
        metrics=card_metrics(metrics),
        repo_id=repo_id,
    )
    own_batchnorm_statistics(out, metrics, repo_id)
    add_card_note(out, name)
    return out


def own_batchnorm_statistics(folder: Path, metrics: dict[str, Any], repo_id: str | None) -> None:
    """Give an exported EMA generator with BatchNorm (DCGAN) its own statistics, as the trainer
    does at every checkpoint (ganzoo.training.ema.recompute_batchnorm: a function of the
    weights alone, so a run written before the trainer did it exports the same bytes)."""
    import ganzoo
    from ganzoo.training.ema import recompute_batchnorm

    model = ganzoo.from_pretrained(folder)
    if model.generator_ema is None or not recompute_batchnorm(model, model.generator_ema):
        return
    save_generator(model, folder, metrics, repo_id)


def add_card_note(out: Path, name: str) -> None:
    """Say in the model card how the weights were made and how to get a resumable run."""
    card = out / "README.md"
    card.write_text(
        card.read_text(encoding="utf-8").rstrip() + "\n\n## How these weights were made\n\n"
        f"`python benchmarks/publish.py {name}` in the ganzoo repository trains them from "
        f"scratch with\n\n    {shlex.join(command(name))}\n\n"
        "and scores them with `ganzoo eval`'s digits protocol. Only the generator is published "
        "(with its EMA where that scored better): all that sampling needs. For a resumable "
        "checkpoint (discriminator and "
        f"optimiser state included) run that script: it keeps the run in `runs/publish/{name}`, "
        "which `ganzoo train --resume` continues.\n",
        encoding="utf-8",
    )


def ship_raw_generator(
    name: str, folder: Path, metrics: dict[str, Any], repo_id: str | None
) -> None:
    """Drop the EMA from ``folder`` and make the raw generator's figures the entry's."""
    import ganzoo

    model = ganzoo.from_pretrained(folder)
    model.generator_ema = None
    metrics["fd_ema"], metrics["fd"] = metrics["fd"], metrics["fd_raw_generator"]
    for key in [k.removesuffix("_raw") for k in metrics if k.endswith("_raw")]:
        metrics[key] = metrics.pop(f"{key}_raw")
    (folder / "generator_ema.safetensors").unlink()
    save_generator(model, folder, metrics, repo_id)
    add_card_note(folder, name)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Publish one entry; returns the catalogue row it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--run", type=Path, help="run folder (default runs/publish/NAME)")
    parser.add_argument("--push", metavar="ORG", help="also push to the Hub as ORG/ARCH-TAG")
    parser.add_argument(
        "--registry",
        type=Path,
        default=REGISTRY,
        help="folder of catalog.toml and weights/ (default: the repository's registry/)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from ganzoo.serialization import file_sha256

    name, recipe, registry = args.name, RECIPES[args.name], args.registry
    run_dir = train(name, args.run or ROOT / "runs" / "publish" / name)
    repo_id = f"{args.push}/{name.replace('.', '-')}" if args.push else None
    folder = export(name, run_dir, {}, repo_id, registry)
    metrics = evaluate(folder)
    folder = export(name, run_dir, metrics, repo_id, registry)  # the card shows the figures
    if metrics["fd_raw_generator"] < metrics["fd"]:
        # Measured, not assumed: where the average of G's weights samples worse than G
        # itself, ship G alone (its EMA's FD stays in the catalogue as fd_ema).
        ship_raw_generator(name, folder, metrics, repo_id)
    for key in [k for k in metrics if k.endswith("_raw")]:
        del metrics[key]
    print(json.dumps(metrics, indent=2), file=sys.stderr)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    fields: dict[str, Any] = {
        "summary": recipe["summary"],
        "path": f"weights/{name}",
        "image_size": 32,
        "dataset": "digits",
        "conditional": bool(recipe["options"].get("conditional", False)),
        "license": "apache-2.0",
        "command": shlex.join(command(name)),
    }
    if args.push:
        from ganzoo.hub import push_folder

        url, commit = push_folder(folder, repo_id)
        fields.update(repo_id=repo_id, revision=commit)
        print(f"pushed {url} at {commit}", file=sys.stderr)
    fields["metrics"] = metrics
    fields["sha256"] = {p.name: file_sha256(p) for p in files}  # files: sorted
    write_catalog(registry / "catalog.toml", name, fields)
    size = sum(p.stat().st_size for p in files)
    aim = AIM_FACTOR * metrics["fd_floor"]
    accuracy = (
        f", class accuracy {metrics['class_accuracy']:.3f}" if "class_accuracy" in metrics else ""
    )
    print(
        f"{name}: FD {metrics['fd']:.2f} (aim <= {aim:.1f}, floor {metrics['fd_floor']:.2f}), "
        f"{metrics['classes_covered']}/{metrics['num_classes']} classes{accuracy}, "
        f"{size / 1e6:.2f} MB in {folder}",
        file=sys.stderr,
    )
    return fields


if __name__ == "__main__":
    main()
