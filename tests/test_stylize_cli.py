"""``ganzoo stylize``: files in, an image (frames, loss plot, preset) out; every mistake exits 2
with one line. Runs on a random-weight VGG11 cut at conv3_1 and 40 px images."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from ganzoo.cli import cli

pytestmark = [
    pytest.mark.filterwarnings("ignore::ganzoo_gatys.backbone.RandomWeightsWarning"),
    pytest.mark.usefixtures("one_thread"),
]

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import HUB_TOKEN
except ImportError:
    from hub_server import HUB_TOKEN

TINY = [
    "--backbone", "vgg11", "--random-weights", "--content-layers", "conv3_1",
    "--style-layers", "conv1_1,conv2_1,conv3_1", "--style-weight", "1e9",
    "--size", "40", "--steps", "4", "--quiet",
]  # fmt: skip


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(data.astronaut()).save(folder / "photo.png")
    Image.fromarray(data.brick()).convert("RGB").save(folder / "brick.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.jpg")
    (folder / "notes.png").write_text("not an image")
    return folder


def stylize(*args: str):
    return CliRunner().invoke(cli, ["stylize", *map(str, args)])


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_writes_the_image_frames_and_loss_plot(images, tmp_path):
    from ganzoo_gatys.backbone import RandomWeightsWarning

    out = tmp_path / "out" / "styled.png"
    with pytest.warns(RandomWeightsWarning, match="will be poor"):
        result = stylize(images / "photo.png", images / "brick.png", "-o", out, *TINY,
                         "--save-every", "2", "--loss-plot", tmp_path / "loss.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 40)
    frames = sorted(p.name for p in (tmp_path / "out" / "styled_frames").iterdir())
    assert frames == ["final.png", "loss.png", "step-000002.png", "step-000004.png"]
    assert Image.open(tmp_path / "loss.png").size[0] > 100


def test_several_styles_with_weights_and_colour_preservation(images, tmp_path):
    out = tmp_path / "out.png"
    result = stylize(images / "photo.png", images / "brick.png", images / "coffee.jpg",
                     "--style-weights", "0.7,0.3", "--preserve-color", "--pyramid", "2",
                     "-o", out, *TINY)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 40)


def test_save_preset_then_load_it_from_the_folder(images, tmp_path):
    preset = tmp_path / "bricks"
    result = stylize(images / "brick.png", "--save-preset", preset, "--steps", "3",
                     "--size", "40", "--backbone", "vgg11")  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((preset / "config.json").read_text())
    assert config["arch"] == "gatys" and config["config"]["steps"] == 3
    assert config["config"]["style_sizes"] == [[512, 512]]
    assert config["config"]["backbone_weights"] == "pretrained"  # the machine's choice stays out
    assert (preset / "styles.safetensors").is_file()
    assert not list(preset.glob("*.bin")) and not list(preset.glob("*.pt*"))

    out = tmp_path / "from-preset.png"
    result = stylize(
        images / "photo.png",
        "--preset",
        preset,
        "-o",
        out,
        "--random-weights",
        "--content-layers",
        "conv3_1",
        "--style-layers",
        "conv1_1,conv2_1",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 40)


def test_preset_from_the_hub(hub, images, tmp_path):
    from ganzoo.hub import push_folder

    preset = tmp_path / "coffee-preset"
    assert stylize(images / "coffee.jpg", "--save-preset", preset, "--size", "40").exit_code == 0
    push_folder(preset, "me/coffee-style", token=HUB_TOKEN)
    out = tmp_path / "hub.png"
    result = stylize(images / "photo.png", "--preset", "me/coffee-style", "-o", out, *TINY)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 40)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.png", "brick.png"], "missing.png does not exist"),
        (["photo.png", "notes.png"], "not an image"),
        (["photo.png", "brick.png", "--style-weights", "0.7,0.3"], "2 style weights for 1"),
        (["photo.png", "brick.png", "--style-weights", "a,b"], "numbers separated by commas"),
        (["photo.png", "brick.png", "--content-layers", "conv9_9"], "valid: conv1_1"),
        (["photo.png", "brick.png", "--size", "6"], "too small for layer conv3_1"),
        (["photo.png", "brick.png", "--preset", "monet"], "unknown preset 'monet'"),
        (["photo.png", "brick.png", "--model", "dcgan"], "not a style-transfer one"),
        (["photo.png", "brick.png", "--optimizer", "sgd"], "'lbfgs', 'adam'"),
        (["photo.png", "brick.png", "--set", "stepz=3"], "did you mean 'steps'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(images, tmp_path, args, expected):
    resolved = [str(images / a) if a.endswith(".png") else a for a in args]
    line = error_line(stylize("-o", tmp_path / "x.png", *TINY, *resolved))
    assert expected in line


def test_output_is_required(images):
    result = stylize(images / "photo.png", images / "brick.png")
    assert result.exit_code == 2 and "-o OUTPUT" in result.output
