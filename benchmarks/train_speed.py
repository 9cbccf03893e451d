"""DCGAN training speed: ganzoo's trainer against a plain PyTorch loop, in one run.

The plain loop follows the layout of the PyTorch examples' DCGAN script (dcgan/main.py): netG and
netD as Sequential stacks with ngf = ndf = 64, latent 100, 64×64 images, batch 128, Adam 2e-4 with
beta1 0.5, nn.BCELoss after a Sigmoid, a DataLoader over the images, one G forward per step and the
per-step ``.item()`` logging of that script. ganzoo trains the same architecture (its ``dcgan``
model at 64 px with widths 64) through ``AdversarialTrainer`` on the same images. Both run the
same number of steps on the same device, alternating, and the medians are compared.

    python benchmarks/train_speed.py                # CPU
    python benchmarks/train_speed.py --device cuda  # a GPU
"""

from __future__ import annotations

import argparse
import json
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


def ganzoo_loop(data, steps: int, warmup: int, batch: int, device) -> float:
    """Images per second of ganzoo's trainer, timed by its own logging between flushes."""
    from ganzoo.training.options import TrainOptions
    from ganzoo.training.trainer import AdversarialTrainer

    torch.manual_seed(0)
    model = ganzoo.create_model(
        "dcgan", image_size=64, channels=data.images.shape[1], g_width=NGF, d_width=NDF
    )
    options = TrainOptions(
        steps=warmup + steps,
        batch_size=batch,
        log_every=warmup,
        sample_every=0,
        checkpoint_every=0,
        progress=False,
        device=str(device),
    )
    assert steps % warmup == 0, "steps must be a multiple of warmup (the logging interval)"
    with tempfile.TemporaryDirectory() as tmp:
        AdversarialTrainer().fit(model, data, options, Path(tmp))
        rows = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").open()]
    timed = [r["img_per_s"] for r in rows if r["step"] > warmup]
    return len(timed) / sum(1 / r for r in timed)  # harmonic mean = total images / total time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_dataset("digits", 64, args.channels)
    plain, ours = [], []
    for i in range(args.repeats):  # alternate, so drift in machine load hits both
        for name in ("plain", "ganzoo") if i % 2 == 0 else ("ganzoo", "plain"):
            if name == "plain":
                plain.append(
                    plain_loop(data.images, args.steps, args.warmup, args.batch_size, device)
                )
            else:
                ours.append(ganzoo_loop(data, args.steps, args.warmup, args.batch_size, device))
            print(
                f"run {i}: {name:6s} {(plain if name == 'plain' else ours)[-1]:8.1f} img/s",
                flush=True,
            )
    p, g = statistics.median(plain), statistics.median(ours)
    print(
        f"plain PyTorch loop: {p:.1f} img/s\nganzoo trainer:     {g:.1f} img/s\n"
        f"ratio ganzoo/plain: {g / p:.3f}"
    )
    if not args.no_record:
        from _results import append

        append(
            f"DCGAN training speed, {device.type}",
            [
                f"DCGAN 64×64×{args.channels}, latent 100, widths 64, batch {args.batch_size}, "
                f"Adam 2e-4/0.5, BCE; {args.steps} timed steps after {args.warmup} warm-up steps, "
                f"median of {args.repeats} alternating runs each.",
                "",
                "| loop | img/s (median) | all runs |",
                "|---|---|---|",
                f"| plain PyTorch (examples/dcgan style) | {p:.1f} | "
                f"{', '.join(f'{x:.1f}' for x in plain)} |",
                f"| ganzoo AdversarialTrainer | {g:.1f} | {', '.join(f'{x:.1f}' for x in ours)} |",
                f"| **ratio ganzoo / plain** | **{g / p:.3f}** | |",
            ],
        )


if __name__ == "__main__":
    main()
