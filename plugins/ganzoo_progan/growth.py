"""The growth schedule: which resolution and fade-in α a training step runs at.

The paper (section 3 and appendix A.1) starts at 4×4 and alternates two phases per higher
resolution, each of 800k real images: a *fade-in*, where the new block's output is mixed with
the upsampled output of the block below with a weight α rising linearly from 0 to 1, and a
*stabilisation*, the new block alone. The last resolution's stabilisation lasts until the end.

Phases are counted in images, steps in batches: a phase at batch size ``b`` lasts
``ceil(phase_images / b)`` steps, and α after ``i`` steps of a fade-in is ``i·b / phase_images``.
Everything is a pure function of the step, so a run resumed at any step is in the same state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

#: the paper's images per phase, and the CelebA-HQ set they were counted on
PAPER_PHASE_IMAGES = 800_000
PAPER_DATASET_SIZE = 30_000


@dataclass(frozen=True)
class Growth:
    """The state of one training step."""

    level: int  #: the highest active block: 0 is 4×4, k is 4·2^k
    alpha: float  #: weight of that block's output (below 1 only during its fade-in)
    phase: int  #: 0: 4×4; 2k-1: fade-in of level k; 2k: its stabilisation
    batch_size: int  #: images per step in this phase

    @property
    def resolution(self) -> int:
        return 4 * 2**self.level

    @property
    def name(self) -> str:
        """``"16px fade-in"`` or ``"16px"`` (stabilising)."""
        return f"{self.resolution}px fade-in" if self.phase % 2 else f"{self.resolution}px"


def levels_for(image_size: int) -> int:
    """Number of growth levels above 4×4 for ``image_size`` (3 for 32 px)."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two of at least 8, got {image_size}")
    return int(math.log2(image_size)) - 2


def scaled_phase_images(phase_images: int, dataset_size: int | None) -> int:
    """``phase_images``, or for 0 the paper's 800k images scaled to the dataset (as many epochs
    a phase as the paper's 800k of 30k images: 26.7); 800k for a stream of unknown size."""
    if phase_images > 0:
        return phase_images
    if dataset_size is None:
        return PAPER_PHASE_IMAGES
    return max(1, round(PAPER_PHASE_IMAGES * dataset_size / PAPER_DATASET_SIZE))


def batch_for(resolution: int, batch_sizes: Mapping[str, int], default: int) -> int:
    return int(batch_sizes.get(str(resolution), default))


def growth_at(
    step: int,
    levels: int,
    phase_images: int,
    batch_sizes: Mapping[str, int],
    default_batch: int,
) -> Growth:
    """The state of training step ``step`` (0-based) of a model with ``levels`` levels above
    4×4, ``phase_images`` images a phase (already scaled) and batch sizes by resolution."""
    if step < 0:
        raise ValueError(f"step must not be negative, got {step}")
    start = 0
    for phase in range(2 * levels + 1):
        level = (phase + 1) // 2
        batch = batch_for(4 * 2**level, batch_sizes, default_batch)
        length = math.ceil(phase_images / batch)
        if phase == 2 * levels or step < start + length:
            alpha = 1.0
            if phase % 2:  # a fade-in
                alpha = min(1.0, (step - start) * batch / phase_images)
            return Growth(level, alpha, phase, batch)
        start += length
    raise AssertionError("unreachable")  # pragma: no cover


def phase_starts(
    levels: int, phase_images: int, batch_sizes: Mapping[str, int], default_batch: int
) -> list[tuple[int, str]]:
    """``(first step, name)`` of every phase, for ``ganzoo info``-style summaries and tests."""
    out, start = [], 0
    for phase in range(2 * levels + 1):
        level = (phase + 1) // 2
        batch = batch_for(4 * 2**level, batch_sizes, default_batch)
        res = 4 * 2**level
        out.append((start, f"{res}px fade-in" if phase % 2 else f"{res}px"))
        start += math.ceil(phase_images / batch)
    return out
