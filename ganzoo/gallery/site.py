"""Writing the gallery: a static site in one folder (``ganzoo gallery RUNS -o gallery/``).

Every file the pages use is copied into the folder (sample grids, GIFs, the stylesheet, the
script); no page loads anything from the network, and no page needs a server: ``index.html``
opens from disk (``file://``). The page layout lives in package data (``templates/``).
"""

from __future__ import annotations

import json
import shutil
import time
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from .runs import GalleryError, RunView, flat_config, read_runs
from .svg import line_chart

#: a file in the output folder that says ganzoo wrote it, so a rebuild may replace the folder
MARKER = ".ganzoo-gallery"


def _template(name: str) -> str:
    return resources.files("ganzoo.gallery").joinpath("templates", name).read_text("utf-8")


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    return json.dumps(value).replace("</", "<\\/")


def _page(root: str, page: str, title: str, heading: str, content: str, scripts: str = "") -> str:
    from .. import __version__

    return Template(_template("page.html")).substitute(
        root=root,
        page=page,
        title=escape(title),
        heading=escape(heading),
        content=content,
        scripts=scripts,
        version=__version__,
        date=time.strftime("%Y-%m-%d %H:%M"),
    )


def prepare_output(out: Path) -> None:
    """Empty ``out`` for a new gallery; refuse a folder that holds anything else."""
    if out.exists() and not out.is_dir():
        raise GalleryError(f"-o {out} is a file: name a folder for the gallery")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise GalleryError(
                f"-o {out} already holds files that ganzoo gallery did not write: choose "
                "another folder (nothing was changed)"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by ganzoo gallery; rebuilding replaces this folder\n")


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def _fd_text(run: RunView) -> str:
    best = run.best_fd
    return "—" if best is None else f"{best[0]:.2f} <span class='muted'>@{best[1]}</span>"


def _steps_text(run: RunView) -> str:
    target = run.target_steps
    return f"{run.steps:,}" + (f" / {target:,}" if target and target != run.steps else "")


def write_run(out: Path, run: RunView) -> dict[str, Any]:
    """Copy one run's images and write its page; return its entry of ``data.js``."""
    folder = out / "runs" / run.slug
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for step, src in run.samples:
        _copy(src, folder / "samples" / src.name)
        samples.append({"step": step, "src": f"samples/{src.name}"})
    gifs = []
    for src in run.gifs:
        _copy(src, folder / src.name)
        gifs.append(src.name)
    if run.loss_plot is not None:
        _copy(run.loss_plot, folder / run.loss_plot.name)

    parts = [
        '<div class="facts">'
        f"<span>architecture <b>{escape(run.arch)}</b></span>"
        f"<span>data <b>{escape(run.data)}</b></span>"
        f"<span>steps <b>{_steps_text(run)}</b></span>"
        f"<span>best FD <b>{_fd_text(run)}</b></span>"
        f"<span>folder <code>{escape(str(run.path))}</code></span></div>"
    ]
    parts.append("<h2>Samples over training</h2>")
    if samples:
        last = samples[-1]
        parts.append(
            '<div class="samples"><div class="slider">'
            f'<input type="range" id="sample-slider" min="0" max="{len(samples) - 1}" '
            f'value="{len(samples) - 1}" step="1" aria-label="training step">'
            f'<span id="sample-step">step {last["step"]}</span></div>'
            f'<figure><img id="sample-image" class="pixel" src="{escape(last["src"])}" '
            f'alt="samples at step {last["step"]}" data-step="{last["step"]}"></figure></div>'
        )
    else:
        parts.append('<p class="muted">This run has no sample grids yet.</p>')
    for name in gifs:
        parts.append(
            f'<h2>{escape(name)}</h2><img class="pixel gif" src="{escape(name)}" '
            f'alt="{escape(name)}">'
        )
    parts.append(_curves(run))
    for kind, records in run.by_kind().items():
        parts.append(f'<h2 id="kind-{escape(kind)}">{escape(kind.capitalize())} records</h2>')
        parts.append(_records_table(records))
    parts.append("<h2>Configuration</h2>")
    parts.append(_config_table(flat_config(run.config)))
    parts.append(
        "<details><summary>config.json</summary><pre>"
        f"{escape(json.dumps(run.config, indent=2))}</pre></details>"
    )
    data = {"slug": run.slug, "samples": samples}
    script = f"<script>window.GANZOO_RUN = {_script_json(data)};</script>"
    html = _page(
        "../../", "run", f"{run.name} · ganzoo gallery", run.name, "\n".join(parts), script
    )
    (folder / "index.html").write_text(html, encoding="utf-8")
    best = run.best_fd
    return {
        "slug": run.slug,
        "name": run.name,
        "arch": run.arch,
        "data": run.data,
        "steps": run.steps,
        "best_fd": None if best is None else best[0],
        "page": f"runs/{run.slug}/index.html",
        "image": f"runs/{run.slug}/{samples[-1]['src']}" if samples else None,
        "config": flat_config(run.config),
        # the loss chart again, for the comparison page (an SVG string this module wrote)
        "losses_svg": line_chart(
            "losses", {k: v for k, v in run.series().items() if k.endswith("loss")}, width=480
        ),
    }


def _curves(run: RunView) -> str:
    """Losses on one chart, D's logits on another, then one chart per other value (a value
    and its ``_floor``, such as ``eval_fd`` and ``eval_fd_floor``, share one); values that never
    change (``eval_n``) are left out."""
    series = {
        k: v for k, v in run.series().items() if len({y for _, y in v}) > 1 or k.endswith("_floor")
    }
    if not series:
        return '<h2>Curves</h2><p class="muted">No metrics recorded yet.</p>'
    groups: list[tuple[str, dict[str, list[tuple[int, float]]]]] = []
    losses = {k: v for k, v in series.items() if k.endswith("loss")}
    logits = {k: v for k, v in series.items() if k in ("d_real", "d_fake")}
    if losses:
        groups.append(("losses", losses))
    if logits:
        groups.append(("D's mean logits", logits))
    for key, points in series.items():
        if key in losses or key in logits or key.endswith("_floor"):
            continue
        group = {key: points}
        if f"{key}_floor" in series:
            group[f"{key}_floor"] = series[f"{key}_floor"]
        groups.append((key, group))
    charts = "".join(line_chart(title, group) for title, group in groups)
    return f'<h2>Curves</h2><div class="charts">{charts}</div>'


def _records_table(records: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys and k != "kind"]
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = []
    for r in records:
        cells = []
        for k in keys:
            v = r.get(k, "")
            text = f"{v:.4g}" if isinstance(v, float) else str(v)
            cells.append(f"<td>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="records"><tr>{head}</tr>{"".join(rows)}</table>'


def _config_table(flat: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{escape(v)}</td></tr>" for k, v in flat.items()
    )
    return f'<table class="config"><tr><th>option</th><th>value</th></tr>{rows}</table>'


def write_index(out: Path, entries: list[dict[str, Any]]) -> None:
    rows = []
    for e in entries:
        thumb = (
            f'<img class="thumb" src="{escape(e["image"])}" alt="{escape(e["name"])}">'
            if e["image"]
            else ""
        )
        fd = "—" if e["best_fd"] is None else f"{e['best_fd']:.2f}"
        rows.append(
            f'<tr class="run" data-slug="{escape(e["slug"])}"><td>{thumb}</td>'
            f'<td><a href="{escape(e["page"])}">{escape(e["name"])}</a></td>'
            f"<td>{escape(e['arch'])}</td><td>{escape(e['data'])}</td>"
            f'<td class="num">{e["steps"]:,}</td><td class="num">{fd}</td></tr>'
        )
    second = entries[1]["slug"] if len(entries) > 1 else entries[0]["slug"]

    def options(selected: str) -> str:
        return "".join(
            f'<option value="{escape(e["slug"])}"{" selected" if e["slug"] == selected else ""}>'
            f"{escape(e['name'])}</option>"
            for e in entries
        )

    content = (
        '<table id="runs"><tr><th></th><th>run</th><th>architecture</th><th>data</th>'
        "<th>steps</th><th>best FD</th></tr>" + "".join(rows) + "</table>"
        '<h2>Compare two runs</h2><form class="pickers" method="get" action="compare.html">'
        f'<select name="a">{options(entries[0]["slug"])}</select>'
        f'<select name="b">{options(second)}</select>'
        '<button type="submit">compare</button></form>'
        '<p class="muted">Best FD: the lowest Fréchet distance of the run\'s '
        "<code>--eval-every</code> evaluations (lower is better).</p>"
    )
    n = len(entries)
    html = _page("", "index", "ganzoo gallery", f"{n} run{'s' if n != 1 else ''}", content)
    (out / "index.html").write_text(html, encoding="utf-8")
    compare = _page(
        "",
        "compare",
        "compare runs · ganzoo gallery",
        "Compare two runs",
        '<div id="compare"><noscript>The comparison needs JavaScript.</noscript></div>',
        '<script src="assets/data.js"></script>',
    )
    (out / "compare.html").write_text(compare, encoding="utf-8")


def build_gallery(inputs: list[str | Path], out: str | Path) -> Path:
    """Write the gallery of the runs ``inputs`` names into ``out``; returns ``out/index.html``.

    Raises :class:`GalleryError` (one line) when there are no runs or an input is not one;
    ``out`` is then left as it was.
    """
    runs = read_runs(inputs)  # errors first: nothing is written for bad inputs
    out = Path(out).expanduser()
    prepare_output(out)
    assets = out / "assets"
    assets.mkdir()
    for name in ("gallery.css", "gallery.js"):
        (assets / name).write_text(_template(name), encoding="utf-8")
    entries = [write_run(out, run) for run in runs]
    (assets / "data.js").write_text(
        f"window.GANZOO_GALLERY = {_script_json({'runs': entries})};\n", encoding="utf-8"
    )
    write_index(out, entries)
    return out / "index.html"
