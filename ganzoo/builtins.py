"""The core's own registrations: losses, datasets, the adversarial trainer, feature extractors,
the CLI's commands and the trackers (loggers).

The core registers these through the same hooks and the same :class:`~ganzoo.Registrar` as any
plugin (it appears as ``ganzoo`` in ``ganzoo plugins --all``), naming each object by
``"module:attribute"`` so that nothing here imports torch.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .registry import Registrar

LOSSES = {
    "bce": ("ganzoo.training.losses:BCE", "binary cross-entropy, non-saturating G loss"),
    "hinge": ("ganzoo.training.losses:HINGE", "hinge loss (Lim & Ye 2017; SAGAN, BigGAN)"),
    "wgan-gp": ("ganzoo.training.losses:WGAN_GP", "Wasserstein loss with gradient penalty"),
    "lsgan": ("ganzoo.training.losses:LSGAN", "least squares (Mao et al. 2017)"),
    "rahinge": ("ganzoo.training.losses:RAHINGE", "relativistic average hinge (MSG-GAN)"),
}

DATASETS = {
    "digits": (
        "ganzoo.data.builtin:load_digits",
        "1,797 handwritten digits from scikit-learn (8×8, labelled 0-9)",
    ),
    "lfw": ("ganzoo.data.builtin:load_lfw", "200 small faces bundled with scikit-image"),
    "photos": (
        "ganzoo.data.builtin:load_photos",
        "random crops of the photographs bundled with scikit-image and scikit-learn",
    ),
}


@hookimpl
def ganzoo_register_losses(registrar: Registrar) -> None:
    for name, (target, summary) in LOSSES.items():
        registrar.add_loss(name, target, summary)


@hookimpl
def ganzoo_register_datasets(registrar: Registrar) -> None:
    for name, (target, summary) in DATASETS.items():
        registrar.add_dataset(name, target, summary)


@hookimpl
def ganzoo_register_trainers(registrar: Registrar) -> None:
    registrar.add_trainer(
        "adversarial",
        "ganzoo.training.trainer:AdversarialTrainer",
        "the two-phase GAN loop: D on real and fake, then G through a frozen D",
    )


#: feature extractors for the metrics; factories take (arg, device=, random_weights=)
FEATURES = {
    "digits": (
        "ganzoo.metrics.digits_classifier:digits_extractor",
        "a small CNN trained once on the digits data (64-d features, 10 classes)",
    ),
    "inception": (
        "ganzoo.metrics.backbones:inception_extractor",
        "the FID Inception v3 via torch-fidelity (2048-d; needs its weights file)",
    ),
    "timm": (
        "ganzoo.metrics.backbones:timm_extractor",
        "any timm model as timm:NAME (pooled features; weights from the HF cache)",
    ),
}


@hookimpl
def ganzoo_register_features(registrar: Registrar) -> None:
    for name, (target, summary) in FEATURES.items():
        registrar.add_features(name, target, summary)


@hookimpl
def ganzoo_register_commands(registrar: Registrar) -> None:
    # the core's command table lives with the CLI (ganzoo.cli.main.COMMANDS); click is light
    from .cli.main import COMMANDS

    for name, target in COMMANDS.items():
        registrar.add_command(name, target)


#: trackers for ``ganzoo train --log NAME``; ``json`` (metrics.jsonl) is always on
LOGGERS = {
    "json": (
        "ganzoo.tracking.jsonlog:JsonLogger",
        "metrics.jsonl in the run directory (always on)",
    ),
    "tensorboard": (
        "ganzoo.tracking.tensorboard:TensorBoardLogger",
        "TensorBoard event files in the run directory (pip install tensorboard)",
    ),
}


@hookimpl
def ganzoo_register_loggers(registrar: Registrar) -> None:
    for name, (target, summary) in LOGGERS.items():
        registrar.add_logger(name, target, summary)
