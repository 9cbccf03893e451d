"""The run directory: the one module that knows its layout and reads or writes it.

A training run leaves::

    RUN/config.json                 what was trained, how ("format": "ganzoo-run")
    RUN/checkpoints/step-XXXXXX/    one model folder (+ training state) per checkpoint
    RUN/checkpoints/latest          a text file naming the newest checkpoint folder
    RUN/metrics.jsonl               one JSON object per logged step
    RUN/samples/step-XXXXXX.png     sample grids
    RUN/loss.png                    the loss plot
    RUN/events.out.tfevents.*       TensorBoard event files (``ganzoo train --log tensorboard``)
    RUN/.lock, RUN/.lock-owner      held by the one process training the run

Everything else asks :class:`RunDir`: the trainer, the checkpoint writer, ``ganzoo sample`` /
``export`` / ``push`` (through :mod:`ganzoo.hub.local`). Checkpoints are ordered by their step
*number* (``step-1000000`` is newer than ``step-999999``), ``latest`` may only name a checkpoint
folder of this run, a torn last line of ``metrics.jsonl`` is ignored and repaired, and the
leftovers of a killed checkpoint write (``.tmp-step-*``) are removed on the next start.
No torch import: listing and reading a run stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import GanzooError, WeightsError
from .jsonlines import MetricsFile, fsync_path, write_text_atomic

RUN_FORMAT = "ganzoo-run"
CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
METRICS = "metrics.jsonl"
SAMPLES = "samples"
LOSS_PLOT = "loss.png"
#: TensorBoard event files lie in the run folder itself, so ``tensorboard --logdir runs`` names
#: each run after its folder
EVENTS_GLOB = "events.out.tfevents.*"
LOCK = ".lock"
LOCK_OWNER = ".lock-owner"
#: a checkpoint being written (``.tmp-step-XXXXXX-PID``), one being replaced (``.old-...``) and
#: one being deleted by rotation (``.del-...``): renamed first, so no half-deleted step-N remains
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
DEL_PREFIX = ".del-"
_STEP = re.compile(r"^step-(\d+)$")
_LEFTOVER = re.compile(r"^\.(tmp|old|del)-(step-\d+)-\d+$")
#: the run's own files: what ``--overwrite`` may delete in a run without checkpoints
OWN_FILES = (CONFIG, METRICS, LOSS_PLOT, SAMPLES, CHECKPOINTS)


class RunInUseError(GanzooError):
    """Another process holds the run's lock (it is training this run right now)."""


def step_name(step: int) -> str:
    """``step-000010``: the name of a checkpoint folder and of a sample grid."""
    return f"step-{step:06d}"


def parse_step(name: str) -> int | None:
    """The step number of a ``step-N`` name, or None."""
    match = _STEP.match(name)
    return int(match.group(1)) if match else None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the operating system saying there is no space (or quota) left, as an
    OSError or wrapped by a library (safetensors reports "No space left on device (os error
    28)" in a SafetensorError)."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return any(s in text for s in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT)))


