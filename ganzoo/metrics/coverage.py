"""Mode coverage: which classes a classifier finds among generated images, and how often.

A generator that collapses onto a few modes draws a few digits over and over; its samples can
still look sharp (high precision), so the class histogram shows what the other metrics hide.
``classes_covered`` counts the classes that receive at least ``min_share`` of the samples their
frequency in the data predicts (10% by default: with 599 samples and ten even classes, at least
6 of a digit), so a handful of misclassified blobs does not count as a mode. ``class_kl`` is
``KL(p_generated ‖ p_data)`` in nats between the two class histograms (0 when the generator draws
the classes as often as the data holds them; dropping one of ten even classes and spreading its
share over the others gives log(10/9) ≈ 0.105).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def class_histogram(classes: Tensor, num_classes: int) -> Tensor:
    """Share of each class (float64, sums to 1) among integer class labels."""
    counts = torch.bincount(classes.flatten().long().cpu(), minlength=num_classes)
    if counts.numel() > num_classes:
        raise ValueError(f"a label is >= num_classes = {num_classes}")
    return counts.double() / max(int(counts.sum()), 1)


def kl_divergence(p: Tensor, q: Tensor) -> float:
    """``KL(p ‖ q) = Σ p log(p / q)`` in nats; terms with p = 0 contribute 0; inf if q = 0 < p."""
    p, q = p.double(), q.double()
    mask = p > 0
    if bool((q[mask] <= 0).any()):
        return math.inf
    return float((p[mask] * (p[mask] / q[mask]).log()).sum())


def mode_coverage(
    predicted: Tensor, data_labels: Tensor, num_classes: int, min_share: float = 0.1
) -> dict[str, float | int | list[float]]:
    """Coverage of the data's classes by ``predicted`` (the classes of generated samples).

    Returns ``classes_covered``, ``num_classes`` (classes present in the data), ``class_kl`` and
    the generated ``histogram``.
    """
    p_gen = class_histogram(predicted, num_classes)
    p_data = class_histogram(data_labels, num_classes)
    present = p_data > 0
    covered = (p_gen > 0) & (p_gen >= min_share * p_data) & present
    return {
        "classes_covered": int(covered.sum()),
        "num_classes": int(present.sum()),
        "class_kl": kl_divergence(p_gen, p_data),
        "histogram": [round(float(v), 6) for v in p_gen],
    }
