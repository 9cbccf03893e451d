"""Evaluating generated images against a dataset under one protocol.

:class:`Evaluator` embeds the reference images once, then scores any set of images, a model's
samples, or the held-out real images (the floor), with every metric on the extractor's device.
``ganzoo eval`` and the trainer's ``eval_every`` both go through it, so their numbers agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .checks import check_features
from .coverage import mode_coverage
from .features import FeatureExtractor, embed, get_extractor
from .frechet import frechet_distance, gaussian_stats
from .kid import kernel_inception_distance
from .prdc import knn_radii, precision_recall
from .protocol import Protocol, split


class Evaluator:
    """Scores images against the reference part of ``data`` (see :mod:`.protocol`)."""

    def __init__(
        self,
        data: Any,
        protocol: Protocol | None = None,
        *,
        device: torch.device | str = "cpu",
        random_weights: bool = False,
        extractor: FeatureExtractor | None = None,
    ) -> None:
        self.protocol = protocol or Protocol()
        self.data_name = data.name
        self.image_shape = tuple(int(s) for s in data.images.shape[1:])
        self.reference, self.held_out = split(data)
        if len(self.held_out) < self.protocol.k + 1 or len(self.reference) < self.protocol.k + 1:
            from ..errors import DataError

            raise DataError(
                f"{data.name or 'the dataset'} has {len(data)} images: too few to evaluate "
                f"(held-out and reference parts each need more than k = {self.protocol.k})"
            )
        self.extractor = extractor or get_extractor(
            self.protocol.features, device=device, random_weights=random_weights
        )
        self.ref_features, _ = embed(
            self.extractor, self.reference.images, self.protocol.batch_size
        )
        self.ref_stats = gaussian_stats(self.ref_features)
        self.ref_radii = knn_radii(self.ref_features, self.protocol.k)
        labels = self.reference.labels
        n_cls = self.extractor.num_classes
        self.classifies = bool(n_cls and labels is not None and int(labels.max()) < n_cls)
        self._floor: dict[str, Any] | None = None

    @property
    def n(self) -> int:
        """Generated samples per evaluation: the protocol's n, or the held-out set's size."""
        return int(self.protocol.n or len(self.held_out))

    @property
    def device(self) -> torch.device:
        return self.extractor.device

    # -- scoring ---------------------------------------------------------------------------
    def score_features(self, features: Tensor, logits: Tensor | None = None) -> dict[str, Any]:
        """Every metric of ``features`` (and class ``logits``) against the reference set."""
        p = self.protocol
        check_features(features, "the generated images' features")
        kid, kid_std = kernel_inception_distance(
            self.ref_features,
            features,
            subsets=p.kid_subsets,
            subset_size=p.kid_subset_size,
            seed=p.sample_seed,
        )
        precision, recall = precision_recall(
            self.ref_features, features, p.k, real_radii=self.ref_radii
        )
        out: dict[str, Any] = {
            "n": int(features.shape[0]),
            "fd": frechet_distance(*self.ref_stats, *gaussian_stats(features)),
            "kid": kid,
            "kid_std": kid_std,
            "precision": precision,
            "recall": recall,
        }
        if self.classifies and logits is not None:
            cov = mode_coverage(
                logits.argmax(1),
                self.reference.labels,
                self.extractor.num_classes,
                p.min_class_share,
            )
            out.update(cov)
        return out

    def score_images(self, images: Tensor) -> dict[str, Any]:
        """Every metric of ``images`` (N×C×H×W in [-1, 1], on any device)."""
        return self.score_features(*embed(self.extractor, images, self.protocol.batch_size))

    @torch.no_grad()
    def score_model(self, model: Any, *, ema: bool | None = None) -> dict[str, Any]:
        """Every metric of :attr:`n` samples of a GAN (its EMA generator when it has one).

        The latents come from the protocol's seed, so the same weights give the same score;
        images are generated and embedded batch by batch, so ``n`` can exceed memory.
        """
        p = self.protocol
        z = model.sample_latent(
            self.n, generator=torch.Generator().manual_seed(p.sample_seed), device="cpu"
        )
        feats, logits = [], []
        for i, chunk in enumerate(z.split(p.batch_size)):
            images = model.sample(len(chunk), seed=p.sample_seed + i, z=chunk, ema=ema)
            f, lg = embed(self.extractor, images, p.batch_size)
            feats.append(f)
            if lg is not None:
                logits.append(lg)
        return self.score_features(torch.cat(feats), torch.cat(logits) if logits else None)

    def floor(self) -> dict[str, Any]:
        """The held-out real images scored like a generator: what a perfect one would reach."""
        if self._floor is None:
            self._floor = self.score_images(self.held_out.images)
        return self._floor

    # -- reporting -------------------------------------------------------------------------
    def report(
        self,
        metrics: dict[str, Any] | None = None,
        *,
        model: dict[str, Any] | None = None,
        floor: bool = True,
    ) -> dict[str, Any]:
        """A JSON-able report: protocol, extractor, sample counts, scores and the floor."""
        c, h, w = self.image_shape
        rep: dict[str, Any] = {
            "format": "ganzoo-eval",
            "format_version": 1,
            "data": self.data_name,
            "image_size": [c, h, w],
            "features": self.extractor.describe(),
            "fd_label": self.extractor.metric_label,
            "protocol": {
                **self.protocol.to_json(),
                "n_reference": len(self.reference),
                "n_held_out": len(self.held_out),
                "n_generated": metrics["n"] if metrics else None,
            },
            "model": model,
            "metrics": metrics,
            "floor": self.floor() if floor else None,
        }
        if metrics and rep["floor"] and rep["floor"]["fd"] > 0:
            rep["fd_over_floor"] = metrics["fd"] / rep["floor"]["fd"]
        return rep


def training_evaluator(
    options: Any, data: Any, device: torch.device | str
) -> Callable[[Any], dict[str, Any]] | None:
    """The trainer's hook: ``None`` unless ``options.eval_every`` is set, else a function
    ``model -> {"eval_fd": ..., ...}`` for ``metrics.jsonl``. Built once: the reference
    features and the floor are computed here, not at every evaluation."""
    if not getattr(options, "eval_every", 0):
        return None
    protocol = Protocol(
        features=getattr(options, "eval_features", "digits") or "digits",
        n=getattr(options, "eval_n", 0) or None,
        sample_seed=int(getattr(options, "seed", 0)),
    )
    evaluator = Evaluator(data, protocol, device=device)
    floor_fd = evaluator.floor()["fd"]

    def evaluate(model: Any) -> dict[str, Any]:
        scores = evaluator.score_model(model)
        out = {
            f"eval_{k}": v
            for k, v in scores.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        out["eval_fd_floor"] = floor_fd
        out["eval_features"] = evaluator.extractor.name
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()
        }

    return evaluate
