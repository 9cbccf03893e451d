"""Base classes for the models ganzoo builds, saves and loads.

:class:`ZooModel` is what every builder returns: an :class:`torch.nn.Module` that knows its
architecture name and config and can be saved to and loaded from a folder or the Hub.
:class:`GANModel` holds a generator and a discriminator (and, once training asks for one, an
exponential moving average of the generator) and is what the adversarial trainer fits. Its
``final_image`` and ``prepare_real`` methods are the documented extension points for models whose
networks exchange more than one image (MSG-GAN passes a pyramid); nothing in the trainer names an
architecture.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .protocols import GAN, Discriminator, Generator


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in evaluation mode inside the block (fixed noise, no style mixing, running
    BatchNorm statistics), then back in whichever mode it was in, even on an error."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


class ZooModel(nn.Module):
    """A model ganzoo can build, save and load. Subclasses define :meth:`networks`."""

    kind: ClassVar[str] = ""
    #: set by :func:`ganzoo.create_model` / :func:`ganzoo.from_pretrained`
    arch: str = ""
    config: Any = None

    def networks(self) -> dict[str, nn.Module]:
        """The separately saved networks, by file stem (``generator``, ``discriminator``)."""
        return {}

    # The Hub methods live in ganzoo.hub so this module stays about models.
    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> Path:
        """Write config.json, one .safetensors file per network and a model card."""
        from .hub import save_pretrained

        return save_pretrained(self, save_directory, **kwargs)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Save to a temporary folder and upload it to ``repo_id`` in one commit."""
        from .hub import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs: Any) -> ZooModel:
        """Load a model saved with :meth:`save_pretrained` (a folder, a Hub id or a tag)."""
        from .hub import from_pretrained

        return from_pretrained(name_or_path, **kwargs)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")


class GANModel(ZooModel):
    """A generator and a discriminator, trained together by the adversarial trainer."""

    kind: ClassVar[str] = GAN

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        if not isinstance(generator, Generator):
            raise TypeError(
                f"{type(generator).__name__} is not a ganzoo Generator: it needs latent_dim, "
                "image_shape and forward(z)"
            )
        if not isinstance(discriminator, Discriminator):
            raise TypeError(f"{type(discriminator).__name__} is not a ganzoo Discriminator")
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema: nn.Module | None = None

    # -- what the trainer and the samplers use ---------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.generator.latent_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.generator.image_shape)  # type: ignore[return-value]

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {
            "generator": self.generator,
            "discriminator": self.discriminator,
        }
        if self.generator_ema is not None:
            nets["generator_ema"] = self.generator_ema
        return nets

    def enable_ema(self) -> nn.Module:
        """Create (once) the moving-average copy of the generator, frozen."""
        if self.generator_ema is None:
            ema = copy.deepcopy(self.generator)
            ema.requires_grad_(False)
            ema.eval()
            self.generator_ema = ema
        return self.generator_ema

    def sampling_generator(self, ema: bool | None = None) -> nn.Module:
        """The generator that samples come from: the EMA copy when there is one and ``ema`` is
        not False, else the trained one. ``ema=True`` without an EMA copy is an error."""
        if ema is True and self.generator_ema is None:
            raise ConfigError(
                "this model has no EMA generator; sample without it (ema=False, or --no-ema)"
            )
        if ema is not False and self.generator_ema is not None:
            return self.generator_ema
        return self.generator

    def sample_latent(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = None
    ) -> Tensor:
        """``n`` latent vectors; standard normal unless the generator defines ``sample_latent``."""
        own = getattr(self.generator, "sample_latent", None)
        if callable(own):
            return own(n, generator=generator, device=device)
        # drawn where the random generator lives (the CPU for a seed), then moved
        where = generator.device if generator is not None else (device or self.device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=where)
        return z.to(device or self.device)

    def final_image(self, output: Any) -> Tensor:
        """The full-size images in a generator's output. Extension point: a generator that
        returns a pyramid (a list, coarsest first) gives its last element."""
        if isinstance(output, list | tuple):
            return output[-1]
        return output

    def prepare_real(self, images: Tensor) -> Any:
        """Turn a batch of real images into what the discriminator takes. Extension point:
        MSG-GAN builds an image pyramid here, on the device, inside the training step."""
        return images

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int | None = 0,
        *,
        ema: bool | None = None,
        z: Tensor | None = None,
        batch_size: int = 256,
        **generator_kwargs: Any,
    ) -> Tensor:
        """``n`` images in ``[-1, 1]`` (N×C×H×W) from the EMA generator when there is one.

        The same ``seed`` always gives the same images. ``generator_kwargs`` reach the
        generator's forward (StyleGAN's ``truncation``, for instance).
        """
        net = self.sampling_generator(ema)
        devices = [self.device] if self.device.type == "cuda" else []
        # Any randomness inside G (StyleGAN's noise inputs) is seeded too, without disturbing
        # the caller's random state.
        with torch.random.fork_rng(devices=devices), eval_mode(net):
            if seed is not None:
                torch.manual_seed(seed)
            if z is None:
                rng = torch.Generator().manual_seed(seed) if seed is not None else None
                z = self.sample_latent(n, generator=rng, device="cpu")
            z = z.to(self.device)
            out = [
                self.final_image(net(chunk, **generator_kwargs)).float().clamp(-1, 1)
                for chunk in z.split(batch_size)
            ]
        return torch.cat(out)
