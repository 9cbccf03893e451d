"""The loss plot written at the end of a run (``loss.png``)."""

from __future__ import annotations

from pathlib import Path

from ..jsonlines import MetricsFile


def plot_losses(metrics: Path, out: Path) -> Path | None:
    """Plot D's and G's losses (and D's mean logits) from ``metrics.jsonl`` against the step.

    Losses should oscillate rather than fall: a D loss sinking to zero means D has won and G is
    starved; the plot makes that visible.
    """
    if not metrics.is_file():
        return None
    # a torn last line (a crash, a full disk) is skipped; eval_every rows hold scores, not losses
    keys = ("step", "d_loss", "g_loss", "d_real", "d_fake")
    rows = [r for r in MetricsFile(metrics).read() if all(k in r for k in keys)]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax1.plot(steps, [r["d_loss"] for r in rows], label="D loss")
    ax1.plot(steps, [r["g_loss"] for r in rows], label="G loss")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax2.plot(steps, [r["d_real"] for r in rows], label="D(real) logit")
    ax2.plot(steps, [r["d_fake"] for r in rows], label="D(fake) logit")
    ax2.set_xlabel("step")
    ax2.set_ylabel("mean logit")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
