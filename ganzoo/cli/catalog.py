"""``ganzoo list``, ``ganzoo info`` and ``ganzoo plugins``: what is installed, without torch."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap

import click

from ..errors import GanzooError


def _table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain-text table whose last column wraps to the terminal width."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    term = shutil.get_terminal_size((100, 20)).columns
    last = max(20, term - sum(widths) - 2 * len(widths))
    lines = []
    for row in [headers, *rows]:
        head = "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False))
        wrapped = textwrap.wrap(str(row[-1]), last) or [""]
        lines.append(f"{head}  {wrapped[0]}".rstrip())
        pad = " " * (sum(widths) + 2 * len(widths))
        lines += [f"{pad}{more}" for more in wrapped[1:]]
    return "\n".join(lines)


_PRETRAINED_HEADERS = [
    "NAME",
    "MODEL",
    "DATA",
    "SIZE PX",
    "COND",
    "MB",
    "FD",
    "CLASSES",
    "FROM / NOTES",
]


def _pretrained_cells(row: dict) -> list[str]:
    """One ``ganzoo list --pretrained`` row: the figures are the catalogue's, from ganzoo eval."""
    m = row["metrics"]
    fd = f"{m['fd']:.1f}" if "fd" in m else "-"
    if "classes_covered" in m:
        classes = f"{int(m['classes_covered'])}/{int(m.get('num_classes', 10))}"
    else:
        classes = "-"
    size = f"{row['size'] / 1e6:.1f}" if row["size"] else "-"
    where = "shipped" if row["shipped"] else row["repo_id"]
    if row["shipped"] and row["repo_id"]:
        where += f" (also {row['repo_id']})"
    if row["conditional"] and "class_accuracy" in m:  # draws the class asked for this often
        where += f", class accuracy {m['class_accuracy']:.3f}"
    return [
        row["name"],
        row["arch"],
        row["dataset"] or "-",
        str(row["image_size"] or "-"),
        "yes" if row["conditional"] else "no",
        size,
        fd,
        classes,
        f"{where}; {row['summary']}" if row["summary"] else where,
    ]


@click.command("list")
@click.argument("pattern", default="*")
@click.option("--kind", help="Only models of this kind (gan, style-transfer, ...).")
@click.option("--pretrained", is_flag=True, help="List published weights (arch.tag) instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_cmd(pattern: str, kind: str | None, pretrained: bool, as_json: bool) -> None:
    """List registered models.

    Only names matching PATTERN (fnmatch, e.g. 'style*') are shown.
    """
    from ..api import get_spec, list_models

    if pretrained:
        from ..catalog import pretrained_rows

        rows = pretrained_rows(pattern, kind=kind)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        elif rows:
            click.echo(_table([_pretrained_cells(r) for r in rows], _PRETRAINED_HEADERS))
        else:
            click.echo(f"no published weights match {pattern!r}", err=True)
        return
    from ..plugins import get_registry

    names = list_models(pattern, kind=kind)
    specs = [get_spec(n) for n in names]
    plugin = {n: get_registry().plugin_of(n) for n in names}
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "kind": s.kind,
                        "summary": s.summary,
                        "plugin": plugin[s.name],
                        "paper": s.paper,
                        "trainable": s.trainable,
                    }
                    for s in specs
                ],
                indent=2,
            )
        )
        return
    if not specs:
        click.echo(
            f"no model matches {pattern!r}" + (f" of kind {kind!r}" if kind else ""), err=True
        )
        return
    click.echo(
        _table(
            [[s.name, s.kind, plugin[s.name], s.summary] for s in specs],
            ["NAME", "KIND", "PLUGIN", "SUMMARY"],
        )
    )


@click.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info_cmd(name: str, as_json: bool) -> None:
    """Show a model's options, training recipe, presets and paper.

    Lists every config field with its type, default and help, the training recipe (trainer,
    loss, dataset, option defaults), the presets and the published weights. NAME may also be
    published weights (arch.tag: where they come from, their figures and model card) or a run,
    checkpoint or saved model folder (its architecture, step, data and classes).
    """
    from pathlib import Path

    from ..api import describe

    if Path(name).expanduser().exists():  # a run, checkpoint or saved model folder
        from .folder_info import folder_info

        folder_info(Path(name).expanduser(), as_json)
        return
    if "." in name:  # arch.tag: published weights
        _pretrained_info(name, as_json)
        return
    info = describe(name)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"{info['name']} ({info['kind']}) — {info['summary']}")
    if info["paper"]:
        click.echo(f"paper:    {info['paper']}")
    click.echo(f"plugin:   {info['plugin']}")
    if info["conditional"]:
        click.echo(
            "classes:  class-conditional with --set conditional=true (classes from the dataset;"
            " sample with --class)"
        )
    click.echo("\nconfig (override with --set key=value):")
    rows = []
    for f in info["config"]:
        help_text = f["help"] + (
            f" (one of {', '.join(map(str, f['choices']))})" if f["choices"] else ""
        )
        rows.append([f["name"], f["type"], json.dumps(f["default"]), help_text])
    click.echo(textwrap.indent(_table(rows, ["KEY", "TYPE", "DEFAULT", "HELP"]), "  "))
    recipe = info["recipe"]
    if recipe is None:
        click.echo("\ntraining: none (`ganzoo train` does not train this model)")
    else:
        click.echo(
            f"\ntraining recipe: trainer {recipe['trainer']}, loss {recipe['loss']}, "
            f"data {recipe['dataset']}"
        )
        for k, v in recipe["options"].items():
            click.echo(f"  {k} = {json.dumps(v)}")
    if info["presets"]:
        click.echo("\npresets (--preset NAME):")
        for k, preset in info["presets"].items():
            parts = [f"{a}={json.dumps(b)}" for a, b in preset["config"].items()]
            parts += [f"{a}={json.dumps(b)} (training)" for a, b in preset["train"].items()]
            note = f"  # {preset['summary']}" if preset["summary"] else ""
            click.echo(f"  {k}: " + ", ".join(parts) + note)
    click.echo(
        "\npretrained: "
        + (", ".join(f"{name}.{t}" for t in info["pretrained"]) or "none published yet")
    )


