"""Evaluation metrics for generated images, in plain PyTorch on the model's device.

- :func:`frechet_distance` (FID with Inception features), :func:`kernel_inception_distance`,
  :func:`precision_recall` (Kynkäänniemi et al. 2019) and :func:`mode_coverage`;
- pluggable feature extractors (:func:`get_extractor`; ``digits``, ``inception``, ``timm:NAME``
  are built in, plugins add more through ``ganzoo_register_features``);
- :class:`Evaluator`, which fixes the protocol (reference / held-out split, sample counts) and
  reports the real-vs-real floor next to every score.

Importing this package imports torch; ``import ganzoo`` does not import it.
"""

from __future__ import annotations

from .coverage import class_histogram, kl_divergence, mode_coverage
from .evaluate import Evaluator, training_evaluator
from .features import FeatureExtractor, cache_dir, embed, get_extractor
from .frechet import frechet_distance, frechet_distance_features, gaussian_stats, sqrtm_psd
from .kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel
from .prdc import knn_radii, precision_recall
from .protocol import HELD_OUT, SPLIT_SEED, Protocol, split
from .report import format_report, write_json

__all__ = [
    "HELD_OUT",
    "SPLIT_SEED",
    "Evaluator",
    "FeatureExtractor",
    "Protocol",
    "cache_dir",
    "class_histogram",
    "embed",
    "format_report",
    "frechet_distance",
    "frechet_distance_features",
    "gaussian_stats",
    "get_extractor",
    "kernel_inception_distance",
    "kl_divergence",
    "knn_radii",
    "mmd2_unbiased",
    "mode_coverage",
    "polynomial_kernel",
    "precision_recall",
    "split",
    "sqrtm_psd",
    "training_evaluator",
    "write_json",
]
