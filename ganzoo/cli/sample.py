"""``ganzoo sample``: images from a run, a checkpoint, a saved folder or the Hub."""

from __future__ import annotations

import itertools
from pathlib import Path

import click

GRID_N = 64  #: images in a grid
KEYFRAMES = 8  #: latent points an --interpolate walk visits: 8 × 10 frames × 50 ms = a 4 s loop
FRAMES = 10  #: frames from one latent point to the next
FRAME_MS = 50  #: display time of one GIF frame (20 frames per second)


def load_source(source: str, device: str = "cpu"):
    """Load a GAN from a run dir, checkpoint dir, model folder, Hub id or catalogue tag."""
    from ..hub import from_pretrained

    return from_pretrained(source, device=device)


@click.command("sample")
@click.argument("source")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="samples.png",
    show_default=True,
    help="PNG grid (or GIF with --interpolate).",
)
@click.option(
    "--n",
    "n",
    type=int,
    help=f"Number of images (default {GRID_N}); with --interpolate, latent points to walk "
    f"through (default {KEYFRAMES}).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latents.")
@click.option(
    "--ema/--no-ema",
    default=True,
    show_default=True,
    help="Use the moving-average generator when the model has one (--no-ema: the trained one).",
)
@click.option("--nrow", type=int, help="Images per row (default: square).")
@click.option(
    "--interpolate",
    is_flag=True,
    help="Write an animated GIF walking through --n latent points and back to the first.",
)
@click.option(
    "--frames",
    type=int,
    default=FRAMES,
    show_default=True,
    help=f"Frames between two latent points with --interpolate ({FRAME_MS} ms each).",
)
@click.option("--truncation", type=float, help="Truncation ψ, for generators that support it.")
@click.option(
    "--arg",
    "gen_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keyword argument of the model's generator (repeatable), e.g. --arg truncation=0.7.",
)
@click.option("--view", help="A model-specific view (see the model's docs), e.g. mix, scales.")
@click.option("--mix", "mix", is_flag=True, help="Style-mixing grid (same as --view mix).")
@click.option("--scales", "scales", is_flag=True, help="All resolutions (same as --view scales).")
@click.option(
    "--class",
    "classes",
    metavar="CLASSES",
    help="Conditional models: a class (7), a range (0-9) or a list (1,3,cat); several classes "
    "give one row per class with the same latents in each column.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
def sample_cmd(
    source,
    output,
    n,
    seed,
    ema,
    nrow,
    interpolate,
    frames,
    truncation,
    gen_args,
    view,
    mix,
    scales,
    device,
    classes,
) -> None:
    """Write a grid of generated images.

    SOURCE is a run directory (its latest checkpoint), a checkpoint or model folder, a Hub
    repository (org/name, org/name@revision, hf://org/name) or a catalogue tag (arch.tag).
    """
    import torch

    from ..config import check_seed, parse_assignments
    from ..errors import ConfigError
    from ..images import save_gif, save_grid
    from ..models import GANModel, ImageGrid

    if sum([bool(view), mix, scales, interpolate]) > 1:
        raise click.UsageError("choose one of --interpolate, --view, --mix, --scales")
    n_given = n is not None
    if n is None:
        n = KEYFRAMES if interpolate else GRID_N
    if n < 1:
        raise click.UsageError("--n must be at least 1")
    if interpolate and frames < 1:
        raise click.UsageError("--frames must be at least 1")
    check_seed(seed)
    kwargs = parse_assignments(gen_args, option="--arg")
    if truncation is not None:
        kwargs["truncation"] = truncation
    model = load_source(source, device)
    if not isinstance(model, GANModel):
        raise ConfigError(f"{source} is a {model.kind} model, which does not sample images")
    # --ema (the default) is "the EMA generator when there is one", as model.sample's default
    use_ema = None if ema else False
    view = "mix" if mix else "scales" if scales else view
    out = Path(output)
    wanted = parse_classes(classes, model) if classes is not None else None
    if wanted is not None and view and len(wanted) > 1:
        raise click.UsageError("--view, --mix and --scales take one --class")
    if wanted is not None and interpolate and len(wanted) > 1:
        raise click.UsageError("--interpolate walks within one class: give one --class")
    label = wanted[0] if wanted is not None and len(wanted) == 1 else None
    if view:
        views = model.views()
        if view not in views:
            known = ", ".join(sorted(views)) or "none"
            raise ConfigError(f"{model.arch} has no view {view!r}; its views: {known}")
        if label is not None:  # a view that takes no class says so (a one-line error)
            kwargs["labels"] = label
        grid = views[view](n=n, seed=seed, ema=use_ema, **kwargs)
        if not isinstance(grid, ImageGrid):
            raise ConfigError(
                f"view {view!r} of {model.arch} returned {type(grid).__name__}, not an ImageGrid"
            )
        save_grid(grid.images, out, nrow=nrow or grid.nrow)
    elif interpolate:
        model.check_generator_kwargs(kwargs, use_ema)
        keys = model.sample_latent(max(n, 2), generator=torch.Generator().manual_seed(seed))
        path = torch.cat([keys, keys[:1]])  # loop back to the start
        zs = [
            torch.lerp(a, b, t)
            for a, b in itertools.pairwise(path)
            for t in torch.linspace(0, 1, frames + 1)[:-1].tolist()
        ]
        if label is not None:
            kwargs["labels"] = label
        images = model.sample(len(zs), z=torch.stack(zs), ema=use_ema, **kwargs)
        out = out.with_suffix(".gif")
        save_gif(list(images), out, duration_ms=FRAME_MS)
        seconds = len(zs) * FRAME_MS / 1000
        click.echo(f"{len(zs)} frames through {len(keys)} latent points, {seconds:.1f} s", err=True)
    elif wanted is not None and len(wanted) > 1:
        # one row per class; column j uses the same latent in every row
        per_class = nrow or (max(1, n // len(wanted)) if n_given else 8)
        z = model.sample_latent(per_class, generator=torch.Generator().manual_seed(seed))
        labels = torch.tensor(wanted).repeat_interleave(per_class)
        images = model.sample(
            len(labels), z=z.repeat(len(wanted), 1), labels=labels, ema=use_ema, **kwargs
        )
        save_grid(images, out, nrow=per_class)
        names = model.class_names
        click.echo("rows: " + ", ".join(names[c] for c in wanted), err=True)
    else:
        if label is not None:
            kwargs["labels"] = label
        images = model.sample(n, seed=seed, ema=use_ema, **kwargs)
        save_grid(images, out, nrow=nrow)
    click.echo(str(out))


def parse_classes(text: str, model) -> list[int]:
    """``--class`` as class indices: ``7``, ``0-9``, ``1,3,5`` or class names, checked against
    the model's classes (a one-line error listing the valid ones)."""
    from ..errors import ConfigError

    if not getattr(model, "conditional", False):
        raise ConfigError(
            f"{model.arch or 'this model'} is unconditional: it takes no --class "
            "(train one with --set conditional=true)"
        )
    names = model.class_names
    valid = f"valid classes: {model.describe_classes()}"

    def one(token: str) -> int:
        token = token.strip()
        if token in names and not token.lstrip("-").isdigit():
            return names.index(token)
        try:
            value = int(token)
        except ValueError:
            raise ConfigError(f"--class {token!r} is not a class; {valid}") from None
        if not 0 <= value < model.num_classes:
            raise ConfigError(f"--class {value} is out of range; {valid}")
        return value

    out: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if sep and lo and hi:
            a, b = one(lo), one(hi)
            if a > b:
                raise ConfigError(f"--class {part.strip()}: the range runs backwards; {valid}")
            out.extend(range(a, b + 1))
        else:
            out.append(one(part))
    return out
