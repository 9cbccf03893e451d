"""Where a training run's records go: ``metrics.jsonl`` always, and any registered tracker.

A *logger* (a tracker) receives everything the trainer records, as it is recorded:

- :meth:`Logger.log` gets **every** record that goes to ``metrics.jsonl``, whatever its kind:
  the losses and images per second of each logging interval, the scores of ``eval_every``, the
  ``health`` records of the diagnosis, and any record a later version or a plugin adds. A record
  is a flat ``dict`` with an integer ``"step"``, optionally a string ``"kind"``, and values that
  are numbers, strings, booleans or None. A logger must not assume it knows the keys or kinds in
  advance: numbers become curves, strings become text, whatever the record is called.
- :meth:`Logger.log_image` gets each sample grid the run writes (``samples/step-N.png``).
- :meth:`Logger.log_config` gets the run's ``config.json`` once per start (new or resumed).

Loggers are registered by plugins (``registrar.add_logger(name, factory, summary)`` in the
``ganzoo_register_loggers`` hook); ganzoo's own are ``json`` (``metrics.jsonl``, always on) and
``tensorboard``. Users pick the others with ``ganzoo train --log NAME`` (the ``loggers``
training option). Values reach the loggers as Python numbers the trainer already read back from
the device (every ``log_every`` steps): a logger adds no host synchronisation to the step loop.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, GanzooError

__all__ = [
    "JSON",
    "Logger",
    "LoggerWarning",
    "RunContext",
    "Tracker",
    "check_loggers",
    "flatten_record",
    "open_tracker",
    "parse_logger_names",
]

#: the logger that writes ``metrics.jsonl``; always on, first
JSON = "json"


class LoggerWarning(UserWarning):
    """A tracker failed during a run and was switched off (``metrics.jsonl`` has everything)."""


@dataclass(frozen=True)
class RunContext:
    """What a logger factory is told about the run it logs."""

    #: the run directory (``config.json``, ``metrics.jsonl``, ``samples/``, ...)
    run_dir: Path
    #: the checkpoint step a resumed run continues from; ``None`` for a new run. Records of
    #: steps after it were logged by the interrupted process and will be logged again: a logger
    #: that keeps history (TensorBoard) drops or supersedes them
    resume_step: int | None = None

    @property
    def name(self) -> str:
        """A name for the run: its folder's name (``dcgan-20261129-190000``)."""
        return self.run_dir.name

    @property
    def start_step(self) -> int:
        """The step the run starts from: 0, or the resumed checkpoint's step."""
        return self.resume_step or 0


class Logger:
    """Base class of a tracker; every method has a default that does nothing.

    A plugin subclasses it (or provides the same methods) and registers a factory,
    ``factory(context: RunContext) -> Logger``, usually the class itself. The factory may have
    a ``check()`` static method that raises :class:`ganzoo.GanzooError` with one line saying
    what to install when the tracker cannot work here; ``ganzoo train --log NAME`` calls it
    before anything is written.
    """

    def __init__(self, context: RunContext | None = None) -> None:
        #: the run this logger logs (None when built without one, in a test)
        self.context = context

    def log(self, record: Mapping[str, Any]) -> None:
        """One record, exactly as written to ``metrics.jsonl`` (``record["step"]`` is an int;
        ``record.get("kind")`` names its kind when it has one)."""

    def log_image(self, tag: str, image: Any, step: int, *, path: Path | None = None) -> None:
        """An image the run wrote: ``image`` is a ``numpy`` uint8 array, H×W (grey) or H×W×3;
        ``path`` is the PNG file on disk. ``tag`` is ``"samples"`` for the sample grids."""

    def log_config(self, config: Mapping[str, Any], step: int) -> None:
        """The run's ``config.json`` (architecture, data, model and training options), at the
        step the run (re)starts from."""

    def close(self) -> None:
        """The run ended (finished, interrupted or failed): flush and release."""


