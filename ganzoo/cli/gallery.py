"""``ganzoo gallery``: a static site of runs (sample grids over training, curves, configs)."""

from __future__ import annotations

import click


@click.command("gallery")
@click.argument("runs", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--out",
    default="gallery",
    show_default=True,
    type=click.Path(),
    help="Folder to write the site into (a folder this command wrote before is replaced).",
)
@click.option("--serve", is_flag=True, help="Then serve it on http://127.0.0.1:PORT/ until Ctrl-C.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port for --serve (0: any free port).",
)
def gallery_cmd(runs: tuple[str, ...], out: str, serve: bool, port: int) -> None:
    """Write a gallery of RUNS: run folders or folders of runs (default: ./runs).

    The index lists every run (architecture, data, steps, best Fréchet distance, a thumbnail);
    each run has a page with its sample grids over training (a slider), loss and metric curves,
    health and other records, its config and any GIF; two runs can be compared side by side
    with their differing options highlighted. Everything is copied into the folder: open its
    index.html from disk, or pass --serve.
    """
    from ..gallery import build_gallery
    from ..gallery import serve as serve_folder

    index = build_gallery(list(runs), out)
    n = sum(1 for _ in (index.parent / "runs").iterdir())
    click.echo(f"gallery of {n} run{'s' if n != 1 else ''}: {index}")
    if serve:
        serve_folder(index.parent, port, announce=lambda line: click.echo(line, err=True))
