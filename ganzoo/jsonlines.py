"""``metrics.jsonl``-style logs: one JSON object per line, appended, read despite a torn end.

A crash or a full disk can cut the last line of an appended log short. :class:`MetricsFile`
appends each record with whole-line writes (cutting the file back if a write fails), skips any
line that is not a JSON object when reading, and :meth:`MetricsFile.repair` rewrites the file
without such lines when a run resumes. :func:`write_text_atomic` replaces a small file so that
readers see the old or the new version, never half of one. Where these files live in a run is
:mod:`ganzoo.rundir`'s business.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk.

    A rename is only as durable as what it renames: after a power loss, a file renamed before
    its data reached the disk can come back empty under its final name. Folders are flushed
    where the platform allows opening them (not on Windows)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except (IsADirectoryError, PermissionError):  # a folder on Windows: nothing to flush
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half
    (also after a power loss: the new text is on the disk before the rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


class MetricsFile:
    """A JSON-lines log whose records carry an integer ``step``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    @staticmethod
    def _parse(line: str) -> dict[str, Any] | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    def read(self) -> list[dict[str, Any]]:
        """Every intact record, in file order."""
        return [r for r in map(self._parse, self._lines()) if r is not None]

    def append(self, record: dict[str, Any]) -> None:
        """Add one line; if the write fails (a full disk) the file is cut back to where it was,
        so no torn line is left behind, and the error is raised."""
        data = (json.dumps(record) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def repair(self, through_step: int | None = None) -> int:
        """Keep the intact records (those up to ``through_step`` when given) and drop the rest:
        the steps a resumed run will log again, and any torn or garbled line. Returns how many
        torn or garbled lines were dropped (the file is rewritten only when something changes).
        """
        lines = self._lines()
        kept, torn, later = [], 0, 0
        for line in lines:
            if not line.strip():
                continue
            record = self._parse(line)
            step = record.get("step") if record else None
            if record is None or not isinstance(step, int):
                torn += 1
            elif through_step is not None and step > through_step:
                later += 1
            else:
                kept.append(line)
        if torn or later or len(kept) != len(lines):
            write_text_atomic(self.path, "".join(ln + "\n" for ln in kept))
        return torn
