"""Training throughput on 1 process against N processes under torchrun, same global batch.

Runs ``ganzoo train dcgan`` as a user would: once as a plain process (with all cores as torch
threads, and with one thread per core's share), then under ``python -m torch.distributed.run
--nproc-per-node N`` with ``OMP_NUM_THREADS`` set to its share of the cores. Throughput is the
median of the ``img_per_s`` values the trainer logs, leaving out the first logged interval
(start-up, first-iteration allocation and DDP's bucket rebuild). Appends a table to
benchmarks/RESULTS.md unless ``--no-append``.

    python benchmarks/distributed_speed.py                       # CPU, 2 processes
    python benchmarks/distributed_speed.py --device cuda --nproc 8 --batch-size 256 --size 64
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import append


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run(args: argparse.Namespace, nproc: int, threads: int, out: Path) -> dict[str, float]:
    train = ["train", "dcgan", "--steps", str(args.steps), "--batch-size", str(args.batch_size)]
    train += ["--set", f"image_size={args.size}", "--set", f"log_every={args.log_every}"]
    train += ["--device", args.device, "--sample-every", "0", "--checkpoint-every", "0"]
    train += ["--quiet", "--out", str(out)]
    if nproc == 1:
        cmd = [sys.executable, "-m", "ganzoo", *train]
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd = [*launcher, "--nproc-per-node", str(nproc), "-m", "ganzoo", *train]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines() if ln]
    rates = [r["img_per_s"] for r in rows[1:]] or [rows[-1]["img_per_s"]]
    return {"img_per_s": statistics.median(rates), "wall_s": wall, "intervals": len(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--nproc", type=int, default=2, help="processes of the torchrun run")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    share = max(1, cores // args.nproc)
    configs = [(1, cores), (1, share), (args.nproc, share)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (nproc, threads) in enumerate(configs):
            before = load()
            r = run(args, nproc, threads, Path(tmp) / f"run{i}")
            results.append((nproc, threads, r, before, load()))
            print(
                f"{nproc} process(es) x {threads} thread(s): {r['img_per_s']:.1f} img/s "
                f"(wall {r['wall_s']:.1f} s, load {before} -> {load()})",
                flush=True,
            )
    base = results[0][2]["img_per_s"]
    lines = [
        f"DCGAN {args.size}×{args.size}, global batch {args.batch_size}, {args.steps} steps, "
        f"device {args.device}; img/s is the median of the trainer's logged rates after the "
        "first interval; wall time includes start-up (torch import, dataset, torchrun).",
        "",
        "| processes | threads each | img/s | vs 1 process | wall s | load avg before -> after |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for nproc, threads, r, before, after in results:
        lines.append(
            f"| {nproc} | {threads} | {r['img_per_s']:.1f} | {r['img_per_s'] / base:.2f}× "
            f"| {r['wall_s']:.1f} | {before} -> {after} |"
        )
    if not args.no_append:
        append("Distributed training: 1 process against torchrun", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
