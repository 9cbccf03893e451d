"""``ganzoo doctor RUN``: a run's health over time, what went wrong, when, and what to try.

The report replays the detectors of :mod:`.detectors` over the run's ``metrics.jsonl`` (so it
works on a run still training, on one that stopped, and on runs logged before health
statistics existed, where only the loss-based detectors can speak) and adds the events only the
trainer saw: a divergence and each rollback. A PNG draws the curves with every diagnosis
shaded over the steps it lasted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GanzooError
from ..rundir import RunDir
from .detectors import DIAGNOSES, HISTORY, diagnose, is_interval_record
from .remedies import remedies

#: the PNG ``ganzoo doctor`` writes into the run folder by default
PLOT_NAME = "health.png"


@dataclass
class Episode:
    """One diagnosis over the steps it held (``end`` None: still holding at the last record)."""

    kind: str
    start: int  #: the step from which the condition held
    end: int | None
    message: str
    diagnosed: int | None = None  #: the step at which the detector could say so
    title: str = ""
    severity: str = ""
    explanation: str = ""
    remedies: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What ``ganzoo doctor`` says about a run (``--json`` prints it as it is)."""

    run: str
    arch: str | None
    last_step: int | None
    steps_planned: int | None
    episodes: list[Episode]
    events: list[dict[str, Any]]  #: divergences and rollbacks, as the trainer recorded them
    plot: str | None = None

    @property
    def healthy(self) -> bool:
        return not self.episodes and not self.events

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def open_run(path: str | Path) -> RunDir:
    """The run at ``path``; a one-line error when it is not a training run with a log."""
    from ..hub.local import no_such_source

    run = RunDir(path)
    if not run.path.is_dir():
        raise no_such_source(str(path))
    if not run.metrics.path.is_file():
        what = "a ganzoo run" if run.is_run() else "not a ganzoo run"
        raise GanzooError(
            f"{run} is {what} without {run.metrics.path.name}: there is nothing to diagnose yet "
            "(a run logs every log_every steps)"
        )
    return run


def replay(intervals: list[dict[str, Any]], loss: str | None = None) -> list[Episode]:
    """The episodes the live monitor would have reported over these interval records."""
    active: dict[str, Episode] = {}
    done: list[Episode] = []
    for i, record in enumerate(intervals):
        found = diagnose(intervals[max(0, i + 1 - HISTORY) : i + 1], loss)
        step = int(record["step"])
        for kind, finding in found.items():
            if kind not in active:
                start = finding.since if finding.since is not None else step
                active[kind] = Episode(kind, start, None, finding.message, diagnosed=step)
        for kind in [k for k in active if k not in found]:
            episode = active.pop(kind)
            episode.end = step
            done.append(episode)
    done.extend(active.values())
    return sorted(done, key=lambda e: (e.start, e.kind))


def examine(path: str | Path, plot: str | Path | None = PLOT_NAME) -> Report:
    """Build the report of the run at ``path``; with ``plot`` (a path, relative ones inside
    the run folder) draw the PNG too."""
    run = open_run(path)
    records = run.metrics.read()
    config = run.read_config() or {}
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    intervals = [r for r in records if is_interval_record(r) and isinstance(r.get("step"), int)]
    episodes = replay(intervals, train.get("loss"))
    events = [
        r
        for r in records
        if r.get("kind") == "health"
        and (r.get("event") == "rollback" or r.get("diagnosis") == "nonfinite")
        and r.get("event") != "end"
    ]
    for e in episodes:
        d = DIAGNOSES[e.kind]
        e.title, e.severity, e.explanation = d.title, d.severity, d.explanation
        e.remedies = remedies(e.kind, train)
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    report = Report(
        run=str(run),
        arch=config.get("arch"),
        last_step=max(steps) if steps else None,
        steps_planned=train.get("steps"),
        episodes=episodes,
        events=events,
    )
    if plot is not None and intervals:
        target = Path(plot)
        target = target if target.is_absolute() else run.path / target
        from .plot import plot_health

        report.plot = str(plot_health(intervals, episodes, events, target))
    return report


def format_report(report: Report, train: dict[str, Any] | None = None) -> str:
    """The report as text, for people."""
    lines = [
        f"run {report.run}"
        + (f" ({report.arch})" if report.arch else "")
        + f": logged up to step {report.last_step}"
        + (f" of {report.steps_planned}" if report.steps_planned else "")
    ]
    if report.healthy:
        lines.append("healthy: no failure mode was diagnosed")
    for ev in report.events:
        word = "rollback" if ev.get("event") == "rollback" else "divergence"
        lines.append(f"step {ev['step']}: {word}: {ev.get('message', '')}")
        if word == "divergence":
            for tip in remedies("nonfinite", train):
                lines.append(f"    try: {tip}")
    for e in report.episodes:
        span = f"steps {e.start}-{e.end}" if e.end is not None else f"from step {e.start} on"
        if e.diagnosed is not None and e.diagnosed != e.start:
            span += f" (diagnosed at {e.diagnosed})"
        lines.append(f"{span}: {e.title} ({e.severity}): {e.message}")
        lines.append(f"    why: {e.explanation}")
        for tip in e.remedies:
            lines.append(f"    try: {tip}")
    if report.plot:
        lines.append(f"plot: {report.plot}")
    return "\n".join(lines)
