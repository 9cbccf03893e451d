"""Publish one catalogue entry: retrain it from scratch, evaluate it, export it, record it.

    python benchmarks/publish.py stylegan_lite.digits32            # train, eval, export, catalogue
    python benchmarks/publish.py dcgan.digits32 --push my-org       # ... and push it to the Hub
    python benchmarks/publish.py msggan.digits32 --run runs/x       # reuse a finished run there
    python benchmarks/publish.py dcgan.digits32-cond                # a class-conditional entry

Each entry's recipe (architecture, fixed step count, seed, options) is in :data:`RECIPES`; the
run is ``ganzoo train`` with exactly these options (the command is written into the catalogue),
on the CPU with one thread, so the same command gives the same weights. A run folder that
already holds the final step's checkpoint is not trained again. Its EMA generator and its raw
generator are both scored with ``ganzoo eval``'s digits protocol (599 samples, latent seed 0);
the one with the lower Fréchet distance is exported alone (the discriminator never is: sampling
needs one generator) to ``registry/weights/NAME/`` (shipped inside the wheel), its weights
stored in float16 to keep the wheel small, and scored again from exactly those files: these
are the figures the entry's row in ``registry/catalog.toml`` records, with the files' sha256,
and both float32 scores as ``fd_ema`` and ``fd_raw_generator``. ``--push ORG`` also uploads
the folder as ``ORG/ARCH-TAG`` with ``push_to_hub`` and records the repo id and the full commit
id it returns. A conditional entry (``conditional`` in its options) also records its class
accuracy and mean per-class Fréchet distance; its class names are in its config.json.
``--registry DIR`` writes the weights and the catalogue row somewhere else than ``registry/``
(a try, or a test).
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
        # With the defaults' EMA (decay 0.99, half-life ~70 steps) FD 66.7 (1,000), 27.6
        # (1,500), 18.4 (2,000), 21.2 (2,500), 22.2 (3,000): G wanders at lr 0.006 and so
        # does a short average. With this recipe's (G's own steps unchanged), FD of the EMA
        # along the run (1 thread, 0.13 CPU-s a step, 7,000 steps in about 15 CPU-minutes):
        # 109.0 (1,000, a copy of G), 60.0 (1,250), 39.2 (1,500), 27.7 (1,750), 22.1 (2,000),
        # 18.5 (2,250), 19.2 (2,500), 17.1 (2,750), 19.5 (3,000), 17.3 (3,250), 15.7 (3,500),
        # 15.6 (3,750), 14.8 (4,000), 14.5 (4,250), 13.8 (4,500), 14.7 (4,750), 13.5 (5,000),
        # 12.9 (5,250), 12.7 (5,500), 12.5 (5,750), 11.7 (6,000), 11.9 (6,250), 10.6 (6,500),
        # 10.6 (6,750), 9.1 (7,000); the raw G 29-116 throughout (RESULTS.md)
        "steps": 7000,
        "seed": 0,
        # a longer average of G (half-life ~350 steps), copied until step 1,000 so that the
        # random initial weights are not in it
        "options": {"ema_decay": 0.998, "ema_start": 1000},
        "summary": "StyleGAN-lite on the sklearn digits, 32 px grey",
    },
    "dcgan.digits32": {
        "arch": "dcgan",
        # Without augmentation (round 2: 4,000 steps) FD of the EMA (its own BatchNorm
        # statistics) / raw G: 101.8 / 63.3 (1,000), 54.3 / 36.1 (2,000), 38.0 / 33.0 (3,000),
        # 32.7 / 37.6 (4,000), then a plateau: 31.7 / 30.7 (4,500), 33.3 / 40.7 (5,000), 34.8
        # / 43.8 (5,250). With DiffAugment (this recipe; 1 thread, 7,500 steps in 14.5
        # CPU-minutes, 0.116 CPU-s a step): 88.8 / 89.1 (500), 75.4 / 59.2 (1,000), 57.1 /
        # 42.5 (1,500), 40.5 / 32.0 (2,000), 32.4 / 52.1 (2,500), 28.6 / 30.5 (3,000), 26.1 /
        # 33.1 (3,500), 24.7 / 38.4 (4,000), 23.8 / 24.8 (4,500), 22.5 / 20.2 (5,000), 21.7 /
        # 27.3 (5,500), 21.4 / 26.2 (6,000), 20.4 / 17.6 (6,500), 19.7 / 20.4 (7,000), 18.0 /
        # 17.8 (7,500) (RESULTS.md)
        "steps": 7500,
        "seed": 0,
        # An EMA of G (half-life ~700 steps), copied until step 500: the raw DCGAN generator
        # jitters from step to step. DiffAugment (colour, translation, cutout on every image D
        # sees) keeps D from memorising the 1,797 digits: without it G got worse after ~4,500
        # steps.
        "options": {
            "ema": True,
            "ema_decay": 0.999,
            "ema_start": 500,
            "augment": "diffaugment",
        },
        "summary": "DCGAN on the sklearn digits, 32 px grey",
    },
    "dcgan.digits32-cond": {
        "arch": "dcgan",
        # Without augmentation (round 2) FD EMA / raw G: 47.0 / 26.1 (2,000), 24.8 / 21.6
        # (3,000), 19.0 / 21.1 (4,000). With DiffAugment, as for dcgan.digits32 (a 7,500-step
        # run; 1 thread, 0.117 CPU-s a step): 30.1 / 19.6 (2,000), 15.2 / 14.2 (3,000), 10.6
        # / 18.9 (4,000), 9.67 / 13.3 (4,250), 9.52 / 17.8 (4,500), 9.09 / 22.5 (4,750), 9.62
        # / 26.1 (5,000), 9.95 (5,250), 10.7 (5,500), 10.5 (6,000), 10.7 (6,500), 10.5 / 19.5
        # (7,000), 10.5 / 22.3 (7,500): best at 4,750 steps (9.3 CPU-minutes), flat after;
        # class accuracy 0.99-1.0 from 2,500 steps on (RESULTS.md)
        "steps": 4750,
        "seed": 0,
        # class embedding joined to z, projection D; the EMA and augmentation as for
        # dcgan.digits32
        "options": {
            "conditional": True,
            "ema": True,
            "ema_decay": 0.999,
            "ema_start": 500,
            "augment": "diffaugment",
        },
        "summary": "Class-conditional DCGAN on the sklearn digits, 32 px grey",
    },
    "stylegan_lite.digits32-cond": {
        "arch": "stylegan_lite",
        # The class faded in after 4,000 images (the default since the within-class collapse).
        # With the defaults' short EMA (decay 0.99; round 3) FD / recall / class accuracy:
        # 19.3 / 0.51 / 0.968 (2,000), 15.1 / 0.53 / 0.973 (2,750), 18.8 / 0.55 / 0.977
        # (3,000). With the longer average of stylegan_lite.digits32 (this recipe; a 7,000-step
        # run, 1 thread, 0.123 CPU-s a step), FD of the EMA: 19.9 (2,000), 14.9 (2,500), 15.0
        # (3,000), 14.9 (3,500), 13.9 (4,000), 12.5 (4,500), 14.4 (5,000), 13.3 (5,500),
        # 12.3 (6,000), 13.3 (6,500), 11.7 (6,750), 12.0 (7,000); recall 0.49 (2,000) to
        # 0.62-0.64 (5,000-7,000), class accuracy 0.96-0.985 (RESULTS.md)
        "steps": 6750,
        "seed": 0,
        # class embedding into the mapping network, projection D; the EMA of
        # stylegan_lite.digits32 (half-life ~350 steps, a copy of G until step 1,000)
        "options": {"conditional": True, "ema_decay": 0.998, "ema_start": 1000},
        "summary": "Class-conditional StyleGAN-lite on the sklearn digits, 32 px grey",
    },
    "msggan.digits32-cond": {
        "arch": "msggan",
        # FD of the EMA / raw G along a 3,500-step run (1 thread, 0.25 CPU-s a step, 882
        # CPU-s): 44.1 (250), 25.8 (500), 17.6 (750), 27.0 (1,000; a copy of G until then),
        # 20.2 / 15.7 (1,250), 15.6 / 16.3 (1,500), 12.0 / 11.8 (1,750), 10.75 / 15.7 (2,000),
        # 10.18 / 14.7 (2,250), 10.07 / 13.0 (2,500), 10.5 / 21.1 (2,750), 10.8 / 15.7
        # (3,000), 11.5 (3,250), 11.8 / 11.3 (3,500): best at 2,500 steps (about 10.5
        # CPU-minutes), then D starts to win; class accuracy 0.985-0.997 from 1,000 steps on.
        # With DiffAugment (as msggan.digits32) it started far slower and was still at 10.7
        # after 3,500 steps (15.6 CPU-minutes), recall 0.60 against 0.76 (RESULTS.md)
        "steps": 2500,
        "seed": 0,
        # class embedding joined to z, projection D on the final block; the defaults otherwise
        "options": {"conditional": True},
        "summary": "Class-conditional MSG-GAN on the sklearn digits, 32 px grey",
    },
    "msggan.digits32": {
        "arch": "msggan",
        # FD of the EMA (a copy of G until step 1,000) / raw G. Its defaults (batch 64, no
        # augmentation; round 3): 82.7 (250), 50.3 (750), 44.5 (1,000), 38.2 (1,500), 33.1
        # (2,000), 30.7 (2,500), 27.7 / 38.1 (3,000). With DiffAugment at batch 64 (3,000 steps
        # in 13.2 CPU-minutes): 173.9 (250), 91.5 (750), 49.5 (1,000), 39.7 (1,500), 30.5
        # (2,000), 25.2 (2,500), 24.1 / 36.6 (3,000). With DiffAugment at batch 32 (this
        # recipe; 0.152 CPU-s a step, 6,250 steps in 15.9 CPU-minutes): 100.3 (500), 66.3
        # (1,000), 51.7 (1,500), 43.0 (2,000), 33.9 (2,500), 28.5 (3,000), 25.9 (3,500), 23.7
        # (4,000), 21.8 (4,500), 20.7 (5,000), 19.0 (5,500), 17.4 (5,750), 15.9 / 21.6
        # (6,000), 15.4 / 27.8 (6,250): twice the updates for the same CPU time, still
        # improving at the end of the budget (RESULTS.md)
        "steps": 6250,
        "seed": 0,
        # DiffAugment on every scale D sees (the same colour change, shift and cutout, in
        # proportion, at every resolution)
        "options": {"batch_size": 32, "augment": "diffaugment"},
        "summary": "MSG-GAN on the sklearn digits, 32 px grey",
    },
    "progan.digits32": {
        "arch": "progan",
        # The EMA is a copy of G until step 1,000, then EMA / raw G. Round 3 (batch 64, phases
        # of 128 steps, grown at step 768; no augmentation; 4,000 steps in 14.8 CPU-minutes):
        # 65.4 (768), 43.2 (2,000), 34.8 (3,000), 29.6 (4,000). With DiffAugment at batch 64
        # (4,500 steps in 15.8 CPU-minutes): 205.8 (1,000), 60.3 (2,000), 28.8 (3,000), 17.9
        # (4,000), 15.2 (4,500). With DiffAugment at batch 32 (this recipe; phases of 256
        # steps, 32 px faded in from step 1,280 to 1,536; 0.11 CPU-s a step, 8,500 steps in
        # 15.8 CPU-minutes): 347.2 (1,000), 1,560 / 172.7 (1,500; the EMA, started at 1,000,
        # averages across the last fade-in), 307.9 / 129.7 (2,500), 99.7 / 139.2 (3,000), 31.5
        # / 44.0 (4,000), 20.7 / 60.9 (5,000), 16.2 / 83.5 (6,000), 12.2 / 50.7 (7,000), 11.5
        # / 19.1 (7,500), 10.3 / 32.9 (8,000), 9.54 / 74.8 (8,250), 9.33 / 38.8 (8,500): twice
        # the updates for the same CPU time, and still improving at the end of the budget
        # (RESULTS.md)
        "steps": 8500,
        "seed": 0,
        # MSG-GAN's relativistic hinge loss and rate (lr 0.003) instead of the paper's WGAN-GP
        # at 0.001 (FD 89 against 187 in 180 s, RESULTS.md); phases of 8,192 images: the
        # growth ends at step 1,536, and a checkpoint at step N is the end of an N-step run
        # (the schedule depends on the step alone). DiffAugment on every image D sees, at
        # every stage of the growth.
        "options": {
            "loss": "rahinge",
            "lr_g": 0.003,
            "lr_d": 0.003,
            "batch_size": 32,
            "phase_images": 8192,
            "augment": "diffaugment",
        },
        "summary": "Progressively grown GAN on the sklearn digits, 32 px grey",
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


def export(name: str, run_dir: Path, repo_id: str | None, registry: Path) -> Path:
    """Export the run's checkpoint at the recipe's step, without its discriminator, to
    ``registry/weights/NAME``, before it is scored (:func:`store_generator` then rewrites it
    with one generator and the figures)."""
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
        repo_id=repo_id,
    )
    own_batchnorm_statistics(out, repo_id)
    return out


def own_batchnorm_statistics(folder: Path, repo_id: str | None) -> None:
    """Give an exported EMA generator with BatchNorm (DCGAN) its own statistics, as the trainer
    does at every checkpoint (ganzoo.training.ema.recompute_batchnorm: a function of the
    weights alone, so a run written before the trainer did it exports the same bytes)."""
    import ganzoo
    from ganzoo.training.ema import recompute_batchnorm

    model = ganzoo.from_pretrained(folder)
    if model.generator_ema is None or not recompute_batchnorm(model, model.generator_ema):
        return
    save_generator(model, folder, {}, repo_id)


#: the dtype the published generator is stored in: half the bytes of float32, so the wheel
#: carries every entry in a few MB; loading copies it into the float32 network, and the
#: catalogue's figures are measured on the stored (rounded) weights
STORED_DTYPE = "float16"


def add_card_note(out: Path, name: str, shipped: str) -> None:
    """Say in the model card how the weights were made, which generator they are and how to get
    a resumable run."""
    which = {
        "ema": "the exponential moving average of the trained generator's weights (EMA), "
        "which scored better than the trained generator itself (the catalogue keeps both "
        "figures: `fd_ema`, `fd_raw_generator`)",
        "raw": "the trained generator, which scored better than its moving average (EMA; "
        "the catalogue keeps both figures: `fd_ema`, `fd_raw_generator`)",
        "only": "the trained generator",
    }[shipped]
    card = out / "README.md"
    card.write_text(
        card.read_text(encoding="utf-8").rstrip() + "\n\n## How these weights were made\n\n"
        f"`python benchmarks/publish.py {name}` in the ganzoo repository trains them from "
        f"scratch with\n\n    {shlex.join(command(name))}\n\n"
        "and scores them with `ganzoo eval`'s digits protocol. One generator is published, all "
        f"that sampling needs: `generator.safetensors` holds {which}. It is stored in "
        f"{STORED_DTYPE} to keep ganzoo's wheel small; loading copies it into the float32 "
        "network, and the figures above were measured on these stored weights. For a "
        "resumable checkpoint (discriminator, both generators and optimiser state, float32) "
        f"run that script: it keeps the run in `runs/publish/{name}`, which `ganzoo train "
        "--resume` continues.\n",
        encoding="utf-8",
    )


def keep_one_generator(metrics: dict[str, Any]) -> str:
    """Which generator ships: ``ema`` or ``raw`` (the one with the lower FD, the EMA on a tie),
    or ``only`` without an EMA. ``metrics`` becomes that generator's figures, with both FDs
    kept as ``fd_ema`` and ``fd_raw_generator``."""
    if "fd_ema" not in metrics:  # the evaluation of a folder without an EMA scores G twice
        return "only"
    if metrics["fd_raw_generator"] < metrics["fd_ema"]:
        for key in [k.removesuffix("_raw") for k in metrics if k.endswith("_raw")]:
            metrics[key] = metrics[f"{key}_raw"]
        metrics["fd"] = metrics["fd_raw_generator"]
        return "raw"
    return "ema"


def store_generator(name: str, folder: Path, metrics: dict[str, Any], repo_id: str | None) -> str:
    """Rewrite ``folder`` with one generator, the one that scored better, its float weights
    rounded to :data:`STORED_DTYPE`. Returns which one it is (see :func:`keep_one_generator`)."""
    import torch

    import ganzoo

    model = ganzoo.from_pretrained(folder)
    if model.generator_ema is not None:
        metrics["fd_ema"] = metrics["fd"]
    shipped = keep_one_generator(metrics)
    if shipped == "ema":
        model.generator = model.generator_ema  # with its own BatchNorm statistics (DCGAN)
    model.generator_ema = None
    with torch.no_grad():  # the card's sample.png shows what the stored weights draw
        for tensor in model.generator.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(getattr(torch, STORED_DTYPE)))
    (folder / "generator_ema.safetensors").unlink(missing_ok=True)
    write_folder(name, model, folder, metrics, repo_id, shipped)
    return shipped


def write_folder(
    name: str, model: Any, folder: Path, metrics: dict[str, Any], repo_id: str | None, shipped: str
) -> None:
    """Write ``model``'s generator, config, card (with ``metrics`` and the note) and sample to
    ``folder``, the generator's float tensors stored as :data:`STORED_DTYPE`."""
    import torch
    from safetensors import safe_open

    from ganzoo.serialization import write_safetensors

    save_generator(model, folder, metrics, repo_id)
    path = folder / "generator.safetensors"
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    dtype = getattr(torch, STORED_DTYPE)
    stored = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    write_safetensors(stored, path, metadata=meta)
    add_card_note(folder, name, shipped)


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
    folder = export(name, run_dir, repo_id, registry)
    # Measured, not assumed: score the EMA and the raw generator (float32), ship the one that
    # scored better, alone, in float16 ...
    choice = evaluate(folder)
    shipped = store_generator(name, folder, choice, repo_id)
    # ... then score exactly the files that ship: these are the catalogue's figures
    metrics = evaluate(folder)
    for key in [k for k in metrics if k.endswith("_raw")] + ["fd_raw_generator"]:
        del metrics[key]
    if shipped != "only":
        metrics["fd_ema"], metrics["fd_raw_generator"] = (
            choice["fd_ema"],
            choice["fd_raw_generator"],
        )
    if abs(metrics["fd"] - choice["fd"]) > 0.02 * choice["fd"]:
        raise SystemExit(
            f"{name}: the stored {shipped} generator scores FD {metrics['fd']:.3f}, the "
            f"float32 one {choice['fd']:.3f}: the export changed what the model draws"
        )
    import ganzoo

    # the card shows these figures (the weights, hence the bytes, do not change)
    write_folder(name, ganzoo.from_pretrained(folder), folder, metrics, repo_id, shipped)
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
