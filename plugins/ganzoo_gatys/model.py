"""The Gatys style-transfer model: a preset (config + style images) that stylises photographs.

:class:`GatysModel` is a :class:`ganzoo.models.StyleTransferModel`. It has no trainable network:
its one saved network is :class:`StyleBank`, whose buffers hold the preset's style images
(uint8), so ``save_pretrained`` writes ``config.json`` + ``styles.safetensors`` like
any ganzoo model. The backbone CNN is not part of the model: it is loaded through timm on the
first call to :meth:`GatysModel.run` (and cached), so building or loading a preset needs no
weights.

Speed (see benchmarks/stylize_speed.py): the backbone is cut after the deepest layer used, frozen
and channels-last; the content features and the style images' Gram matrices are computed once
per size under ``torch.no_grad``; losses are read back to the host only every few steps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.config import apply_overrides
from ganzoo.errors import ConfigError
from ganzoo.models import StyleTransferModel, StylizeResult

from . import backbone as bb
from . import colour
from .inputs import ImageLike, load_image
from .losses import Objective, blend_grams, gram
from .optimize import Tracker, optimise
from .pyramid import fit_longest, levels, resize

#: Style images stored in a preset are shrunk to at most this many pixels on their longer side.
MAX_STORED_SIDE = 1024


class StyleBank(nn.Module):
    """The style images of a preset, as uint8 buffers ``style_0``, ``style_1``, ... (3×H×W)."""

    def __init__(self, sizes: Sequence[Sequence[int]] = ()) -> None:
        super().__init__()
        self.count = len(sizes)
        for i, (h, w) in enumerate(sizes):
            self.register_buffer(f"style_{i}", torch.zeros(3, h, w, dtype=torch.uint8))

    def images(self) -> list[Tensor]:
        """The stored styles as 1×3×H×W float tensors in [0, 1]."""
        return [getattr(self, f"style_{i}").float().unsqueeze(0) / 255 for i in range(self.count)]

    @classmethod
    def from_images(cls, images: Sequence[Tensor]) -> StyleBank:
        bank = cls([tuple(x.shape[-2:]) for x in images])
        for i, x in enumerate(images):
            getattr(bank, f"style_{i}").copy_((x[0] * 255).round().clamp(0, 255).to(torch.uint8))
        return bank


class GatysModel(StyleTransferModel):
    """Neural style transfer by optimising the image (Gatys et al. 2015/2016)."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.styles = StyleBank(config.style_sizes)
        # moves with .to(); tells run() which device the user chose
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    def networks(self) -> dict[str, nn.Module]:
        return {"styles": self.styles}

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    # -- presets ----------------------------------------------------------------------------
    def set_styles(self, images: Sequence[ImageLike], weights: Sequence[float] | None = None):
        """Store style images (and their blend weights) in the model, to save as a preset."""
        loaded = []
        for i, image in enumerate(images):
            x = load_image(image, f"style {i + 1}")
            size = fit_longest(*x.shape[-2:], min(MAX_STORED_SIDE, max(x.shape[-2:])))
            loaded.append(resize(x, size))
        blend = [float(w) for w in weights] if weights is not None else []
        self._check_blend(blend, len(loaded))
        self.styles = StyleBank.from_images(loaded).to(self.device)
        self.config = dataclasses.replace(
            self.config, style_sizes=[list(x.shape[-2:]) for x in loaded], style_blend=blend
        )
        return self

    def card_sample(self) -> Tensor:
        """The stored style images, 256 px squares in [-1, 1], for the model card's picture."""
        from torch.nn import functional as F

        images = [F.interpolate(x, size=(256, 256), mode="area") for x in self.styles.images()]
        return torch.cat(images) * 2 - 1 if images else torch.zeros(0, 3, 256, 256)

    @staticmethod
    def _check_blend(blend: Sequence[float], count: int) -> None:
        if blend and len(blend) != count:
            raise ConfigError(
                f"{len(blend)} style weights for {count} style image(s): give one weight per "
                "style image (e.g. --style-weights 0.7,0.3 for two)"
            )
        if blend and sum(blend) <= 0:
            raise ConfigError("style weights must not all be zero")

    # -- stylising --------------------------------------------------------------------------
    def run(
        self,
        content: ImageLike,
        styles: Sequence[ImageLike] | None = None,
        *,
        style_weights: Sequence[float] | None = None,
        callback: Callable[[int, Tensor, dict[str, float]], None] | None = None,
        callback_every: int = 0,
        progress: bool = False,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> StylizeResult:
        """Stylise ``content``; ``styles`` default to the ones stored in the model.

        ``overrides`` are config keys for this call only (``steps``, ``size``, ``pyramid``,
        ``preserve_color``, ...), checked like ``create_model``'s. ``callback(step, image,
        losses)`` is called every ``callback_every`` steps with the current image in [-1, 1].
        """
        cfg = apply_overrides(self.config, overrides, what=f"model {self.arch or 'gatys'!r}")
        if style_weights is not None:
            cfg = apply_overrides(cfg, {"style_blend": [float(w) for w in style_weights]})
        dev = torch.device(device) if device is not None else self.device
        start = time.perf_counter()

        content_img = load_image(content, "content")
        if styles:
            style_imgs = [load_image(s, f"style {i + 1}") for i, s in enumerate(styles)]
        else:
            style_imgs = self.styles.images()
        if not style_imgs:
            raise ConfigError(
                "no style image: give at least one (or load a preset that stores some)"
            )
        blend = list(cfg.style_blend) or [1.0] * len(style_imgs)
        own = len(blend) == self.styles.count != len(style_imgs)
        if styles and style_weights is None and own:  # a preset's weights for its own styles
            blend = [1.0] * len(style_imgs)
        self._check_blend(blend, len(style_imgs))

        out_size = fit_longest(*content_img.shape[-2:], cfg.size)
        plan = levels(out_size, cfg.steps, cfg.pyramid, cfg.pyramid_decay)
        catalog = bb.catalog(cfg.backbone)
        c_nodes = catalog.resolve(cfg.content_layers or catalog.default_content, "content")
        s_names = cfg.style_layers or catalog.default_style
        s_nodes = catalog.resolve(s_names, "style")
        layer_w = list(cfg.style_layer_weights) or [1 / len(s_nodes)] * len(s_nodes)
        if len(layer_w) != len(s_nodes):
            raise ConfigError(
                f"{len(layer_w)} style_layer_weights for {len(s_nodes)} style layers: give one "
                "weight per style layer"
            )
        nodes = list(dict.fromkeys([*c_nodes, *s_nodes]))
        net = bb.build_feature_net(
            cfg.backbone,
            cfg.backbone_weights,
            nodes,
            pooling=cfg.pooling,
            normalize=cfg.normalize,
            device=dev,
            log=bb.stderr_log if progress else None,
        )
        self._check_sizes(net, nodes, cfg, plan[0].size, style_imgs, catalog.table)

        # colour preservation works on full-size images, before the pyramid
        content_full = resize(content_img, out_size).to(dev)
        work_content, work_styles = content_full, [s.to(dev) for s in style_imgs]
        if cfg.preserve_color == "luminance":
            content_y = colour.luminance(content_full)
            work_content = colour.grey3(content_y)
            work_styles = [
                colour.grey3(colour.match_luminance(colour.luminance(s), content_y))
                for s in work_styles
            ]
        elif cfg.preserve_color == "histogram":
            work_styles = [colour.match_colours(s, content_full) for s in work_styles]

        if callback is not None and cfg.preserve_color == "luminance":
            user_callback = callback

            def callback(step: int, image: Tensor, losses: dict[str, float]) -> None:
                rgb = colour.recombine((image + 1) / 2, resize(content_full, image.shape[-2:]))
                user_callback(step, rgb * 2 - 1, losses)

        tracker = Tracker(sum(lv.steps for lv in plan), progress, callback, callback_every)
        weights_by_node = dict(zip(s_nodes, layer_w, strict=True))
        x: Tensor | None = None
        try:
            for level in plan:
                c = _channels_last(resize(work_content, level.size))
                with torch.no_grad():
                    c_feats = net(c)
                    per_style = []
                    for s in work_styles:
                        side = round(max(level.size) * cfg.style_scale)
                        s_feats = net(_channels_last(resize(s, fit_longest(*s.shape[-2:], side))))
                        per_style.append({n: gram(s_feats[n], cfg.gram_norm) for n in s_nodes})
                objective = Objective(
                    content_targets={n: c_feats[n] for n in c_nodes},
                    style_targets=blend_grams(per_style, blend),
                    layer_weights=weights_by_node,
                    content_weight=cfg.content_weight,
                    style_weight=cfg.style_weight,
                    tv_weight=cfg.tv_weight,
                    reduction=cfg.reduction,
                    gram_norm=cfg.gram_norm,
                )
                if x is None:
                    main_style = work_styles[max(range(len(blend)), key=blend.__getitem__)]
                    x = _initial_image(cfg, c, resize(main_style, level.size))
                else:
                    x = resize(x, level.size).clamp(0, 1)
                tracker.level = level.index
                x = optimise(
                    x,
                    net,
                    objective,
                    steps=level.steps,
                    optimizer=cfg.optimizer,
                    lr=cfg.lr,
                    adam_beta1=cfg.adam_beta1,
                    adam_eps=cfg.adam_eps,
                    tracker=tracker,
                    graphs=cfg.cuda_graphs and dev.type == "cuda",
                )
        finally:
            tracker.close()
        assert x is not None
        if cfg.preserve_color == "luminance":
            x = colour.recombine(x, content_full)
        image = (x.float() * 2 - 1).clamp(-1, 1).cpu().contiguous()
        return StylizeResult(image, tracker.history, time.perf_counter() - start)

    @staticmethod
    def _check_sizes(net, nodes, cfg, coarsest, style_imgs, table) -> None:
        """Refuse images too small for the deepest layer (it would see less than 2×2 pixels)."""
        need = net.min_side(nodes)
        deepest = max(nodes, key=lambda n: net.reduction[n])
        name = next((k for k, v in table.items() if v == deepest and k != v), deepest)
        factor = round(net.reduction[deepest])
        advice = "use a larger --size"
        if cfg.pyramid > 1:
            advice += " or fewer --pyramid levels"
        if min(coarsest) < need:
            level = " at the coarsest pyramid level" if cfg.pyramid > 1 else ""
            raise ConfigError(
                f"the image would be {coarsest[1]}×{coarsest[0]} px{level}, too small for layer "
                f"{name} (it downsamples {factor}×, so it needs at least {need} px on each side): "
                f"{advice}, or shallower layers"
            )
        for i, s in enumerate(style_imgs):
            side = round(max(coarsest) * cfg.style_scale)
            h, w = fit_longest(*s.shape[-2:], side)
            if min(h, w) < need:
                raise ConfigError(
                    f"style image {i + 1} would be {w}×{h} px, too small for layer {name} "
                    f"(at least {need} px on each side): {advice}, a larger --style-scale or "
                    "a less elongated style image"
                )


def _channels_last(x: Tensor) -> Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _initial_image(cfg: Any, content: Tensor, style: Tensor) -> Tensor:
    """The starting point of the optimisation at the coarsest level."""
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.init == "content":
        return content.clone()
    if cfg.init == "style":
        return style.clone()
    if cfg.init == "noise":
        return torch.rand(content.shape, generator=gen).to(content)
    noise = torch.randn(content.shape, generator=gen).to(content) * cfg.init_noise
    return (content + noise).clamp(0, 1)


def build(config: Any) -> GatysModel:
    """Build a Gatys model from a :class:`ganzoo_gatys.GatysConfig` (no backbone is loaded)."""
    return GatysModel(config)
