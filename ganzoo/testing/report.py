"""What the conformance kit checks, and how it reports: results, the report, the error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: check name -> (what it verifies, whether only GANs get it). Run in this order.
CHECKS: dict[str, tuple[str, bool]] = {
    "spec": ("the ModelSpec, its config, presets and defaults are coherent", False),
    "registration": ("a fresh process registers the model without importing torch", False),
    "build": ("the builder returns the declared kind of model, reproducibly", False),
    "forward": ("G and D run and give shapes, ranges and finite values the trainer expects", True),
    "backward": ("gradients reach both networks and are finite", True),
    "sample": (
        "the same seed gives the same images, another seed other images; a conditional "
        "model's follow its labels, refuse bad ones and keep their classes through save/load",
        True,
    ),
    "save_load": (
        "save_pretrained then from_pretrained gives identical weights and outputs",
        False,
    ),
    "train": ("three steps through the shared trainer update both networks", True),
    "capture": (
        "on CUDA the training step replays from a CUDA graph, or the model declares "
        "capture_blocker (skipped without CUDA)",
        True,
    ),
    "info": ("`ganzoo info NAME` and `ganzoo list` render the model", False),
}

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


def checks_for(kind: str) -> list[str]:
    """The checks that apply to a model of ``kind`` (``"gan"`` gets all of them)."""
    return [name for name, (_, gan_only) in CHECKS.items() if kind == "gan" or not gan_only]


class CheckFailed(Exception):
    """Raised inside a check: the model breaks the property; the message says how to fix it."""


class CheckSkipped(Exception):
    """Raised inside a check that cannot run here; the message says why."""


@dataclass
class CheckResult:
    """The outcome of one check."""

    check: str
    status: str  #: "passed", "failed" or "skipped"
    message: str = ""  #: why it failed or was skipped
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != FAILED


@dataclass
class ConformanceReport:
    """Every check's outcome for one model, with the config it was built from."""

    model: str
    plugin: str = ""
    kind: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    results: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    @property
    def failures(self) -> dict[str, str]:
        """Failed check name -> message."""
        return {n: r.message for n, r in self.results.items() if r.status == FAILED}

    @property
    def passed(self) -> list[str]:
        return [n for n, r in self.results.items() if r.status == PASSED]

    @property
    def skipped(self) -> dict[str, str]:
        return {n: r.message for n, r in self.results.items() if r.status == SKIPPED}

    def label(self) -> str:
        return f"model {self.model!r}" + (f" (plugin {self.plugin!r})" if self.plugin else "")

    def summary(self) -> str:
        """A few lines: one per check, failures with their messages."""
        lines = [f"conformance of {self.label()}:"]
        for name, r in self.results.items():
            line = f"  {r.status.upper():7} {name}"
            if r.message:
                line += f": {r.message}"
            lines.append(line)
        return "\n".join(lines)


class ConformanceError(AssertionError):
    """A model broke at least one property ganzoo relies on.

    ``str(error)`` names every failed check with what to fix; ``error.report`` holds all the
    results and ``error.failures`` maps each failed check to its message.
    """

    def __init__(self, report: ConformanceReport) -> None:
        self.report = report
        failed = report.failures
        lines = [
            f"{report.label()} failed {len(failed)} conformance check"
            f"{'s' if len(failed) != 1 else ''}: {', '.join(failed)}"
        ]
        lines += [f"  {name}: {message}" for name, message in failed.items()]
        super().__init__("\n".join(lines))

    @property
    def failures(self) -> dict[str, str]:
        return self.report.failures
