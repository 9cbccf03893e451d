"""The Gatys style-transfer plugin, on a random-weight VGG11 cut at conv3_1 and 40 px images.

Pretrained VGG weights cannot be downloaded here, so these tests check the optimisation itself
(losses fall, the style's Gram matrices are matched, colours are kept, styles blend, pyramids
keep the size) and every error a user can make; the numbers a real backbone gives are not
asserted.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import ganzoo
from ganzoo.errors import ConfigError, DataError, GanzooError, WeightsError
from ganzoo.serialization import load_model_files, save_model_files

pytestmark = [
    pytest.mark.filterwarnings("ignore::ganzoo_gatys.backbone.RandomWeightsWarning"),
    pytest.mark.usefixtures("one_thread"),
]

# A small random backbone: three style layers down to 1/4 scale, content at conv3_1.
TINY = {
    "backbone": "vgg11",
    "backbone_weights": "random",
    "content_layers": ["conv3_1"],
    "style_layers": ["conv1_1", "conv2_1", "conv3_1"],
    "style_weight": 1e9,  # random features have tiny Gram matrices
    "size": 40,
    "steps": 15,
}


@pytest.fixture(scope="module")
def content():
    return Image.fromarray(data.astronaut()[:400, 50:450])


@pytest.fixture(scope="module")
def brick():
    return Image.fromarray(data.brick()).convert("RGB")


@pytest.fixture(scope="module")
def coffee():
    return Image.fromarray(data.coffee())


@pytest.fixture
def st():
    return ganzoo.create_model("gatys", **TINY)


def one_line(excinfo: pytest.ExceptionInfo) -> str:
    assert isinstance(excinfo.value, GanzooError)
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


def style_distance(st, image: torch.Tensor, style: Image.Image) -> float:
    """Sum over the style layers of the mean squared Gram difference to ``style``."""
    from ganzoo_gatys import backbone as bb
    from ganzoo_gatys.inputs import load_image
    from ganzoo_gatys.losses import gram
    from ganzoo_gatys.pyramid import fit_longest, resize

    cat = bb.catalog(TINY["backbone"])
    nodes = cat.resolve(TINY["style_layers"], "style")
    net = bb.build_feature_net(TINY["backbone"], "random", nodes)
    s = load_image(style, "style")
    s = resize(s, fit_longest(*s.shape[-2:], max(image.shape[-2:])))
    x = (image + 1) / 2
    with torch.no_grad():
        fx, fs = net(x), net(s)
    return sum(float((gram(fx[n]) - gram(fs[n])).square().mean()) for n in nodes)


# -- the model --------------------------------------------------------------------------------


def test_conventional_names_map_onto_timm_vgg_indices():
    from ganzoo_gatys import backbone as bb

    vgg19 = bb.catalog("vgg19")
    # torchvision's VGG19 layout: ReLUs after conv1_1, conv2_1, ... sit at 1, 6, 11, 20, 29
    assert vgg19.resolve(["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"], "style") == [
        "features.1", "features.6", "features.11", "features.20", "features.29",
    ]  # fmt: skip
    assert vgg19.resolve(["conv4_2", "relu4_2", "features.22"], "content") == ["features.22"] * 3
    vgg16 = bb.catalog("vgg16")
    assert vgg16.resolve(["block4_conv2", "block1_conv1", "block5_pool"], "x") == [
        "features.20", "features.1", "features.30",
    ]  # fmt: skip
    assert vgg19.default_content == ("conv4_2",)
    assert vgg19.default_style == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def test_total_loss_decreases(st, content, brick):
    for optimizer, lr in (("lbfgs", None), ("adam", 0.05)):
        result = st.run(content, [brick], optimizer=optimizer, lr=lr)
        totals = [row["total"] for row in result.history]
        assert len(totals) == TINY["steps"]
        assert totals[-1] < 0.2 * totals[0], optimizer
        assert result.image.shape == (1, 3, 40, 40)
        assert result.image.min() >= -1 and result.image.max() <= 1


def test_gram_distance_to_the_style_falls_by_a_large_factor(st, content, brick):
    result = st.run(content, [brick], steps=30)
    from ganzoo_gatys.inputs import load_image
    from ganzoo_gatys.pyramid import resize

    start = resize(load_image(content, "content"), (40, 40)) * 2 - 1  # the initial image
    before = style_distance(st, start, brick)
    after = style_distance(st, result.image, brick)
    assert after < before / 20


def _chroma_error(image: torch.Tensor, content: Image.Image) -> float:
    from ganzoo_gatys.colour import chroma
    from ganzoo_gatys.inputs import load_image
    from ganzoo_gatys.pyramid import resize

    reference = resize(load_image(content, "content"), tuple(image.shape[-2:]))
    return float((chroma((image + 1) / 2) - chroma(reference)).abs().mean())


def test_colour_preservation_keeps_the_contents_chroma(st, content, coffee):
    free = st.run(content, [coffee], steps=20, init="noise")
    kept = st.run(content, [coffee], steps=20, init="noise", preserve_color="luminance")
    matched = st.run(content, [coffee], steps=20, init="noise", preserve_color="histogram")
    # luminance-only transfer puts the content's I and Q channels back: only clamping differs
    assert _chroma_error(kept.image, content) < 0.01
    assert _chroma_error(free.image, content) > 5 * _chroma_error(kept.image, content)
    # colour matching moves the style's palette onto the content's
    mean = lambda x: x.mean(dim=(0, 2, 3))  # noqa: E731
    from ganzoo_gatys.inputs import load_image

    target = mean(load_image(content, "c") * 2 - 1)
    assert (mean(matched.image) - target).abs().sum() < (mean(free.image) - target).abs().sum()


def test_blending_with_weights_one_and_zero_equals_the_first_style_alone(st, content, brick):
    grass = Image.fromarray(data.grass()).convert("RGB")
    alone = st.run(content, [brick], steps=8)
    blended = st.run(content, [brick, grass], style_weights=[1, 0], steps=8)
    other = st.run(content, [brick, grass], style_weights=[0.5, 0.5], steps=8)
    assert torch.equal(alone.image, blended.image)
    assert not torch.allclose(alone.image, other.image, atol=1e-3)


def test_pyramid_output_has_the_requested_size(st, brick):
    wide = Image.fromarray(data.coffee())  # 400×600
    result = st.run(wide, [brick], size=60, pyramid=2, steps=8)
    assert result.image.shape == (1, 3, 40, 60)
    levels = [row["level"] for row in result.history]
    assert levels.count(0) == 8 and levels.count(1) == 4  # the finer level gets half the steps


def test_accepts_tensors_and_returns_a_pil_image(st, content, brick):
    from ganzoo.images import from_pil

    image = st.stylize(from_pil(content, 3), [from_pil(brick, 1)], steps=3)
    assert isinstance(image, Image.Image) and image.size == (40, 40) and image.mode == "RGB"


def test_same_seed_same_image_noise_init(st, content, brick):
    a = st.run(content, [brick], steps=4, init="noise", seed=3).image
    b = st.run(content, [brick], steps=4, init="noise", seed=3).image
    assert torch.equal(a, b)


# -- presets -----------------------------------------------------------------------------------


def test_preset_round_trips_config_and_style_images_as_safetensors(st, content, brick, tmp_path):
    grass = Image.fromarray(data.grass()).convert("RGB")
    st.set_styles([brick, grass], [0.7, 0.3])
    folder = save_model_files(st, tmp_path / "preset")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "styles.safetensors"]
    loaded = load_model_files(folder)
    assert loaded.config == st.config and loaded.config.style_blend == [0.7, 0.3]
    for a, b in zip(loaded.styles.images(), st.styles.images(), strict=True):
        assert torch.equal(a, b)
    from ganzoo_gatys.inputs import load_image

    original = load_image(brick, "style")  # stored as 8-bit: equal to within rounding
    assert (loaded.styles.images()[0] - original).abs().max() <= 0.5 / 255 + 1e-6
    # the stored styles (and weights) are used when none are given
    with_stored = loaded.run(content, steps=3)
    assert torch.equal(with_stored.image, st.run(content, steps=3).image)
    assert not torch.equal(with_stored.image, loaded.run(content, [brick], steps=3).image)


def test_backbone_weights_from_a_safetensors_file(st, content, brick, tmp_path):
    from ganzoo_gatys import backbone as bb
    from safetensors.torch import save_file

    cat = bb.catalog("vgg11")
    nodes = cat.resolve(["conv3_1", "conv1_1", "conv2_1"], "x")
    body = bb.build_feature_net("vgg11", "random", nodes).body
    file = tmp_path / "vgg11.safetensors"
    state = {k: (v * 0.5).contiguous() for k, v in body.state_dict().items()}  # not the random ones
    state["head.fc.weight"] = torch.zeros(2, 2)  # tensors of unused layers are ignored
    save_file(state, str(file))
    from_file = st.run(content, [brick], steps=3, backbone_weights=str(file))
    random = st.run(content, [brick], steps=3)
    assert from_file.image.shape == random.image.shape
    assert not torch.equal(from_file.image, random.image)

    save_file({"features.0.weight": state["features.0.weight"]}, str(file))
    with pytest.raises(WeightsError) as exc:
        st.run(content, [brick], steps=1, backbone_weights=str(file))
    assert "lacks" in one_line(exc)
    (tmp_path / "vgg11.pth").write_bytes(b"not a pickle we would ever load")
    with pytest.raises(WeightsError) as exc:
        st.run(content, [brick], steps=1, backbone_weights=str(tmp_path / "vgg11.pth"))
    assert "safetensors" in one_line(exc)


@pytest.fixture
def fresh_backbones():
    """Forget the backbones loaded so far, so that pretrained ones are fetched again."""
    from ganzoo_gatys import backbone as bb

    bb._TRUNKS.clear()
    bb._NETS.clear()
    yield
    bb._TRUNKS.clear()
    bb._NETS.clear()


def test_pretrained_weights_come_through_timm_from_the_hub(hub, fresh_backbones, content, brick):
    """The real path: timm.create_model(pretrained=True) downloads the weights with
    huggingface_hub (here from the loopback test Hub) and the cut network uses them."""
    import timm
    from ganzoo_gatys import backbone as bb
    from safetensors.torch import save as to_bytes

    torch.manual_seed(1)
    published = {
        k: v.contiguous() for k, v in timm.create_model("test_resnet").state_dict().items()
    }
    hub.seed("timm/test_resnet.r160_in1k", {"model.safetensors": to_bytes(published)})
    st = ganzoo.create_model("gatys", backbone="test_resnet.r160_in1k", size=48, steps=2)
    assert st.run(content, [brick]).image.shape == (1, 3, 48, 48)
    net = next(iter(bb._NETS.values()))
    for key, value in net.body.state_dict().items():
        assert torch.equal(value.contiguous(), published[key]), key


def test_pretrained_weights_unavailable_offline_say_what_to_do(
    hf_env, fresh_backbones, content, brick
):
    hf_env.set_offline(True)
    st = ganzoo.create_model("gatys", backbone="test_resnet.r160_in1k", size=40, steps=1)
    with pytest.raises(WeightsError) as exc:
        st.run(content, [brick])
    message = one_line(exc)
    assert "HF_HUB_OFFLINE is set" in message and "HF_HOME" in message
    assert "hf download timm/test_resnet.r160_in1k model.safetensors" in message
    # raised to Python code: it names the model's arguments, not the command line's flags
    assert "backbone_weights='FILE.safetensors'" in message
    assert "backbone_weights='random'" in message and "--" not in message


@pytest.mark.parametrize("hub_state", ["closed", "silent"])
def test_unreachable_hub_fails_fast_with_the_same_hint(
    hf_env, fresh_backbones, content, brick, hub_state, silent_hub_url
):
    """Not cached and the Hub out of reach: one quick attempt, then the hint (before, the
    client's retries took about 80 s; a server that never answers could hang it for good)."""
    if hub_state == "silent":
        hf_env.set_endpoint(silent_hub_url)
    st = ganzoo.create_model("gatys", backbone="test_resnet.r160_in1k", size=40, steps=1)
    start = time.monotonic()
    with pytest.raises(WeightsError) as exc:
        st.run(content, [brick])
    assert time.monotonic() - start < 15  # a bound on a hang, not a speed claim
    message = one_line(exc)
    assert "cannot reach http://127.0.0.1:" in message
    assert "hf download timm/test_resnet.r160_in1k model.safetensors" in message
    assert "backbone_weights='random'" in message


def test_random_weights_warn():
    from ganzoo_gatys.backbone import RandomWeightsWarning

    st = ganzoo.create_model("gatys", **{**TINY, "pooling": "avg"})  # a fresh cut network
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st.run(Image.new("RGB", (40, 40), (200, 10, 10)), [Image.new("RGB", (40, 40))], steps=1)
    assert any(issubclass(w.category, RandomWeightsWarning) for w in caught)


def test_any_timm_cnn_as_backbone(content, brick):
    st = ganzoo.create_model("gatys", backbone="test_resnet", backbone_weights="random",
                             size=48, steps=5, style_weight=1e4)  # fmt: skip
    result = st.run(content, [brick])
    assert result.image.shape == (1, 3, 48, 48)
    assert result.history[-1]["total"] < result.history[0]["total"]


# -- bad input ---------------------------------------------------------------------------------


def test_missing_file(st, brick, tmp_path):
    with pytest.raises(DataError) as exc:
        st.run(tmp_path / "nope.jpg", [brick])
    assert "nope.jpg" in one_line(exc) and "does not exist" in one_line(exc)


def test_not_an_image(st, content, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is text")
    with pytest.raises(DataError) as exc:
        st.run(content, [text])
    assert "style 1" in one_line(exc) and "not an image" in one_line(exc)


def test_image_too_small_for_the_layers(content, brick):
    st = ganzoo.create_model("gatys", **{**TINY, "style_layers": ["conv5_1"], "size": 24})
    with pytest.raises(ConfigError) as exc:
        st.run(content, [brick])
    message = one_line(exc)
    assert "conv5_1" in message and "32 px" in message and "--size" in message
    with pytest.raises(ConfigError) as exc:  # fine at 40 px, too small at the pyramid's 20 px
        st.run(content, [brick], size=40, pyramid=2)
    assert "pyramid" in one_line(exc)


def test_style_weights_must_match_the_styles(st, content, brick):
    with pytest.raises(ConfigError) as exc:
        st.run(content, [brick], style_weights=[0.7, 0.3])
    assert "2 style weights for 1 style image" in one_line(exc)
    with pytest.raises(ConfigError):
        st.run(content, [brick, brick], style_weights=[0, 0])


def test_unknown_layer_lists_the_valid_ones(st, content, brick):
    with pytest.raises(ConfigError) as exc:
        st.run(content, [brick], content_layers=["conv4_9"])
    message = one_line(exc)
    assert "conv4_9" in message and "conv4_2" in message and "conv1_1" in message


def test_unknown_option_and_backbone(st, content, brick):
    with pytest.raises(ConfigError) as exc:
        st.run(content, [brick], stepz=3)
    assert "steps" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        st.run(content, [brick], backbone="vgg91")
    assert "vgg91" in one_line(exc)


def test_no_style_image(st, content):
    with pytest.raises(ConfigError) as exc:
        st.run(content, [])
    assert "style" in one_line(exc)


def test_chroma_helper_measures_colour_not_brightness():
    from ganzoo_gatys.colour import chroma

    grey = torch.full((1, 3, 4, 4), 0.3)
    brighter = torch.full((1, 3, 4, 4), 0.8)
    red = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert float(chroma(grey).abs().max()) < 1e-6
    assert torch.allclose(chroma(grey), chroma(brighter), atol=1e-6)
    assert float(chroma(red).abs().mean()) > 0.1
    assert np.isfinite(float(chroma(red).sum()))
