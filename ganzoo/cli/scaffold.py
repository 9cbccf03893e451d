"""``ganzoo new-plugin NAME``: write a plugin package that installs and passes the conformance kit.

The files come from ``ganzoo/templates/plugin/*.tmpl`` (:class:`string.Template`, ``${name}``
placeholders): a ``pyproject.toml`` with the ``ganzoo`` entry point, a package declaring a
``ModelSpec`` with a ``tiny`` preset, a small convolutional GAN, a README and a test that runs
:func:`ganzoo.testing.check_model`. Nothing here imports torch.
"""

from __future__ import annotations

import keyword
import re
import string
from importlib import resources
from pathlib import Path

import click

from ..errors import ConfigError

#: template (relative to templates/plugin) -> output path (relative to the new project)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "${package}/__init__.py",
    "package/model.py.tmpl": "${package}/model.py",
    "tests/test_model.py.tmpl": "tests/test_${name}.py",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(name: str) -> None:
    """A model name that is also a valid package suffix and not taken by an installed plugin."""
    if not _NAME.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(
            f"{name!r} is not a valid model name: use lower-case snake_case starting with a "
            "letter, e.g. my_gan"
        )
    from ..plugins import get_registry

    models = get_registry().models
    if name in models:
        raise ConfigError(
            f"a model named {name!r} is already registered by plugin "
            f"{models.entry(name).plugin!r}; choose another name"
        )


def template_values(name: str, summary: str | None) -> dict[str, str]:
    """The placeholders of the templates for model ``name``."""
    from .. import __version__
    from ..plugins import PLUGIN_API_VERSION

    major = int(PLUGIN_API_VERSION.split(".")[0])
    return {
        "name": name,
        "package": f"ganzoo_{name}",
        "dist": f"ganzoo-{name.replace('_', '-')}",
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "summary": summary or f"{name}, a small convolutional GAN",
        "api_range": f">={major},<{major + 1}",
        "ganzoo_min": ".".join(__version__.split(".")[:2]),
    }


def render_plugin(name: str, target: Path, summary: str | None = None) -> list[Path]:
    """Write the plugin project for ``name`` into ``target`` (created; must be empty)."""
    check_name(name)
    if summary is not None and (not summary.strip() or set(summary) & set('"\\\n')):
        raise ConfigError("--summary must be one non-empty line without double quotes or \\")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists and is not empty; choose another --dir")
    values = template_values(name, summary)
    root = resources.files("ganzoo") / "templates" / "plugin"
    written = []
    for source, dest in FILES.items():
        text = (root / source).read_text(encoding="utf-8")
        path = target / string.Template(dest).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).substitute(values), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder in which to create the project folder ganzoo-NAME.",
)
@click.option("--summary", help="One-line description of the model (for `ganzoo list`).")
def new_plugin_cmd(name: str, directory: str, summary: str | None) -> None:
    """Create a plugin package for a new model NAME (snake_case) in DIR/ganzoo-NAME.

    The package installs with pip, registers NAME through the `ganzoo` entry point and passes
    ganzoo's conformance kit as written; edit its model.py to make the model yours.
    """
    values = template_values(name, summary)
    target = Path(directory) / values["dist"]
    files = render_plugin(name, target, summary)
    click.echo(f"created {target}:")
    for path in files:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(
        "next:\n"
        f"  pip install -e {target}\n"
        f"  ganzoo info {name}\n"
        f"  cd {target} && pytest          # ganzoo's conformance kit\n"
        f"  ganzoo train {name} --steps 500"
    )
