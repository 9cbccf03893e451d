"""``ganzoo stylize CONTENT STYLE... -o OUT``: the Gatys plugin's command, for any
style-transfer model.

The Gatys plugin adds it through ``registrar.add_command`` (the core knows no style-transfer
option). It builds the model named by ``--model`` (default ``gatys``) or loads a preset
(``--preset``: a preset name of the model, a saved folder or a Hub id), turns its flags into
config overrides (``--steps 300`` is ``steps=300``; a model whose config has no such key answers
with the list of its keys; ``--set`` reaches any key) and calls only the
:class:`ganzoo.models.StyleTransferModel` contract: ``run(...)`` and, for ``--save-preset``,
``set_styles(images, weights)``. Another installed style-transfer model is used with
``--model NAME``; a plugin that wants its own flags adds its own command.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import click

#: flag -> config key; only the flags a user gives become overrides
FLAG_KEYS = {
    "size": "size",
    "steps": "steps",
    "pyramid": "pyramid",
    "optimizer": "optimizer",
    "lr": "lr",
    "init": "init",
    "backbone": "backbone",
    "pooling": "pooling",
    "content_weight": "content_weight",
    "style_weight": "style_weight",
    "tv_weight": "tv_weight",
    "style_scale": "style_scale",
    "seed": "seed",
}
#: config keys that describe this machine rather than the preset: never saved with --save-preset
RUN_ONLY_KEYS = ("backbone_weights",)


def _csv(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_weights(text: str) -> list[float]:
    """``"0.7,0.3"`` -> ``[0.7, 0.3]``, with a one-line error for anything else."""
    from ganzoo.errors import ConfigError

    try:
        weights = [float(part) for part in _csv(text) or []]
    except ValueError:
        raise ConfigError(
            f"--style-weights expects numbers separated by commas (e.g. 0.7,0.3), got {text!r}"
        ) from None
    if not weights:
        raise ConfigError("--style-weights is empty: give one number per style image")
    return weights


def load_model(name: str, preset: str | None) -> Any:
    """The style-transfer model: built (optionally from a named preset) or loaded from a
    preset folder or Hub id."""
    from ganzoo import create_model, from_pretrained, get_spec, list_models
    from ganzoo.errors import ConfigError
    from ganzoo.models import StyleTransferModel
    from ganzoo.protocols import STYLE_TRANSFER

    spec = get_spec(name)
    if spec.kind != STYLE_TRANSFER:
        known = ", ".join(list_models(kind=STYLE_TRANSFER)) or "none installed"
        raise ConfigError(
            f"model {name!r} is a {spec.kind} model, not a style-transfer one; "
            f"style-transfer models: {known}"
        )
    if preset is None or preset in spec.presets:
        return create_model(name, preset=preset)
    folder = Path(preset).expanduser()
    if folder.is_dir():
        model = from_pretrained(folder)
    elif "/" in preset and not folder.exists():
        model = from_pretrained(preset)
    else:
        names = ", ".join(sorted(spec.presets)) or "none"
        raise ConfigError(
            f"unknown preset {preset!r}: not a preset of {name} ({names}), a folder or a Hub "
            "id org/name"
        )
    if not isinstance(model, StyleTransferModel):
        raise ConfigError(f"preset {preset} holds a {model.arch} model, not a style-transfer one")
    return model


def plot_losses(history: list[dict[str, float]], path: Path) -> Path:
    """A log-scale plot of every loss term in ``history`` against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [row["step"] for row in history]
    keys = [k for k in history[0] if k not in ("step", "level")] if history else []
    for key in keys:
        values = [row[key] for row in history]
        if any(v > 0 for v in values):
            ax.plot(steps, values, label=key, linewidth=1.2)
    for prev, row in itertools.pairwise(history):
        if row.get("level") != prev.get("level"):
            ax.axvline(row["step"], color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("step (objective evaluations; dotted: next pyramid level)")
    ax.set_ylabel("loss (total weighted, terms unweighted)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _threads(command: click.Command) -> click.Command:
    """ganzoo's ``--threads N`` (torch's CPU threads; GANZOO_THREADS, else the idle cores)."""
    from ganzoo.cli.threads import threads_option

    command.params.append(threads_option())
    return command


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


@_threads
@click.command("stylize")
@click.argument("images", nargs=-1, required=True, metavar="CONTENT [STYLE]...")
@click.option("-o", "--output", help="Output image (PNG, JPEG, ...).")
@click.option(
    "--model",
    "model_name",
    default="gatys",
    show_default=True,
    help="Any registered style-transfer model (ganzoo list --kind style-transfer).",
)
@click.option(
    "--preset", help="A preset of the model (lesson, paper), a preset folder or a Hub id org/name."
)
@click.option("--size", type=int, help="Longest side of the output in pixels (0: content's).")
@click.option("--steps", type=int, help="Optimisation steps (objective evaluations).")
@click.option("--style-weights", help="Blend weights of the style images, e.g. 0.7,0.3.")
@click.option("--preserve-color", is_flag=True, help="Keep the content's colours.")
@click.option(
    "--color-method",
    type=click.Choice(["luminance", "histogram"]),
    default="luminance",
    show_default=True,
    help="With --preserve-color: luminance-only transfer, or colour matching of the "
    "styles to the content.",
)
@click.option("--pyramid", type=int, help="Coarse-to-fine levels (2-3 for 1024 px and more).")
@click.option("--optimizer", help="lbfgs or adam.")
@click.option("--lr", type=float, help="Learning rate of the optimiser.")
@click.option("--init", help="Initial image: content, style, noise or noisy_content.")
@click.option("--backbone", help="timm CNN (default vgg19.tv_in1k).")
@click.option(
    "--backbone-weights",
    type=click.Path(dir_okay=False),
    help="A .safetensors state dict of the backbone (offline use).",
)
@click.option(
    "--random-weights",
    is_flag=True,
    help="Random backbone weights: for tests only, the result will be poor.",
)
@click.option("--pooling", help="max or avg.")
@click.option("--content-layers", help="Comma-separated layer names, e.g. conv4_2.")
@click.option("--style-layers", help="Comma-separated layer names, e.g. conv1_1,conv2_1.")
@click.option("--content-weight", type=float, help="Weight of the content loss.")
@click.option("--style-weight", type=float, help="Weight of the style loss.")
@click.option("--tv-weight", type=float, help="Weight of the total-variation loss.")
@click.option("--style-scale", type=float, help="Style images' size relative to the output.")
@click.option("--seed", type=int, help="Seed of noise initialisations.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any config key (see ganzoo info MODEL); repeatable.",
)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML file of config keys."
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option(
    "--save-every",
    type=int,
    default=0,
    help="Save the image every N steps into OUTPUT_frames/ (with a loss plot).",
)
@click.option("--loss-plot", type=click.Path(dir_okay=False), help="Write a loss plot here.")
@click.option(
    "--save-preset",
    type=click.Path(file_okay=False),
    help="Save the config and style images as a preset folder (loadable with "
    "--preset); without -o only the preset is written and all IMAGES are styles.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def stylize_cmd(
    images,
    output,
    model_name,
    preset,
    style_weights,
    preserve_color,
    color_method,
    backbone_weights,
    random_weights,
    content_layers,
    style_layers,
    assignments,
    config_file,
    device,
    save_every,
    loss_plot,
    save_preset,
    quiet,
    **flags,
) -> None:
    """Paint CONTENT in the style of STYLE (one or more images, blended with --style-weights).

    \b
      ganzoo stylize photo.jpg monet.jpg -o out.png --size 512 --steps 300
      ganzoo stylize photo.jpg monet.jpg kandinsky.jpg --style-weights 0.7,0.3 \\
          --preserve-color -o out.png
      ganzoo stylize photo.jpg --preset org/monet-preset -o out.png
    """
    from ganzoo.config import apply_overrides, load_toml, parse_assignments
    from ganzoo.errors import ConfigError
    from ganzoo.images import to_pil

    overrides: dict[str, Any] = {}
    if config_file:
        overrides.update(load_toml(config_file))
    overrides.update(parse_assignments(assignments))
    overrides.update({FLAG_KEYS[k]: v for k, v in flags.items() if v is not None})
    if preserve_color:
        overrides["preserve_color"] = color_method
    if content_layers is not None:
        overrides["content_layers"] = _csv(content_layers)
    if style_layers is not None:
        overrides["style_layers"] = _csv(style_layers)
    if random_weights and backbone_weights:
        raise click.UsageError("give either --backbone-weights or --random-weights, not both")
    if random_weights:
        overrides["backbone_weights"] = "random"
    elif backbone_weights:
        overrides["backbone_weights"] = backbone_weights
    weights = parse_weights(style_weights) if style_weights is not None else None
    if save_every < 0:
        raise click.UsageError("--save-every must be positive")
    if output is None and save_preset is None:
        raise click.UsageError("give -o OUTPUT (or --save-preset DIR to only save a preset)")
    if output is not None:  # before loading anything or optimising for minutes
        from ganzoo.images import check_output_path

        check_output_path(output)

    model = load_model(model_name, preset)
    run_only = {k: overrides.pop(k) for k in RUN_ONLY_KEYS if k in overrides}
    model.config = apply_overrides(model.config, overrides, what=f"model {model.arch!r}")

    content, styles = (images[0], list(images[1:])) if output else (None, list(images))
    if save_preset is not None:
        if styles:
            model.set_styles(styles, weights)
        folder = model.save_pretrained(save_preset)
        click.echo(f"saved preset to {folder}", err=True)
        if output is None:
            return
    out = Path(output)
    frames_dir = out.with_name(out.stem + "_frames")

    def save_frame(step: int, image, losses: dict[str, float]) -> None:
        to_pil(image[0]).save(frames_dir / f"step-{step:06d}.png")

    if save_every:
        frames_dir.mkdir(parents=True, exist_ok=True)
    result = model.run(
        content,
        styles or None,
        style_weights=weights,
        callback=save_frame if save_every else None,
        callback_every=save_every,
        progress=not quiet,
        device=_device(device),
        **run_only,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        to_pil(result.image[0]).save(out)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot write {out}: {exc}") from None
    if save_every:
        to_pil(result.image[0]).save(frames_dir / "final.png")
        plot_losses(result.history, frames_dir / "loss.png")
    if loss_plot:
        plot_losses(result.history, Path(loss_plot))
    h, w = result.image.shape[-2:]
    last = result.history[-1] if result.history else {}
    terms = ", ".join(f"{k} {v:.3g}" for k, v in last.items() if k not in ("step", "level"))
    took = f" in {result.seconds:.1f} s" if result.seconds is not None else ""
    click.echo(f"wrote {out} ({w}×{h}){took}" + (f"; final losses: {terms}" if terms else ""))
