"""Layer names: the conventional ones people write, mapped onto timm's module graph.

Papers and tutorials name VGG layers ``conv4_2`` (Gatys, Caffe) or ``block4_conv2`` (Keras);
timm's VGG is one ``features`` Sequential whose children are numbered. For a VGG this module maps

* ``convB_I``, ``reluB_I`` and ``blockB_convI`` to the rectified output of the I-th convolution of
  block B (what Caffe's in-place ReLU left in blob ``convB_I`` and what a Keras conv layer with
  ``activation='relu'`` returns),
* ``poolB`` and ``blockB_pool`` to the output of block B's pooling layer,
* ``features.N`` to the output of child N itself.

Any other timm CNN is addressed by its module or graph-node names (``layer2``, ``layer3.1.act2``,
``blocks.3``), as timm's ``feature_info`` and torch.fx name them; its defaults are the
``feature_info`` stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ganzoo.errors import ConfigError

#: Gatys et al.: content at conv4_2, style at the first convolution of each of the five blocks.
VGG_CONTENT = ("conv4_2",)
VGG_STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def vgg_layer_table(features: nn.Sequential, prefix: str = "features") -> dict[str, str]:
    """Conventional name -> graph node (``"features.N"``) for a VGG ``features`` Sequential."""
    table: dict[str, str] = {}
    block, conv = 1, 0
    pending: tuple[int, int] | None = None  # (block, conv) of a convolution awaiting its ReLU
    for index, module in enumerate(features):
        node = f"{prefix}.{index}"
        table[node] = node
        if isinstance(module, nn.Conv2d):
            conv += 1
            pending = (block, conv)
        elif isinstance(module, nn.ReLU) and pending is not None:
            b, i = pending
            for name in (f"conv{b}_{i}", f"relu{b}_{i}", f"block{b}_conv{i}"):
                table[name] = node
            pending = None
        elif isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
            table[f"pool{block}"] = table[f"block{block}_pool"] = node
            block, conv, pending = block + 1, 0, None
    return table


def is_vgg(model: nn.Module) -> bool:
    """True for timm's VGG family (one ``features`` Sequential of conv, [BN,] ReLU and pools)."""
    try:
        from timm.models.vgg import VGG
    except ImportError:  # pragma: no cover - timm without VGG
        return False
    return isinstance(model, VGG)


@dataclass
class LayerCatalog:
    """The names a backbone's layers answer to, and its default content and style layers."""

    backbone: str
    table: dict[str, str]  #: user-facing name -> torch.fx node name
    default_content: tuple[str, ...]
    default_style: tuple[str, ...]
    #: names shown when a layer is unknown (the table can hold hundreds of graph nodes)
    headline: list[str] = field(default_factory=list)

    def resolve(self, names: list[str] | tuple[str, ...], what: str) -> list[str]:
        """Graph nodes for ``names``; an unknown name is a ConfigError listing the valid ones."""
        nodes = []
        for name in names:
            node = self.table.get(name)
            if node is None:
                import difflib

                close = difflib.get_close_matches(name, list(self.table), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                shown = ", ".join(self.headline)
                raise ConfigError(
                    f"unknown {what} layer {name!r} for backbone {self.backbone}; {hint}"
                    f"valid: {shown}"
                )
            nodes.append(node)
        return nodes


def vgg_catalog(backbone: str, model: nn.Module) -> LayerCatalog:
    """Names of a timm VGG: conventional names plus ``features.N``."""
    table = vgg_layer_table(model.features)
    convs = [k for k in table if k.startswith("conv")]
    headline = [
        *convs,
        *(k for k in table if k.startswith("pool")),
        "block1_conv1 ...",
        "features.N",
    ]
    content = VGG_CONTENT if VGG_CONTENT[0] in table else (convs[len(convs) // 2],)
    style = tuple(n for n in VGG_STYLE if n in table)
    return LayerCatalog(backbone, table, content, style, headline)


def generic_catalog(backbone: str, model: nn.Module) -> LayerCatalog:
    """Names of any other timm CNN: its feature_info modules and every torch.fx graph node."""
    from timm.models._features_fx import get_graph_node_names

    info = list(getattr(model, "feature_info", []) or [])
    stages = [(str(f["module"]), int(f.get("reduction", 0))) for f in info if "module" in f]
    try:
        _, nodes = get_graph_node_names(model)
    except Exception as exc:  # torch.fx cannot trace every model
        raise ConfigError(
            f"backbone {backbone} cannot be traced by torch.fx ({type(exc).__name__}); "
            "choose a convolutional timm model such as vgg19 or resnet50"
        ) from None
    table = {n: n for n in nodes if n != "x"}
    table.update({m: m for m, _ in stages})
    if not stages:
        raise ConfigError(
            f"backbone {backbone} declares no feature_info stages: name its layers with "
            "--content-layers and --style-layers"
        )
    content_stage = min(stages, key=lambda s: abs(s[1] - 8))[0]
    style = tuple(m for m, r in stages if r <= 16) or (stages[0][0],)
    example = nodes[len(nodes) // 2]
    headline = [m for m, _ in stages] + [f"or any of {len(nodes)} graph nodes such as {example}"]
    return LayerCatalog(backbone, table, (content_stage,), style, headline)


def layer_catalog(backbone: str, model: nn.Module) -> LayerCatalog:
    """The catalogue for a timm model built with ``timm.create_model(backbone)``."""
    return vgg_catalog(backbone, model) if is_vgg(model) else generic_catalog(backbone, model)
