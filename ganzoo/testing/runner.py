"""Running the checks: the model under test, :func:`check_model`, and error locations."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnknownNameError
from .report import (
    CHECKS,
    FAILED,
    PASSED,
    SKIPPED,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    ConformanceError,
    ConformanceReport,
    checks_for,
)

#: the preset the kit builds from when a model declares it (a few pixels, narrow layers)
TINY_PRESET = "tiny"
#: checks that need the built model; they are not run when ``build`` fails
NEEDS_MODEL = {"forward", "backward", "sample", "save_load", "train", "capture"}


class Subject:
    """The model under test: its spec, the config it is built from, and a scratch folder."""

    def __init__(
        self,
        name: str,
        *,
        overrides: dict[str, Any],
        workdir: Path,
        data: str | None = None,
        device: str = "cpu",
        train_steps: int = 3,
    ) -> None:
        from ..api import get_spec, model_config, split_options
        from ..config import unknown_option
        from ..plugins import get_registry
        from ..training.options import TrainOptions

        self.spec = get_spec(name)
        self.name = self.spec.name
        self.plugin = get_registry().plugin_of(self.name)
        self.preset = TINY_PRESET if TINY_PRESET in self.spec.presets else None
        self.model_overrides, self.train_overrides = split_options(self.spec, overrides)
        unknown = sorted(set(self.train_overrides) - {f.name for f in fields(TrainOptions)})
        if unknown:
            raise unknown_option(unknown[0], [self.spec.config, TrainOptions], repr(self.name))
        # a wrong override is the caller's mistake, not the model's: raise it as it is
        self.config = model_config(self.spec, self.preset, **self.model_overrides)
        self.workdir = workdir
        self.data = data
        self.device = device
        self.train_steps = train_steps
        self._model: Any = None

    # -- building ----------------------------------------------------------------------------
    def new_model(self, seed: int = 0) -> Any:
        """A freshly built model, after ``torch.manual_seed(seed)``, in eval mode on the device."""
        import torch

        from ..api import build_from_config

        torch.manual_seed(seed)
        return build_from_config(self.spec, self.config).to(self.device).eval()

    def model(self) -> Any:
        """The model built once by the ``build`` check (built here when that check was not run)."""
        if self._model is None:
            try:
                self._model = self.new_model()
            except Exception as exc:
                raise CheckFailed(f"the model does not build: {self.explain(exc)}") from exc
        return self._model

    # -- messages ----------------------------------------------------------------------------
    def roots(self) -> list[str]:
        """Files and package folders of the plugin and its builder: where its frames live."""
        from ..plugins import get_host

        roots: list[str] = []
        plugin = get_host().plugins.get(self.plugin) if self.plugin else None
        names = [plugin.module] if plugin is not None else []
        if isinstance(self.spec.build, str):
            names.append(self.spec.build.partition(":")[0])
        else:
            with contextlib.suppress(TypeError):  # a builtin or C callable has no file
                roots.append(str(Path(inspect.getfile(self.spec.build)).resolve()))
        for module in {n.split(".")[0] for n in names} - {"ganzoo"}:  # never the core itself
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                found = None
            if found is None:
                continue
            if found.submodule_search_locations:
                roots += [str(Path(p).resolve()) for p in found.submodule_search_locations]
            elif found.origin:
                roots.append(str(Path(found.origin).resolve()))
        return roots

    def explain(self, exc: BaseException) -> str:
        """``Type: first line (at file:line, in function)``, pointing into the plugin's code."""
        text = str(exc).strip().splitlines()
        message = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
        return message + self.location(exc)

    def location(self, exc: BaseException) -> str:
        roots = self.roots()
        seen: set[int] = set()
        chain: BaseException | None = exc
        frames: list[traceback.FrameSummary] = []
        while chain is not None and id(chain) not in seen:  # the cause's frames come first
            seen.add(id(chain))
            frames = list(traceback.extract_tb(chain.__traceback__)) + frames
            chain = chain.__cause__ or chain.__context__
        for frame in reversed(frames):
            path = str(Path(frame.filename).resolve())
            if any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots):
                short = "/".join(Path(path).parts[-2:])
                return f" (at {short}:{frame.lineno}, in {frame.name})"
        return ""


