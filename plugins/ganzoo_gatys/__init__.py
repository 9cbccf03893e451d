"""Neural style transfer (Gatys, Ecker and Bethge, 2015/2016) for ganzoo.

A style-transfer model has no generator and no discriminator: it optimises the pixels of one
image so that a CNN (any timm CNN; VGG19 with ImageNet weights by default) sees the content of
one photograph and the textures (Gram matrices) of one or more style images::

    st = ganzoo.create_model("gatys")              # or preset="lesson"
    image = st.stylize(content, [style], steps=300)

This module only declares the model and the ``ganzoo stylize`` command (no torch import); the
work is done in :mod:`ganzoo_gatys.model` and its helpers, imported when a model is built, and
the command lives in :mod:`ganzoo_gatys.cli`, imported when the CLI runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import ganzoo
from ganzoo import param

GANZOO_API = ">=1,<2"

#: The recipe of the lesson's notebook (Keras VGG16, Adam, content + 150·style + 30·variation).
LESSON = {
    "backbone": "vgg16.tv_in1k",
    "content_layers": ["block4_conv2"],
    "style_layers": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1"],
    "content_weight": 1.0,
    "style_weight": 150.0,
    "tv_weight": 30.0,
    # the notebook's loss definitions: ½·sum content, Gram / (H·W), summed |TV|
    "reduction": "sum",
    "gram_norm": "hw",
    # Keras' VGG took 0-255 inputs minus the mean: its loss weights assume features that large
    "normalize": "caffe",
    "optimizer": "adam",
    "lr": 0.002,
    "adam_beta1": 0.99,
    "adam_eps": 0.1,
    "init": "noisy_content",
    "init_noise": 0.3,
    "size": 256,
    "steps": 1000,
}


@dataclass
class GatysConfig(ganzoo.ModelConfig):
    """Everything one stylisation depends on; a preset is this config plus its style images."""

    backbone: str = param("vgg19.tv_in1k", "timm CNN whose features define content and style")
    backbone_weights: str = param(
        "pretrained",
        "'pretrained' (timm, from the Hub or its cache), 'random' (poor results, for tests) "
        "or a path to a .safetensors state dict of the backbone",
    )
    pooling: str = param(
        "max", "backbone pooling; 'avg' as Gatys et al. suggest", choices=("max", "avg")
    )
    normalize: str = param(
        "imagenet",
        "input normalisation: ImageNet mean/std, or 'caffe' (0-255 minus the mean, as Keras' VGG)",
        choices=("imagenet", "caffe"),
    )
    content_layers: list[str] = param(  # noqa: RUF009 (param copies lists)
        [], "layers of the content loss; empty: conv4_2 for VGG, the 1/8-scale stage otherwise"
    )
    style_layers: list[str] = param(  # noqa: RUF009 (param copies lists)
        [], "layers of the style loss; empty: conv1_1..conv5_1 for VGG, stages up to 1/16 otherwise"
    )
    style_layer_weights: list[float] = param(  # noqa: RUF009 (param copies lists)
        [], "weight of each style layer; empty: 1/n each (Gatys' w_l)"
    )
    content_weight: float = param(1.0, "weight of the content loss (alpha)")
    style_weight: float = param(1e6, "weight of the style loss (beta)")
    tv_weight: float = param(0.0, "weight of the total-variation loss (smoothness)")
    reduction: str = param(
        "mean",
        "'mean': MSE content loss and per-pixel TV; 'sum': ½·sum of squares and summed TV",
        choices=("mean", "sum"),
    )
    gram_norm: str = param(
        "chw", "Gram matrices divided by C·H·W ('chw') or by H·W ('hw')", choices=("chw", "hw")
    )
    optimizer: str = param("lbfgs", "optimiser of the image", choices=("lbfgs", "adam"))
    lr: float | None = param(None, "learning rate; None: 1.0 for L-BFGS, 0.02 for Adam")
    adam_beta1: float = param(0.9, "Adam's beta1 (the lesson uses 0.99)")
    adam_eps: float = param(1e-8, "Adam's epsilon (the lesson uses 0.1)")
    cuda_graphs: bool = param(
        True, "on CUDA, replay each evaluation (Adam: and its step) from a CUDA graph"
    )
    init: str = param(
        "content",
        "initial image",
        choices=("content", "style", "noise", "noisy_content"),
    )
    init_noise: float = param(0.3, "standard deviation of the noise added by init=noisy_content")
    size: int = param(512, "longest side of the output in pixels; 0 keeps the content's size")
    steps: int = param(
        300,
        "objective evaluations (forward + backward passes); with a pyramid, at its coarsest level",
    )
    pyramid: int = param(1, "coarse-to-fine levels, each half the size of the next")
    pyramid_decay: float = param(
        0.5, "steps multiplier from one level to the next finer (the coarsest gets `steps`)"
    )
    style_scale: float = param(1.0, "style images are resized to this times the output size")
    preserve_color: str = param(
        "none",
        "keep the content's colours: luminance-only transfer or colour matching of the styles",
        choices=("none", "luminance", "histogram"),
    )
    style_blend: list[float] = param(  # noqa: RUF009 (param copies lists)
        [], "blend weight of each style image; empty: equal"
    )
    style_sizes: list[list[int]] = param(  # noqa: RUF009 (param copies lists)
        [], "height and width of each style image stored in the model (set by set_styles)"
    )
    seed: int = param(0, "seed of the noise initialisations")

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.size < 0:
            raise ValueError("size must be 0 (keep) or a positive number of pixels")
        if self.pyramid < 1:
            raise ValueError("pyramid must be at least 1 level")
        if not 0 < self.pyramid_decay <= 1:
            raise ValueError("pyramid_decay must be in (0, 1]")
        if self.style_scale <= 0:
            raise ValueError("style_scale must be positive")
        if self.lr is not None and self.lr <= 0:
            raise ValueError("lr must be positive")
        if min(self.content_weight, self.style_weight, self.tv_weight, self.init_noise) < 0:
            raise ValueError("loss weights and init_noise must not be negative")
        if any(w < 0 for w in [*self.style_blend, *self.style_layer_weights]):
            raise ValueError("style_blend and style_layer_weights must not be negative")
        if any(len(s) != 2 or min(s) < 1 for s in self.style_sizes):
            raise ValueError("style_sizes holds [height, width] pairs")
        if not 0 <= self.seed <= ganzoo.config.MAX_SEED:
            raise ValueError(f"seed must be between 0 and {ganzoo.config.MAX_SEED}")


@ganzoo.hookimpl
def ganzoo_register_models(registrar: ganzoo.Registrar) -> None:
    registrar.add_model(
        ganzoo.ModelSpec(
            name="gatys",
            kind=ganzoo.STYLE_TRANSFER,
            summary="Neural style transfer by optimising the image (Gatys et al. 2015/2016)",
            paper="https://arxiv.org/abs/1508.06576",
            config=GatysConfig,
            build="ganzoo_gatys.model:build",
            # no recipe: nothing is trained, each image is optimised on its own
            presets={
                "paper": ganzoo.Preset(
                    {"pooling": "avg", "init": "noise"},
                    summary="Gatys et al. 2016: average pooling, start from white noise",
                ),
                "lesson": ganzoo.Preset(LESSON, summary="the lesson's notebook (Keras VGG16)"),
                # what ganzoo's conformance kit builds (building loads no backbone anyway)
                "tiny": ganzoo.Preset({"size": 32, "steps": 2}),
            },
        )
    )


@ganzoo.hookimpl
def ganzoo_register_commands(registrar: ganzoo.Registrar) -> None:
    # a string: click and the command's module load only when the CLI looks it up
    registrar.add_command(
        "stylize", "ganzoo_gatys.cli:stylize_cmd", "paint a photo in the style of others"
    )
