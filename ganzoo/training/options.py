"""The adversarial trainer's options: one dataclass, a help string per field.

Defaults come from here, then from the architecture's ``TrainingRecipe.options``, then a preset,
a TOML file, ``--set`` and the named CLI flags, in that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import MAX_SEED, param

#: device names the trainer accepts (torch.device would take more, and fail later)
DEVICE = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")


@dataclass
class TrainOptions:
    """Everything the adversarial loop reads. Model shape lives in the model's own config."""

    steps: int = param(2000, "total optimisation steps (G updates) of the run")
    batch_size: int = param(64, "images per step (global across processes under torchrun)")
    loss: str = param("bce", "adversarial loss: a registered name (ganzoo plugins --all)")
    lr_g: float = param(2e-4, "generator learning rate")
    lr_d: float = param(2e-4, "discriminator learning rate (often set apart to keep balance)")
    betas_g: tuple[float, float] = param((0.5, 0.999), "Adam betas of the generator")
    betas_d: tuple[float, float] = param((0.5, 0.999), "Adam betas of the discriminator")
    d_steps: int = param(1, "discriminator updates per generator update")
    d_skip_below: float | None = param(
        None, "skip D's update while its loss is below this (G/D balance); decided on the device"
    )
    gp_weight: float | None = param(
        None, "gradient-penalty weight; None uses the loss's own default (10 for wgan-gp)"
    )
    r1_gamma: float = param(0.0, "R1 penalty weight γ on real images (0 = off)")
    r1_every: int = param(1, "apply R1 every N D steps (lazy regularisation), scaled by N")
    g_reg_every: int = param(4, "apply the model's generator_penalty every N G steps")
    ema: bool = param(False, "keep an exponential moving average of G for sampling")
    ema_decay: float = param(0.999, "EMA decay per step")
    ema_start: int = param(0, "copy G into the EMA (no averaging) until this step")
    sample_every: int = param(250, "write samples/step-XXXXXX.png every N steps (0 = only at end)")
    n_samples: int = param(64, "images in each sample grid (a fixed latent batch)")
    checkpoint_every: int = param(500, "write a checkpoint every N steps (0 = only at end)")
    keep_checkpoints: int = param(0, "keep only the newest N checkpoints (0 = keep all)")
    log_every: int = param(25, "read losses back to the host every N steps")
    loggers: tuple[str, ...] = param(
        (), "trackers besides metrics.jsonl (ganzoo train --log): tensorboard, or a plugin's"
    )
    seed: int = param(0, "seed of weights, latents and batches")
    device: str = param("auto", "cpu, cuda, cuda:N or auto (CUDA when available)")
    amp: bool = param(True, "bf16 autocast on CUDA (ignored on CPU)")
    channels_last: bool = param(True, "channels_last memory format on CUDA")
    channels_last_cpu: bool = param(
        False,
        "channels_last on the CPU too: faster there (benchmarks/RESULTS.md), but results are "
        "not bit-identical to the default NCHW runs (the published weights' recipes)",
    )
    # -- the CUDA fast path (ganzoo.training.graphs); each part can be switched off ------------
    fused_adam: bool = param(True, "fused Adam kernels on CUDA (ignored on CPU: results unchanged)")
    cuda_graphs: bool = param(
        True, "capture the whole step in CUDA graphs and replay it (CUDA; else eager, said why)"
    )
    compile: bool = param(
        False, "torch.compile G and D (opt-in; the step is then not captured in CUDA graphs)"
    )
    sync_batchnorm: bool = param(False, "convert BatchNorm to SyncBatchNorm under torchrun")
    progress: bool = param(True, "show a progress bar")
    label_dist: str = param(
        "uniform",
        "conditional models: classes of generated images, uniform or the dataset's frequencies",
        choices=("uniform", "dataset"),
    )
    eval_every: int = param(0, "score samples every N steps into metrics.jsonl (0 = never)")
    eval_n: int = param(0, "samples per evaluation (0 = as many as held-out real images)")
    eval_features: str = param("digits", "feature extractor for eval_every (see ganzoo eval)")
    # -- augmentation of D's inputs for small datasets (ganzoo.training.augment) --------------
    augment: str = param(
        "none",
        "none, diffaugment (colour/translation/cutout on every image D sees) or ada (adaptive p)",
        choices=("none", "diffaugment", "ada"),
    )
    augment_policy: str = param(
        "color,translation,cutout", "comma-separated DiffAugment ops: color, translation, cutout"
    )
    ada_target: float = param(0.6, "ada: the E[sign(D(real))] that p is steered towards")
    ada_interval: int = param(4, "ada: adjust p every N steps")
    ada_kimg: float = param(100.0, "ada: thousands of images for p to move from 0 to 1")
    # -- training health (ganzoo.training.health; `ganzoo doctor RUN`) --------------------------
    health: bool = param(True, "diagnose D dominance, mode collapse, ... at each log interval")
    on_diverge: str = param(
        "stop",
        "on NaN/inf: stop, or rollback to the last good checkpoint with both lrs halved",
        choices=("stop", "rollback"),
    )
    on_collapse: str = param(
        "warn",
        "on a mode collapse lasting collapse_patience intervals: warn, or rollback (lrs halved)",
        choices=("warn", "rollback"),
    )
    collapse_patience: int = param(20, "log intervals a collapse must last before a rollback")
    rollback_tries: int = param(3, "rollbacks before the run gives up with the usual error")
    # -- data (ganzoo.data: prepared once into a uint8 cache, or streamed) ----------------------
    data_flip: bool = param(False, "mirror a seeded half of the real images left-right")
    data_streaming: bool = param(
        False, "decode the source as it streams (never cached; for data too large for the disk)"
    )
    data_image_column: str = param("", "image column of a table dataset ('' = find it)")
    data_label_column: str = param(
        "", "class column of a table dataset ('' = the ClassLabel column, 'none' = no labels)"
    )
    data_config: str | None = param(None, "configuration of a Hub dataset that has several")
    data_max_pixels: int = param(
        89_478_485, "skip (never decode) images that declare more pixels than this"
    )
    data_on_device: bool | None = param(
        None, "copy the whole uint8 dataset to the device (None = when it fits the budget)"
    )
    data_workers: int | None = param(
        None, "loader processes (0 = read in the training process; None = 0 on CPU, 4 on CUDA)"
    )
    data_prepare_workers: int | None = param(
        None, "processes that decode a dataset the first time (None = every core, at most 8)"
    )
    data_shuffle_buffer: int = param(1000, "examples in a stream's shuffle buffer (0 = in order)")

    def validate(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "d_steps",
            "r1_every",
            "g_reg_every",
            "n_samples",
            "log_every",
            "ada_interval",
            "collapse_patience",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in (
            "sample_every",
            "checkpoint_every",
            "keep_checkpoints",
            "ema_start",
            "eval_every",
            "eval_n",
            "data_shuffle_buffer",
            "rollback_tries",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError("learning rates must be positive")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("ema_decay must be in [0, 1)")
        for name in ("betas_g", "betas_d"):
            if not all(0.0 <= b < 1.0 for b in getattr(self, name)):
                raise ValueError(f"{name} must be two numbers in [0, 1), e.g. [0.5, 0.999]")
        if self.r1_gamma < 0 or (self.gp_weight is not None and self.gp_weight < 0):
            raise ValueError("r1_gamma and gp_weight must not be negative")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be between 0 and {MAX_SEED}")
        if not DEVICE.match(self.device):
            raise ValueError(
                f"device {self.device!r} is not a device: use cpu, cuda, cuda:N, mps or auto"
            )
        if not 0.0 < self.ada_target < 1.0 or self.ada_kimg <= 0:
            raise ValueError("ada_target must be in (0, 1) and ada_kimg positive")
        from .augment import parse_policy

        parse_policy(self.augment_policy)
        if self.data_max_pixels < 1:
            raise ValueError("data_max_pixels must be at least 1")
        for name in ("data_workers", "data_prepare_workers"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"{name} must not be negative")
