"""``ganzoo data prepare`` and ``ganzoo data info``: the dataset cache from the command line."""

from __future__ import annotations

import json

import click

SOURCE_HELP = (
    "SOURCE is a dataset name (digits, lfw, photos, a plugin's), a folder of images (one "
    "subfolder per class gives labels), .parquet/.arrow files, a save_to_disk folder or "
    "hf://datasets/ORG/NAME[@REVISION][:SPLIT]."
)


@click.group("data")
def data_group() -> None:
    """Prepare datasets ahead of training and inspect them.

    Training decodes a dataset once per (source, image size, channels) into a uint8 cache
    ($GANZOO_DATA_CACHE, default ~/.cache/ganzoo/datasets) and reuses it afterwards.
    """


@data_group.command("prepare")
@click.argument("source")
@click.option("--image-size", type=int, required=True, help="Side of the square images, pixels.")
@click.option("--channels", type=click.Choice(["1", "3"]), required=True, help="1 grey, 3 RGB.")
@click.option("--workers", type=int, help="Decoding processes (default: every core, at most 8).")
@click.option("--image-column", default="", help="Image column of a table dataset.")
@click.option("--label-column", default="", help="Class column ('none' for no labels).")
@click.option("--config", "config_name", help="Configuration of a Hub dataset.")
@click.option(
    "--max-pixels",
    type=int,
    help="Skip (never decode) images that declare more pixels (default 89,478,485).",
)
@click.option("--force", is_flag=True, help="Prepare again even if a complete cache exists.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prepare_cmd(
    source,
    image_size,
    channels,
    workers,
    image_column,
    label_column,
    config_name,
    max_pixels,
    force,
    quiet,
) -> None:
    """Decode and resize SOURCE once into the cache that training reads."""
    from ..data import open_dataset
    from ..errors import ConfigError

    if image_size < 1 or (workers is not None and workers < 1):
        raise ConfigError("--image-size and --workers must be positive")
    store = open_dataset(
        source,
        image_size,
        int(channels),
        image_column=image_column,
        label_column=label_column,
        config=config_name,
        max_pixels=max_pixels,
        workers=workers,
        force=force,
        quiet=quiet,
    )
    if store.folder is None:
        click.echo(
            f"{source} is made in memory by its loader: there is nothing to prepare", err=True
        )
        return
    classes = f", {len(store.classes)} classes" if store.classes else ", unlabelled"
    what = "prepared" if store.decoded else "already prepared"
    click.echo(
        f"{what}: {store.count:,} images of {image_size}×{image_size}×{channels}{classes}",
        err=True,
    )
    click.echo(store.folder)


prepare_cmd.help = (prepare_cmd.help or "") + "\n\n" + SOURCE_HELP


@data_group.command("info")
@click.argument("source")
@click.option("--config", "config_name", help="Configuration of a Hub dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(source, config_name, as_json) -> None:
    """Count, classes, image sizes and the prepared caches of SOURCE (nothing is decoded)."""
    from ..data.info import describe, format_description

    desc = describe(source, config=config_name)
    click.echo(json.dumps(desc, indent=2) if as_json else format_description(desc))


info_cmd.help = (info_cmd.help or "") + "\n\n" + SOURCE_HELP
