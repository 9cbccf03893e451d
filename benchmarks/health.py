"""Training health on digits: are the diagnoses right, and does augmentation help small data?

Three parts (``--part``), each writing JSON under ``--work`` and, with ``--record``, a section
into ``benchmarks/RESULTS.md``:

``failures``  DCGAN runs built to fail, each with the step its diagnosis first appeared:
              D's learning rate 10× G's (D dominance); a generator made to collapse (latent
              size 1, G's learning rate 10× the default, D's 1/10); a learning rate large
              enough to diverge (non-finite values).
``healthy``   every built-in GAN with its default recipe (``--steps`` caps the run: this CPU is
              slow), and the diagnoses it got (there should be none).
``augment``   DCGAN on 10 % of digits (180 images of the reference split), ``augment`` none vs
              diffaugment vs ada at equal steps, scored with ``ganzoo eval``'s digits protocol
              (Fréchet distance and class coverage against the 1,198 reference images).

    python benchmarks/health.py --part failures --threads 1
    python benchmarks/health.py --part healthy --steps 1500 --threads 1
    python benchmarks/health.py --part augment --steps 1000 --seeds 0,1,2 --threads 1
    python benchmarks/health.py --part report --record     # tables from the JSON written

The detectors are pure functions of ``metrics.jsonl``: ``ganzoo doctor RUN`` replays them, and
so does this script's report, so re-tuning a threshold needs no retraining.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FAILURES = {
    # name: (arch, options)
    "dominance": ("dcgan", {"lr_d": 2e-3, "lr_g": 2e-4}),
    "collapse": ("dcgan", {"latent_dim": 1, "lr_g": 2e-3, "lr_d": 2e-5}),
    # DCGAN's BatchNorm absorbs large steps: only near 1e8 do its statistics overflow quickly
    "diverge": ("dcgan", {"lr_g": 1e8, "lr_d": 1e8}),
}
EXPECTED = {"dominance": "d_dominance", "collapse": "mode_collapse", "diverge": "nonfinite"}
BUILTINS = ("dcgan", "stylegan_lite", "msggan")


def train(arch: str, out: Path, options: dict[str, Any], data: str = "digits") -> tuple[float, str]:
    """Train through ``ganzoo.training.run``; (seconds, error or "")."""
    from ganzoo.training import run

    plan = run.plan_new_run(arch, data=data, layers=[options], out=out, overwrite=True)
    start = time.perf_counter()
    try:
        run.execute(plan)
        err = ""
    except Exception as exc:  # a run built to diverge ends with the trainer's error
        err = f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - start, err


def first_steps(out: Path) -> dict[str, int]:
    """Each diagnosis's first step, replayed from the run's log, plus recorded divergences."""
    from ganzoo.health.doctor import examine

    report = examine(out, plot="health.png")
    first: dict[str, int] = {}
    for e in report.episodes:  # the step the detector said so (not when the window began)
        first.setdefault(e.kind, e.diagnosed if e.diagnosed is not None else e.start)
    for ev in report.events:
        if ev.get("diagnosis") == "nonfinite":
            first.setdefault("nonfinite", ev["step"])
    return first


def part_failures(args: argparse.Namespace, work: Path) -> None:
    results = {}
    for name, (arch, opts) in FAILURES.items():
        out = work / f"fail-{name}"
        options = {
            "steps": args.steps,
            "sample_every": 0,
            "checkpoint_every": 0,
            "progress": False,
            "seed": 0,
            **opts,
        }
        wall, err = train(arch, out, options)
        results[name] = {
            "arch": arch,
            "options": opts,
            "steps": args.steps,
            "wall_s": wall,
            "error": err,
            "first": first_steps(out),
            "load": os.getloadavg(),
        }
        print(name, json.dumps(results[name]), file=sys.stderr)
    (work / "failures.json").write_text(json.dumps(results, indent=2))


def part_healthy(args: argparse.Namespace, work: Path) -> None:
    results = {}
    path = work / "healthy.json"
    if path.is_file():
        results = json.loads(path.read_text())
    for arch in args.models.split(","):
        out = work / f"healthy-{arch}"
        options = {
            "steps": args.steps,
            "sample_every": 500,
            "checkpoint_every": 0,
            "progress": False,
            "seed": 0,
        }
        wall, err = train(arch, out, options)
        results[arch] = {
            "steps": args.steps,
            "wall_s": wall,
            "error": err,
            "first": first_steps(out),
            "load": os.getloadavg(),
        }
        print(arch, json.dumps(results[arch]), file=sys.stderr)
        path.write_text(json.dumps(results, indent=2))


def part_augment(args: argparse.Namespace, work: Path) -> None:
    import torch

    import ganzoo
    from ganzoo.data import ImageSet, load_dataset
    from ganzoo.metrics import Evaluator, Protocol
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.trainer import AdversarialTrainer

    full = load_dataset("digits", 32, 1)
    evaluator = Evaluator(full, Protocol(), device="cpu")
    ref = evaluator.reference
    idx = torch.randperm(len(ref), generator=torch.Generator().manual_seed(0))[:180]
    small = ImageSet(ref.images[idx], ref.labels[idx], "digits", classes=ref.classes)
    path = work / "augment.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for seed in args.seeds:
        for mode in args.modes.split(","):
            key = f"{mode}-seed{seed}"
            if key in results:
                continue
            out = work / f"aug-{key}"
            torch.manual_seed(seed)
            model = ganzoo.create_model("dcgan")
            options = TrainOptions(
                steps=args.steps,
                seed=seed,
                augment=mode,
                sample_every=0,
                checkpoint_every=0,
                progress=False,
                log_every=25,
            )
            import shutil

            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            start = time.perf_counter()
            AdversarialTrainer().fit(model, small, options, out)
            wall = time.perf_counter() - start
            scores = evaluator.score_model(model)
            rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
            ps = [r["aug_p"] for r in rows if "aug_p" in r]
            results[key] = {
                "mode": mode,
                "seed": seed,
                "steps": args.steps,
                "wall_s": wall,
                "fd": scores["fd"],
                "classes": scores.get("classes_covered"),
                "final_p": ps[-1] if ps else None,
                "load": os.getloadavg(),
                "first": first_steps(out),
            }
            print(key, json.dumps(results[key]), file=sys.stderr)
            path.write_text(json.dumps(results, indent=2))


def fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2f}"


def replayed(results: dict[str, Any], work: Path, prefix: str) -> dict[str, Any]:
    """The results with each run's diagnoses replayed by today's detectors (from its log)."""
    for name, r in results.items():
        out = Path(r.get("run") or work / f"{prefix}{name}")
        if (out / "metrics.jsonl").is_file():
            r["first"] = first_steps(out)
    return results


def part_report(args: argparse.Namespace, work: Path) -> list[str]:
    lines = [
        "## Training health (benchmarks/health.py)",
        "",
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()} CPU, 1 thread (`--threads 1`), "
        "shared machine; load average next to each run.",
        "",
    ]
    fpath = work / "failures.json"
    if fpath.is_file():
        res = replayed(json.loads(fpath.read_text()), work, "fail-")
        lines += [
            "Runs built to fail (DCGAN on digits, `python benchmarks/health.py --part "
            "failures`): the step each diagnosis first appeared.",
            "",
            "| run | options | expected | first diagnosed at step | other diagnoses | "
            "ended | load |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in res.items():
            want = EXPECTED[name]
            others = ", ".join(f"{k} @ {v}" for k, v in r["first"].items() if k != want) or "-"
            end = r["error"].split(":")[0] if r["error"] else f"{r['steps']} steps"
            opts = " ".join(f"{k}={v:g}" for k, v in r["options"].items())
            lines.append(
                f"| {name} | `{opts}` | {want} | {r['first'].get(want, 'never')} | "
                f"{others} | {end} | {r['load'][0]:.1f} |"
            )
        lines.append("")
    hpath = work / "healthy.json"
    if hpath.is_file():
        res = replayed(json.loads(hpath.read_text()), work, "healthy-")
        lines += [
            "Default recipes (`--part healthy`), seed 0: diagnoses raised (none wanted).",
            "",
            "| model | steps run | wall s | diagnoses | load |",
            "|---|---|---|---|---|",
        ]
        for arch, r in res.items():
            found = ", ".join(f"{k} @ {v}" for k, v in r["first"].items()) or "none"
            lines.append(
                f"| {arch} | {r['steps']} | {r['wall_s']:.0f} | {found} | {r['load'][0]:.1f} |"
            )
        lines.append("")
    apath = work / "augment.json"
    if apath.is_file():
        res = json.loads(apath.read_text())
        lines += [
            "DCGAN on 180 digits (10 %), equal steps (`--part augment`), digits protocol "
            "(FD against the 1,198 reference images; lower is better):",
            "",
            "| augment | seeds | FD each | FD median | classes covered | final p |",
            "|---|---|---|---|---|---|",
        ]
        for mode in ("none", "diffaugment", "ada"):
            rs = [r for r in res.values() if r["mode"] == mode]
            if not rs:
                continue
            fds = [r["fd"] for r in rs]
            lines.append(
                f"| {mode} | {','.join(str(r['seed']) for r in rs)} | "
                f"{', '.join(f'{x:.1f}' for x in fds)} | {statistics.median(fds):.1f} | "
                f"{', '.join(str(r['classes']) for r in rs)} | "
                f"{', '.join(fmt_p(r['final_p']) for r in rs)} |"
            )
        lines.append("")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("failures", "healthy", "augment", "report"), required=True)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--models", default=",".join(BUILTINS))
    ap.add_argument("--modes", default="none,diffaugment,ada")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default="/tmp/ganzoo-health-bench")
    ap.add_argument("--record", action="store_true", help="append the report to RESULTS.md")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.part == "report":
        lines = part_report(args, work)
        print("\n".join(lines))
        if args.record:
            with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
                f.write("\n" + "\n".join(lines) + "\n")
        return
    {"failures": part_failures, "healthy": part_healthy, "augment": part_augment}[args.part](
        args, work
    )


if __name__ == "__main__":
    main()
