"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between the two feature distributions under the
cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³``, estimated without bias (the diagonal terms
of the within-set kernel matrices are left out). As in the paper and in torch-fidelity it is
averaged over random subsets of equal size, which also gives a standard deviation. Unlike the
Fréchet distance its estimator is unbiased, so values from different sample sizes compare, and it
can be slightly negative when the two sets come from the same distribution.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_features


def polynomial_kernel(
    x: Tensor, y: Tensor, degree: int = 3, gamma: float | None = None, coef: float = 1.0
) -> Tensor:
    """``(γ xᵀy + c)^degree`` for every pair of rows; γ defaults to 1 / dimension."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef) ** degree


def mmd2_unbiased(x: Tensor, y: Tensor, **kernel: float) -> Tensor:
    """The unbiased estimate of MMD² between samples ``x`` (m×D) and ``y`` (n×D), float64."""
    x = check_features(x, "the first set for the unbiased MMD").double()
    y = check_features(y, "the second set for the unbiased MMD").double()
    m, n = x.shape[0], y.shape[0]
    kxx = polynomial_kernel(x, x, **kernel)
    kyy = polynomial_kernel(y, y, **kernel)
    kxy = polynomial_kernel(x, y, **kernel)
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return within_x + within_y - 2 * kxy.mean()


def kernel_inception_distance(
    real: Tensor,
    fake: Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    max_kernel_entries: int = 1 << 26,
) -> tuple[float, float]:
    """KID as ``(mean, std)`` over ``subsets`` random subsets of ``subset_size`` from each set.

    ``subset_size`` is capped at the smaller set. The subsets are drawn with a generator of their
    own (``seed``), so evaluating never disturbs the caller's random state. When the three full
    kernel matrices hold at most ``max_kernel_entries`` values (64 Mi, 512 MiB in float64) they
    are computed once and every subset's sums come from one product with 0/1 indicator rows,
    which is far faster than kernel matrices per subset and gives the same numbers.
    """
    if subsets < 1:
        raise ValueError("KID needs at least one subset")
    check_features(real, "real features for KID")
    check_features(fake, "generated features for KID")
    m, n = real.shape[0], fake.shape[0]
    size = min(subset_size, m, n)
    gen = torch.Generator().manual_seed(seed)
    draws = [
        (torch.randperm(m, generator=gen)[:size], torch.randperm(n, generator=gen)[:size])
        for _ in range(subsets)
    ]
    if m * m + n * n + m * n <= max_kernel_entries:
        x, y = real.double(), fake.double()
        kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
        # subsets as 0/1 indicator rows: a subset's kernel sum is s K sᵀ, all in one product
        sx = torch.zeros(subsets, m, dtype=torch.float64, device=real.device)
        sy = torch.zeros(subsets, n, dtype=torch.float64, device=real.device)
        for r, (i, j) in enumerate(draws):
            sx[r, i.to(real.device)] = 1
            sy[r, j.to(real.device)] = 1
        within = ((sx @ kxx) * sx).sum(1) - sx @ kxx.diagonal()
        within = within + ((sy @ kyy) * sy).sum(1) - sy @ kyy.diagonal()
        cross = ((sx @ kxy) * sy).sum(1)
        stacked = within / (size * (size - 1)) - 2 * cross / (size * size)
    else:
        stacked = torch.stack(
            [mmd2_unbiased(real[i.to(real.device)], fake[j.to(fake.device)]) for i, j in draws]
        )
    std = stacked.std() if subsets > 1 else torch.zeros((), dtype=stacked.dtype)
    return float(stacked.mean()), float(std)
