"""Style-transfer speed: ganzoo's ``gatys`` model against a plain loop in the style of the PyTorch
neural-style tutorial, in one run.

The plain loop follows the tutorial's layout (pytorch tutorials, advanced/neural_style_tutorial):
a Normalization module, ContentLoss / StyleLoss modules inserted after the chosen layers of a
copy of the CNN's ``features`` (ReLUs made out-of-place), the model cut after the last loss,
``gram_matrix`` by ``view`` + ``mm`` divided by a·b·c·d, the image itself optimised by
``optim.LBFGS`` (20 iterations per ``step()``, fewer when fewer steps are asked for) in a
``while run[0] < steps`` loop whose closure clamps the image to [0, 1].
Both sides use the same backbone (timm's VGG19 with the *same random weights*: pretrained ones
cannot be downloaded offline, and speed does not depend on their values), the same layers
(content conv4_2, style conv1_1..conv5_1, all after their ReLU), the same objective (MSE content,
sum of per-layer MSE of Grams, content weight 1, style weight 1e9 since random features have tiny
Grams, no TV), the same square size, L-BFGS and the same number of objective evaluations. They
alternate, and the medians are compared; their first objective values are shown as a check
that they optimise the same thing.

    python benchmarks/stylize_speed.py                 # 256 px, 10 steps (~3 min on 2 cores)
    python benchmarks/stylize_speed.py --large         # also 1024 px with and without a pyramid
    python benchmarks/stylize_speed.py --device cuda
    python benchmarks/stylize_speed.py --device cuda --size 512 --steps 300 --fast-path
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data
from torch import nn, optim

import ganzoo

CONTENT_LAYERS = ["conv4_2"]
STYLE_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
# the tutorial names layers by counting convolutions: conv4_2 is the 10th, conv5_1 the 13th
TUTORIAL_CONTENT = ["relu_10"]
TUTORIAL_STYLE = ["relu_1", "relu_3", "relu_5", "relu_9", "relu_13"]
STYLE_WEIGHT, CONTENT_WEIGHT = 1e9, 1.0


# ---- the plain loop, in the style of the PyTorch neural-style tutorial ----------------------
class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = mean.clone().detach().view(-1, 1, 1)
        self.std = std.clone().detach().view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


def gram_matrix(input):
    a, b, c, d = input.size()
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        G = gram_matrix(input)
        self.loss = F.mse_loss(G, self.target)
        return input


def get_style_model_and_losses(cnn, style_img, content_img, device):
    mean = torch.tensor([0.485, 0.456, 0.406], device=device)
    std = torch.tensor([0.229, 0.224, 0.225], device=device)
    normalization = Normalization(mean, std)
    content_losses, style_losses = [], []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in TUTORIAL_CONTENT:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in TUTORIAL_STYLE:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], ContentLoss | StyleLoss):
            break
    model = model[: (i + 1)]
    return model, style_losses, content_losses


def run_style_transfer(cnn, content_img, style_img, input_img, num_steps, device):
    model, style_losses, content_losses = get_style_model_and_losses(
        cnn, style_img, content_img, device
    )
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = optim.LBFGS([input_img], max_iter=min(20, num_steps))  # the tutorial: 20
    run = [0]
    losses = []
    while run[0] < num_steps:

        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = sum(sl.loss for sl in style_losses)
            content_score = sum(cl.loss for cl in content_losses)
            style_score *= STYLE_WEIGHT
            content_score *= CONTENT_WEIGHT
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            if run[0] == 1:
                losses.append(loss.detach())
            return style_score + content_score

        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img, run[0], float(losses[0])


# ---- the two sides ---------------------------------------------------------------------------
def images(size: int) -> tuple[Image.Image, Image.Image]:
    content = Image.fromarray(data.astronaut()).resize((size, size), Image.BICUBIC)
    style = Image.fromarray(data.coffee()[:, 100:500]).resize((size, size), Image.BICUBIC)
    return content, style


def to_tensor(image: Image.Image, device) -> torch.Tensor:
    from ganzoo.images import from_pil

    return ((from_pil(image, 3).unsqueeze(0) + 1) / 2).contiguous().to(device)


def ganzoo_model(size: int, steps: int):
    return ganzoo.create_model(
        "gatys",
        backbone="vgg19.tv_in1k",
        backbone_weights="random",
        content_layers=CONTENT_LAYERS,
        style_layers=STYLE_LAYERS,
        style_layer_weights=[1.0] * len(STYLE_LAYERS),  # the tutorial sums the layers
        content_weight=CONTENT_WEIGHT,
        style_weight=STYLE_WEIGHT,
        tv_weight=0.0,
        size=size,
        steps=steps,
        optimizer="lbfgs",
        init="content",
    )


def tutorial_cnn(device) -> nn.Sequential:
    """timm's VGG19 ``features`` with ganzoo's random weights (the layers both sides run)."""
    import copy

    import timm
    from ganzoo_gatys import backbone as bb

    nodes = bb.catalog("vgg19").resolve(STYLE_LAYERS + CONTENT_LAYERS, "x")
    body = bb.build_feature_net("vgg19.tv_in1k", "random", nodes).body
    with torch.device("meta"):
        features = timm.create_model("vgg19").features
    features = copy.deepcopy(features).to_empty(device="cpu")
    state = {k.removeprefix("features."): v.contiguous() for k, v in body.state_dict().items()}
    features.load_state_dict(state, strict=False)  # layers after conv5_1 are cut anyway
    return features.to(device).eval()


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_tutorial(cnn, content, style, steps, device) -> tuple[float, torch.Tensor, float]:
    sync(device)
    start = time.perf_counter()
    c, s = to_tensor(content, device), to_tensor(style, device)
    out, evals, first = run_style_transfer(cnn, c, s, c.clone(), steps, device)
    sync(device)
    if evals != steps:
        print(f"note: the tutorial loop made {evals} evaluations, not {steps}")
    return time.perf_counter() - start, out.detach().cpu(), first


def time_ganzoo(st, content, style, device, **overrides) -> tuple[float, torch.Tensor, float]:
    sync(device)
    start = time.perf_counter()
    result = st.run(content, [style], device=device, **overrides)
    sync(device)
    expected = overrides.get("steps", st.config.steps)
    if overrides.get("pyramid", 1) == 1 and len(result.history) != expected:
        print(f"note: ganzoo made {len(result.history)} evaluations, not {expected}")
    return time.perf_counter() - start, (result.image + 1) / 2, result.history[0]["total"]


def compare(args, st, content, style) -> list[str]:
    """Time both sides on the same images, alternating; the lines for RESULTS.md."""
    device = args.device
    cnn = tutorial_cnn(device)
    time_tutorial(cnn, content, style, 2, device)  # warm-up
    plain, ours = [], []
    for i in range(args.repeats):
        order = ("plain", "ganzoo") if i % 2 == 0 else ("ganzoo", "plain")
        for side in order:
            if side == "plain":
                seconds, plain_img, plain_first = time_tutorial(
                    cnn, content, style, args.steps, device
                )
                plain.append(seconds)
            else:
                seconds, our_img, our_first = time_ganzoo(st, content, style, device)
                ours.append(seconds)
            print(f"{side:7s} {seconds:7.2f} s/image", flush=True)
    p, o = statistics.median(plain), statistics.median(ours)
    diff = float((plain_img - our_img).abs().mean())
    print(f"tutorial loop {p:.2f} s/image, ganzoo {o:.2f} s/image, ratio {p / o:.2f}×")
    print(f"mean |difference| between the two outputs: {diff:.2e} (pixels in [0, 1])")
    print(f"first objective value: tutorial {plain_first:.6g}, ganzoo {our_first:.6g}")

    lines = [
        f"VGG19 (timm, random weights: pretrained ones are not downloadable offline), "
        f"{args.size}×{args.size} px, L-BFGS, {args.steps} objective evaluations per image, "
        f"content conv4_2, style conv1_1..conv5_1, median of {args.repeats} images per side.",
        "",
        "| implementation | seconds / image |",
        "|---|---|",
        f"| PyTorch-tutorial-style loop | {p:.2f} |",
        f"| ganzoo `gatys` | {o:.2f} |",
        f"| ratio (tutorial / ganzoo) | {p / o:.2f}× |",
        "",
        f"Same objective: first value {plain_first:.6g} (tutorial) vs {our_first:.6g} (ganzoo); "
        f"mean pixel difference between the two outputs {diff:.1e} (L-BFGS paths drift apart).",
    ]
    return lines


def fast_path(args, st, content, style) -> list[str]:
    """ganzoo alone, each optimiser with its evaluations eager and replayed from CUDA graphs
    (``cuda_graphs``), alternating; the lines for RESULTS.md."""
    device = args.device
    times: dict[tuple[str, bool], list[float]] = {}
    for opt in ("lbfgs", "adam"):
        for graphs in (False, True):  # warm-up: the cut backbone, cuDNN's choices, a capture
            time_ganzoo(st, content, style, device, optimizer=opt, cuda_graphs=graphs, steps=4)
    for i in range(args.repeats):
        for opt in ("lbfgs", "adam"):
            for graphs in (False, True) if i % 2 == 0 else (True, False):
                seconds, _, _ = time_ganzoo(
                    st, content, style, device, optimizer=opt, cuda_graphs=graphs
                )
                times.setdefault((opt, graphs), []).append(seconds)
                print(f"{opt:5s} graphs={graphs!s:5s} {seconds:7.3f} s/image", flush=True)
    rows = []
    for opt in ("lbfgs", "adam"):
        eager, fast = (statistics.median(times[(opt, g)]) for g in (False, True))
        rows.append(f"| {opt} | {eager:.3f} | {fast:.3f} | {eager / fast:.2f}× |")
        print(f"{opt}: eager {eager:.3f} s, graphs {fast:.3f} s per image")
    return [
        "",
        f"ganzoo `gatys` alone, {args.size}×{args.size} px, {args.steps} evaluations per image "
        f"(timed from the call to the image on the host), median of {args.repeats}:",
        "",
        "| optimiser | eager s/image | CUDA graphs s/image | speed-up |",
        "|---|---|---|---|",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="objective evaluations per image")
    parser.add_argument("--repeats", type=int, default=2, help="timed images per side")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--large", action="store_true", help="also time 1024 px (slow on CPU)")
    parser.add_argument("--large-steps", type=int, default=4)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--fast-path", action="store_true", help="also ganzoo eager vs CUDA graphs (CUDA only)"
    )
    parser.add_argument("--no-append", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the random-weights warning, once per run
    if args.threads:
        torch.set_num_threads(args.threads)

    device = args.device
    content, style = images(args.size)
    st = ganzoo_model(args.size, args.steps).to(device)
    time_ganzoo(st, content, style, device, steps=2)  # builds ganzoo's cut backbone
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Device {device}, {torch.get_num_threads()} torch threads; load average at the start "
        f"{load} (other jobs share the machine).",
        "",
    ]
    if args.repeats > 0:
        lines += compare(args, st, content, style)
    if args.fast_path and torch.device(device).type == "cuda":
        lines += fast_path(args, st, content, style)
    if args.large:
        n = args.large_steps
        big, _ = images(1024)
        if device != "cpu":  # allocator and cuDNN warm-up at the large size
            time_ganzoo(st, big, style, device, size=1024, steps=1, pyramid=1)
        flat_s, _, _ = time_ganzoo(st, big, style, device, size=1024, steps=n, pyramid=1)
        print(f"1024 px, no pyramid, {n} steps: {flat_s:.1f} s", flush=True)
        pyr_s, _, _ = time_ganzoo(st, big, style, device, size=1024, steps=n, pyramid=3)
        per = ", ".join(f"{max(1, round(n * 0.5**i))}" for i in range(3))
        print(f"1024 px, pyramid 3 ({per} steps at 256/512/1024 px): {pyr_s:.1f} s")
        lines += [
            "",
            f"1024×1024 px output (ganzoo, same backbone): no pyramid, {n} steps at 1024 px: "
            f"{flat_s:.1f} s; `--pyramid 3` ({per} steps at 256/512/1024 px): {pyr_s:.1f} s "
            f"({pyr_s / flat_s:.0%} of the time).",
        ]
    if not args.no_append:
        from _results import append

        title = "ganzoo vs the PyTorch tutorial's loop" if args.repeats else "1024 px outputs"
        append(f"Gatys style transfer: {title} ({device})", lines)


if __name__ == "__main__":
    main()
