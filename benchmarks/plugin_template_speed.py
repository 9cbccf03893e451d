"""Training-step speed of the network `ganzoo new-plugin` generates, against the built-in DCGAN.

A plugin author starts from the generated model; it should cost no more per step than ganzoo's own
DCGAN at the same width, or every plugin starts slow. Both models are built at the same image
size, latent size and width (G's last hidden block and D's first block), and trained through
the shared training step (:func:`ganzoo.training.step.train_step`, bce loss, Adam) on the same
random batches, alternating, after a warm-up; the medians of several timed rounds are compared.

    python benchmarks/plugin_template_speed.py                 # 32 px, width 32, batch 64
    python benchmarks/plugin_template_speed.py --width 64 --image-size 64
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.cli.scaffold import render_plugin
from ganzoo.plugins import get_registry
from ganzoo.training.step import StepConfig, train_step

NAME = "speed_gan"


def generated_model(root: Path, image_size: int, latent: int, width: int) -> ganzoo.GANModel:
    """Render the scaffold into ``root`` and build its model (not installed: imported)."""
    render_plugin(NAME, root / "project")
    sys.path.insert(0, str(root / "project"))
    package = importlib.import_module(f"ganzoo_{NAME}")
    module = importlib.import_module(f"ganzoo_{NAME}.model")
    config_cls = next(
        v for k, v in vars(package).items() if k.endswith("Config") and isinstance(v, type)
    )
    config = config_cls(image_size=image_size, channels=1, latent_dim=latent, width=width)
    return module.build(config)


def step_seconds(model, rounds: int, steps: int, batch: int) -> list[float]:
    loss = get_registry().losses.get("bce")
    cfg = StepConfig(loss, 1, 0.0, 0.0, 1, 4, None, contextlib.nullcontext)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    c, h, w = model.image_shape
    model.train()
    times = []
    for r in range(rounds + 1):  # round 0 warms up
        start = time.perf_counter()
        for i in range(steps):
            real = torch.rand(batch, c, h, w, generator=gen) * 2 - 1
            z = model.sample_latent(batch, generator=gen)
            train_step(model, real, z, opt_g, opt_d, cfg, r * steps + i)
        if r:
            times.append((time.perf_counter() - start) / steps)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        template = generated_model(Path(tmp), args.image_size, args.latent, args.width)
    dcgan = ganzoo.create_model(
        "dcgan",
        image_size=args.image_size,
        latent_dim=args.latent,
        g_width=args.width,
        d_width=args.width,
    )
    results: dict[str, list[float]] = {"generated": [], "dcgan": []}
    for _ in range(2):  # alternate so that a busy neighbour hurts both alike
        results["generated"] += step_seconds(template, args.rounds, args.steps, args.batch)
        results["dcgan"] += step_seconds(dcgan, args.rounds, args.steps, args.batch)
    medians = {k: statistics.median(v) for k, v in results.items()}
    params = {
        "generated": sum(p.numel() for p in template.parameters()),
        "dcgan": sum(p.numel() for p in dcgan.parameters()),
    }
    print(
        json.dumps(
            {
                "image_size": args.image_size,
                "width": args.width,
                "batch": args.batch,
                "threads": args.threads,
                "ms_per_step": {k: round(v * 1000, 1) for k, v in medians.items()},
                "generated_over_dcgan": round(medians["generated"] / medians["dcgan"], 2),
                "parameters": params,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
