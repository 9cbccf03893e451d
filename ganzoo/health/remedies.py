"""The lesson's remedies for each failure mode, as ganzoo options a user can type.

Each suggestion is phrased against the run's own settings (its learning rates, loss and
augmentation, from its ``config.json``), so ``ganzoo doctor`` says ``--lr-d 5e-05`` rather than
"lower D's learning rate"; a remedy already in use is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def remedies(kind: str, train: Mapping[str, Any] | None = None) -> list[str]:
    """What to try for diagnosis ``kind``, most likely first, given the run's training options
    (``config.json``'s ``train`` table; None: generic advice)."""
    t = dict(train or {})
    lr_g, lr_d = t.get("lr_g"), t.get("lr_d")
    loss = t.get("loss", "")
    out: list[str] = []

    def add(text: str, when: bool = True) -> None:
        if when:
            out.append(text)

    if kind == "d_dominance":
        if isinstance(lr_d, int | float) and isinstance(lr_g, int | float):
            add(
                f"give D a smaller learning rate than G: --lr-d {lr_d / 4:g} "
                f"(now {lr_d:g}; G's is {lr_g:g})"
            )
        else:
            add("give D a smaller learning rate than G: --lr-d LOWER")
        add(
            "skip D's update while its loss is already low: --set d_skip_below=0.3",
            t.get("d_skip_below") is None and loss in ("bce", "hinge", "lsgan", ""),
        )
        add("penalise D's gradients on real images: --set r1_gamma=1", not t.get("r1_gamma"))
        add("a loss whose G gradient does not fade: --loss hinge", loss not in ("hinge", "rahinge"))
        add(
            "small dataset? augment what D sees: --set augment=ada",
            t.get("augment", "none") == "none",
        )
    elif kind == "g_grad_collapse":
        add("a loss whose G gradient does not fade: --loss hinge", loss not in ("hinge", "rahinge"))
        if isinstance(lr_d, int | float):
            add(f"slow D down: --lr-d {lr_d / 4:g} or --set d_skip_below=0.3")
        add("penalise D's gradients on real images: --set r1_gamma=1", not t.get("r1_gamma"))
    elif kind == "mode_collapse":
        add(
            "augment what D sees (it stops memorising a few images): --set augment=diffaugment",
            t.get("augment", "none") == "none",
        )
        add("penalise D's gradients: --set r1_gamma=1, or --loss wgan-gp", not t.get("r1_gamma"))
        if isinstance(lr_g, int | float):
            add(f"lower G's learning rate: --lr-g {lr_g / 2:g}")
        add("sample from an average of G's weights: --set ema=true", not t.get("ema"))
        add(
            "go back to the checkpoint before the collapse automatically: "
            "--set on_collapse=rollback",
            t.get("on_collapse", "warn") != "rollback",
        )
    elif kind == "oscillation":
        if isinstance(lr_g, int | float) and isinstance(lr_d, int | float):
            add(f"lower both learning rates: --lr-g {lr_g / 2:g} --lr-d {lr_d / 2:g}")
        add("penalise D's gradients: --set r1_gamma=1", not t.get("r1_gamma"))
        add("sample from an average of G's weights: --set ema=true", not t.get("ema"))
    elif kind == "nonfinite":
        add(
            "roll back and halve the learning rates automatically: --on-diverge rollback",
            t.get("on_diverge", "stop") != "rollback",
        )
        if isinstance(lr_g, int | float) and isinstance(lr_d, int | float):
            add(f"lower both learning rates: --lr-g {lr_g / 4:g} --lr-d {lr_d / 4:g}")
        add("penalise D's gradients: --set r1_gamma=1", not t.get("r1_gamma"))
        add("--loss hinge", loss not in ("hinge", "rahinge"))
    return out
