"""The failure-mode detectors as pure functions over synthetic logged series, and the replay
``ganzoo doctor`` makes of them."""

from __future__ import annotations

import math

from ganzoo.health import detectors as det
from ganzoo.health.doctor import replay
from ganzoo.health.remedies import remedies

EVERY = 25


def series(n: int, start: int = EVERY, **columns) -> list[dict]:
    """``n`` interval records; each column is a constant or a function of the index."""
    rows = []
    for i in range(n):
        row = {"step": start + i * EVERY, "d_loss": 0.7, "g_loss": 1.0}
        for key, value in columns.items():
            row[key] = value(i) if callable(value) else value
        rows.append(row)
    return rows


def test_d_dominance_needs_near_perfect_accuracy_and_a_tiny_loss_for_several_intervals():
    won = series(20, d_acc=0.995, d_loss=0.005, d_real=7.0, d_fake=-7.0)
    finding = det.d_dominance(won, loss="bce")
    assert finding is not None and finding.kind == "d_dominance"
    assert "99.5%" in finding.message and "150 steps" in finding.message
    # a healthy D is often right, but not on every batch of every interval
    assert det.d_dominance(series(20, d_acc=lambda i: 0.99 if i % 2 else 0.85), "bce") is None
    # right on every image, but its loss is far from zero: G still learns (healthy bursts)
    assert det.d_dominance(series(20, d_acc=1.0, d_loss=0.08), loss="bce") is None
    # D wins for a moment early in every run: not a diagnosis
    assert det.d_dominance(series(4, d_acc=1.0, d_loss=0.001), loss="bce") is None
    # a burst of a few intervals is not enough
    burst = series(20, d_acc=lambda i: 1.0 if i >= 16 else 0.9, d_loss=0.001)
    assert det.d_dominance(burst, loss="bce") is None
    # a loss of unknown equilibrium is judged on accuracy alone, over twice the patience
    assert det.d_dominance(series(20, d_acc=1.0, d_loss=-3.0), loss="wgan-gp") is not None
    assert det.d_dominance(series(20, d_acc=lambda i: 1.0 if i >= 10 else 0.9), "x") is None


def test_g_grad_collapse_compares_with_the_norm_g_had_before():
    falling = series(20, g_grad_norm=lambda i: 10.0 if i < 10 else 0.01)
    finding = det.g_grad_collapse(falling)
    assert finding is not None and "0.1%" in finding.message
    steady = series(20, g_grad_norm=lambda i: 10.0 + (i % 3))
    assert det.g_grad_collapse(steady) is None
    # one spike does not set the reference (a 3-interval median does)
    spiky = series(20, g_grad_norm=lambda i: 1000.0 if i == 3 else 1.0)
    assert det.g_grad_collapse(spiky) is None


def test_mode_collapse_from_pixel_diversity_or_from_the_class_histogram():
    collapsed = series(20, div=lambda i: 0.9 if i < 10 else 0.1)
    finding = det.mode_collapse(collapsed)
    assert finding is not None and "10%" in finding.message
    assert det.mode_collapse(series(20, div=0.85)) is None
    few = series(20, div=0.8, classes=2, top_class=0.7, num_classes=10)
    finding = det.mode_collapse(few)
    assert finding is not None and "2 of 10 classes" in finding.message
    assert det.mode_collapse(series(20, div=0.8, classes=9, top_class=0.2, num_classes=10)) is None
    # early samples are blobs: no verdict before the warm-up
    assert det.mode_collapse(series(6, div=0.05)) is None


def test_oscillation_is_large_swings_without_a_trend():
    zigzag = series(20, g_loss=lambda i: 4.0 if i % 2 else 0.5)
    finding = det.oscillation(zigzag)
    assert finding is not None and finding.kind == "oscillation"
    # small noise is what a healthy GAN's losses do
    assert det.oscillation(series(20, g_loss=lambda i: 2.0 + 0.2 * (-1) ** i)) is None
    # a big but steady change is a trend, not an oscillation
    assert det.oscillation(series(20, g_loss=lambda i: 0.5 * i)) is None


def test_nonfinite_names_what_went_bad():
    rows = series(3)
    rows[-1]["div"] = math.nan
    finding = det.nonfinite(rows)
    assert finding is not None and "div" in finding.message
    assert det.nonfinite(series(3)) is None
    exploded = det.nonfinite(series(3, d_loss=3e17))
    assert exploded is not None and "exploded" in exploded.message


def test_replay_gives_each_episode_its_start_and_end():
    rows = series(40, d_acc=lambda i: 1.0 if 12 <= i < 24 else 0.8, d_loss=0.01)
    episodes = replay(rows, loss="bce")
    # the condition held over the intervals after step rows[11] (the first perfect interval
    # is logged at rows[12]); the detector could say so after 6 of them, at rows[17]
    assert [(e.kind, e.start, e.diagnosed, e.end) for e in episodes] == [
        ("d_dominance", rows[11]["step"], rows[17]["step"], rows[24]["step"])
    ]
    assert replay(series(40, d_acc=0.8)) == []


def test_remedies_use_the_runs_own_options_and_skip_what_is_in_use():
    tips = remedies("d_dominance", {"lr_g": 2e-4, "lr_d": 2e-3, "loss": "bce"})
    assert any("--lr-d 0.0005" in t for t in tips)
    assert any("d_skip_below" in t for t in tips)
    tips = remedies("mode_collapse", {"augment": "ada", "lr_g": 1e-3, "ema": True})
    assert not any("augment=" in t for t in tips) and not any("ema=true" in t for t in tips)
    assert any("--on-diverge rollback" in t for t in remedies("nonfinite", {}))
    for kind in det.DIAGNOSES:
        assert remedies(kind, None), kind
