"""The model card (``README.md``) written next to the weights, with the Hub's metadata header.

The YAML header comes from huggingface_hub's :class:`~huggingface_hub.ModelCardData`, so the Hub
indexes the model under ``library_name: ganzoo``, the architecture's tag and the right pipeline
(``unconditional-image-generation`` for GANs, ``image-to-image`` for style transfer; a
class-conditional GAN is tagged ``class-conditional-image-generation`` instead). The body
says how to load the model, shows the sample grid saved beside it (``sample.png``), and records
the config, the model's own sections (:meth:`ganzoo.models.ZooModel.card_sections`), the training
recipe and the metrics when they are known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ..protocols import GAN, STYLE_TRANSFER
from ..serialization import safe_distribution

README_NAME = "README.md"
SAMPLE_NAME = "sample.png"

#: Hub pipeline tag by model kind; other kinds get none
PIPELINE_TAGS = {GAN: "unconditional-image-generation", STYLE_TRANSFER: "image-to-image"}

#: tags of a class-conditional GAN's card, which has no pipeline tag (see :func:`card_data`)
CONDITIONAL_TAGS = ("class-conditional-image-generation", "class-conditional")


def card_data(
    *, arch: str, kind: str, license: str | None, dataset: str | None, conditional: bool = False
) -> ModelCardData:
    """The metadata header: library, tags, licence, dataset and pipeline tag.

    A class-conditional GAN is not ``unconditional-image-generation``, and the Hub has no
    pipeline tag (task) for class-conditional generation: it validates ``pipeline_tag`` against
    its list of tasks and refuses a commit whose card names another, and the nearest tasks
    (``text-to-image``, ``image-to-image``) would promise an input the model does not take and
    list it among widgets that cannot call it. So a conditional GAN gets no pipeline tag and is
    found by its tags instead: ``class-conditional-image-generation`` (what the model does, in
    the Hub's task-name style, for a search or a filter by tag) and ``class-conditional``."""
    task_tags = CONDITIONAL_TAGS if conditional else ()
    tags = ["ganzoo", arch, kind, *task_tags, "pytorch", "safetensors"]
    return ModelCardData(
        library_name="ganzoo",
        license=license or None,
        datasets=[dataset] if dataset else None,
        pipeline_tag=None if conditional else PIPELINE_TAGS.get(kind),
        tags=list(dict.fromkeys(t for t in tags if t)),
    )


def _table(rows: Mapping[str, Any], headers: tuple[str, str]) -> str:
    lines = [f"| {headers[0]} | {headers[1]} |", "| --- | --- |"]
    for key, value in rows.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        lines.append(f"| `{key}` | {shown} |")
    return "\n".join(lines)


def card_body(
    meta: Mapping[str, Any],
    *,
    summary: str,
    paper: str,
    repo_id: str | None,
    dataset: str | None,
    training: Mapping[str, Any] | None,
    metrics: Mapping[str, Any] | None,
    step: int | None,
    parameters: Mapping[str, int],
    has_sample: bool,
    sections: Mapping[str, str] | None = None,
) -> str:
    """The Markdown body below the metadata header."""
    arch = meta["arch"]
    title = f"{arch} trained on {dataset}" if dataset else f"{arch} for ganzoo"
    where = repo_id or "path/to/this/folder"
    parts = [f"# {title}", "", f"{summary}." if summary else "", ""]
    if paper:
        parts += [f"Paper: {paper}", ""]
    if has_sample:
        alt = "Samples from the generator (seed 0)" if meta.get("kind") == GAN else "Examples"
        parts += [f"![{alt}]({SAMPLE_NAME})", ""]
    parts += [
        "## Use",
        "",
        "```python",
        "import ganzoo",
        "",
        f'model = ganzoo.from_pretrained("{where}")',
    ]
    k = int(meta.get("num_classes") or 0)
    names = list(meta.get("class_names") or []) or [str(i) for i in range(k)]
    example = min(7, k - 1)  # "draw me a 7" on digits; the last class of a smaller set
    if meta.get("kind") == GAN and k:
        parts.append(
            f"images = model.sample(16, seed=0, labels={example})  # 16 images of class "
            f"{example} ({names[example]})"
        )
    elif meta.get("kind") == GAN:
        parts.append("images = model.sample(16, seed=0)  # N×C×H×W in [-1, 1]")
    parts += ["```", ""]
    if meta.get("kind") == GAN:
        source = f"hf://{repo_id}" if repo_id else where
        parts += ["or from the command line:", "", f"    ganzoo sample {source} -o grid.png", ""]
    if meta.get("kind") == GAN and k:
        parts += [
            f"    ganzoo sample {source} --class {example} -o class{example}.png  # one class",
            f"    ganzoo sample {source} --class 0-{k - 1} -o classes.png  # a row per class",
            "",
            f"This model is **class-conditional**: it draws the class it is asked for, one of "
            f"{k} classes: " + ", ".join(f"{i} = {n}" for i, n in enumerate(names)) + ".",
            "",
        ]
    dist = safe_distribution(meta) or ""
    if dist and dist != "ganzoo":
        parts += [f"The architecture comes from the plugin `{dist}`: `pip install {dist}`.", ""]
    parts += ["## Model", "", _table(meta.get("config", {}), ("option", "value")), ""]
    parts += [
        _table(
            {f"{name}.safetensors": f"{count:,} parameters" for name, count in parameters.items()},
            ("file", "contents"),
        ),
        "",
    ]
    for heading, text in (sections or {}).items():  # the model's own (card_sections)
        parts += [f"## {heading}", "", str(text).strip(), ""]
    parts += ["## Training recipe", ""]
    recipe = dict(training or {})
    if dataset:
        recipe = {"dataset": dataset, **recipe}
    if step is not None:
        recipe = {**recipe, "checkpoint step": step}
    parts += [_table(recipe, ("option", "value")) if recipe else "Not recorded.", ""]
    parts += ["## Metrics", ""]
    parts += [_table(dict(metrics), ("metric", "value")) if metrics else "Not measured yet.", ""]
    parts += [
        "## Format",
        "",
        "`config.json` names the architecture, the plugin that provides it and the model's "
        "config; each network is one `.safetensors` file (ganzoo never loads pickles).",
        "",
    ]
    return "\n".join(parts)


def write_card(
    directory: Path,
    meta: Mapping[str, Any],
    *,
    summary: str = "",
    paper: str = "",
    license: str | None = None,
    repo_id: str | None = None,
    dataset: str | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    step: int | None = None,
    parameters: Mapping[str, int] | None = None,
    sections: Mapping[str, str] | None = None,
) -> Path:
    """Write ``README.md`` for the model folder ``directory`` described by ``meta``."""
    data = card_data(
        arch=meta["arch"],
        kind=meta.get("kind", ""),
        license=license,
        dataset=dataset,
        conditional=bool(meta.get("num_classes")),
    )
    body = card_body(
        meta,
        summary=summary,
        paper=paper,
        repo_id=repo_id,
        dataset=dataset,
        training=training,
        metrics=metrics,
        step=step,
        parameters=parameters or {},
        has_sample=(directory / SAMPLE_NAME).is_file(),
        sections=sections,
    )
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    path = directory / README_NAME
    card.save(path)
    return path
