"""Data at scale: prepare throughput, start-up on a prepared cache, loader vs training speed,
and the peak memory of a run over a large folder.

Generates a folder of JPEGs (random crops of the photographs and textures bundled with
scikit-image, in 10 class subfolders) once under ``--work``, then measures, each as a user runs
it (``python -m ganzoo ...`` in a subprocess):

- ``prepare``: ``ganzoo data prepare`` with 1 and with 2 worker processes (images/s, peak RSS);
- ``start``: seconds from launching ``ganzoo train`` to its first logged step, on a second run
  (the cache already prepared), and the whole wall time of that 1-step run;
- ``loader``: batches of 64 per second from each feed (on the device, read in the training
  process, 2 loader workers) against DCGAN-32's own training throughput on the same data;
- ``rss``: peak resident memory of a ``ganzoo train`` run over ``--rss-count`` images at 128 px
  (prepare, then train), and of the same run over a quarter of them (the scaling).

Appends its table to benchmarks/RESULTS.md unless ``--no-append``.

    python benchmarks/data_speed.py --count 50000 --phases prepare,start,loader
    python benchmarks/data_speed.py --phases rss --rss-count 200000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _results import append


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# -- the generated folder ------------------------------------------------------------------------
def _sources() -> list[np.ndarray]:
    from skimage import data as skdata

    names = ["astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel", "camera"]
    names += ["moon", "text"]
    out = []
    for name in names:
        img = np.asarray(getattr(skdata, name)())
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        out.append(img[..., :3].astype(np.uint8))
    return out


def _write_chunk(job: tuple[str, int, int, int]) -> int:
    from PIL import Image

    root, start, stop, size = job
    photos = _sources()
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        cls = i % len(photos)
        img = photos[cls]
        h, w = img.shape[:2]
        side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(img[top : top + side, left : left + side])
        folder = Path(root) / f"class{cls}"
        crop.resize((size, size), Image.Resampling.BILINEAR).save(
            folder / f"{i:07d}.jpg", quality=90
        )
    return stop - start


def make_folder(root: Path, count: int, size: int, procs: int = 2) -> Path:
    """``count`` JPEGs of ``size``² under ``root`` (kept between runs)."""
    done = root / ".complete"
    if done.exists() and done.read_text().strip() == str(count):
        return root
    shutil.rmtree(root, ignore_errors=True)
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
    t0 = time.perf_counter()
    step = 2000
    jobs = [(str(root), s, min(count, s + step), size) for s in range(0, count, step)]
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        for _ in pool.imap_unordered(_write_chunk, jobs):
            pass
    done.write_text(str(count))
    mb = sum(f.stat().st_size for f in root.rglob("*.jpg")) / 2**20
    print(f"generated {count} JPEGs of {size}px ({mb:.0f} MiB) in {time.perf_counter() - t0:.0f} s")
    return root


# -- measurements --------------------------------------------------------------------------------
def ganzoo(
    args: list[str], env: dict[str, str], marks: dict[str, float] | None = None
) -> tuple[float, float, float]:
    """Run ``python -m ganzoo ARGS``: (wall seconds, peak RSS of its largest process, peak
    RSS summed over its process tree, in MiB, sampled every 0.1 s; pages shared by forked
    workers count once in each process that maps them). ``marks`` gets, for each of its keys,
    the seconds after launch at which a line of the run's stderr started with it."""
    import threading

    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganzoo", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    err: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append(line)
            for key in marks or {}:
                if line.startswith(key) and not marks[key]:
                    marks[key] = time.perf_counter() - t0

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    top, largest, total = psutil.Process(proc.pid), 0, 0
    while proc.poll() is None:
        try:
            tree = [top, *top.children(recursive=True)]
            sizes = [p.memory_info().rss for p in tree]
            largest, total = max(largest, *sizes), max(total, sum(sizes))
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    reader.join(timeout=10)
    if proc.returncode != 0:
        raise SystemExit(f"ganzoo {' '.join(args)} failed:\n{''.join(err)[-3000:]}")
    return wall, largest / 2**20, total / 2**20


def prepare(folder: Path, size: int, workers: int, env: dict[str, str]) -> dict[str, float]:
    args = ["data", "prepare", str(folder), "--image-size", str(size), "--channels", "3"]
    wall, rss, tree = ganzoo([*args, "--workers", str(workers), "--force", "--quiet"], env)
    n = int((folder / ".complete").read_text())
    return {"wall": wall, "rate": n / wall, "rss_mb": rss, "tree_mb": tree}


def train_args(folder: Path, size: int, channels: int, steps: int, out: Path) -> list[str]:
    args = ["train", "dcgan", "--data", str(folder), "--steps", str(steps), "--quiet"]
    args += ["--set", f"image_size={size}", "--set", f"channels={channels}"]
    args += ["--sample-every", "0", "--checkpoint-every", "0", "--out", str(out)]
    return args


