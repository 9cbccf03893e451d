"""The lesson's failure modes as pure functions of the logged statistics.

Each detector looks at the history of interval records (one per ``log_every`` steps, the dicts
``metrics.jsonl`` holds: ``step``, ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` and the health
statistics the trainer adds: ``d_acc``, ``g_grad_norm``, ``div``, ``classes``, ``top_class``)
and says whether its condition holds *now*, at the last record, as a :class:`Finding` with the
evidence in one line, or None. The live monitor calls them at every logging interval and
``ganzoo doctor`` replays them over a finished run, so both tell the same story. No torch here:
reading a run stays cheap.

Thresholds were set on digits runs (benchmarks/health.py, RESULTS.md "Training health"): healthy
default runs of every built-in GAN raise none; runs built to fail raise theirs within a few
hundred steps.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Record = Mapping[str, Any]

#: intervals a condition must hold before it is a diagnosis (4 × 25 steps by default)
PATIENCE = 4
#: D dominance: D right on this share of images, with its loss below LOSS_SHARE of the loss's
#: value at equilibrium (D at chance), for DOMINANCE_PATIENCE intervals. A healthy DCGAN's D is
#: right on ~100 % of images in bursts of up to 6 intervals, its BCE loss staying above 0.05
#: (4 % of 2 ln 2); D with 10× G's learning rate held 0.002-0.01 for 8 intervals
#: (RESULTS.md, "Training health"). A loss without a known equilibrium is judged on accuracy
#: alone, over twice the patience.
DOMINANCE_ACC, LOSS_SHARE, DOMINANCE_PATIENCE = 0.98, 0.02, 6
#: D's loss when it cannot tell real from fake (logits 0; hinge and rahinge: 1 + 1)
EQUILIBRIUM = {"bce": 2 * math.log(2), "hinge": 2.0, "rahinge": 2.0, "lsgan": 0.25}
#: G's gradient norm below this share of its largest (3-interval median) value: G is starved
GRAD_RATIO = 0.02
#: pixel diversity of G's fixed samples below this share of the real images' diversity
DIVERSITY_RATIO = 0.3
#: a classifier sees at most this share of the classes, or one class in this share of samples
CLASS_SHARE, TOP_CLASS = 0.3, 0.6
#: no dominance verdict before this step (a healthy D wins for a moment at the start), and no
#: collapse verdict before COLLAPSE_AFTER (early samples are blobs that look alike and that a
#: classifier calls "8")
WARM_UP, COLLAPSE_AFTER = 100, 200
#: a loss this large has diverged even while finite (the losses are O(1) for every built-in)
EXPLODED = 1e6
#: oscillation: intervals looked at, and how large the swings of G's loss must be
OSC_WINDOW, OSC_REL, OSC_ABS = 16, 0.5, 1.0


@dataclass(frozen=True)
class Finding:
    """A failure mode that holds at the last record."""

    kind: str  #: a key of :data:`DIAGNOSES`
    message: str  #: the evidence, one line
    since: int | None = None  #: the step from which the condition has held (the window's start)

    @property
    def severity(self) -> str:
        return DIAGNOSES[self.kind].severity


@dataclass(frozen=True)
class Diagnosis:
    """What a failure mode is, in the lesson's words, and what to try."""

    title: str
    severity: str  #: "warning" (training goes on) or "error" (the run stops without a remedy)
    explanation: str


DIAGNOSES: dict[str, Diagnosis] = {
    "d_dominance": Diagnosis(
        "D is winning",
        "warning",
        "the discriminator separates real from generated images almost perfectly; its loss "
        "goes to zero and G's gradients carry little information (the lesson's G/D balance)",
    ),
    "g_grad_collapse": Diagnosis(
        "G's gradients vanished",
        "warning",
        "the generator's gradient norm fell far below its earlier size: G has stopped learning",
    ),
    "mode_collapse": Diagnosis(
        "mode collapse",
        "warning",
        "G's samples from different latents look alike: it found a few images that fool D",
    ),
    "oscillation": Diagnosis(
        "oscillation",
        "warning",
        "G's loss swings widely from interval to interval without a trend: G and D chase each "
        "other instead of converging",
    ),
    "nonfinite": Diagnosis(
        "divergence",
        "error",
        "a loss or a weight became NaN or infinite, or the losses exploded: the step size is "
        "too large for the networks",
    ),
}


