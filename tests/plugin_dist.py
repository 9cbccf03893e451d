"""Write tiny installed distributions (a package plus a ``*.dist-info`` with entry points) so
tests exercise plugin discovery through real ``importlib.metadata`` entry points."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_distribution(
    site: Path,
    dist: str,
    module: str,
    source: str,
    entry_name: str | None = None,
    version: str = "0.1.0",
) -> Path:
    """Install ``module`` (with ``source`` as its ``__init__``) as distribution ``dist`` whose
    ``ganzoo`` entry point ``entry_name`` names it."""
    pkg = site / module
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[ganzoo]\n{entry_name or module} = {module}\n", encoding="utf-8"
    )
    return pkg


GOOD_PLUGIN = '''
    """A third-party plugin: a DCGAN variant under another name, registered by entry point."""
    from dataclasses import dataclass
    import ganzoo

    @dataclass
    class Cfg:
        image_size: int = ganzoo.param(16, "side")
        channels: int = ganzoo.param(1, "channels")
        latent_dim: int = ganzoo.param(8, "z size")
        g_width: int = ganzoo.param(8, "G width")
        d_width: int = ganzoo.param(8, "D width")
        max_width: int = ganzoo.param(32, "cap")

    @ganzoo.hookimpl
    def ganzoo_register_models(registrar):
        registrar.add_model(ganzoo.ModelSpec(
            name="thirdgan", kind="gan", summary="a third-party GAN", config=Cfg,
            build="ganzoo_dcgan.model:build", recipe=ganzoo.TrainingRecipe()))
'''

#: The same plugin written against the API before the registrar and the recipe (deprecated).
LEGACY_PLUGIN = GOOD_PLUGIN.replace(
    """    def ganzoo_register_models(registrar):
        registrar.add_model(ganzoo.ModelSpec(
            name="thirdgan", kind="gan", summary="a third-party GAN", config=Cfg,
            build="ganzoo_dcgan.model:build", recipe=ganzoo.TrainingRecipe()))""",
    """    def ganzoo_register_models(register):
        register(ganzoo.ModelSpec(
            name="thirdgan", kind="gan", summary="a third-party GAN", config=Cfg,
            build="ganzoo_dcgan.model:build", loss="hinge", train_defaults={"steps": 7},
            presets={"small": {"image_size": 8, "lr_g": 1e-3}}))

    @ganzoo.hookimpl
    def ganzoo_register_commands(cli):
        import click

        @cli.command("third")
        def third():
            \"\"\"Say hello from the third-party plugin.\"\"\"
            click.echo("hello from thirdgan")""",
)

BROKEN_PLUGIN = """
raise RuntimeError("this plugin is broken on purpose")
"""
