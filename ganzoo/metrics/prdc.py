"""Improved precision and recall (Kynkäänniemi et al. 2019, arXiv 1904.06991).

Each set's manifold is estimated as the union of balls around its samples, each ball's radius
the distance to that sample's k-th nearest neighbour within its own set. Precision is the share
of generated samples inside the real manifold (are the images realistic?); recall is the share of
real samples inside the generated manifold (is the data's variety covered?). Distances are
computed in row blocks, so memory stays at ``block × N`` on the features' device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import FeatureError, check_features


def knn_radii(features: Tensor, k: int = 3, block: int = 1024) -> Tensor:
    """Distance from each row to its k-th nearest other row (the row itself excluded)."""
    n = check_features(features, min_samples=2).shape[0]
    if not 1 <= k < n:
        raise FeatureError(f"k must be between 1 and N-1 = {n - 1}, got {k}: score more samples")
    x = features.double()
    out = []
    for start in range(0, n, block):
        d = torch.cdist(x[start : start + block], x)
        # the k+1 smallest include the zero distance to itself
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def inside_manifold(points: Tensor, centres: Tensor, radii: Tensor, block: int = 1024) -> Tensor:
    """Boolean per point: within ``radii[i]`` of some ``centres[i]`` (boundary included)."""
    p, c = points.double(), centres.double()
    out = []
    for start in range(0, p.shape[0], block):
        d = torch.cdist(p[start : start + block], c)
        out.append((d <= radii.unsqueeze(0)).any(dim=1))
    return torch.cat(out)


def precision_recall(
    real: Tensor,
    fake: Tensor,
    k: int = 3,
    *,
    real_radii: Tensor | None = None,
) -> tuple[float, float]:
    """``(precision, recall)`` of generated features ``fake`` against ``real`` features.

    ``real_radii`` may be passed in when the same real set is compared many times (training-time
    evaluation computes it once).
    """
    check_features(real, "real features")
    check_features(fake, "generated features")
    if real_radii is None:
        real_radii = knn_radii(real, k)
    fake_radii = knn_radii(fake, k)
    precision = inside_manifold(fake, real, real_radii).double().mean()
    recall = inside_manifold(real, fake, fake_radii).double().mean()
    return float(precision), float(recall)
