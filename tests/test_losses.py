"""Each loss's sign and value on hand-checked logits, and the gradient penalties."""

from __future__ import annotations

import math

import pytest
import torch

from ganzoo.training import losses as L

REAL = torch.tensor([2.0, 0.0])
FAKE = torch.tensor([-1.0, 1.0])


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bce_matches_cross_entropy_by_hand():
    # D: -log σ(real) - log(1 - σ(fake)) = softplus(-real) + softplus(fake)
    expected_d = (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(1)) / 2
    assert L.BCE.d_loss(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    # non-saturating G: -log σ(fake)
    assert L.BCE.g_loss(None, FAKE).item() == pytest.approx((sp(1) + sp(-1)) / 2, rel=1e-6)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    torch.testing.assert_close(
        L.BCE.d_loss(REAL, FAKE), bce(REAL, torch.ones(2)) + bce(FAKE, torch.zeros(2))
    )


def test_hinge_by_hand():
    # relu(1 - real) = [0, 1]; relu(1 + fake) = [0, 2]
    assert L.HINGE.d_loss(REAL, FAKE).item() == pytest.approx(0.5 + 1.0)
    assert L.HINGE.g_loss(None, FAKE).item() == pytest.approx(0.0)
    assert L.HINGE.g_loss(None, torch.tensor([3.0])).item() == pytest.approx(-3.0)


def test_wgan_and_lsgan_by_hand():
    assert L.WGAN_GP.d_loss(REAL, FAKE).item() == pytest.approx(0.0 - 1.0)
    assert L.WGAN_GP.gradient_penalty == 10.0
    # 0.5·mean((real-1)²) + 0.5·mean(fake²) = 0.5·(1+1)/2 + 0.5·(1+1)/2
    assert L.LSGAN.d_loss(REAL, FAKE).item() == pytest.approx(1.0)
    assert L.LSGAN.g_loss(None, FAKE).item() == pytest.approx(0.5 * (4 + 0) / 2)


def test_relativistic_average_hinge_by_hand():
    # real - mean(fake) = [2, 0]; fake - mean(real) = [-2, 0]
    d = L.RAHINGE.d_loss(REAL, FAKE).item()
    assert d == pytest.approx((0 + 1) / 2 + (0 + 1) / 2)
    g = L.RAHINGE.g_loss(REAL, FAKE).item()
    assert g == pytest.approx((3 + 1) / 2 + (3 + 1) / 2)
    assert L.RAHINGE.needs_real_for_g


def test_losses_reward_the_right_side():
    """D's loss falls when it scores real higher and fake lower; G's when fake scores higher."""
    for loss in (L.BCE, L.HINGE, L.WGAN_GP, L.LSGAN, L.RAHINGE):
        good = loss.d_loss(torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -1.0]))
        bad = loss.d_loss(torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]))
        assert good < bad, loss.name
        real = torch.tensor([0.0, 0.0])
        assert loss.g_loss(real, torch.tensor([1.0, 1.0])) < loss.g_loss(
            real, torch.tensor([-1.0, -1.0])
        ), loss.name


def test_r1_equals_hand_computed_gradient_norm():
    # D(x) = sum(w * x) per sample: ∇x D = w, so R1 = ||w||²
    w = torch.tensor([[1.0, 2.0], [3.0, 0.5]])
    x = torch.randn(5, 2, 2, requires_grad=True)
    logits = (x * w).flatten(1).sum(1)
    assert L.r1_penalty(logits, x).item() == pytest.approx((w**2).sum().item())


def test_r1_counts_every_scale_of_a_pyramid():
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(3, 2, requires_grad=True)
    logits = 2 * a.sum(1) + 3 * b.sum(1)
    assert L.r1_penalty(logits, [a, b]).item() == pytest.approx(4 * 4 + 9 * 2)


def test_gradient_penalty_zero_for_unit_gradient_and_positive_otherwise():
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    unit = torch.tensor([0.6, 0.8, 0.0])  # ||∇|| = 1 everywhere
    assert L.gradient_penalty(lambda x: (x * unit).sum(1), real, fake).item() == pytest.approx(
        0.0, abs=1e-6
    )
    assert L.gradient_penalty(lambda x: (x * 3 * unit).sum(1), real, fake).item() == pytest.approx(
        4.0, rel=1e-4
    )
    pyramid = L.gradient_penalty(
        lambda xs: (xs[0] * unit).sum(1) + (xs[1] * unit).sum(1), [real, real], [fake, fake]
    )
    assert pyramid.item() == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-4)
