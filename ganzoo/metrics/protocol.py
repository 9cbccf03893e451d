"""The evaluation protocol: which real images play which part, and how many samples are drawn.

Scores such as the Fréchet distance depend on the sample sizes and on the feature extractor, so
ganzoo fixes them and every report states them. A dataset is split once, seeded, into a
**reference** set (two thirds) and a **held-out** set (one third; for digits 1,198 and 599 of the
1,797 images). Generated samples are compared with the reference set; the held-out images,
compared with the same reference set at the same sample count, give the **floor**: what a
generator drawing new images from the data's own distribution would score. The ``digits``
classifier trains on the reference part only, so the held-out images are as new to it as
generated ones, and its held-out accuracy is measured on exactly the images that set the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: share of a dataset held out from the reference set (the floor's stand-in for a generator)
HELD_OUT = 1 / 3
#: seed of the reference / held-out split
SPLIT_SEED = 0


def split(data: Any) -> tuple[Any, Any]:
    """``(reference, held_out)`` parts of an :class:`ganzoo.data.ImageSet`, always the same."""
    return data.split(HELD_OUT, seed=SPLIT_SEED)


@dataclass(frozen=True)
class Protocol:
    """Settings that make two evaluations comparable; each appears in the report."""

    features: str = "digits"  #: registered extractor name (``digits``, ``inception``, ``timm:X``)
    n: int | None = None  #: generated samples; None = as many as held-out images (the floor's n)
    k: int = 3  #: neighbours for the precision/recall manifolds (Kynkäänniemi et al. use 3)
    kid_subsets: int = 100  #: random subsets KID is averaged over
    kid_subset_size: int = 1000  #: images per KID subset, capped at the smaller set
    sample_seed: int = 0  #: seed of the generated samples' latents
    min_class_share: float = 0.1  #: a class is covered at this share of its expected count
    batch_size: int = 256  #: images per forward pass of generator and extractor

    def to_json(self) -> dict[str, Any]:
        return {
            "held_out_fraction": round(HELD_OUT, 6),
            "split_seed": SPLIT_SEED,
            "k": self.k,
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": self.kid_subset_size,
            "sample_seed": self.sample_seed,
            "min_class_share": self.min_class_share,
        }
