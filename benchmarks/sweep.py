"""Compare training options of one GAN at a fixed step count, over several seeds.

Where ``quality.py`` answers "which model is best after N seconds", this answers "which options
of this model are best after N steps": each run trains ``ARCH`` on digits at 32×32 grey with the
``--set`` overrides through the shared trainer, checkpoints at every ``--evals``-th of the run,
and each checkpoint is scored under the ``digits`` protocol (FD, precision, recall, classes,
class KL; the EMA generator where there is one, plus the raw generator at the end). The FD at
the intermediate checkpoints shows whether a setting converges faster or merely ends luckier.

A fixed step count suits options that leave the cost of a step unchanged (learning rates,
penalty weights, EMA); options that change it (batch size, widths) belong in ``quality.py``,
which gives every variant the same wall time. Several runs may share a machine (``--threads 1``
each): the scores do not depend on speed.

    python benchmarks/sweep.py stylegan_lite --steps 2300 --seeds 0,1,2 --set r1_gamma=0.5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from quality import CHANNELS, OVERRIDES, SIZE, overrides_from, timed_run, train_options

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.images import save_grid
from ganzoo.metrics import Evaluator, Protocol

HERE = Path(__file__).resolve().parent


def train(arch: str, out: Path, steps: int, evals: int, seed: int) -> float:
    """Train one run (quality.py's options and ``--set`` overrides) with a checkpoint at every
    ``steps // evals`` steps, all kept; its wall time."""
    options = {
        **train_options(steps, "cpu", seed, log_every=50),
        "checkpoint_every": max(1, steps // evals),
        "keep_checkpoints": 0,
    }
    return timed_run(arch, out, options)


def score_run(out: Path, evaluator: Evaluator) -> tuple[list[tuple[int, float]], dict, dict, Any]:
    """FD at every checkpoint, then the final scores of the EMA and of the raw generator (and
    the final model, for its grid)."""
    checkpoints = sorted((out / "checkpoints").glob("step-*"))
    curve = []
    for ckpt in checkpoints[:-1]:
        scores = evaluator.score_model(ganzoo.from_pretrained(ckpt))
        curve.append((int(ckpt.name.split("-")[1]), scores["fd"]))
    model = ganzoo.from_pretrained(out)
    final = evaluator.score_model(model)
    raw = evaluator.score_model(model, ema=False) if model.generator_ema is not None else final
    curve.append((int(checkpoints[-1].name.split("-")[1]), final["fd"]))
    return curve, final, raw, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arch", help="a registered GAN")
    parser.add_argument("--steps", type=int, default=2300)
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--evals", type=int, default=4, help="checkpoints scored per run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--work", default=None, help="folder for the runs")
    parser.add_argument("--grids", default=None, help="save an 8×8 grid of each run here")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ganzoo.get_spec(args.arch)  # an unknown name fails before anything trains
    OVERRIDES.update(overrides_from(parser, args.overrides, [args.arch]))
    seeds = [int(s) for s in args.seeds.split(",")]
    label = " ".join(f"{k}={v}" for k, v in OVERRIDES.items()) or "defaults"
    work = Path(args.work or f"runs/sweep-{time.strftime('%Y%m%d-%H%M%S')}")

    evaluator = Evaluator(load_dataset("digits", SIZE, CHANNELS), Protocol(), device="cpu")
    floor = evaluator.floor()["fd"]
    rows = []
    for seed in seeds:
        out = work / f"{args.arch}-seed{seed}"
        wall = train(args.arch, out, args.steps, args.evals, seed)
        curve, final, raw, model = score_run(out, evaluator)
        if args.grids:
            save_grid(
                model.sample(64, seed=0), Path(args.grids) / f"{args.arch}-seed{seed}.png", nrow=8
            )
        cells = [
            f"`{label}`",
            str(seed),
            " → ".join(f"{fd:.0f}" for _, fd in curve),
            f"{final['fd']:.2f}",
            f"{raw['fd']:.2f}",
            f"{final['precision']:.3f}",
            f"{final['recall']:.3f}",
            f"{final['classes_covered']}/{final['num_classes']}",
            f"{final['class_kl']:.3f}",
            f"{wall:.0f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    lines = [
        f"{args.arch} on digits 32×32 grey, {args.steps} steps per run, FD (digits features) at "
        f"every {args.steps // args.evals} steps; floor {floor:.2f}.",
        "",
        "| options | seed | FD along the run | FD (EMA) | FD (raw G) | precision | recall "
        "| classes | class KL | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    if args.record:
        sys.path.insert(0, str(HERE))
        from _results import append

        append(f"Option sweep: {args.arch}, {args.steps} steps", lines)


if __name__ == "__main__":
    main()
