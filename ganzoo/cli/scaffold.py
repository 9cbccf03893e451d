"""``ganzoo new-plugin NAME [NAME...]``: write a plugin package that installs and passes the
conformance kit.

The files come from ``ganzoo/templates/plugin/`` (:class:`string.Template`, ``${name}``
placeholders): a ``pyproject.toml`` with the ``ganzoo`` entry point, a package declaring a config,
a ``ModelSpec`` and a ``TrainingRecipe`` (with a ``tiny`` preset for the tests) per model, one
module per model holding a small convolutional GAN (DCGAN's layout, as fast per step as the
built-in ``dcgan`` at the same width), a README and a test that runs
:func:`ganzoo.testing.check_model` on every model. Several names make one distribution with
several models (``--plugin`` names it; by default the first model's name). Nothing here imports
torch.
"""

from __future__ import annotations

import json
import keyword
import re
import string
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import click

from ..errors import ConfigError

#: template (relative to templates/plugin) -> output path (relative to the new project)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "${package}/__init__.py",
    "tests/test_model.py.tmpl": "tests/test_${plugin}.py",
}
#: written once per model
MODEL_FILES = {"package/model.py.tmpl": "${package}/${module}.py"}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(name: str, what: str = "model") -> None:
    """A name that is also a valid package suffix; a model name not taken by an installed
    plugin."""
    if not _NAME.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(
            f"{name!r} is not a valid {what} name: use lower-case snake_case starting with a "
            "letter, e.g. my_gan"
        )
    if what != "model":
        return
    from ..plugins import get_registry

    models = get_registry().models
    if name in models:
        raise ConfigError(
            f"a model named {name!r} is already registered by plugin "
            f"{models.entry(name).plugin!r}; choose another name"
        )


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def template_values(
    plugin: str, summary: str | None, models: Sequence[str] | None = None
) -> dict[str, str]:
    """The placeholders of the package-wide templates for ``plugin`` with ``models``."""
    from .. import __version__
    from ..plugins import PLUGIN_API_VERSION

    models = list(models or [plugin])
    major = int(PLUGIN_API_VERSION.split(".")[0])
    package = f"ganzoo_{plugin}"
    default = f"{plugin}, a small convolutional GAN" if len(models) == 1 else f"{plugin}: GANs"
    modules = [module_name(m, models) for m in models]
    return {
        "plugin": plugin,
        "name": models[0],
        "first": models[0],
        "package": package,
        "dist": f"ganzoo-{plugin.replace('_', '-')}",
        "summary": summary or default,
        "api_range": f">={major},<{major + 1}",
        "ganzoo_min": ".".join(__version__.split(".")[:2]),
        "model_names": json.dumps(models),
        "model_list": ", ".join(f"`{m}`" for m in models),
        "modules_md": ", ".join(f"`{package}/{m}.py`" for m in modules),
    }


def module_name(model: str, models: Sequence[str]) -> str:
    """The module holding a model's networks: ``model`` for a one-model plugin, else its name."""
    return "model" if len(models) == 1 else model


def model_values(base: dict[str, str], model: str, models: Sequence[str]) -> dict[str, str]:
    summary = base["summary"] if len(models) == 1 else f"{model}, a small convolutional GAN"
    return {
        **base,
        "name": model,
        "class_name": class_name(model),
        "module": module_name(model, models),
        "model_summary": summary,
    }


def render_plugin(
    name: str,
    target: Path,
    summary: str | None = None,
    *,
    models: Sequence[str] | None = None,
    plugin: str | None = None,
) -> list[Path]:
    """Write the plugin project into ``target`` (created; must be empty).

    ``name`` is the model (and, unless ``plugin`` is given, the plugin); ``models`` adds more
    models to the same distribution.
    """
    names = list(dict.fromkeys([name, *(models or [])]))
    for model in names:
        check_name(model)
    plugin = plugin or name
    check_name(plugin, "plugin")
    if summary is not None and (not summary.strip() or set(summary) & set('"\\\n')):
        raise ConfigError("--summary must be one non-empty line without double quotes or \\")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists and is not empty; choose another --dir")
    values = template_values(plugin, summary, names)
    root = resources.files("ganzoo") / "templates" / "plugin"

    def fill(source: str, extra: dict[str, str]) -> str:
        return string.Template((root / source).read_text(encoding="utf-8")).substitute(extra)

    per_model = [model_values(values, m, names) for m in names]
    values["configs"] = "".join(fill("fragments/config.py.tmpl", v) for v in per_model)
    values["specs"] = "".join(fill("fragments/spec.py.tmpl", v) for v in per_model).rstrip("\n")
    jobs = [(src, dest, values) for src, dest in FILES.items()]
    jobs += [(src, dest, v) for v in per_model for src, dest in MODEL_FILES.items()]
    written = []
    for source, dest, subs in jobs:
        path = target / string.Template(dest).substitute(subs)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(source, subs), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("names", nargs=-1, required=True, metavar="NAME [NAME]...")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder in which to create the project folder ganzoo-PLUGIN.",
)
@click.option(
    "--plugin",
    help="Name of the plugin (entry point, package ganzoo_PLUGIN); default: the first NAME.",
)
@click.option("--summary", help="One-line description (of the model, or of the plugin).")
def new_plugin_cmd(
    names: tuple[str, ...], directory: str, plugin: str | None, summary: str | None
) -> None:
    """Create a plugin package for new models NAME... (snake_case) in DIR/ganzoo-PLUGIN.

    The package installs with pip, registers every NAME through one `ganzoo` entry point and
    passes ganzoo's conformance kit as written; edit each model's module to make it yours.
    """
    for model in names:
        check_name(model)
    plugin = plugin or names[0]
    check_name(plugin, "plugin")
    values = template_values(plugin, summary, names)
    target = Path(directory) / values["dist"]
    files = render_plugin(names[0], target, summary, models=names[1:], plugin=plugin)
    click.echo(f"created {target}:")
    for path in files:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(
        "next:\n"
        f"  pip install -e {target}\n"
        f"  ganzoo info {names[0]}\n"
        f"  cd {target} && pytest          # ganzoo's conformance kit\n"
        f"  ganzoo train {names[0]} --steps 500"
    )