def _pretrained_info(name: str, as_json: bool) -> None:
    """``ganzoo info arch.tag``: where the weights come from, what they score, and their card."""
    from ..catalog import get_entry

    entry = get_entry(name)
    if entry.shipped:
        origin = f"shipped with ganzoo ({entry.path}), checked against the catalogue's sha256"
        if entry.repo_id:
            origin += f"; also on the Hub as {entry.repo_id}@{entry.revision}"
    else:
        origin = f"the Hub: {entry.repo_id}@{entry.revision} (downloaded once, sha256 checked)"
    classes = None  # from the shipped config.json; a Hub-only entry's is on the Hub
    if entry.shipped and entry.path is not None:
        from .folder_info import describe_classes, folder_summary

        with contextlib.suppress(GanzooError):
            classes = folder_summary(entry.path)
    card_path = entry.path / "README.md" if entry.shipped and entry.path else None
    card = card_path.read_text(encoding="utf-8") if card_path and card_path.is_file() else ""
    if as_json:
        data = {
            "name": entry.name,
            "model": entry.arch,
            "origin": "shipped" if entry.shipped else "hub",
            "path": str(entry.path) if entry.path else None,
            "repo_id": entry.repo_id or None,
            "revision": entry.revision or None,
            "dataset": entry.dataset,
            "image_size": entry.image_size,
            "conditional": entry.conditional,
            "class_names": classes["class_names"] if classes else None,
            "size": entry.size,
            "metrics": dict(entry.metrics),
            "sha256": dict(entry.sha256),
            "command": entry.command,
            "card": card or None,
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{entry.name} — {entry.summary or entry.arch}")
    click.echo(f"from:     {origin}")
    click.echo(f"model:    {entry.arch} (ganzoo info {entry.arch} shows its options)")
    cond = ", class-conditional" if entry.conditional else ""
    click.echo(f"data:     {entry.dataset or '?'}, {entry.image_size or '?'} px{cond}")
    if classes is not None:
        click.echo(f"classes:  {describe_classes(classes)}")
    if entry.metrics:
        click.echo("metrics:  " + ", ".join(f"{k} {v:g}" for k, v in entry.metrics.items()))
    if entry.command:
        click.echo(f"trained:  {entry.command}")
    for file, digest in entry.sha256.items():
        click.echo(f"sha256:   {digest}  {file}")
    if card:
        click.echo("\n" + card.rstrip())
    else:
        click.echo("\n(model card: README.md of the Hub repository)")


#: registry tables by the heading ``ganzoo plugins --all`` gives them
_KINDS = {
    "models": "models",
    "losses": "losses",
    "datasets": "datasets",
    "trainers": "trainers",
    "features": "feature extractors",
    "commands": "commands",
    "loggers": "loggers",
}


@click.command("plugins")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Include the core, and list what every plugin registered (models, losses, datasets, "
    "trainers, feature extractors, commands).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_cmd(show_all: bool, as_json: bool) -> None:
    """List plugins, what they registered, and failures.

    Shows each plugin with its distribution, version and hooks (with --all, every name it
    registered), and each plugin that failed to load with the reason.
    """
    from ..plugins import get_host

    host = get_host()
    infos = [p for p in host.plugins.values() if show_all or p.name != "ganzoo"]
    registered = {p.name: host.registry.by_plugin(p.name) for p in infos}
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": p.name,
                        "module": p.module,
                        "distribution": p.distribution,
                        "version": p.version,
                        "builtin": p.builtin,
                        "hooks": p.hooks,
                        "loaded": p.ok,
                        "error": p.error or None,
                        "registered": registered[p.name],
                    }
                    for p in infos
                ],
                indent=2,
            )
        )
        return
    rows = []
    for p in infos:
        source = f"{p.distribution} {p.version}".strip() or p.module
        if p.builtin:
            source += " (built-in)"
        status = "ok" if p.ok else "FAILED"
        if not p.ok:
            detail = p.error
        elif show_all:
            detail = "; ".join(
                f"{_KINDS[kind]}: {', '.join(names)}" for kind, names in registered[p.name].items()
            )
        else:
            detail = ", ".join(h.removeprefix("ganzoo_") for h in p.hooks)
        rows.append([p.name, status, source, detail or "nothing registered"])
    heading = "REGISTERED / ERROR" if show_all else "HOOKS / ERROR"
    click.echo(_table(rows, ["PLUGIN", "STATUS", "FROM", heading]))
