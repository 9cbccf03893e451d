"""The picture of a run's health: its curves with every diagnosis shaded where it held."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .detectors import DIAGNOSES

COLOURS = {
    "d_dominance": "tab:red",
    "g_grad_collapse": "tab:purple",
    "mode_collapse": "tab:orange",
    "oscillation": "tab:olive",
    "nonfinite": "black",
}


def plot_health(
    intervals: list[dict[str, Any]], episodes: list[Any], events: list[dict[str, Any]], out: Path
) -> Path:
    """Three panels against the step: the losses; D's accuracy, the samples' diversity and the
    commonest class's share; G's gradient norm. Diagnoses are shaded, rollbacks and
    divergences are vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in intervals]
    last = steps[-1] if steps else 0
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)

    def series(ax: Any, key: str, label: str, **kw: Any) -> None:
        pts = [(r["step"], r[key]) for r in intervals if isinstance(r.get(key), int | float)]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label, **kw)

    series(axes[0], "d_loss", "D loss")
    series(axes[0], "g_loss", "G loss")
    axes[0].set_ylabel("loss")
    series(axes[1], "d_acc", "D accuracy (real vs fake)")
    series(axes[1], "div", "sample diversity / real")
    series(axes[1], "top_class", "commonest class share")
    series(axes[1], "aug_p", "augment p")
    axes[1].set_ylim(-0.05, 1.25)
    axes[1].set_ylabel("share")
    series(axes[2], "g_grad_norm", "G gradient norm", color="tab:green")
    if any(
        isinstance(r.get("g_grad_norm"), int | float) and r["g_grad_norm"] > 0 for r in intervals
    ):
        axes[2].set_yscale("log")
    axes[2].set_ylabel("norm")
    axes[2].set_xlabel("step")
    seen: set[str] = set()
    for e in episodes:
        end = e.end if e.end is not None else last
        label = DIAGNOSES[e.kind].title if e.kind not in seen else None
        seen.add(e.kind)
        for i, ax in enumerate(axes):
            ax.axvspan(
                e.start,
                max(end, e.start + 1),
                color=COLOURS.get(e.kind, "grey"),
                alpha=0.18,
                label=label if i == 0 else None,
            )
    for ev in events:
        word = "rollback" if ev.get("event") == "rollback" else "non-finite: run stopped"
        style = "--" if word == "rollback" else "-"
        for i, ax in enumerate(axes):
            ax.axvline(
                ev["step"],
                color="black",
                linestyle=style,
                linewidth=1,
                label=word if i == 0 and word not in seen else None,
            )
        seen.add(word)
    for ax in axes:
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=7, loc="upper right")
    found = ", ".join(sorted({DIAGNOSES[e.kind].title for e in episodes})) or "no diagnosis"
    axes[0].set_title(f"training health: {found}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
