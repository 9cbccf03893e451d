"""Sample quality of every registered GAN on digits at 32×32 after a fixed wall-time budget.

Each architecture is trained by the shared trainer (``ganzoo.training.run``) with its own default
options, from each seed in ``--seeds``, for as many steps as fit in ``--budget`` seconds on this
machine. The step count comes from a short calibration run, after a 2-step warm-up run that pays
one-time costs: its steady-state images per second (``metrics.jsonl``, median of the second half
of its logged intervals) and its fixed costs (start-up, the final checkpoint, sample grid and loss
plot) give ``steps = (budget - fixed) / seconds_per_step``; if the run ends early (the load
changed), it is resumed with its own measured speed until the budget is used (a run that ends
late is not trimmed: its wall time is reported). Resume is exact, so the reported step count
reproduces the model (``ganzoo train ARCH --steps N``); the wall time is measured.
Then the model is scored with ``ganzoo.metrics`` under the ``digits`` protocol (599 samples
against the 1,198 reference images; the floor is the 599 held-out real images), an 8×8 grid is
saved under ``benchmarks/grids/`` and a table is appended to ``benchmarks/RESULTS.md``.

    python benchmarks/quality.py                     # 180 s per model, every registered GAN
    python benchmarks/quality.py --budget 20 --no-record --models dcgan   # a quick try
    python benchmarks/quality.py --models stylegan_lite --set r1_gamma=0.01 --no-record  # a variant
    python benchmarks/quality.py --models dcgan,stylegan_lite --forms both   # + class-conditional

``--forms conditional`` (or ``both``) trains each model's class-conditional form
(``--set conditional=true``, the digits' ten classes) under the same budget; its rows add the
class accuracy (the digits classifier's agreement with the requested class) and the mean
per-class Fréchet distance, and its grid has one row per class.

Timings depend on the machine: run it when nothing else does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.config import parse_assignments
from ganzoo.data import load_dataset
from ganzoo.images import save_grid
from ganzoo.metrics import Evaluator, Protocol
from ganzoo.training import run

HERE = Path(__file__).resolve().parent
PREFERRED = ("dcgan", "stylegan_lite", "msggan", "progan")  # listed first, in this order
SIZE, CHANNELS = 32, 1


#: ``--set`` overrides (model config or training options), applied to every model measured
OVERRIDES: dict[str, Any] = {}


#: the model forms ``--forms`` chooses from: name suffix and the options that make it
FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "unconditional": ("", {}),
    "conditional": ("-cond", {"conditional": True}),
}


def train_options(
    steps: int, device: str, seed: int, log_every: int, form: str = "unconditional"
) -> dict[str, Any]:
    """The options the benchmark sets; everything else is the architecture's default
    (or a ``--set`` override)."""
    return {
        **OVERRIDES,
        **FORMS[form][1],
        "image_size": SIZE,
        "channels": CHANNELS,
        "steps": steps,
        "seed": seed,
        "device": device,
        "sample_every": 0,  # one grid, at the end
        "checkpoint_every": 0,  # one checkpoint, at the end
        "log_every": log_every,
        "progress": False,
    }


def timed_run(arch: str, out: Path, options: dict[str, Any]) -> float:
    """Train through the shared trainer; the wall time of the whole run in seconds."""
    return timed(run.plan_new_run(arch, data="digits", layers=[options], out=out))


def timed(plan: run.RunPlan) -> float:
    start = time.perf_counter()
    run.execute(plan)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def steady_seconds_per_step(out: Path) -> float:
    """Seconds per step from ``metrics.jsonl``: median of the second half of the intervals."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["img_per_s"] for r in rows if "img_per_s" in r]
    steady = rates[len(rates) // 2 :]  # past warm-up effects
    batch = json.loads((out / "config.json").read_text())["train"]["batch_size"]
    return batch / statistics.median(steady)


#: ``--calibrate-set`` overrides, for the calibration runs only (a growing model calibrates at
#: its final size: ``phase_images=1`` grows ProGAN to full size in its first steps)
CALIBRATION: dict[str, Any] = {}


def calibrate(
    arch: str, out: Path, steps: int, device: str, seed: int, form: str = "unconditional"
) -> tuple[float, float]:
    """``(seconds per step, fixed seconds)`` from a short run of ``steps`` steps, after a
    2-step run that pays the one-time costs (imports, first kernels) the real run will not."""
    warmup = out.with_name(out.name + "-warmup")
    timed_run(arch, warmup, {**train_options(2, device, seed, 1, form), **CALIBRATION})
    log_every = max(1, steps // 5)
    wall = timed_run(
        arch, out, {**train_options(steps, device, seed, log_every, form), **CALIBRATION}
    )
    per_step = steady_seconds_per_step(out)
    fixed = max(0.0, wall - steps * per_step)
    return per_step, fixed


def benchmark(
    arch: str,
    seed: int,
    args: argparse.Namespace,
    evaluator: Evaluator,
    work: Path,
    form: str = "unconditional",
) -> dict:
    label = arch + FORMS[form][0]
    name = label if len(args.seeds) == 1 else f"{label}-seed{seed}"
    per_step, fixed = calibrate(
        arch, work / f"{name}-calibration", args.calibration_steps, args.device, seed, form
    )
    steps = max(1, int((args.budget - fixed) / per_step))
    print(
        f"{name}: {per_step * 1000:.1f} ms/step, {fixed:.1f} s fixed -> {steps} steps",
        file=sys.stderr,
    )
    out = work / name
    wall = timed_run(arch, out, train_options(steps, args.device, seed, 10, form))
    # The calibration can be off when the machine's load changes: while at least 5% of the
    # budget is left, resume the run (resume is exact, so the model is the one a single run of
    # the final step count gives) with the speed this run measured.
    # The speed is this run's own, fixed costs included (cautious: it never overshoots by more
    # than the load changes).
    # With --resume-fraction below 1 each resumed piece aims at that share of the time left and
    # is paced by the latest piece's speed: for a model whose steps get slower as it trains
    # (progressive growing), so that the last piece does not overshoot the budget.
    rate = wall / steps
    for _ in range(args.max_resumes):
        left = args.budget - wall
        more = int(args.resume_fraction * left / rate)
        if more < max(10, steps // 20) or left < 0.05 * args.budget:
            break
        steps += more
        print(f"{name}: {wall:.0f} s used, resuming to {steps} steps", file=sys.stderr)
        piece = timed(run.plan_resume(out, {"steps": steps}))
        wall += piece
        # the latest piece's speed with --resume-fraction below 1, else the whole run's (as before)
        rate = piece / more if args.resume_fraction < 1 else wall / steps
    model = ganzoo.from_pretrained(out).to(evaluator.device)
    scores = evaluator.score_model(model)
    grid = Path(args.grids) / f"{name}.png"
    if model.conditional:  # a row of 8 per class, the same latents down each column
        labels = torch.arange(model.num_classes).repeat_interleave(8)
        z = model.sample_latent(8, generator=torch.Generator().manual_seed(0), device="cpu")
        save_grid(model.sample(len(labels), z=z.repeat(model.num_classes, 1), labels=labels),
                  grid, nrow=8)  # fmt: skip
    else:
        save_grid(model.sample(64, seed=0), grid, nrow=8)
    report = evaluator.report(scores, model={"source": str(out), "arch": arch, "step": steps})
    (work / f"{name}-eval.json").write_text(json.dumps(report, indent=2) + "\n")
    return {
        "arch": label,
        "form": form,
        "seed": seed,
        "steps": steps,
        "wall": wall,
        "scores": scores,
        "grid": grid,
    }


def fmt_row(
    name: str, s: dict[str, Any], floor_fd: float, extra: list[str], classes: bool = False
) -> str:
    """A table row; ``classes`` adds the class accuracy and mean per-class FD ("-" when the
    model is unconditional)."""
    cells = [
        name,
        *extra,
        f"{s['fd']:.2f}",
        f"{s['fd'] / floor_fd:.2f}×",
        f"{s['kid']:.3g} ± {s['kid_std']:.2g}",
        f"{s['precision']:.3f}",
        f"{s['recall']:.3f}",
        f"{s['classes_covered']}/{s['num_classes']}",
        f"{s['class_kl']:.3f}",
    ]
    if classes:
        acc, cfd = s.get("class_accuracy"), s.get("class_fd_mean")
        cells += [f"{acc:.3f}" if acc is not None else "-", f"{cfd:.1f}" if cfd else "-"]
    return "| " + " | ".join(cells) + " |"


CLASS_HEADERS = " class accuracy | class FD (mean) |"


def median_scores(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-metric medians over several runs' scores (classes covered: the median count too)."""
    keys = ("fd", "kid", "kid_std", "precision", "recall", "classes_covered", "class_kl")
    keys += tuple(k for k in ("class_accuracy", "class_fd_mean") if k in runs[0])
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["num_classes"] = runs[0]["num_classes"]
    return out


def median_table(results: list[dict], floor: dict[str, Any], classes: bool = False) -> list[str]:
    """One row per architecture: medians over its seeds, with each seed's FD listed."""
    lines = [
        "Medians over the seeds:",
        "",
        "| model | FD of each seed | FD (median) | × floor | KID | precision | recall | classes "
        "| class KL |" + (CLASS_HEADERS if classes else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if classes else ""),
    ]
    for arch in dict.fromkeys(r["arch"] for r in results):
        runs = [r["scores"] for r in results if r["arch"] == arch]
        each = ", ".join(f"{s['fd']:.1f}" for s in runs)
        lines.append(fmt_row(arch, median_scores(runs), floor["fd"], [each], classes))
    return lines


def form_comparison(results: list[dict]) -> list[str]:
    """Each architecture's conditional form beside its unconditional one (medians), where
    both were measured: the issue's bar is class accuracy >= 0.95 at an FD no worse."""
    lines = []
    for arch in dict.fromkeys(r["arch"] for r in results if r["form"] == "unconditional"):
        plain = [r["scores"] for r in results if r["arch"] == arch]
        cond = [r["scores"] for r in results if r["arch"] == arch + FORMS["conditional"][0]]
        if not cond:
            continue
        p, c = median_scores(plain), median_scores(cond)
        met = c["class_accuracy"] >= 0.95 and c["fd"] <= p["fd"]
        lines.append(
            f"| {arch} | {p['fd']:.2f} | {c['fd']:.2f} | {c['class_accuracy']:.3f} | "
            f"{'met' if met else 'not met'} |"
        )
    if not lines:
        return []
    return [
        "",
        "Conditional against unconditional (medians over the seeds; aim: class accuracy "
        ">= 0.95 with an FD no worse than the unconditional model's):",
        "",
        "| model | FD unconditional | FD conditional | class accuracy | aim |",
        "|---|---|---|---|---|",
        *lines,
    ]


def table(results: list[dict], evaluator: Evaluator, args: argparse.Namespace) -> list[str]:
    floor = evaluator.floor()
    classes = any(r["form"] == "conditional" for r in results)
    feats = evaluator.extractor.describe()
    p = evaluator.protocol
    grids = Path(args.grids)
    with contextlib.suppress(ValueError):  # a path inside the repository is shown relative
        grids = grids.resolve().relative_to(HERE.parent)
    lines = [
        f"Budget: {args.budget:g} s of training wall time per model (steps from a "
        f"{args.calibration_steps}-step calibration run), seed{'s' if len(args.seeds) > 1 else ''} "
        f"{', '.join(map(str, args.seeds))}, device "
        f"{evaluator.device}, each architecture's default options at 32×32 grey"
        + (", class-conditional (`conditional=true`) where marked -cond" if classes else "")
        + (f", with {_overrides_text()}" if OVERRIDES else "")
        + (
            f"; calibrated with {', '.join(f'`{k}={v}`' for k, v in CALIBRATION.items())}, "
            f"resumed pieces aiming at {args.resume_fraction:g} of the time left"
            if CALIBRATION
            else ""
        )
        + ".",
        "",
        f"Protocol: features `digits` ({feats['weights']}, {feats['dim']}-d, held-out accuracy "
        f"{feats['held_out_accuracy']:.1%}); {evaluator.n} samples (latent seed "
        f"{p.sample_seed}, EMA generator where there is one) against {len(evaluator.reference)} "
        f"reference images; floor = {len(evaluator.held_out)} held-out real images against the "
        f"same reference. KID over {p.kid_subsets} subsets of {min(p.kid_subset_size, evaluator.n)}"
        f"; precision/recall with k = {p.k}; class KL = KL(generated ‖ data) in nats; a class "
        f"counts as covered at ≥ {p.min_class_share:.0%} of its expected count.",
        "",
        "| model | steps | wall s | FD (digits) | × floor | KID | precision | recall | classes "
        "| class KL |" + (CLASS_HEADERS if classes else "") + " grid |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if classes else "") + "---|",
    ]
    several = len(args.seeds) > 1
    for r in results:
        name = f"{r['arch']} (seed {r['seed']})" if several else r["arch"]
        extra = [str(r["steps"]), f"{r['wall']:.0f}"]
        row = fmt_row(name, r["scores"], floor["fd"], extra, classes)
        lines.append(row[:-1] + f"| `{grids / r['grid'].name}` |")
    if classes:  # held-out real images with their own labels: the best a model can expect
        floor = {**floor, **evaluator.class_floor()}
    lines.append(fmt_row("real (floor)", floor, floor["fd"], ["-", "-"], classes)[:-1] + "| - |")
    if several:
        lines += ["", *median_table(results, floor, classes)]
    lines += form_comparison(results)
    dcgan_runs = [r["scores"] for r in results if r["arch"] == "dcgan"]
    if dcgan_runs:
        s = median_scores(dcgan_runs)
        met = s["fd"] <= 1.5 * floor["fd"] and s["classes_covered"] == 10 and s["class_kl"] < 0.1
        lines += [
            "",
            f"DCGAN aim (FD within 1.5× the floor, 10/10 classes, class KL < 0.1"
            f"{', medians over the seeds' if several else ''}): "
            f"{'met' if met else 'not met'}.",
        ]
    return lines


def overrides_from(
    parser: argparse.ArgumentParser, items: list[str], archs: list[str]
) -> dict[str, Any]:
    """Parse ``--set KEY=VALUE`` items and check them against every model in ``archs``, so that
    a misspelt key or a bad value is a usage error before anything trains."""
    try:
        overrides = parse_assignments(items)
        for arch in archs:
            run.resolve_options(arch, None, [overrides])
    except ganzoo.GanzooError as exc:
        parser.error(str(exc))
    return overrides


def _overrides_text() -> str:
    return ", ".join(f"`{k}={v}`" for k, v in OVERRIDES.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=180.0, help="training seconds per model")
    parser.add_argument("--models", help="comma-separated architectures (default: every GAN)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument(
        "--seeds",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[0],
        help="comma-separated training seeds; with several, every model is trained once per "
        "seed and a median row is added (GAN runs vary a lot from seed to seed)",
    )
    parser.add_argument("--calibration-steps", type=int, default=30)
    parser.add_argument(
        "--calibrate-set",
        dest="calibration",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an option in the calibration runs only (progan: phase_images=1, so the "
        "speed measured is the full-size one)",
    )
    parser.add_argument(
        "--resume-fraction",
        type=float,
        default=1.0,
        help="each resumed piece aims at this share of the time left, paced by the latest "
        "piece (below 1 for models that slow down as they grow)",
    )
    parser.add_argument("--max-resumes", type=int, default=3)
    parser.add_argument(
        "--work", default=None, help="folder for the runs (default runs/quality-TIME)"
    )
    parser.add_argument("--grids", default=str(HERE / "grids"), help="where grids are saved")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    parser.add_argument(
        "--forms",
        choices=("unconditional", "conditional", "both"),
        default="unconditional",
        help="train each model unconditionally (the default), in its class-conditional form "
        "(conditional=true, the digits' classes), or both",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model or training option for every model measured (repeatable)",
    )
    args = parser.parse_args()

    registered = ganzoo.list_models(kind=ganzoo.GAN)
    if args.models:
        archs = [m.strip() for m in args.models.split(",") if m.strip()]
        for arch in archs:
            ganzoo.get_spec(arch)  # an unknown name fails before anything trains
    else:
        archs = [a for a in PREFERRED if a in registered]
        archs += [a for a in registered if a not in archs]
    OVERRIDES.update(overrides_from(parser, args.overrides, archs))
    CALIBRATION.update(overrides_from(parser, args.calibration, archs))
    work = Path(args.work or f"runs/quality-{time.strftime('%Y%m%d-%H%M%S')}")
    from ganzoo.training.trainer import resolve_device

    device = resolve_device(args.device)
    # The reference features, the floor and (first time only) the digits classifier come
    # before any timing.
    evaluator = Evaluator(load_dataset("digits", SIZE, CHANNELS), Protocol(), device=device)
    evaluator.floor()
    results = []
    forms = list(FORMS) if args.forms == "both" else [args.forms]
    for arch in archs:
        for form in forms:
            for seed in args.seeds:
                results.append(benchmark(arch, seed, args, evaluator, work, form))
    lines = table(results, evaluator, args)
    print("\n".join(lines))
    if not args.no_record:
        sys.path.insert(0, str(HERE))
        from _results import append

        append(f"Sample quality on digits 32×32, {args.budget:g} s per model ({device})", lines)
        print(f"appended to {HERE / 'RESULTS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
