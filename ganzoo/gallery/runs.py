"""What the gallery shows of a run, read from its directory through :class:`ganzoo.rundir.RunDir`.

Nothing here imports torch: a gallery of a hundred runs is built from their files alone
(``config.json``, ``metrics.jsonl``, ``samples/``, ``loss.png``, any ``*.gif``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GanzooError
from ..rundir import RunDir, parse_step

#: the score the index sorts by and shows: the lowest Fréchet distance an ``eval_every``
#: record holds (``ganzoo train --eval-every N``)
FD_KEY = "eval_fd"


class GalleryError(GanzooError):
    """A gallery cannot be built from these inputs (no runs, not a run folder, ...)."""


@dataclass
class RunView:
    """One run as the gallery shows it."""

    path: Path
    slug: str
    config: dict[str, Any]
    records: list[dict[str, Any]]
    samples: list[tuple[int, Path]]
    gifs: list[Path] = field(default_factory=list)
    loss_plot: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def arch(self) -> str:
        return str(self.config.get("arch", "?"))

    @property
    def data(self) -> str:
        return str(self.config.get("data", "?"))

    @property
    def target_steps(self) -> int | None:
        steps = self.config.get("train", {}).get("steps")
        return steps if isinstance(steps, int) else None

    @property
    def steps(self) -> int:
        """The last step the run reached: its newest log record, sample or checkpoint."""
        found = [r["step"] for r in self.records if isinstance(r.get("step"), int)]
        found += [s for s, _ in self.samples]
        run = RunDir(self.path)
        found += [parse_step(p.name) or 0 for p in run.checkpoints()]
        return max(found, default=0)

    @property
    def best_fd(self) -> tuple[float, int] | None:
        """(lowest ``eval_fd``, its step), or None when the run was never evaluated."""
        scored = [
            (float(r[FD_KEY]), int(r["step"]))
            for r in self.records
            if isinstance(r.get(FD_KEY), int | float)
            and math.isfinite(r[FD_KEY])
            and isinstance(r.get("step"), int)
        ]
        return min(scored) if scored else None

    def by_kind(self) -> dict[str, list[dict[str, Any]]]:
        """Records that name a ``kind`` (``health``, ...), by kind, in file order."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.records:
            kind = r.get("kind")
            if isinstance(kind, str) and kind:
                out.setdefault(kind, []).append(r)
        return out

    def series(self) -> dict[str, list[tuple[int, float]]]:
        """Every numeric value of the records without a ``kind`` (losses, img/s, eval scores),
        as (step, value) points by key."""
        out: dict[str, list[tuple[int, float]]] = {}
        for r in self.records:
            step = r.get("step")
            if r.get("kind") or not isinstance(step, int):
                continue
            for key, value in r.items():
                if key == "step" or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if math.isfinite(value):
                    out.setdefault(key, []).append((step, float(value)))
        return out


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and RunDir(path).is_run() and RunDir(path).read_config() is not None


def find_runs(inputs: list[str | Path], default: str | Path = "runs") -> list[Path]:
    """The run folders named by ``inputs``: a run folder, or a folder of runs (``runs/``),
    each expanded to the runs inside it, by name. No inputs means ``default`` (``runs``)."""
    given = [Path(p).expanduser() for p in inputs] or [Path(default)]
    found: list[Path] = []
    for path in given:
        if not path.exists():
            if not inputs:
                raise GalleryError(
                    f"no runs to show: there is no {path}/ folder here; name run folders "
                    "(ganzoo gallery runs/dcgan-...) or a folder of runs"
                )
            raise GalleryError(f"{path} does not exist: name a run folder or a folder of runs")
        if is_run_folder(path):
            found.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if is_run_folder(p)) if path.is_dir() else []
        if not inner:
            raise GalleryError(
                f"{path} is not a ganzoo run (no run config.json) and holds no runs: name run "
                "folders written by ganzoo train, or a folder of them"
            )
        found.extend(inner)
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def slugify(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique version of ``name`` (runs from two folders may share one)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "run"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def read_run(path: Path, slug: str) -> RunView:
    run = RunDir(path)
    config = run.read_config() or {}
    samples = [(parse_step(p.stem) or 0, p) for p in run.samples()]
    gifs = sorted({*path.glob("*.gif"), *(path / "samples").glob("*.gif")})
    plot = run.loss_plot_path if run.loss_plot_path.is_file() else None
    return RunView(path, slug, config, run.metrics.read(), samples, gifs, plot)


def read_runs(inputs: list[str | Path]) -> list[RunView]:
    taken: set[str] = set()
    return [read_run(p, slugify(p.name, taken)) for p in find_runs(inputs)]


def flat_config(config: dict[str, Any]) -> dict[str, str]:
    """``config.json`` as ``section.key -> value text`` (model.*, train.*, then the rest), for
    the config table and the comparison of two runs."""
    out: dict[str, str] = {}
    for key in ("arch", "data", "ganzoo_version"):
        if key in config:
            out[key] = _text(config[key])
    for section in ("model", "train"):
        for key, value in sorted((config.get(section) or {}).items()):
            out[f"{section}.{key}"] = _text(value)
    return out


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)
