"""``ganzoo push`` and ``ganzoo export``: publish a run or a model folder, or export a run."""

from __future__ import annotations

import click

from ..errors import ConfigError


def _metrics(values: tuple[str, ...]) -> dict[str, float] | None:
    """``("fid=12.3", ...)`` -> ``{"fid": 12.3}``."""
    out: dict[str, float] = {}
    for item in values:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise ConfigError(f"--metric {item!r}: expected NAME=NUMBER, e.g. --metric fid=12.3")
    return out or None


_card_options = [
    click.option("--step", type=int, help="Use this checkpoint step of a run, not the newest."),
    click.option(
        "--no-discriminator",
        is_flag=True,
        help="Leave the discriminator out (enough to sample; training cannot resume).",
    ),
    click.option("--dataset", help="Dataset named in the model card (default: the run's)."),
    click.option("--license", "license_", help="Licence of the weights (default: the model's)."),
    click.option(
        "--metric", "metric", multiple=True, help="NAME=NUMBER for the model card (repeatable)."
    ),
]


def card_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(_card_options):
        fn = option(fn)
    return fn


@click.command("push")
@click.argument("source")
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to commit to (created when missing); default main.")
@click.option(
    "--token", help="Hub token with write access (default: HF_TOKEN or `hf auth login`'s)."
)
@click.option("-m", "--message", help="Commit message.")
@card_options
def push_cmd(
    source: str,
    repo_id: str,
    private: bool,
    revision: str | None,
    token: str | None,
    message: str | None,
    step: int | None,
    no_discriminator: bool,
    dataset: str | None,
    license_: str | None,
    metric: tuple[str, ...],
) -> None:
    """Publish SOURCE (a run, a checkpoint or a saved model folder) to the Hub as REPO_ID.

    A run is exported first (its newest checkpoint, a model card with the training recipe and
    a sample grid); everything goes up in one commit. Needs `hf auth login` or HF_TOKEN.
    """
    from ..hub import push_folder

    card = {"dataset": dataset, "license": license_, "metrics": _metrics(metric)}
    url, commit = push_folder(
        source,
        repo_id,
        step=step,
        include_discriminator=not no_discriminator,
        private=private or None,
        revision=revision,
        token=token,
        commit_message=message,
        **{k: v for k, v in card.items() if v is not None},
    )
    click.echo(f"pushed {repo_id} (commit {commit[:12]}): {url}")


@click.command("export")
@click.argument("source")
@click.argument("out_dir", type=click.Path(file_okay=False))
@card_options
def export_cmd(
    source: str,
    out_dir: str,
    step: int | None,
    no_discriminator: bool,
    dataset: str | None,
    license_: str | None,
    metric: tuple[str, ...],
) -> None:
    """Export a run's newest checkpoint (or SOURCE checkpoint folder) to OUT_DIR in the
    shareable format: config.json, .safetensors weights, README.md model card, sample.png."""
    from ..hub import export_checkpoint

    out = export_checkpoint(
        source,
        out_dir,
        step=step,
        include_discriminator=not no_discriminator,
        dataset=dataset,
        license=license_,
        metrics=_metrics(metric),
    )
    click.echo(f"exported to {out}; publish it with: ganzoo push {out} ORG/NAME")
