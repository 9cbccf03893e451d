"""What a tracker costs a run: each logger's time per record and per sample grid, and the
training throughput of ``ganzoo train dcgan`` with and without ``--log tensorboard``.

The per-call figures are what the trainer pays between steps: one record every ``log_every``
steps (25 by default) and one grid every ``sample_every`` steps (250). The end-to-end figure
alternates plain and TensorBoard runs and takes the median images per second from each run's
``metrics.jsonl`` (set-up excluded); on a shared machine it moves with the others' load, which
is recorded next to it.

    python benchmarks/tracking.py --records 2000 --grids 20 --steps 100 --repeats 2 --record
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

RECORD = {"d_loss": 0.7, "d_real": 1.2, "d_fake": -0.4, "g_loss": 0.9, "img_per_s": 1500.0}


def per_call(names: list[str], records: int, grids: int, work: Path) -> tuple[float, float]:
    """(microseconds per record, milliseconds per 64-image 32×32 grid) through the Tracker."""
    import torch

    from ganzoo.images import save_grid
    from ganzoo.tracking import open_tracker

    folder = work / ("-".join(names) or "json")
    folder.mkdir()
    grid = save_grid(torch.rand(64, 1, 32, 32) * 2 - 1, folder / "grid.png")
    tracker = open_tracker(folder, names)
    t0 = time.perf_counter()
    for i in range(1, records + 1):
        tracker.write({"step": 25 * i, **RECORD})
    record_us = (time.perf_counter() - t0) / records * 1e6
    t0 = time.perf_counter()
    for i in range(grids):
        tracker.image("samples", grid, 250 * (i + 1))
    grid_ms = (time.perf_counter() - t0) / grids * 1e3
    tracker.close()
    return record_us, grid_ms


def train(steps: int, out: Path, log: list[str]) -> float:
    """Median img/s of one ``ganzoo train dcgan`` run (one thread)."""
    cmd = [sys.executable, "-m", "ganzoo", "train", "dcgan", "--steps", str(steps),
           "--sample-every", "50", "--threads", "1", "--quiet", "--out", str(out)]  # fmt: skip
    for name in log:
        cmd += ["--log", name]
    subprocess.run(cmd, check=True, capture_output=True)
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["img_per_s"] for r in rows if "img_per_s" in r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--grids", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100, help="0 skips the training runs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    lines = ["| logger | µs per record | ms per sample grid (64 × 32×32) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for names in ([], ["tensorboard"]):
            us, ms = per_call(names, args.records, args.grids, Path(tmp))
            label = "json only" if not names else "json + " + ", ".join(names)
            lines.append(f"| {label} | {us:.0f} | {ms:.1f} |")
            print(lines[-1], flush=True)
        load_before = os.getloadavg()[0]
        runs: dict[str, list[float]] = {"json only": [], "json + tensorboard": []}
        for r in range(args.repeats if args.steps else 0):
            for label, log in (("json only", []), ("json + tensorboard", ["tensorboard"])):
                speed = train(args.steps, Path(tmp) / f"{r}-{len(log)}", log)
                runs[label].append(speed)
                print(f"{label}: {speed:.1f} img/s", flush=True)
    load_after = os.getloadavg()[0]
    lines.append("")
    lines.append(f"Per-call figures: {args.records} records and {args.grids} grids per logger.")
    if args.steps:
        lines += [
            "",
            f"`ganzoo train dcgan --steps {args.steps} --sample-every 50 --threads 1`, "
            f"alternating, {args.repeats} runs each; load average {load_before:.2f} before, "
            f"{load_after:.2f} after:",
            "",
            "| run | img/s (median of runs) | each run |",
            "|---|---|---|",
        ]
        for label, speeds in runs.items():
            each = ", ".join(f"{s:.1f}" for s in speeds)
            lines.append(f"| {label} | {statistics.median(speeds):.1f} | {each} |")
    print("\n".join(lines))
    if args.record:
        sys.path.insert(0, str(Path(__file__).parent))
        from _results import append

        append("Tracker cost: metrics.jsonl and TensorBoard (cpu)", lines)


if __name__ == "__main__":
    main()
