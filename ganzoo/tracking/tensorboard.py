"""The ``tensorboard`` logger: event files in the run directory, for ``tensorboard --logdir runs``.

Numbers of every record become scalars (``d_loss``, ``eval_fd``, ``health/...``: a record with a
``kind`` gets it as the tag's prefix), strings become text (written when they change), each
sample grid an image, and the run's config a text entry at the step the run (re)starts from.
The event files lie next to ``config.json``, so TensorBoard names each run after its folder.

On resume the writer starts with ``purge_step`` = the checkpoint's step + 1: TensorBoard's reader
then discards what the interrupted process logged past the checkpoint, and the resumed run's
records take their place: the curves continue without duplicated steps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import GanzooError
from ..rundir import RunDir
from . import Logger, RunContext, flatten_record

INSTALL = "pip install tensorboard (or pip install 'ganzoo[tensorboard]')"


class TensorBoardLogger(Logger):
    """Writes the run's records with :class:`torch.utils.tensorboard.SummaryWriter`."""

    #: seconds between flushes of the event file: a live ``tensorboard`` lags at most this much
    flush_secs = 10

    @staticmethod
    def check() -> None:
        """One line naming the install command when the ``tensorboard`` package is missing."""
        try:
            import tensorboard  # noqa: F401 - torch.utils.tensorboard needs it
        except ImportError:
            raise GanzooError(
                f"--log tensorboard needs the tensorboard package: {INSTALL}"
            ) from None

    def __init__(self, context: RunContext) -> None:
        super().__init__(context)
        self.check()
        from torch.utils.tensorboard import SummaryWriter

        purge = None if context.resume_step is None else context.resume_step + 1
        self.writer = SummaryWriter(
            log_dir=str(RunDir(context.run_dir).tensorboard_path),
            purge_step=purge,
            flush_secs=self.flush_secs,
        )
        self._texts: dict[str, str] = {}

    def log(self, record: Mapping[str, Any]) -> None:
        step = record.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            return
        kind = record.get("kind")
        prefix = f"{kind}/" if isinstance(kind, str) and kind else ""
        for key, value in flatten_record(record).items():
            tag = prefix + key
            if isinstance(value, bool):
                self.writer.add_scalar(tag, float(value), step)
            elif isinstance(value, int | float):
                if math.isfinite(value):
                    self.writer.add_scalar(tag, float(value), step)
            elif isinstance(value, str):
                if self._texts.get(tag) != value:
                    self._texts[tag] = value
                    self.writer.add_text(tag, value, step)
            elif isinstance(value, list | tuple) and value:
                self.writer.add_text(tag, json.dumps(value), step)

    def log_image(self, tag: str, image: Any, step: int, *, path: Path | None = None) -> None:
        if path is not None and path.suffix.lower() == ".png":
            # the PNG the run wrote, as it is: no decode and re-encode (add_image spends ~60 ms
            # on a 64-image grid re-compressing it), and TensorBoard shows exactly that file
            from tensorboard.compat.proto.summary_pb2 import Summary

            height, width = image.shape[:2]
            channels = 1 if image.ndim == 2 else image.shape[2]
            encoded = Summary.Image(
                height=height,
                width=width,
                colorspace=channels,
                encoded_image_string=path.read_bytes(),
            )
            summary = Summary(value=[Summary.Value(tag=tag, image=encoded)])
            self.writer._get_file_writer().add_summary(summary, step)
            return
        formats = "HW" if image.ndim == 2 else "HWC"
        self.writer.add_image(tag, image, step, dataformats=formats)

    def log_config(self, config: Mapping[str, Any], step: int) -> None:
        text = json.dumps(config, indent=2)
        # Markdown: an indented block shows the JSON as it is
        self.writer.add_text("config", "\n".join("    " + ln for ln in text.splitlines()), step)

    def close(self) -> None:
        self.writer.close()