def flatten_record(record: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """A record's values under flat keys, ``step`` and ``kind`` left out: nested mappings
    (``{"per_class": {"3": 1.2}}``) become ``per_class/3``. For loggers that want flat tags."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            out[prefix] = value

    for key, value in record.items():
        if key not in ("step", "kind"):
            walk(str(key), value)
    return out


def parse_logger_names(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """``["tensorboard,wandb", "mlflow"]`` -> ``("tensorboard", "wandb", "mlflow")``: repeated
    options and comma lists, order kept, duplicates and ``json`` (always on) dropped."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values:
        for name in str(value).split(","):
            name = name.strip()
            if name and name != JSON and name not in names:
                names.append(name)
    return tuple(names)


def _factories(names: Sequence[str]) -> list[tuple[str, Any]]:
    from ..plugins import get_registry

    table = get_registry().loggers
    out = []
    for name in dict.fromkeys([JSON, *names]):
        if name not in table:
            raise ConfigError(f"--log: {table.unknown_message(name)}")
        out.append((name, table.get(name)))
    return out


def check_loggers(names: Sequence[str]) -> None:
    """Fail with one line, before anything is written, when a logger is unknown or cannot
    work here (its package is not installed): each factory's ``check()`` is called."""
    for name, factory in _factories(names):
        if not callable(factory):
            raise GanzooError(f"logger {name!r} is not callable: its plugin registered {factory!r}")
        check = getattr(factory, "check", None)
        if callable(check):
            check()


class Tracker:
    """The trainer's one door for records: ``metrics.jsonl`` and every chosen logger.

    ``write(record)`` sends the record to each logger in turn, ``json`` first. An error of the
    ``json`` logger (a full disk) is the run's error, as before; an error of any other logger
    is one warning, and that logger is switched off for the rest of the run, so a tracker that
    loses its server never stops training.
    """

    def __init__(self, loggers: Sequence[tuple[str, Logger]] = ()) -> None:
        self.loggers = list(loggers)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.loggers]

    def _each(self, method: str, *given: Any, **kwargs: Any) -> None:
        for name, logger in list(self.loggers):
            # each logger gets its own copy of a record or config: one that edits it in place
            # changes nothing for the next
            args = [dict(a) if isinstance(a, Mapping) else a for a in given]
            if name == JSON:
                getattr(logger, method)(*args, **kwargs)
                continue
            try:
                getattr(logger, method)(*args, **kwargs)
            except Exception as exc:  # a third party's tracker must not end the run
                self.loggers = [(n, lg) for n, lg in self.loggers if lg is not logger]
                warnings.warn(
                    f"logger {name!r} failed in {method} ({type(exc).__name__}: {exc}); it is "
                    "off for the rest of this run (metrics.jsonl still has every record)",
                    LoggerWarning,
                    stacklevel=3,
                )
                if method != "close":
                    with contextlib.suppress(Exception):  # it failed once: say it once
                        logger.close()

    def write(self, record: Mapping[str, Any]) -> None:
        """Record ``record`` (a dict with an int ``step``) everywhere."""
        self._each("log", record)

    def image(self, tag: str, path: Path, step: int) -> None:
        """Give the image just written to ``path`` to every logger but ``json`` (read once,
        only when a logger wants it)."""
        if not any(name != JSON for name, _ in self.loggers):
            return
        import numpy as np
        from PIL import Image

        try:
            with Image.open(path) as im:
                grey = im.mode in ("L", "1", "I", "I;16")
                pixels = np.asarray(im.convert("L" if grey else "RGB"))
        except OSError as exc:  # the PNG is the record; a tracker's copy is not worth a run
            warnings.warn(f"could not read {path} for the loggers ({exc})", LoggerWarning, 2)
            return
        self._each("log_image", tag, pixels, step, path=Path(path))

    def config(self, config: Mapping[str, Any], step: int) -> None:
        self._each("log_config", config, step)

    def close(self) -> None:
        self._each("close")
        self.loggers = []


def open_tracker(
    run_dir: str | Path,
    names: Sequence[str] = (),
    *,
    resume_step: int | None = None,
    enabled: bool = True,
) -> Tracker:
    """Open ``json`` and the loggers ``names`` for a run and give each the run's config.

    ``enabled=False`` (every rank but the first under torchrun) opens none: records are kept
    by one process only.
    """
    if not enabled:
        return Tracker()
    from ..rundir import RunDir

    context = RunContext(Path(run_dir), resume_step)
    opened: list[tuple[str, Logger]] = []
    try:
        for name, factory in _factories(list(names)):
            try:
                opened.append((name, factory(context)))
            except GanzooError:
                raise
            except Exception as exc:  # a tracker that cannot start: say so in one line
                raise GanzooError(
                    f"logger {name!r} could not start ({type(exc).__name__}: {exc}): fix its "
                    f"setup, or train without --log {name}"
                ) from exc
    except BaseException:
        for _, logger in opened:
            logger.close()
        raise
    tracker = Tracker(opened)
    config = RunDir(run_dir).read_config()
    if config is not None:
        tracker.config(config, context.start_step)
    return tracker
