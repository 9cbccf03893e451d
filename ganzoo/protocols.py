"""The shapes ganzoo expects of models and trainers.

These are :class:`typing.Protocol` classes: a plugin's networks need not inherit from anything in
ganzoo, they only need the attributes below. The core checks them at build time with
:func:`isinstance` (the protocols are runtime-checkable) so that a broken plugin fails when it is
built, not halfway through training.

The model around the networks is a class, not a protocol: a builder returns a
:class:`ganzoo.models.GANModel`, :class:`ganzoo.models.StyleTransferModel` or
:class:`ganzoo.models.ZooModel`, and every extension point (``prepare_real``, ``final_image``,
``sample_latent``, ``generator_penalty``, ``views``, ``card_sample``, ``card_sections``, ``run``,
``set_styles``) is a method of those classes with a default and a docstring. A config is a
dataclass; subclassing :class:`ganzoo.ModelConfig` declares its ``validate()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # torch is heavy; keep it out of `import ganzoo`
    from pathlib import Path

    from torch import Tensor

#: The kinds of model the registry holds. A kind names what the model does, not how.
GAN = "gan"
STYLE_TRANSFER = "style-transfer"


@runtime_checkable
class Generator(Protocol):
    """Maps a batch of latent vectors to images.

    ``forward(z)`` takes ``z`` of shape ``(N, latent_dim)`` and returns images of shape
    ``(N, *image_shape)`` with values in ``[-1, 1]`` in eval mode (a generator with a linear
    output, like StyleGAN's, clamps then; in training mode D may see the raw values). A
    multi-scale generator may return a list of images, coarsest first, whose last element is
    the full-size image (see :meth:`ganzoo.models.GANModel.final_image`). Keyword arguments
    after ``z`` (StyleGAN's ``truncation``) reach it from ``model.sample(..., key=value)`` and
    ``ganzoo sample --arg key=value``.
    """

    latent_dim: int
    image_shape: tuple[int, int, int]

    def forward(self, z: Tensor) -> Any: ...


@runtime_checkable
class Discriminator(Protocol):
    """Scores images: ``forward(images)`` returns ``N`` logits, larger meaning "more real"."""

    def forward(self, images: Any) -> Tensor: ...


@runtime_checkable
class Trainer(Protocol):
    """Fits a model to data and leaves a run directory behind.

    ``fit`` receives the built model, the data (what :func:`ganzoo.data.open_dataset` returns:
    an ``ImageStore`` of uint8 images with labels, or an ``ImageStream``; from Python also an
    :class:`ganzoo.data.ImageSet`; :func:`ganzoo.data.feed.open_feed` turns any of them into
    batches on the device), the resolved training options and
    the run directory; ``resume=True`` continues from the run's latest checkpoint, and ``world``
    describes the processes of a torchrun job (one process when None). It returns the final
    logged metrics.
    """

    def fit(
        self,
        model: Any,
        data: Any,
        options: Any,
        run_dir: Path,
        *,
        resume: bool = False,
        world: Any = None,
    ) -> Mapping[str, float]: ...
