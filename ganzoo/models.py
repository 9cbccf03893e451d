"""The model contract: the base classes every builder returns, with every extension point.

:class:`ZooModel` is what every builder returns: an :class:`torch.nn.Module` that knows its
architecture, config and provenance and can be saved to and loaded from a folder or the Hub.
:class:`GANModel` holds a generator and a discriminator (and, once training asks for one, an
exponential moving average of the generator) and is what the adversarial trainer fits.
:class:`StyleTransferModel` (in :mod:`ganzoo.style_models`, importable from here too) is the
base of models that restyle a picture (``ganzoo stylize``).

Every place where an architecture may differ is a method below with a default and a docstring
saying who calls it and when (``prepare_real``, ``final_image``, ``sample_latent``,
``generator_penalty``, ``views``, ``card_sample``, ``card_sections``, ``run``,
``set_styles``): a plugin overrides what it needs in a subclass, and nothing in the trainer, the
CLI or the Hub code names an architecture or looks for an optional attribute.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from .errors import ConfigError, WeightsError
from .protocols import GAN, Discriminator, Generator

M = TypeVar("M", bound="ZooModel")


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


@dataclass(frozen=True)
class Provenance:
    """Where a built model comes from, recorded by :func:`ganzoo.create_model` (and loading)
    when the model is built, so that saving it never has to ask the plugin system again."""

    arch: str  #: the architecture name
    kind: str  #: the spec's kind
    plugin: str = ""  #: the plugin that registered the architecture
    distribution: str = ""  #: that plugin's distribution (``pip install`` name)
    version: str = ""  #: that distribution's version


@dataclass
class ImageGrid:
    """Images meant to be shown as one grid: what a :meth:`GANModel.views` entry returns."""

    images: Tensor  #: N×C×H×W in [-1, 1]
    nrow: int | None = None  #: images per row (None: a square grid)


def conditional_classes(config: Any) -> int:
    """The number of classes a model config asks for, for a builder to pass to
    :class:`GANModel`: 0 unless its ``conditional`` field is true; then its ``num_classes``,
    which must be at least 2 (``ganzoo train`` fills it, and ``class_names``, from the data)."""
    if not getattr(config, "conditional", False):
        return 0
    k = int(getattr(config, "num_classes", 0) or 0)
    if k < 2:
        raise ConfigError(
            "conditional=true needs num_classes >= 2: ganzoo train takes it from the dataset; "
            "in Python pass num_classes=N"
        )
    return k


class ZooModel(nn.Module):
    """A model ganzoo can build, save and load. Subclasses define :meth:`networks`."""

    kind: ClassVar[str] = ""
    #: set by :func:`ganzoo.create_model` / :func:`ganzoo.from_pretrained` when the model is built
    arch: str = ""
    config: Any = None
    provenance: Provenance | None = None
    #: set by :func:`ganzoo.from_pretrained`: the dataset, licence, recipe and metrics the weights
    #: were published with (kept by a later ``save_pretrained``), and where they came from
    card_info: Mapping[str, Any] | None = None
    pretrained_from: str = ""

    def networks(self) -> dict[str, nn.Module]:
        """The separately saved networks, by file stem (``generator``, ``discriminator``).

        ``save_pretrained`` and every checkpoint write one ``NAME.safetensors`` per entry; may be
        empty for a model with nothing to save."""
        return {}

    def card_sample(self) -> Tensor | None:
        """Images for the model card's picture (``sample.png``), N×C×H×W in [-1, 1], or None
        for no picture. Called by ``save_pretrained``; a GAN shows 16 samples."""
        return None

    def card_sections(self) -> dict[str, str]:
        """Extra sections of the model card: heading -> Markdown body, written after the
        model's config by ``save_pretrained``. Empty by default."""
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
    def from_pretrained(cls: type[M], name_or_path: str | Path, **kwargs: Any) -> M:
        """Load a model saved with :meth:`save_pretrained` (a folder, a Hub id or a tag).

        Called on a subclass (``GANModel.from_pretrained(...)``), a saved model of another class
        is an error rather than a surprise later."""
        from .hub import from_pretrained

        model = from_pretrained(name_or_path, **kwargs)
        if not isinstance(model, cls):
            raise WeightsError(
                f"{name_or_path} holds a {model.arch or model.kind} model "
                f"({type(model).__name__}), not a {cls.__name__}: load it with "
                "ganzoo.from_pretrained"
            )
        return model

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")


