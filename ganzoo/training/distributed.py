"""Where the trainer runs: one process, or one rank of a torchrun job.

:class:`World` hides the difference from the loop: the local share of a global batch, which
process writes files, averaging logged values over ranks, and wrapping the networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError


@dataclass
class World:
    """The processes of a training job (one, unless launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    distributed: bool = False

    @classmethod
    def single(cls) -> World:
        return cls()

    @property
    def is_main(self) -> bool:
        """Only this process writes checkpoints, samples, metrics and the progress bar."""
        return self.rank == 0

    def local_batch(self, global_batch: int) -> int:
        """This rank's share of ``--batch-size``, which is global across ranks."""
        if global_batch % self.world_size:
            raise ConfigError(
                f"batch_size {global_batch} is not divisible by the {self.world_size} processes"
            )
        return global_batch // self.world_size

    def wrap(self, model: Any, options: Any) -> tuple[nn.Module, nn.Module]:
        """The modules the step calls for G and D (DDP wrappers when distributed)."""
        return model.generator, model.discriminator

    def reduce_mean(self, values: dict[str, float]) -> dict[str, float]:
        return values

    def barrier(self) -> None:
        return None
