"""DCGAN training speed: ganzoo's trainer against a plain PyTorch loop, in one run.

The plain loop follows the layout of the PyTorch examples' DCGAN script (dcgan/main.py): netG and
netD as Sequential stacks with ngf = ndf = 64, latent 100, 64×64 images, batch 128, Adam 2e-4 with
beta1 0.5, nn.BCELoss after a Sigmoid, a DataLoader over the images, one G forward per step and the
per-step ``.item()`` logging of that script. ganzoo trains the same architecture (its ``dcgan``
model at 64 px with widths 64) through ``AdversarialTrainer`` on the same images. Both run the
same number of steps on the same device, alternating, and the medians are compared.

    python benchmarks/train_speed.py                # CPU, 1 thread for both loops
    python benchmarks/train_speed.py --device cuda --variants plain,eager,amp,ganzoo
    python benchmarks/train_speed.py --device cuda --arch stylegan_lite --variants eager,ganzoo

Variants of ganzoo's trainer (``VARIANTS``): ``ganzoo`` (the defaults: on CUDA the fast path,
the step replayed from CUDA graphs), ``eager`` (every fast-path switch off), ``amp`` (bf16,
channels_last and fused Adam without graphs) and ``compile`` (torch.compile).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import ganzoo
from ganzoo.data import load_dataset

NZ, NGF, NDF = 100, 64, 64


# ---- the plain loop, in the style of pytorch/examples dcgan/main.py --------------------------
class Generator(nn.Module):
    def __init__(self, nc: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(NGF * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x):
        return self.main(x)


class Discriminator(nn.Module):
    def __init__(self, nc: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, NDF, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def plain_loop(images: torch.Tensor, steps: int, warmup: int, batch: int, device) -> float:
    """Images per second of the plain loop over ``steps`` steps after ``warmup`` steps."""
    torch.manual_seed(0)
    nc = images.shape[1]
    netG, netD = Generator(nc).to(device), Discriminator(nc).to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    dataset = torch.utils.data.TensorDataset(images)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
    done, start = 0, None
    while done < warmup + steps:
        for (data,) in loader:
            if done == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            netD.zero_grad()
            real_cpu = data.to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), 1.0, dtype=real_cpu.dtype, device=device)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b_size, NZ, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()
            netG.zero_grad()
            label.fill_(1.0)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            del D_x, D_G_z1, D_G_z2, errD, errG
            done += 1
            if done == warmup + steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


#: ganzoo variants: the training options each one changes (on CUDA; the CPU ignores them all
#: except compile). "ganzoo" is the default, the fast path on CUDA.
VARIANTS: dict[str, dict] = {
    "ganzoo": {},
    "eager": {"amp": False, "channels_last": False, "fused_adam": False, "cuda_graphs": False},
    "amp": {"cuda_graphs": False},  # bf16 autocast, channels_last and fused Adam; no graphs
    "compile": {"compile": True},
    "channels_last": {"channels_last_cpu": True},  # on the CPU too (on CUDA it is the default)
}


def ganzoo_loop(
    data, steps: int, warmup: int, batch: int, device, variant: str = "ganzoo", arch: str = "dcgan"
) -> float:
    """Images per second of ganzoo's trainer, timed by its own logging between flushes."""
    from ganzoo.api import build_from_config, get_spec
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.run import resolve_options
    from ganzoo.training.trainer import AdversarialTrainer

    torch.manual_seed(0)
    common = dict(
        steps=warmup + steps,
        batch_size=batch,
        log_every=warmup,
        sample_every=0,
        checkpoint_every=0,
        progress=False,
        device=str(device),
        **VARIANTS[variant],
    )
    if arch == "dcgan":  # the plain loop's model, with the trainer's own defaults
        model = ganzoo.create_model(
            "dcgan", image_size=64, channels=data.images.shape[1], g_width=NGF, d_width=NDF
        )
        options = TrainOptions(**common)
    else:  # the architecture's recipe (its loss, R1, EMA, ...) at 64 px
        preset = "gpu64" if "gpu64" in get_spec(arch).presets else None
        layer = {"image_size": 64, "channels": data.images.shape[1], **common}
        config, options = resolve_options(arch, preset, [layer])
        model = build_from_config(get_spec(arch), config)
    assert steps % warmup == 0, "steps must be a multiple of warmup (the logging interval)"
    with tempfile.TemporaryDirectory() as tmp:
        trainer = AdversarialTrainer()
        start = time.perf_counter()
        trainer.fit(model, data, options, Path(tmp))
        ganzoo_loop.seconds = time.perf_counter() - start  # the whole fit: compile included
        rows = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").open()]
    runner = trainer.step_runner
    ganzoo_loop.note = "graphs" if runner.captured else f"eager: {runner.blocker}"
    timed = [r["img_per_s"] for r in rows if r.get("step", 0) > warmup and "img_per_s" in r]
    return len(timed) / sum(1 / r for r in timed)  # harmonic mean = total images / total time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads, the same for every loop"
    )
    parser.add_argument(
        "--arch", default="dcgan", help="dcgan (against the plain loop), or stylegan_lite, ..."
    )
    parser.add_argument(
        "--variants",
        default="plain,ganzoo",
        help=f"comma list of plain and ganzoo variants: {', '.join(VARIANTS)}",
    )
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v != "plain" and v not in VARIANTS]
    if unknown or ("plain" in names and args.arch != "dcgan"):
        parser.error(f"variants: plain (dcgan only) or {', '.join(VARIANTS)}; got {unknown}")
    data = load_dataset("digits", 64, args.channels)
    results: dict[str, list[float]] = {n: [] for n in names}
    notes: dict[str, str] = {}
    for i in range(args.repeats):  # alternate, so drift in machine load hits every loop
        for name in names if i % 2 == 0 else names[::-1]:
            if name == "plain":
                rate = plain_loop(data.images, args.steps, args.warmup, args.batch_size, device)
            else:
                rate = ganzoo_loop(
                    data, args.steps, args.warmup, args.batch_size, device, name, args.arch
                )
                notes[name] = ganzoo_loop.note
            results[name].append(rate)
            whole = f" (whole fit {ganzoo_loop.seconds:.1f} s)" if name != "plain" else ""
            print(f"run {i}: {name:8s} {rate:10.1f} img/s{whole}", flush=True)
    med = {n: statistics.median(v) for n, v in results.items()}
    base = "plain" if "plain" in med else names[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    for n in names:
        extra = f"  ({notes[n]})" if n in notes else ""
        print(f"{n:8s} {med[n]:10.1f} img/s  ratio to {base}: {med[n] / med[base]:.3f}{extra}")
    print(f"load average: {load}")
    if not args.no_record:
        from _results import append

        rows = [
            f"| {n} | {med[n]:.1f} | {med[n] / med[base]:.3f} | "
            f"{', '.join(f'{x:.1f}' for x in results[n])} | {notes.get(n, '')} |"
            for n in names
        ]
        append(
            f"{args.arch} training speed, {device.type}",
            [
                f"{args.arch} 64×64×{args.channels}, batch {args.batch_size}, {args.threads} CPU "
                f"thread(s); {args.steps} timed steps after {args.warmup} warm-up steps, median "
                f"of {args.repeats} alternating runs each; load average {load}.",
                "",
                f"| loop | img/s (median) | ratio to {base} | all runs | step |",
                "|---|---|---|---|---|",
                *rows,
            ],
        )


if __name__ == "__main__":
    main()