class RunDir:
    """A run directory on disk (it may not exist yet)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def __str__(self) -> str:
        return str(self.path)

    # -- names ----------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoints_path(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def loss_plot_path(self) -> Path:
        return self.path / LOSS_PLOT

    @property
    def tensorboard_path(self) -> Path:
        """The folder TensorBoard's event files are written to (the run folder)."""
        return self.path

    def event_files(self) -> list[Path]:
        return sorted(self.tensorboard_path.glob(EVENTS_GLOB))

    @property
    def metrics(self) -> MetricsFile:
        """``metrics.jsonl``: whole lines appended, a torn last line skipped and repaired."""
        return MetricsFile(self.path / METRICS)

    def sample_path(self, step: int) -> Path:
        return self.path / SAMPLES / f"{step_name(step)}.png"

    def samples(self) -> list[Path]:
        """Sample grids, oldest step first."""
        found = [(parse_step(p.stem), p) for p in (self.path / SAMPLES).glob("step-*.png")]
        return [p for s, p in sorted((s, p) for s, p in found if s is not None)]

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_path / step_name(step)

    # -- what the folder holds -------------------------------------------------------------------
    def read_config(self) -> dict[str, Any] | None:
        """``config.json`` as a dict, or None when it is missing or unreadable."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_config(self, data: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config_path, json.dumps(data, indent=2) + "\n")

    def is_run(self) -> bool:
        """A training run: its config.json says ``ganzoo-run``, or it has a checkpoints folder
        and no config.json of another kind."""
        data = self.read_config()
        if data is not None:
            return data.get("format") == RUN_FORMAT
        return self.checkpoints_path.is_dir() and not self.config_path.exists()

    def contents(self) -> list[str]:
        """Names of what the folder holds, the lock files left out."""
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.name not in (LOCK, LOCK_OWNER))

    # -- checkpoints -----------------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        """Complete checkpoint folders (``step-N`` holding a config.json), oldest step first.

        Links are left out: a checkpoint is a folder of this run, not a pointer elsewhere.
        """
        root = self.checkpoints_path
        if not root.is_dir():
            return []
        found = []
        for p in root.iterdir():
            step = parse_step(p.name)
            if step is not None and not p.is_symlink() and (p / CONFIG).is_file():
                found.append((step, p))
        return [p for _, p in sorted(found)]

    def checkpoint(self, step: int) -> Path:
        """The checkpoint at ``step``; an error listing the steps there are when it is missing."""
        folder = self.checkpoint_path(step)
        if folder.is_symlink() or not (folder / CONFIG).is_file():
            have = ", ".join(p.name for p in self.checkpoints()) or "none"
            raise WeightsError(f"{self.path} has no checkpoint at step {step}; it has: {have}")
        return folder

    def latest_name(self) -> str | None:
        """The checkpoint name ``checkpoints/latest`` holds (None without one); a pointer to
        anything but a checkpoint folder of this run is refused."""
        pointer = self.checkpoints_path / LATEST
        if not pointer.is_file():
            return None
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = "(unreadable)"
        if parse_step(name) is None or (self.checkpoints_path / name).is_symlink():
            shown = name if len(name) < 80 and name.isprintable() else repr(name[:80])
            raise WeightsError(
                f"{pointer} names {shown!r}, which is not a checkpoint folder of this run "
                "(step-XXXXXX inside checkpoints/): refusing to follow it; delete that file to "
                "use the newest checkpoint, or write a checkpoint's name into it"
            )
        return name

    def latest(self) -> Path:
        """The newest checkpoint: the one ``latest`` names, else the highest step (a crash
        between writing a checkpoint and updating ``latest`` leaves the pointer behind)."""
        name = self.latest_name()
        if name is not None and ((self.checkpoints_path / name) / CONFIG).is_file():
            return self.checkpoints_path / name
        found = self.checkpoints()
        if not found:
            raise WeightsError(
                f"{self.path} is a run without any checkpoint yet "
                f"(no {self.checkpoints_path / LATEST})"
            )
        return found[-1]

    def new_checkpoint_folder(self, step: int) -> Path:
        """An empty temporary folder to write the checkpoint of ``step`` into."""
        self.checkpoints_path.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoints_path / f"{TMP_PREFIX}{step_name(step)}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        return tmp

    def commit_checkpoint(self, tmp: Path, step: int) -> Path:
        """Rename a complete temporary folder into place and point ``latest`` at it.

        A checkpoint of the same step is replaced only once the new one is complete; a crash in
        between leaves ``.old-step-N-PID``, which :meth:`clean_leftovers` puts back. Every file
        is flushed to the disk before the rename, so a power loss cannot leave a checkpoint
        that ``latest`` names with empty or partial files in it.
        """
        for item in sorted(tmp.rglob("*")):
            fsync_path(item)
        fsync_path(tmp)
        final = self.checkpoint_path(step)
        if final.exists():
            old = self.checkpoints_path / f"{OLD_PREFIX}{step_name(step)}-{os.getpid()}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
        write_text_atomic(self.checkpoints_path / LATEST, final.name + "\n")
        return final

    def rotate(self, keep: int, newest: int) -> list[Path]:
        """Delete all but the ``keep`` newest checkpoints up to step ``newest``, by step number.

        Checkpoints past ``newest`` (left by a run that resumed from an older, intact one) are
        not counted and not touched: the run will overwrite them when it gets there.
        """
        if keep <= 0:
            return []
        upto = [p for p in self.checkpoints() if (parse_step(p.name) or 0) <= newest]
        doomed = upto[:-keep]
        for folder in doomed:
            trash = folder.with_name(f"{DEL_PREFIX}{folder.name}-{os.getpid()}")
            folder.rename(trash)  # atomic: a kill during the deletion leaves no partial step-N
            shutil.rmtree(trash, ignore_errors=True)
        return doomed

    def set_aside_after(self, step: int, label: str) -> list[Path]:
        """Rename the checkpoints newer than ``step`` to ``LABEL-step-XXXXXX`` (kept, no longer
        resumable) and point ``latest`` at ``step``: what a rollback past them does."""
        moved = []
        for folder in self.checkpoints():
            if (parse_step(folder.name) or 0) > step:
                target = folder.with_name(f"{label}-{folder.name}")
                n = 1
                while target.exists():
                    n += 1
                    target = folder.with_name(f"{label}{n}-{folder.name}")
                folder.rename(target)
                moved.append(target)
        write_text_atomic(self.checkpoints_path / LATEST, step_name(step) + "\n")
        return moved

    def clean_leftovers(self) -> list[str]:
        """Remove what a killed or failed checkpoint write left behind; say what was done.

        ``.tmp-step-*`` folders are incomplete and ``.del-step-*`` ones were being deleted: both
        go; a ``.old-step-*`` folder is the checkpoint that was being replaced: it is put back
        when the new one never arrived, else deleted.
        Call it while holding the lock, so another process's write in progress is never touched.
        """
        root = self.checkpoints_path
        if not root.is_dir():
            return []
        notes = []
        for p in sorted(root.iterdir()):
            match = _LEFTOVER.match(p.name)
            kind, name = match.groups() if match else ("", "")
            if p.name.startswith(f".{LATEST}.tmp-"):
                p.unlink(missing_ok=True)
            elif kind == "old" and not (root / name).exists():
                p.rename(root / name)
                notes.append(f"put back {name}, which an interrupted write was replacing")
            elif match:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                if kind == "tmp":  # finishing a deletion (del) or replacement (old) is not news
                    notes.append(f"removed {p.name}, left by an interrupted checkpoint write")
        return notes

    def clear_for_restart(self) -> None:
        """Delete the run's own files (config, log, samples, plot) for ``--overwrite``; refuse
        when a checkpoint exists, so nothing trained is ever deleted."""
        if self.checkpoints():
            raise GanzooError(
                f"{self.path} has checkpoints (newest {self.latest().name}): --overwrite only "
                f"starts over a run without any; continue it with --resume {self.path}"
            )
        for name in OWN_FILES:
            target = self.path / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        for events in self.event_files():
            events.unlink(missing_ok=True)

    def remove_if_unused(self) -> None:
        """Delete the folder when it holds nothing but (released) lock files."""
        if self.path.is_dir() and not self.contents():
            for name in (LOCK_OWNER, LOCK):
                (self.path / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.path.rmdir()

    # -- the lock --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[RunDir]:
        """Hold the run exclusively for the life of the block (creating the folder).

        A second process gets :class:`RunInUseError` naming the first one's PID at once, rather
        than both writing checkpoints and log lines over each other. The operating system drops
        the lock when its process dies, so a killed trainer never leaves the run locked.
        """
        from filelock import FileLock, Timeout

        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunInUseError(self._in_use_message()) from None
        owner = self.path / LOCK_OWNER
        try:
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
            with contextlib.suppress(OSError):  # a full disk must not hide the real error
                write_text_atomic(owner, json.dumps(info) + "\n")
            yield self
        finally:
            owner.unlink(missing_ok=True)
            lock.release()

    def check_free(self) -> None:
        """Raise :class:`RunInUseError` when another process holds the run's lock (a read-only
        look: nothing is created). Not for use while this process holds the lock itself."""
        from filelock import FileLock, Timeout

        if not (self.path / LOCK).is_file():
            return
        lock = FileLock(str(self.path / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunInUseError(self._in_use_message()) from None
        lock.release()

    def _in_use_message(self) -> str:
        try:
            info = json.loads((self.path / LOCK_OWNER).read_text(encoding="utf-8"))
            pid, host = int(info["pid"]), str(info.get("host", ""))
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
            who = f"process {pid}" + (f" on {host}" if host else "") + f" (since {since})"
        except (OSError, ValueError, KeyError, TypeError):
            who = "another process"
        return (
            f"{self.path} is in use by {who}, which is training it: two trainers on one run "
            "would overwrite each other's checkpoints; wait for it to finish or stop it, or "
            "choose another --out"
        )