def _check_functions() -> dict[str, Callable[[Subject], None]]:
    from . import capture, checks, gan_checks

    return {
        "spec": checks.check_spec,
        "registration": checks.check_registration,
        "build": checks.check_build,
        "forward": gan_checks.check_forward,
        "backward": gan_checks.check_backward,
        "sample": gan_checks.check_sample,
        "save_load": checks.check_save_load,
        "train": gan_checks.check_train,
        "capture": capture.check_capture,
        "info": checks.check_info,
    }


def run_check(subject: Subject, check: str) -> CheckResult:
    """Run one check; a failure or an unexpected exception becomes a failed result."""
    fn = _check_functions()[check]
    start = time.perf_counter()
    try:
        fn(subject)
    except CheckSkipped as exc:
        result = CheckResult(check, SKIPPED, str(exc))
    except CheckFailed as exc:
        result = CheckResult(check, FAILED, str(exc))
    except Exception as exc:  # an unexpected crash is a failure of this check, with its place
        result = CheckResult(check, FAILED, f"raised {subject.explain(exc)}")
    else:
        result = CheckResult(check, PASSED)
    result.seconds = time.perf_counter() - start
    return result


def unregistered_message(name: str) -> str:
    """Why ``name`` is not registered, naming the plugins that failed to load."""
    from ..plugins import get_host

    host = get_host()
    try:
        host.registry.spec(name)
    except UnknownNameError as exc:
        message = str(exc)
    else:
        return ""
    broken = [f"{p.name}: {p.error}" for p in host.plugins.values() if not p.ok]
    if broken:
        message += "; plugins that failed to load: " + "; ".join(broken)
    return message


def _as_data(config: Any) -> dict[str, Any]:
    """The config as JSON data for the report (a value JSON cannot hold is shown by repr; the
    ``spec`` check reports it)."""
    return json.loads(json.dumps(asdict(config), default=repr))


def select_checks(kind: str, only: Iterable[str] | None, skip: Iterable[str]) -> list[str]:
    wanted = list(only) if only is not None else list(CHECKS)
    unknown = sorted((set(wanted) | set(skip)) - set(CHECKS))
    if unknown:
        raise ConfigError(f"unknown conformance check {unknown[0]!r}; checks: {', '.join(CHECKS)}")
    return [c for c in checks_for(kind) if c in wanted and c not in set(skip)]


def check_model(
    name: str,
    /,
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    workdir: str | Path | None = None,
    data: str | None = None,
    device: str = "cpu",
    train_steps: int = 3,
    raise_on_failure: bool = True,
    **overrides: Any,
) -> ConformanceReport:
    """Check registered model ``name`` against everything ganzoo relies on.

    The model is built from its ``tiny`` preset when it declares one, then ``overrides``
    (model config keys, and training option keys such as ``batch_size`` for the ``train``
    check). ``only``/``skip`` choose checks by name (:data:`ganzoo.testing.CHECKS`); ``data``
    is the dataset of the training check (default: the model's own); ``workdir`` keeps the
    files written (a temporary folder by default). Returns the
    :class:`~ganzoo.testing.ConformanceReport`; raises :class:`~ganzoo.testing.ConformanceError`
    naming each failed check when any fails (unless ``raise_on_failure=False``). A model that
    is not registered at all fails with the reason its plugin did not load.
    """
    message = unregistered_message(name)
    if message:
        report = ConformanceReport(name)
        report.results["registered"] = CheckResult("registered", FAILED, message)
        raise ConformanceError(report)
    with tempfile.TemporaryDirectory(prefix="ganzoo-kit-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        subject = Subject(
            name,
            overrides=overrides,
            workdir=root,
            data=data,
            device=device,
            train_steps=train_steps,
        )
        report = ConformanceReport(
            subject.name, subject.plugin, subject.spec.kind, _as_data(subject.config)
        )
        for check in select_checks(subject.spec.kind, only, skip):
            build = report.results.get("build")
            if check in NEEDS_MODEL and build is not None and build.status == FAILED:
                report.results[check] = CheckResult(check, SKIPPED, "not run: the build failed")
                continue
            report.results[check] = run_check(subject, check)
    if raise_on_failure and not report.ok:
        raise ConformanceError(report)
    return report
