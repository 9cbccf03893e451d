"""The ``json`` logger: the run's ``metrics.jsonl``, one JSON object per record (always on)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ..rundir import RunDir
from . import Logger, RunContext


class JsonLogger(Logger):
    """Appends each record to ``metrics.jsonl`` as one whole line.

    On resume the records past the checkpoint's step (the interrupted process logged them; the
    resumed one logs them again) and any line a crash or a full disk left torn are dropped
    first, with a warning for the latter. A failed write is the run's error: this log is the
    record everything else (the loss plot, ``ganzoo gallery``, ``ganzoo doctor``) is drawn from.
    """

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.file = RunDir(context.run_dir).metrics
        if context.resume_step is not None:
            torn = self.file.repair(context.resume_step)
            if torn:
                warnings.warn(
                    f"dropped {torn} torn or unreadable line(s) from {self.file.path} (left by a "
                    "crash or a full disk)",
                    stacklevel=4,
                )

    def log(self, record: Mapping[str, Any]) -> None:
        self.file.append(dict(record))
