"""The Fréchet distance between two Gaussians fitted to feature sets (FID with Inception features).

``FD = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^{1/2}`` (Dowson & Landau 1982; Heusel et al. 2017).
The trace of the matrix square root is computed without ever taking the square root of the
non-symmetric product Σ₁Σ₂: its eigenvalues equal those of the symmetric positive semi-definite
``Σ₁^{1/2} Σ₂ Σ₁^{1/2}``, so two symmetric eigendecompositions in float64 suffice. This is exact
for singular covariances (fewer samples than dimensions), where ``scipy.linalg.sqrtm`` of the
product can return complex noise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_features


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance (float64, on the features' device) of N×D features."""
    x = check_features(features).double()
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def sqrtm_psd(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (float64).

    Eigenvalues that rounding made slightly negative are clamped to zero.
    """
    sym = (matrix.double() + matrix.double().T) / 2
    values, vectors = torch.linalg.eigh(sym)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def trace_sqrt_product(sigma1: Tensor, sigma2: Tensor) -> Tensor:
    """``tr (Σ₁ Σ₂)^{1/2}`` for symmetric PSD Σ₁, Σ₂, via the similar matrix Σ₁^½ Σ₂ Σ₁^½."""
    root1 = sqrtm_psd(sigma1)
    inner = root1 @ sigma2.double() @ root1
    values = torch.linalg.eigvalsh((inner + inner.T) / 2)
    return values.clamp_min(0).sqrt().sum()


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂); never negative."""
    mu1, mu2 = mu1.double(), mu2.double()
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("the two Gaussians have different dimensions")
    diff = mu1 - mu2
    value = (
        diff @ diff
        + sigma1.double().trace()
        + sigma2.double().trace()
        - 2 * trace_sqrt_product(sigma1, sigma2)
    )
    return max(float(value), 0.0)


def frechet_distance_features(a: Tensor, b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N×D and M×D)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
