"""CPU threads against training speed, on a quiet and on a busy machine.

Runs the default ``ganzoo train dcgan`` for a few steps with each ``--threads`` count, alone and
next to ``--busy K`` competing processes (each spins one core, as another user's job would), and
prints the training throughput (images per second, from ``metrics.jsonl``; imports and set-up
excluded). The machine's own load average is recorded too: others may be using it.

    python benchmarks/threads.py --threads 1,2 --busy 0,1 --steps 50 --record
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def spin() -> None:  # pragma: no cover - runs in a child process
    while True:
        pass


def train(threads: int, steps: int, out: Path) -> float:
    """Median images per second over the logged intervals after the first (warm-up)."""
    cmd = [sys.executable, "-m", "ganzoo", "train", "dcgan", "--steps", str(steps)]
    cmd += ["--threads", str(threads), "--quiet", "--out", str(out), "--device", "cpu"]
    cmd += ["--sample-every", "0", "--checkpoint-every", "0", "--set", "log_every=10"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GANZOO_THREADS")}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["img_per_s"] for r in rows[1:] if "img_per_s" in r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--busy", default="0,1", help="comma-separated competing spinners")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    from ganzoo.cli.threads import default_threads

    before = os.getloadavg()
    chosen = default_threads()
    table = ["| competing spinners | --threads | images / s | s / step |", "|---|---|---|---|"]
    print(f"cores: {os.cpu_count()}, load average before: {before}")
    with tempfile.TemporaryDirectory() as tmp:
        for busy in [int(b) for b in args.busy.split(",")]:
            spinners = [mp.Process(target=spin, daemon=True) for _ in range(busy)]
            for p in spinners:
                p.start()
            time.sleep(1 if busy else 0)
            try:
                for threads in [int(t) for t in args.threads.split(",")]:
                    rate = train(threads, args.steps, Path(tmp) / f"b{busy}-t{threads}")
                    table.append(f"| {busy} | {threads} | {rate:.0f} | {64 / rate:.3f} |")
                    print(table[-1], flush=True)
            finally:
                for p in spinners:
                    p.terminate()
                    p.join()
    after = os.getloadavg()
    lines = [
        f"Default `ganzoo train dcgan` (batch 64), {args.steps} steps per row, median throughput "
        "after the first 10 steps. Load average at the start "
        f"{before[0]:.1f}, {before[1]:.1f}, {before[2]:.1f} (other people's jobs share the "
        f"machine), at the end {after[0]:.1f}; ganzoo's default chose {chosen} thread(s) at the "
        "start.",
        "",
        *table,
    ]
    print(f"load average after: {after}")
    if args.record:
        sys.path.insert(0, str(Path(__file__).parent))
        from _results import append

        append("CPU threads: training speed on a shared machine", lines)


if __name__ == "__main__":
    main()
