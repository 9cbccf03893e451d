"""The model contract: extension points overridden in a subclass reach the trainer, the CLI and
the model card; provenance is recorded at build time; ``from_pretrained`` honours its class."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from huggingface_hub import ModelCard

import ganzoo
from ganzoo.cli import cli
from ganzoo.models import GANModel, ImageGrid, StyleTransferModel
from ganzoo.testing import isolated_plugins

pytestmark = pytest.mark.usefixtures("one_thread")


class CardGAN(GANModel):
    """A DCGAN whose plugin adds to the model card and offers a view."""

    def card_sections(self) -> dict[str, str]:
        return {"Limitations": "Trained on 1,797 digits only."}

    def views(self):
        def first(n: int = 4, seed: int | None = 0, ema: bool | None = None, **kwargs):
            return ImageGrid(self.sample(n, seed=seed, ema=ema, **kwargs)[:1], nrow=1)

        return {"first": first}


def build_card_gan(config) -> CardGAN:
    from ganzoo_dcgan.model import build

    plain = build(config)
    return CardGAN(plain.generator, plain.discriminator)


class CardPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_models(self, registrar: ganzoo.Registrar) -> None:
        registrar.add_model(
            ganzoo.ModelSpec(
                name="card_gan",
                kind=ganzoo.GAN,
                summary="a DCGAN with a longer model card",
                config=ganzoo.get_spec("dcgan").config,
                build=build_card_gan,
                recipe=ganzoo.TrainingRecipe(),
                presets=ganzoo.get_spec("dcgan").presets,
            )
        )


@pytest.fixture
def card_gan(fresh_registry):
    fresh_registry.add_plugin(CardPlugin(), "card-plugin", distribution="ganzoo-card")
    torch.manual_seed(0)
    return ganzoo.create_model("card_gan", preset="tiny")


def test_a_plugin_adds_sections_to_its_model_card(card_gan, tmp_path):
    out = card_gan.save_pretrained(tmp_path / "m")
    card = ModelCard.load(out / "README.md")
    assert "## Limitations\n\nTrained on 1,797 digits only." in card.text
    assert card.text.index("## Limitations") < card.text.index("## Training recipe")


def test_a_plugins_view_is_rendered_by_ganzoo_sample(card_gan, tmp_path):
    card_gan.save_pretrained(tmp_path / "m")
    out = tmp_path / "first.png"
    args = ["sample", str(tmp_path / "m"), "--view", "first", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert out.is_file()
    result = CliRunner().invoke(cli, [*args[:2], "--view", "nope", "-o", str(out)])
    assert result.exit_code == 2 and "its views: first" in result.output


def test_provenance_is_recorded_at_build_so_saving_needs_no_plugin_lookup(card_gan, tmp_path):
    assert card_gan.provenance == ganzoo.models.Provenance(
        "card_gan", "gan", "card-plugin", "ganzoo-card", ""
    )
    from ganzoo.serialization import save_model_files

    # a registry in which nothing provides card_gan: a checkpoint is written all the same
    with isolated_plugins(installed=False) as host:
        assert "card_gan" not in host.registry.models
        save_model_files(card_gan, tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert meta["arch"] == "card_gan" and meta["plugin"] == "card-plugin"
    assert meta["plugin_distribution"] == "ganzoo-card"


def test_from_pretrained_honours_the_class_it_is_called_on(tmp_path, tiny_dcgan):
    tiny_dcgan.save_pretrained(tmp_path / "gan", sample=False)
    assert isinstance(GANModel.from_pretrained(tmp_path / "gan"), GANModel)
    with pytest.raises(ganzoo.WeightsError, match="not a StyleTransferModel"):
        StyleTransferModel.from_pretrained(tmp_path / "gan")
    ganzoo.create_model("gatys").save_pretrained(tmp_path / "style")
    with pytest.raises(ganzoo.WeightsError, match=r"holds a gatys model .*not a GANModel"):
        GANModel.from_pretrained(tmp_path / "style")


def test_generator_keyword_arguments_are_checked_against_forward(tiny_dcgan):
    with pytest.raises(ganzoo.ConfigError, match="takes no 'truncation'; it takes: no keyword"):
        tiny_dcgan.sample(2, truncation=0.5)