class GANModel(ZooModel):
    """A generator and a discriminator, trained together by the adversarial trainer.

    Subclass it to change what the trainer and the samplers do (each method below says when it
    is called); the networks only need the :class:`~ganzoo.Generator` and
    :class:`~ganzoo.Discriminator` protocols.
    """

    kind: ClassVar[str] = GAN
    #: Why this model's training step cannot be captured in a CUDA graph (host-side work in
    #: a forward, shapes that change per call), or None: it can. The trainer prints the reason
    #: when it trains the model eagerly on CUDA; the conformance kit's ``capture`` check
    #: verifies the claim either way.
    capture_blocker: ClassVar[str | None] = None
    #: True when :meth:`training_schedule` only rewrites buffers in place (a fade-in weight)
    #: and every step trains every parameter on the run's whole batch: torchrun and the CUDA
    #: fast path can then follow the schedule. A model that grows (ProGAN) leaves it False and
    #: trains in one process, eagerly.
    schedule_in_place: ClassVar[bool] = False

    def __init__(
        self, generator: nn.Module, discriminator: nn.Module, *, num_classes: int = 0
    ) -> None:
        super().__init__()
        if num_classes < 0 or num_classes == 1:
            raise ConfigError(f"num_classes is {num_classes}: use 0 (unconditional) or >= 2")
        #: 0: unconditional; N: G takes ``(z, labels)`` and D ``(images, labels)``, labels 0..N-1
        self.num_classes = int(num_classes)
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

    @property
    def latent_dim(self) -> int:
        return int(self.generator.latent_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.generator.image_shape)  # type: ignore[return-value]

    @property
    def conditional(self) -> bool:
        """Whether the networks take class labels (``num_classes > 0``)."""
        return self.num_classes > 0

    @property
    def class_names(self) -> list[str]:
        """One name per class: the config's ``class_names`` (filled from the dataset when the
        model was trained), else the class indices as text; empty when unconditional."""
        names = list(getattr(self.config, "class_names", None) or ())
        if len(names) == self.num_classes:
            return [str(n) for n in names]
        return [str(i) for i in range(self.num_classes)]

    def describe_classes(self) -> str:
        """The valid classes in one line, for error messages (``0-9`` or ``0 (cat), 1 (dog)``)."""
        names = self.class_names
        if names == [str(i) for i in range(self.num_classes)]:
            return f"0-{self.num_classes - 1}"
        return ", ".join(f"{i} ({n})" for i, n in enumerate(names))

    def check_labels(self, labels: Any, n: int | None = None) -> Tensor:
        """``labels`` (an int, a sequence of ints or an integer tensor) as a long tensor of
        ``n`` labels on the CPU (one int is repeated), checked against ``num_classes``.

        An unconditional model refuses labels; a label out of range or not an integer is a
        :class:`~ganzoo.errors.ConfigError` listing the valid classes. Called by
        :meth:`sample` and the CLI."""
        what = self.arch or type(self).__name__
        if not self.conditional:
            raise ConfigError(f"{what} is unconditional: it takes no class labels")
        valid = f"valid classes: {self.describe_classes()}"
        if isinstance(labels, bool) or (isinstance(labels, float) and not labels.is_integer()):
            raise ConfigError(f"class {labels!r} is not an integer; {valid}")
        if isinstance(labels, int | float):
            t = torch.full((n if n is not None else 1,), int(labels), dtype=torch.long)
        else:
            t = torch.as_tensor(labels)
            if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
                raise ConfigError(f"class labels must be integers, not {t.dtype}; {valid}")
            t = t.detach().to("cpu", torch.long).flatten()
            if n is not None and t.numel() != n:
                raise ConfigError(f"{t.numel()} class labels for {n} images: give one or {n}")
        bad = t[(t < 0) | (t >= self.num_classes)]
        if bad.numel():
            raise ConfigError(f"class {int(bad[0])} is out of range; {valid}")
        return t

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {
            "generator": self.generator,
            "discriminator": self.discriminator,
        }
        if self.generator_ema is not None:
            nets["generator_ema"] = self.generator_ema
        return nets

    def enable_ema(self) -> nn.Module:
        """Create (once) the moving-average copy of the generator, frozen. Called by the
        trainer when ``ema`` is on, and by loading when a folder has ``generator_ema``."""
        if self.generator_ema is None:
            ema = copy.deepcopy(self.generator)
            ema.requires_grad_(False)
            ema.eval()
            self.generator_ema = ema
        return self.generator_ema

    def sampling_generator(self, ema: bool | None = None) -> nn.Module:
        """The generator that samples come from. ``ema=None`` (the default everywhere, and
        ``ganzoo sample``'s ``--ema``): the EMA copy when there is one, else the trained one;
        ``ema=False`` (``--no-ema``): the trained one; ``ema=True``: the EMA copy, an error
        when there is none."""
        if ema is True and self.generator_ema is None:
            raise ConfigError(
                "this model has no EMA generator; sample without it (ema=None or False)"
            )
        if ema is not False and self.generator_ema is not None:
            return self.generator_ema
        return self.generator

    # -- extension points ------------------------------------------------------------------
    def sample_latent(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = None
    ) -> Tensor:
        """``n`` latent vectors, standard normal ``(n, latent_dim)`` by default. Called for every
        training batch, the fixed sample grid, ``sample()`` and ``--interpolate``; override it
        for another prior. Drawn from ``generator`` (a seeded :class:`torch.Generator`)."""
        # drawn where the random generator lives (the CPU for a seed), then moved
        where = generator.device if generator is not None else (device or self.device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=where)
        return z.to(device or self.device)

    def sample_labels(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: Any = None,
        weights: Tensor | None = None,
    ) -> Tensor:
        """``n`` class labels for generated images: uniform over the classes by default, or
        drawn with ``weights`` (the dataset's class frequencies, ``--set label_dist=dataset``).
        Called by the trainer for every batch of fakes of a conditional model; override it for
        another label prior. Drawn from ``generator`` where it lives."""
        where = generator.device if generator is not None else (device or self.device)
        if weights is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator, device=where)
        else:
            w = weights.to(where, torch.float)
            labels = torch.multinomial(w, n, replacement=True, generator=generator)
        return labels.to(device or self.device)

    def final_image(self, output: Any) -> Tensor:
        """The full-size images in a generator's output. Called on every generator output the
        trainer logs or samples; a generator that returns a pyramid (a list, coarsest first)
        gives its last element."""
        if isinstance(output, list | tuple):
            return output[-1]
        return output

    def prepare_real(self, images: Tensor) -> Any:
        """Turn a batch of real images into what the discriminator takes. Called by the trainer
        on every real batch, on the device, inside the training step (MSG-GAN builds an image
        pyramid here)."""
        return images

    def generator_penalty(self, z: Tensor, labels: Tensor | None = None) -> Tensor | None:
        """An extra term of the generator's loss (StyleGAN2's path length penalty), a scalar
        tensor connected to G, or None for none (the default). The trainer calls it every
        ``g_reg_every`` generator steps with that step's latents, in training mode, and scales
        the result by ``g_reg_every`` (lazy regularisation). A conditional model also gets
        that step's fake ``labels`` (keyword); an unconditional one is called with ``z`` alone.
        Gradients of a penalty are taken with respect to images or latents, never labels."""
        return None

    def training_schedule(self, step: int, context: Any) -> Any:
        """Put the model into the state training step ``step`` runs in and describe it, or
        return None (the default: the model never changes, and is not asked again).

        Called by the trainer before every step (and once at the run's first step, before the
        optimisers are built), with a :class:`ganzoo.training.schedule.ScheduleContext`; returns
        a :class:`ganzoo.training.schedule.TrainingPhase`. Progressive growing sets its
        resolution and fade-in α here. The state must depend only on ``step`` and ``context``,
        so a resumed run continues exactly; set it on ``generator_ema`` too when there is one.
        Parameters may be added (the optimisers follow, carrying the others' state), but every
        tensor the state needs must be a saved buffer, so a checkpoint restores it."""
        return None

    def views(self) -> dict[str, Callable[..., ImageGrid]]:
        """Model-specific pictures for ``ganzoo sample --view NAME``: name -> a function called
        as ``render(n=..., seed=..., ema=..., **generator_kwargs)`` that returns an
        :class:`ImageGrid`. ``ema`` means what it means for :meth:`sample`. None by default."""
        return {}

    def card_sample(self) -> Tensor:
        """16 samples with seed 0 (the EMA generator when there is one) for the model card;
        a conditional model's cycle through its classes."""
        if self.conditional:
            return self.sample(16, seed=0, labels=torch.arange(16) % self.num_classes)
        return self.sample(16, seed=0)

    # -- sampling ----------------------------------------------------------------------------
    def check_generator_kwargs(self, kwargs: Mapping[str, Any], ema: bool | None = None) -> None:
        """Refuse keyword arguments the sampling generator's ``forward`` does not take, naming
        the ones it does (``ganzoo sample --arg KEY=VALUE``)."""
        if not kwargs:
            return
        params = inspect.signature(self.sampling_generator(ema).forward).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return
        named = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # after z: a conditional generator's labels come from sample(labels=...) / --class
        named = named[:1] + [name for name in named[1:] if name != "labels"]
        unknown = sorted(set(kwargs) - set(named[1:]))  # the first one is z
        if unknown:
            takes = ", ".join(named[1:]) or "no keyword arguments"
            raise ConfigError(
                f"the generator of {self.arch or type(self).__name__} takes no {unknown[0]!r}; "
                f"it takes: {takes}"
            )

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int | None = 0,
        *,
        ema: bool | None = None,
        z: Tensor | None = None,
        batch_size: int = 256,
        labels: Any = None,
        amp: bool | None = None,
        **generator_kwargs: Any,
    ) -> Tensor:
        """``n`` images in ``[-1, 1]`` (N×C×H×W) from the EMA generator when there is one.

        The same ``seed`` always gives the same images; ``z`` replaces the drawn latents.
        ``labels`` (conditional models only): one class for all (``labels=7``) or one per
        image (a sequence or tensor of ``n`` ints); None draws them uniformly from ``seed``.
        ``generator_kwargs`` reach the generator's forward (StyleGAN's ``truncation``, for
        instance). More keyword-only arguments may be added in plugin API 1.x; an override
        must accept ``**kwargs`` it does not know.

        On CUDA the generator runs in batches of ``batch_size`` under bf16 autocast (``amp``
        None or True; ``amp=False`` for float32); on the CPU it always runs in float32, so
        CPU samples do not change. The images come back as float32 either way.
        """
        self.check_generator_kwargs(generator_kwargs, ema)
        if z is not None:
            n = z.shape[0]
        if labels is not None or self.conditional:
            if labels is None:
                rng = torch.Generator().manual_seed(seed + 1) if seed is not None else None
                labels = self.sample_labels(n, generator=rng, device="cpu")
            labels = self.check_labels(labels, n)
        net = self.sampling_generator(ema)
        devices = [self.device] if self.device.type == "cuda" else []
        # Any randomness inside G (StyleGAN's noise inputs) is seeded too, without disturbing
        # the caller's random state.
        bf16 = self.device.type == "cuda" and amp is not False
        precision = torch.autocast("cuda", torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.random.fork_rng(devices=devices), eval_mode(net), precision:
            if seed is not None:
                torch.manual_seed(seed)
            if z is None:
                rng = torch.Generator().manual_seed(seed) if seed is not None else None
                z = self.sample_latent(n, generator=rng, device="cpu")
            z = z.to(self.device)
            if labels is None:
                outputs = [net(chunk, **generator_kwargs) for chunk in z.split(batch_size)]
            else:
                ys = labels.to(self.device).split(batch_size)
                outputs = [
                    net(chunk, y, **generator_kwargs)
                    for chunk, y in zip(z.split(batch_size), ys, strict=True)
                ]
            out = [self.final_image(o).float().clamp(-1, 1) for o in outputs]
        return torch.cat(out)


#: names that live in :mod:`ganzoo.style_models`, importable from here as before (plugins do)
_STYLE_NAMES = ("StyleTransferModel", "StylizeResult")


def __getattr__(name: str) -> Any:
    """Re-export the style-transfer contract on first access: importing it at the top would
    be circular, since :mod:`ganzoo.style_models` builds on :class:`ZooModel`."""
    if name in _STYLE_NAMES:
        from . import style_models

        return getattr(style_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
