"""The style-transfer contract: :class:`StyleTransferModel` and what its ``run`` returns.

A :class:`StyleTransferModel` paints a content image in the style of one or more style images
(``ganzoo stylize``); unlike a :class:`ganzoo.models.GANModel` it has no adversarial training,
so it lives apart from the GAN contract. ``from ganzoo.models import StyleTransferModel`` keeps
working (plugins import it from there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from .errors import ConfigError
from .models import ZooModel
from .protocols import STYLE_TRANSFER


@dataclass
class StylizeResult:
    """What one stylisation produced (:meth:`StyleTransferModel.run`)."""

    image: Tensor  #: 1×3×H×W in [-1, 1], on the CPU
    history: list[dict[str, float]] = field(default_factory=list)  #: one row per step, "step" key
    seconds: float | None = None  #: wall time of the work, when measured

    def pil(self) -> Any:
        """The image as a PIL image."""
        from .images import to_pil

        return to_pil(self.image[0])


class StyleTransferModel(ZooModel):
    """A model that paints a content image in the style of one or more style images.

    Subclasses implement :meth:`run`; :meth:`set_styles` lets a model store style images so that
    a saved folder is a reusable preset. ``ganzoo stylize`` (the Gatys plugin's command) calls
    only these methods, so it works with any style-transfer model.
    """

    kind: ClassVar[str] = STYLE_TRANSFER

    def run(
        self,
        content: Any,
        styles: Sequence[Any] | None = None,
        *,
        style_weights: Sequence[float] | None = None,
        callback: Callable[[int, Tensor, dict[str, float]], None] | None = None,
        callback_every: int = 0,
        progress: bool = False,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> StylizeResult:
        """Stylise ``content`` (a path, PIL image or tensor) with ``styles`` (default: the ones
        stored by :meth:`set_styles`), blended by ``style_weights``. ``overrides`` are config
        keys for this call only; ``callback(step, image, losses)`` is called every
        ``callback_every`` steps. Called by ``ganzoo stylize`` and :meth:`stylize`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def set_styles(self, images: Sequence[Any], weights: Sequence[float] | None = None) -> Any:
        """Store style images (and blend weights) in the model so that ``save_pretrained``
        writes a preset (``ganzoo stylize --save-preset``). Not supported by default."""
        raise ConfigError(f"model {self.arch or type(self).__name__} cannot store style images")

    def stylize(self, content: Any, styles: Sequence[Any] | None = None, **kwargs: Any) -> Any:
        """:meth:`run`, returning a PIL image."""
        return self.run(content, styles, **kwargs).pil()
