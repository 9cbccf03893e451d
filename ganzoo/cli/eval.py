"""``ganzoo eval``: Fréchet distance, KID, precision/recall and mode coverage of a GAN's samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _local_recipe(source: str) -> dict[str, Any]:
    """Step and dataset of a local run or checkpoint (empty for Hub ids and plain folders)."""
    from ..errors import GanzooError
    from ..hub.local import locate_model_folder, run_recipe

    if not Path(source).expanduser().exists():
        return {}
    try:
        return run_recipe(locate_model_folder(source))
    except GanzooError:
        return {}


def _real_images(source: str, image_size: int, channels: int, max_real: int | None) -> Any:
    """The real images to score against, as an ImageSet: all of a dataset held in memory, a
    seeded sample of ``max_real`` (default: training-time evaluation's) of one on disk, so a
    200,000-image dataset is not decoded into floats whole (37 GiB at 128 px)."""
    from ..data import open_dataset
    from ..data.feed import EVAL_LIMIT

    store = open_dataset(source, image_size, channels)
    if max_real is not None:
        return store.to_imageset(limit=max_real or None)
    # as training-time evaluation does: whole when it is held in memory, else a sample
    return store.to_imageset(limit=None if store.in_memory else EVAL_LIMIT)


@click.command("eval")
@click.argument("source", required=False)
@click.option(
    "--data",
    help="Dataset to compare with (default: the run's dataset, else the model's default).",
)
@click.option(
    "--n",
    "n",
    type=int,
    help="Generated samples (default: as many as held-out real images, the floor's count).",
)
@click.option(
    "--features",
    default="digits",
    show_default=True,
    help="Feature extractor: digits, inception, timm:NAME, or one a plugin registers.",
)
@click.option(
    "--real",
    is_flag=True,
    help="Score held-out real images against the reference images: the floor, no model.",
)
@click.option("--image-size", type=int, default=32, show_default=True, help="With --real.")
@click.option("--channels", type=int, default=1, show_default=True, help="With --real.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Also write the report as JSON to this file.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latents.")
@click.option(
    "--ema/--no-ema",
    default=True,
    show_default=True,
    help="Sample the moving-average generator when the model has one.",
)
@click.option("--k", type=int, default=3, show_default=True, help="Precision/recall neighbours.")
@click.option(
    "--random-weights",
    is_flag=True,
    help="timm:NAME only: a seeded random network; scores compare only under the same flag.",
)
@click.option(
    "--max-real",
    type=click.IntRange(min=0),
    help="Real images read from a prepared dataset too large for memory: a seeded sample of "
    "this many (default: 10,000, as training-time evaluation uses; 0 = all of them).",
)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--batch-size", type=int, default=256, show_default=True)
def eval_cmd(
    source,
    data,
    n,
    features,
    real,
    image_size,
    channels,
    json_out,
    seed,
    ema,
    k,
    random_weights,
    max_real,
    device,
    batch_size,
) -> None:
    """Score a GAN's samples against real images (FD, KID, precision/recall, classes).

    SOURCE is a run directory (its latest checkpoint), a checkpoint or model folder, a Hub id
    or a catalogue tag. The data is split once (seed 0) into a reference two thirds and a
    held-out third; N samples are compared with the reference images, and so are the held-out
    images: the floor a generator that draws new images from the data's distribution would
    reach. With --real no model is needed and only the floor is printed.
    """
    from ..config import check_seed
    from ..errors import ConfigError
    from ..metrics import Evaluator, Protocol, format_report, write_json
    from ..training.trainer import resolve_device

    if real == bool(source):
        raise click.UsageError("give either SOURCE (a run, folder or Hub id) or --real")
    if n is not None and n < k + 1:
        raise click.UsageError(f"--n must be more than --k ({k})")
    check_seed(seed)
    dev = resolve_device(device)
    model, info = None, None
    if source:
        from ..hub import from_pretrained
        from ..models import GANModel

        recipe = _local_recipe(source)
        model = from_pretrained(source).to(dev)
        if not isinstance(model, GANModel):
            raise ConfigError(f"{source} is a {model.kind} model, which does not sample images")
        channels, image_size, _ = model.image_shape
        if not data:
            from ..api import get_spec

            own = get_spec(model.arch).recipe
            data = recipe.get("dataset") or (own.dataset if own is not None else None)
        info = {"source": source, "arch": model.arch, "step": recipe.get("step")}
    dataset = _real_images(data or "digits", image_size, channels, max_real)
    protocol = Protocol(features=features, n=n, k=k, sample_seed=seed, batch_size=batch_size)
    evaluator = Evaluator(dataset, protocol, device=dev, random_weights=random_weights)
    scores = evaluator.score_model(model, ema=None if ema else False) if model else None
    report = evaluator.report(scores, model=info)
    click.echo(format_report(report))
    if json_out:
        click.echo(f"report: {write_json(report, json_out)}", err=True)
