"""Live training health: the statistics the detectors need, gathered without extra host syncs.

Per step, on the device and added to the losses the trainer already accumulates: D's accuracy
on real vs fake images (``d_acc``, from the logits the step computed anyway) and G's gradient
norm (``g_grad_norm``, read from the gradients G's step left). At each logging interval, when
the trainer reads its losses back anyway: the diversity of a fixed-latent sample batch (mean
pairwise pixel distance relative to real images', ``div``) and, when the data is the bundled
digits, the classes the shipped digits classifier sees in it (``classes``, ``top_class``).

The detectors of :mod:`ganzoo.health.detectors` then run on the interval records; a diagnosis
that starts or ends becomes a ``{"kind": "health", ...}`` record written through the trainer's
metrics log (so every logger gets it) and one line in the progress output. ``ganzoo doctor RUN``
reads the same records back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..errors import GanzooError
from ..health.detectors import DIAGNOSES, HISTORY, Finding, diagnose

#: where a loss draws the line between "real" and "fake" in D's logits (None: relative, each
#: logit against the mean of the other side, for the Wasserstein and relativistic losses)
THRESHOLDS: dict[str, float | None] = {"bce": 0.0, "hinge": 0.0, "lsgan": 0.5}
#: fixed latents whose samples are measured at each interval, and their seed
N_PROBE, PROBE_SEED = 64, 7919


class TrainingCollapsed(GanzooError):
    """A mode collapse lasted ``collapse_patience`` intervals and ``on_collapse`` is rollback."""

    def __init__(self, message: str, since: int) -> None:
        super().__init__(message)
        self.since = since  #: the step at which the collapse was first diagnosed


def d_accuracy(d_real: Tensor, d_fake: Tensor, loss: str) -> Tensor:
    """Share of real logits on the real side and fake logits on the fake side (a device
    scalar)."""
    threshold = THRESHOLDS.get(loss)
    if threshold is None:
        real_ok = d_real > d_fake.mean()
        fake_ok = d_fake < d_real.mean()
    else:
        real_ok, fake_ok = d_real > threshold, d_fake < threshold
    return (real_ok.float().mean() + fake_ok.float().mean()) / 2


def grad_norm(module: torch.nn.Module) -> Tensor | None:
    """The total L2 norm of a module's gradients (a device scalar), None without any."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    return torch.nn.utils.get_total_norm(grads).float()


def pixel_diversity(images: Tensor) -> Tensor:
    """Mean distance between every pair of images (flattened pixels), a device scalar."""
    x = images.detach().flatten(1).float()
    n = x.shape[0]
    d = torch.cdist(x, x)
    return d.sum() / max(n * (n - 1), 1)


