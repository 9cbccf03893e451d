"""``pytest --ganzoo-plugin NAME``: run the conformance kit as test items, in any project.

ganzoo registers this module under pytest's ``pytest11`` entry point, so pytest loads it in every
run wherever ganzoo is installed. It therefore imports nothing heavy at import time (no torch,
no plugin loading); only when ``--ganzoo-plugin`` is given does it look models up and add one
test item per check, named ``ganzoo_conformance[MODEL-CHECK]``::

    pytest --ganzoo-plugin mlpgan                     # a model name
    pytest --ganzoo-plugin ganzoo_mlpgan              # or a plugin: every model it registers
    pytest --ganzoo-plugin dcgan --ganzoo-set image_size=16 -k "ganzoo_conformance"

Disable it with ``-p no:ganzoo``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ganzoo", "ganzoo conformance kit")
    group.addoption(
        "--ganzoo-plugin",
        action="append",
        default=[],
        metavar="NAME",
        dest="ganzoo_plugin",
        help="check model NAME (or every model of plugin NAME) with ganzoo's conformance kit; "
        "repeatable",
    )
    group.addoption(
        "--ganzoo-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="ganzoo_set",
        help="config override for the models checked by --ganzoo-plugin (after their 'tiny' "
        "preset); repeatable",
    )
    group.addoption(
        "--ganzoo-data",
        default=None,
        metavar="DATASET",
        dest="ganzoo_data",
        help="dataset of the kit's training check (default: each model's own)",
    )


class KitFailure(Exception):
    """A failed conformance check; shown as its message, without a traceback."""


class ModelUnderTest:
    """What the items of one model share: the subject (built once) and earlier results."""

    def __init__(self, name: str, overrides: dict[str, Any], data: str | None, root: Path):
        self.name, self.overrides, self.data, self.root = name, overrides, data, root
        self.results: dict[str, Any] = {}
        self._subject: Any = None

    def subject(self) -> Any:
        if self._subject is None:
            from .runner import Subject

            workdir = self.root / self.name
            workdir.mkdir(parents=True, exist_ok=True)
            self._subject = Subject(
                self.name, overrides=self.overrides, workdir=workdir, data=self.data
            )
        return self._subject


class ConformanceItem(pytest.Item):
    """One conformance check of one model."""

    def __init__(self, *, model: ModelUnderTest | None, check: str, problem: str = "", **kw):
        super().__init__(**kw)
        self.model, self.check, self.problem = model, check, problem

    def runtest(self) -> None:
        from ..errors import GanzooError
        from .report import FAILED, SKIPPED
        from .runner import NEEDS_MODEL, run_check

        if self.problem or self.model is None:
            raise KitFailure(self.problem)
        build = self.model.results.get("build")
        if self.check in NEEDS_MODEL and build is not None and build.status == FAILED:
            pytest.skip("not run: the build failed")
        try:
            subject = self.model.subject()
        except GanzooError as exc:  # a wrong --ganzoo-set: one line, not a traceback
            raise KitFailure(f"{self.model.name}: {exc}") from None
        result = run_check(subject, self.check)
        self.model.results[self.check] = result
        if result.status == SKIPPED:
            pytest.skip(result.message)
        if result.status == FAILED:
            raise KitFailure(f"{self.model.name}: {self.check}: {result.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> Any:
        if isinstance(excinfo.value, KitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"ganzoo conformance: {self.name}"


def _parse_sets(items: list[str]) -> dict[str, Any]:
    from ..config import parse_assignments

    return parse_assignments(items)


def resolve_names(names: list[str]) -> list[tuple[str, str]]:
    """``[(model, problem)]`` for what the user named: a model, a plugin or a distribution.

    ``problem`` is empty when the model is registered, else why nothing could be checked.
    """
    from ..plugins import get_host
    from .runner import unregistered_message

    host = get_host()
    out: list[tuple[str, str]] = []
    for name in names:
        if name in host.registry.models:
            out.append((name, ""))
            continue
        plugins = [p for p in host.plugins.values() if name in (p.name, p.distribution)]
        models = [e.name for e in host.registry.models if e.plugin in {p.name for p in plugins}]
        if models:
            out += [(m, "") for m in models]
        elif plugins and not all(p.ok for p in plugins):
            out.append(
                (name, "; ".join(f"plugin {p.name!r} failed to load: {p.error}" for p in plugins))
            )
        elif plugins:
            out.append((name, f"plugin {name!r} registers no model"))
        else:
            out.append((name, unregistered_message(name) + " (nor is it a plugin's name)"))
    return out


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so they select these items too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    names = config.getoption("ganzoo_plugin")
    if not names:
        return
    from .report import checks_for

    overrides = _parse_sets(config.getoption("ganzoo_set"))
    data = config.getoption("ganzoo_data")
    root = Path(tempfile.mkdtemp(prefix="ganzoo-kit-"))
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
    from ..api import get_spec

    for model, problem in resolve_names(names):
        if problem:
            items.append(_item(session, None, model, "registered", problem))
            continue
        shared = ModelUnderTest(model, overrides, data, root)
        for check in checks_for(get_spec(model).kind):
            items.append(_item(session, shared, model, check))


def _item(
    session: pytest.Session, shared: ModelUnderTest | None, model: str, check: str, problem=""
) -> ConformanceItem:
    name = f"ganzoo_conformance[{model}-{check}]"
    return ConformanceItem.from_parent(
        session,
        name=name,
        nodeid=f"ganzoo::{name}",
        model=shared,
        check=check,
        problem=problem,
    )