def _last(history: Sequence[Record], n: int, key: str) -> list[float] | None:
    """The last ``n`` values of ``key`` (finite numbers), or None if any record lacks it."""
    tail = history[-n:]
    if len(tail) < n:
        return None
    values = [r.get(key) for r in tail]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]  # type: ignore[arg-type]


def d_dominance(
    history: Sequence[Record],
    loss: str | None = None,
    patience: int = DOMINANCE_PATIENCE,
    acc: float = DOMINANCE_ACC,
    after: int = WARM_UP,
) -> Finding | None:
    """D's accuracy on real vs fake (``d_acc``) at or above ``acc`` and, for a ``loss`` of
    known equilibrium, D's loss below :data:`LOSS_SHARE` of it, for ``patience`` intervals
    (twice that without a loss) past step ``after``."""
    floor = EQUILIBRIUM.get(loss or "")
    if floor is None:
        patience *= 2
    if len(history) < patience or history[-patience].get("step", 0) < after:
        return None
    accs = _last(history, patience, "d_acc")
    if accs is None or min(accs) < acc:
        return None
    if floor is not None:
        losses = _last(history, patience, "d_loss")
        if losses is None or max(losses) > LOSS_SHARE * floor:
            return None
    last = history[-1]
    steps = history[-1]["step"] - history[-patience]["step"] + _interval(history)
    gap = last.get("d_real", math.nan) - last.get("d_fake", math.nan)
    return Finding(
        "d_dominance",
        f"D is right on {statistics.fmean(accs):.1%} of real and fake images over the last "
        f"{steps} steps (D loss {last.get('d_loss', math.nan):.3f}, D(real) - D(fake) "
        f"{gap:.1f})",
        _since(history, patience),
    )


def g_grad_collapse(
    history: Sequence[Record], patience: int = PATIENCE, ratio: float = GRAD_RATIO
) -> Finding | None:
    """G's gradient norm below ``ratio`` of its largest 3-interval median for ``patience``
    intervals."""
    norms = [r.get("g_grad_norm") for r in history]
    if len(norms) < patience + 3 or not all(isinstance(v, int | float) for v in norms):
        return None
    ref = max(statistics.median(norms[i : i + 3]) for i in range(len(norms) - 2))
    tail = norms[-patience:]
    if not (ref > 0 and math.isfinite(ref)) or max(tail) >= ratio * ref:
        return None
    return Finding(
        "g_grad_collapse",
        f"G's gradient norm is {tail[-1]:.2g}, {tail[-1] / ref:.1%} of its earlier {ref:.2g}",
        _since(history, patience),
    )


def mode_collapse(
    history: Sequence[Record],
    patience: int = PATIENCE,
    ratio: float = DIVERSITY_RATIO,
    class_share: float = CLASS_SHARE,
    top_class: float = TOP_CLASS,
    after: int = COLLAPSE_AFTER,
) -> Finding | None:
    """The fixed-latent samples' pixel diversity (``div``, relative to real images') below
    ``ratio``, or a classifier finding few classes in them (``classes`` of ``num_classes``, or
    one class in ``top_class`` of them), for ``patience`` intervals past step ``after``."""
    tail = history[-patience:]
    if len(tail) < patience or tail[0].get("step", 0) < after:
        return None
    divs = _last(history, patience, "div")
    if divs is not None and max(divs) < ratio:
        return Finding(
            "mode_collapse",
            f"G's samples differ {divs[-1]:.0%} as much as real images do (pixel distance "
            "between the fixed-latent samples)",
            _since(history, patience),
        )
    classes, tops = _last(history, patience, "classes"), _last(history, patience, "top_class")
    n = history[-1].get("num_classes")
    if classes is None or tops is None or not isinstance(n, int):
        return None
    if max(classes) <= class_share * n or min(tops) >= top_class:
        return Finding(
            "mode_collapse",
            f"the digits classifier finds {int(classes[-1])} of {n} classes in G's fixed-latent "
            f"samples, the commonest in {tops[-1]:.0%} of them",
            _since(history, patience),
        )
    return None