class HealthMonitor:
    """Gathers health statistics and reports diagnoses for one :meth:`fit`.

    ``write`` is the trainer's metrics writer (rank 0 writes, the others drop); ``say`` prints
    one progress line (None: quiet). Every rank computes the same statistics, so a rollback
    decision is the same on every rank.
    """

    def __init__(
        self,
        model: Any,
        options: Any,
        data: Any,
        device: torch.device,
        write: Callable[[dict[str, Any]], None],
        say: Callable[[str], None] | None,
        run_dir: Any = None,
    ) -> None:
        self.model, self.options, self.device = model, options, device
        self.enabled = bool(options.health)
        self.write, self.say, self.run_dir = write, say, run_dir
        self.loss = options.loss
        self.history: list[dict[str, Any]] = []
        self.active: dict[str, tuple[int, Finding]] = {}
        self.real_div: float | None = None
        self._real_div_t: Tensor | None = None
        self.classifier = None
        if self.enabled and getattr(data, "name", "") == "digits":
            from ..metrics.digits_classifier import digits_extractor

            devices = [device] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):  # building it must not move training's
                self.classifier = digits_extractor(None, device=device).eval()

    def preload(self, records: list[dict[str, Any]]) -> None:
        """On resume: the interval records logged before, so windows stay whole and an episode
        still going on is not reported as new (one process only: under torchrun every rank
        must decide alike, and only rank 0 is sure to see the log)."""
        if not self.enabled:
            return
        from ..health.detectors import is_interval_record

        self.history = [r for r in records if is_interval_record(r)][-HISTORY:]
        if self.history:
            step = int(self.history[-1]["step"])
            for kind, finding in diagnose(self.history, self.loss).items():
                self.active[kind] = (step, finding)

    def state(self) -> dict[str, float]:
        """What a checkpoint keeps: the real images' diversity that ``div`` is measured against
        (one host read, at checkpoint time), so a resumed run scores its samples against the
        same reference as an uninterrupted one instead of against its first new batch."""
        if self._real_div_t is None:
            return {}
        return {"health_real_div": float(self._real_div_t)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Take the reference diversity back from a checkpoint written by :meth:`state`."""
        value = state.get("health_real_div")
        if self.enabled and isinstance(value, int | float) and math.isfinite(value):
            self._real_div_t = torch.tensor(float(value), device=self.device)

    # -- per step, on the device ---------------------------------------------------------------
    def observe(self, d_real: Tensor, d_fake: Tensor) -> dict[str, Tensor]:
        """The training step's hook (``StepConfig.observe``): D's accuracy this step."""
        return {"d_acc": d_accuracy(d_real, d_fake, self.loss)}

    def step_stats(self, real: Tensor) -> dict[str, Tensor]:
        """After a step: G's gradient norm (and, once, the real images' diversity)."""
        if not self.enabled:
            return {}
        if self._real_div_t is None:
            self._real_div_t = pixel_diversity(real[:N_PROBE])
        norm = grad_norm(self.model.generator)
        return {} if norm is None else {"g_grad_norm": norm}

    # -- per logging interval ------------------------------------------------------------------
    @torch.no_grad()
    def measure(self) -> dict[str, Any]:
        """The fixed-latent samples' diversity and classes (one host read)."""
        if not self.enabled:
            return {}
        images = self.model.sample(N_PROBE, seed=PROBE_SEED, ema=False).to(self.device)
        parts = [pixel_diversity(images)]
        if self._real_div_t is not None:
            parts.append(self._real_div_t)
        n_classes = 0
        if self.classifier is not None:
            _, logits = self.classifier(images.float())
            n_classes = logits.shape[1]
            counts = torch.bincount(logits.argmax(1), minlength=n_classes).float()
            parts += [(counts > 0).sum().float(), counts.max() / counts.sum()]
        values = torch.stack([p.float() for p in parts]).tolist()
        out: dict[str, Any] = {}
        div = values.pop(0)
        if self._real_div_t is not None:
            self.real_div = values.pop(0)
            out["div"] = div / self.real_div if self.real_div > 0 else math.nan
        if n_classes:
            out["classes"], out["top_class"] = int(values[0]), values[1]
            out["num_classes"] = n_classes
        return out

    def check(self, record: dict[str, Any]) -> None:
        """Run the detectors on the interval record just written; report what started or
        ended; raise :class:`TrainingCollapsed` when a collapse has lasted too long and
        ``on_collapse`` is rollback, and the trainer's divergence error when the losses
        exploded and ``on_diverge`` is rollback."""
        if not self.enabled:
            return
        self.history.append(record)
        del self.history[:-HISTORY]
        step = int(record["step"])
        found = diagnose(self.history, self.loss)
        for kind, finding in found.items():
            if kind not in self.active:
                self.active[kind] = (step, finding)
                self._event("start", step, finding)
        for kind in [k for k in self.active if k not in found]:
            since, finding = self.active.pop(kind)
            self._event("end", step, finding, since=since)
        if "nonfinite" in found and self.options.on_diverge == "rollback":
            from .trainer import TrainingDiverged  # the losses exploded: a divergence

            raise TrainingDiverged(f"{found['nonfinite'].message} at step {step}")
        collapse = self.active.get("mode_collapse")
        if collapse is not None and self.options.on_collapse == "rollback":
            lasted = sum(1 for r in self.history if r["step"] >= collapse[0])
            if lasted >= self.options.collapse_patience:
                raise TrainingCollapsed(
                    f"mode collapse since step {collapse[0]}: {collapse[1].message}",
                    since=collapse[0],
                )

    def nonfinite(self, step: int, what: str, first: int) -> None:
        """Record a divergence (the trainer raises right after)."""
        if not self.enabled:
            return
        finding = Finding("nonfinite", f"{what} became non-finite after step {first}")
        self._event("start", step, finding)

    def note(self, record: dict[str, Any]) -> None:
        """Write a remedy's record (a rollback) and say it in one line."""
        self.write({"kind": "health", **record})
        if self.say is not None:
            self.say(f"ganzoo: health: step {record['step']}: {record['message']}")

    def _event(self, event: str, step: int, finding: Finding, since: int | None = None) -> None:
        record: dict[str, Any] = {
            "step": step,
            "kind": "health",
            "event": event,
            "diagnosis": finding.kind,
            "severity": finding.severity,
            "message": finding.message,
        }
        if since is None:
            since = finding.since
        if since is not None:
            record["since"] = since
        self.write(record)
        if self.say is None:
            return
        title = DIAGNOSES[finding.kind].title
        if event == "start":
            where = f"; ganzoo doctor {self.run_dir}" if self.run_dir else ""
            self.say(f"ganzoo: health: step {step}: {title}: {finding.message}{where}")
        else:
            self.say(f"ganzoo: health: step {step}: {title} is over (since step {since})")


def say_through(bar: Any, enabled: bool) -> Callable[[str], None] | None:
    """A progress-line printer that keeps tqdm's bar intact (None when quiet)."""
    if not enabled:
        return None
    import sys

    def say(text: str) -> None:
        bar.write(text, file=sys.stderr)

    return say
