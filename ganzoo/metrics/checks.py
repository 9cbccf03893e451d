"""Input checks shared by the metrics: enough samples, and only finite features.

Without them one ``inf`` feature silently inflates recall (every real point falls inside an
infinite ball), a NaN turns a Fréchet distance into NaN, and KID of one sample is ``(nan, nan)``.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import GanzooError


class FeatureError(GanzooError, ValueError):
    """Features a metric cannot score: too few samples, the wrong shape, NaN or infinity."""


def check_features(features: Tensor, what: str = "features", min_samples: int = 2) -> Tensor:
    """Return ``features`` (N×D) after checking N >= ``min_samples`` and that all are finite."""
    if features.ndim != 2:
        raise FeatureError(f"{what} must be an N×D matrix, got shape {tuple(features.shape)}")
    if features.shape[0] < min_samples:
        raise FeatureError(
            f"{what}: {features.shape[0]} sample(s), at least {min_samples} are needed: "
            "score more images (--n)"
        )
    bad = ~features.isfinite().all(dim=1)
    if bool(bad.any()):
        raise FeatureError(
            f"{what} hold NaN or infinity ({int(bad.sum())} of {features.shape[0]} samples): "
            "the images they come from are not finite; check the model's weights and outputs"
        )
    return features