def first_step(folder: Path, size: int, env: dict[str, str], work: Path) -> dict[str, float]:
    """On a prepared cache: seconds from launch until the training loop starts (the trainer's
    ``ganzoo: data:`` line, printed just before step 1) and until step 1 is logged."""
    out = work / "start-run"
    shutil.rmtree(out, ignore_errors=True)
    launch = time.time()
    marks = {"ganzoo: data:": 0.0}
    args = [a for a in train_args(folder, size, 3, 1, out) if a != "--quiet"]
    wall, _, _ = ganzoo([*args, "--set", "log_every=1"], env, marks)
    done = (out / "metrics.jsonl").stat().st_mtime - launch
    return {"loop": marks["ganzoo: data:"], "first_step": done, "wall": wall}


def loader_rates(folder: Path, env: dict[str, str], batches: int = 300) -> dict[str, float]:
    """Images/s of each feed at DCGAN-32's shape (32 px, 1 channel, batch 64), in process."""
    os.environ.update(env)
    import dataclasses

    from ganzoo.data import open_dataset
    from ganzoo.data.feed import open_feed
    from ganzoo.training.distributed import World
    from ganzoo.training.options import TrainOptions

    store = open_dataset(folder, 32, 1, quiet=True)
    base = TrainOptions(batch_size=64, steps=batches)
    ways = {
        "on the device": {"data_on_device": True},
        "loader, in process": {"data_on_device": False, "data_workers": 0},
        "loader, 2 workers": {"data_on_device": False, "data_workers": 2},
    }
    out = {}
    for name, extra in ways.items():
        feed = open_feed(store, dataclasses.replace(base, **extra), World.single(), "cpu", 0)
        feed.batch(0)
        t0 = time.perf_counter()
        for step in range(1, batches):
            feed.batch(step)
        out[name] = (batches - 1) * 64 / (time.perf_counter() - t0)
        feed.close()
    return out


def arrow_rate(folder: Path, env: dict[str, str], work: Path, batches: int = 300) -> float:
    """The alternative store: the same uint8 images as an Arrow dataset that ``datasets``
    memory-maps (an ``Array3D`` column), gathered 64 random rows at a time."""
    os.environ.update(env)
    import datasets

    from ganzoo.data import open_dataset

    store = open_dataset(folder, 32, 1, quiet=True)
    path = work / "arrow-store"
    if not path.exists():
        pixels = store.load_all()
        feature = datasets.Array3D(pixels.shape[1:], "uint8")
        ds = datasets.Dataset.from_dict(
            {"pixels": list(pixels)}, features=datasets.Features({"pixels": feature})
        )
        ds.save_to_disk(str(path))
    ds = datasets.load_from_disk(str(path)).with_format("numpy")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(batches):
        ds[np.sort(rng.choice(len(ds), 64, replace=False)).tolist()]["pixels"]
    return batches * 64 / (time.perf_counter() - t0)


def memmap_vs_pread(folder: Path, env: dict[str, str], batches: int = 2000) -> list[str]:
    """Random batches of 64 from a large prepared cache: np.memmap indexing against the
    store's preadv, each in a fresh process: throughput and how much its RSS grew."""
    code = f"""
import os, sys, time, numpy as np, psutil
os.environ.update({dict(env)!r})
from ganzoo.data import open_dataset
store = open_dataset({str(folder)!r}, 128, 3, quiet=True)
rng = np.random.default_rng(0)
how = sys.argv[1]
mm = np.memmap(store.folder / "images.u8", np.uint8, "r").reshape(-1, 128, 128, 3)
me = psutil.Process()
before = me.memory_info().rss
t0 = time.perf_counter()
for _ in range({batches}):
    idx = np.sort(rng.choice(store.count, 64, replace=False))
    batch = np.ascontiguousarray(mm[idx]) if how == "memmap" else store.read(idx)
rate = {batches} * 64 / (time.perf_counter() - t0)
print(rate, (me.memory_info().rss - before) / 2**20)
"""
    out = []
    for how in ("memmap", "preadv"):
        done = subprocess.run(
            [sys.executable, "-c", code, how], env=env, capture_output=True, text=True, check=True
        )
        rate, grew = map(float, done.stdout.split())
        out.append(f"{how} {rate:,.0f} img/s, RSS +{grew:,.0f} MiB")
    return out


def training_rate(folder: Path, env: dict[str, str], work: Path, steps: int = 100) -> float:
    out = work / "train-run"
    shutil.rmtree(out, ignore_errors=True)
    ganzoo([*train_args(folder, 32, 1, steps, out), "--set", "log_every=20"], env)
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines() if ln]
    return statistics.median(r["img_per_s"] for r in rows[1:])