def oscillation(
    history: Sequence[Record],
    window: int = OSC_WINDOW,
    rel: float = OSC_REL,
    absolute: float = OSC_ABS,
) -> Finding | None:
    """G's interval losses swing (standard deviation above ``rel`` of their mean size and
    above ``absolute``) with no trend over ``window`` intervals, changing direction often."""
    values = _last(history, window, "g_loss")
    if values is None:
        return None
    if max(abs(v) for v in values) >= EXPLODED:
        return None  # a divergence, diagnosed as such
    sd = statistics.pstdev(values)
    size = statistics.fmean(abs(v) for v in values)
    if sd < absolute or sd < rel * size:
        return None
    xs = range(window)
    mx = (window - 1) / 2
    slope = sum((x - mx) * (v - statistics.fmean(values)) for x, v in zip(xs, values, strict=True))
    slope /= sum((x - mx) ** 2 for x in xs)
    diffs = [b - a for a, b in itertools.pairwise(values)]
    turns = sum(1 for a, b in itertools.pairwise(diffs) if a * b < 0)
    if abs(slope) * window > sd or turns < window // 3:
        return None
    return Finding(
        "oscillation",
        f"G's loss swings by ±{sd:.2f} around {statistics.fmean(values):.2f} over the last "
        f"{window} intervals, with no trend",
        _since(history, window),
    )


def nonfinite(history: Sequence[Record], exploded: float = EXPLODED) -> Finding | None:
    """The last record holds a NaN or an infinity, or a loss of magnitude ``exploded`` or more
    (finite, but the run is lost: DCGAN's BatchNorm keeps huge weights finite for a while)."""
    if not history:
        return None
    last = history[-1]
    bad = [
        k for k, v in last.items() if isinstance(v, float) and not math.isfinite(v) and k != "step"
    ]
    if bad:
        return Finding("nonfinite", f"{', '.join(sorted(bad))} became non-finite")
    big = [
        k
        for k in ("d_loss", "g_loss")
        if isinstance(last.get(k), int | float) and abs(last[k]) >= exploded
    ]
    if big:
        return Finding(
            "nonfinite", ", ".join(f"{k} is {last[k]:.2g}" for k in big) + ": the losses exploded"
        )
    return None


DETECTORS: dict[str, Callable[..., Finding | None]] = {
    "d_dominance": d_dominance,
    "g_grad_collapse": g_grad_collapse,
    "mode_collapse": mode_collapse,
    "oscillation": oscillation,
    "nonfinite": nonfinite,
}
#: records a detector needs at most (the monitor keeps this many)
HISTORY = 256


def diagnose(history: Sequence[Record], loss: str | None = None) -> dict[str, Finding]:
    """Every failure mode that holds at the last record (``loss``: the run's adversarial loss,
    which sets what a low D loss is)."""
    found = {}
    for kind, detect in DETECTORS.items():
        finding = detect(history, loss=loss) if kind == "d_dominance" else detect(history)
        if finding is not None:
            found[kind] = finding
    return found


def _since(history: Sequence[Record], n: int) -> int:
    """The step of the first of the last ``n`` records: when the window began."""
    first = history[-n]["step"] - _interval(history)
    return int(max(first, 0))


def _interval(history: Sequence[Record]) -> int:
    if len(history) >= 2:
        return int(history[-1]["step"] - history[-2]["step"])
    return int(history[-1]["step"]) if history else 0


def is_interval_record(record: Record) -> bool:
    """A record of losses (not an evaluation or a health record)."""
    return "d_loss" in record and "g_loss" in record and record.get("kind") is None