def rss_run(folder: Path, env: dict[str, str], work: Path, steps: int) -> dict[str, float]:
    prep = prepare(folder, 128, 2, env)
    out = work / "rss-run"
    shutil.rmtree(out, ignore_errors=True)
    wall, rss, tree = ganzoo(train_args(folder, 128, 3, steps, out), env)
    return {
        "prepare_s": prep["wall"],
        "prepare_rss_mb": prep["rss_mb"],
        "prepare_tree_mb": prep["tree_mb"],
        "train_s": wall,
        "train_rss_mb": rss,
        "train_tree_mb": tree,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/ganzoo-data-bench"))
    parser.add_argument("--count", type=int, default=50_000, help="JPEGs for prepare/start/loader")
    parser.add_argument("--sizes", default="64,128", help="JPEG sizes for the prepare phase")
    parser.add_argument("--phases", default="prepare,start,loader")
    parser.add_argument("--rss-count", type=int, default=200_000)
    parser.add_argument("--rss-steps", type=int, default=20)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    work = args.work
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANZOO_DATA_CACHE": str(work / "cache")}
    lines = [f"- load average before: {load()}", ""]

    if phases & {"prepare", "start", "loader"}:
        sizes = [int(s) for s in args.sizes.split(",")]
        for size in sizes:
            folder = make_folder(work / f"jpeg{size}-{args.count}", args.count, size)
            if "prepare" in phases:
                one, two = prepare(folder, size, 1, env), prepare(folder, size, 2, env)
                speedup = two["rate"] / one["rate"]
                lines.append(
                    f"- prepare {args.count:,} JPEGs of {size}px at {size}px RGB: 1 worker "
                    f"{one['rate']:,.0f} img/s ({one['wall']:.0f} s), 2 workers "
                    f"{two['rate']:,.0f} img/s ({two['wall']:.0f} s): {speedup:.2f}×; peak RSS "
                    f"(largest process / process tree) {one['rss_mb']:,.0f} / "
                    f"{one['tree_mb']:,.0f} MiB and {two['rss_mb']:,.0f} / "
                    f"{two['tree_mb']:,.0f} MiB"
                )
            if "start" in phases:
                prepare(folder, size, 2, env) if "prepare" not in phases else None
                s = first_step(folder, size, env, work)
                lines.append(
                    f"- `ganzoo train dcgan --data <{args.count:,} JPEGs> --set image_size={size} "
                    f"--set channels=3`, second run: the training loop starts {s['loop']:.1f} s "
                    f"after launch, step 1 is done at {s['first_step']:.1f} s (whole 1-step run "
                    f"{s['wall']:.1f} s)"
                )
        folder = make_folder(work / f"jpeg{sizes[0]}-{args.count}", args.count, sizes[0])
        if "loader" in phases:
            rates = loader_rates(folder, env)
            train = training_rate(folder, env, work)
            arrow = arrow_rate(folder, env, work)
            lines.append(f"- DCGAN-32 (32 px, 1 channel, batch 64) training: {train:,.0f} img/s")
            for name, rate in rates.items():
                lines.append(f"- feed {name}: {rate:,.0f} img/s = {rate / train:,.0f}× training")
            lines.append(
                f"- the alternative store, the same images in a memory-mapped Arrow dataset "
                f"(Array3D, numpy format), 64 random rows a gather: {arrow:,.0f} img/s"
            )

    if "rss" in phases:
        for count in (args.rss_count // 4, args.rss_count):
            folder = make_folder(work / f"jpeg128-{count}", count, 128)
            r = rss_run(folder, env, work, args.rss_steps)
            reads = ", ".join(memmap_vs_pread(folder, env))
            store_gb = count * 128 * 128 * 3 / 2**30
            lines.append(
                f"- {count:,} JPEGs at 128 px RGB ({store_gb:.1f} GiB as uint8; "
                f"{store_gb * 4:.0f} GiB as float32): prepare (2 workers) {r['prepare_s']:.0f} s, "
                f"peak RSS {r['prepare_rss_mb']:,.0f} MiB (tree {r['prepare_tree_mb']:,.0f}); "
                f"`ganzoo train dcgan --set image_size=128 --set channels=3 --steps "
                f"{args.rss_steps}` {r['train_s']:.0f} s, peak RSS {r['train_rss_mb']:,.0f} MiB "
                f"(tree {r['train_tree_mb']:,.0f}); 2,000 random batches of 64 read from its "
                f"cache: {reads}"
            )
    lines.append(f"- load average after: {load()}")
    print("\n".join(lines))
    if not args.no_append:
        append("Data at scale: prepare, start-up, loader and memory (cpu)", lines)


if __name__ == "__main__":
    main()
