"""Metrics against closed-form and hand-computed cases, extractors, the evaluator, the digits
classifier and the real-vs-real floor."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.errors import ConfigError, GanzooError, UnknownNameError, WeightsError
from ganzoo.metrics import (
    Evaluator,
    FeatureExtractor,
    Protocol,
    embed,
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
    get_extractor,
    kernel_inception_distance,
    kl_divergence,
    knn_radii,
    mmd2_unbiased,
    mode_coverage,
    precision_recall,
    sqrtm_psd,
    training_evaluator,
)


# -- a cheap extractor registered the way a plugin registers one -------------------------------
class PixelProjection(FeatureExtractor):
    """Grey 8×8 thumbnails through a fixed random projection: cheap, deterministic features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(64, dim, generator=gen) / 8)

    def forward(self, images):
        grey = images.mean(1, keepdim=True)
        return F.adaptive_avg_pool2d(grey, 8).flatten(1) @ self.w, None


def pixel_projection(arg, *, device, random_weights=False):
    return PixelProjection(int(arg or 16))


class PixelsPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_features(self, registrar: ganzoo.Registrar) -> None:
        registrar.add_features("test-pixels", pixel_projection, "test projection")


@pytest.fixture
def pixels(fresh_registry):
    """``test-pixels`` registered by a plugin of this test's own registry."""
    fresh_registry.add_plugin(PixelsPlugin(), "test-metrics")
    return "test-pixels"


@pytest.fixture
def digits_cache(request, monkeypatch):
    """GANZOO_CACHE in pytest's cache folder: the digits classifier trains once per checkout."""
    try:
        path = request.config.cache.mkdir("ganzoo-cache")
    except AttributeError:  # the cache provider is disabled
        path = request.getfixturevalue("tmp_path") / "ganzoo-cache"
    monkeypatch.setenv("GANZOO_CACHE", str(path))
    return path


# -- Fréchet distance ----------------------------------------------------------------------------
def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 9.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum()  # 5 + 1 + 1 + 0
    got = frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b))
    assert got == pytest.approx(float(expected), abs=1e-10)
    assert got == pytest.approx(7.0, abs=1e-10)


def test_frechet_distance_of_non_commuting_covariances():
    # For 2×2 matrices tr √M = √(tr M + 2 √det M) (M = Σ1Σ2 has eigenvalues λ1, λ2 ≥ 0).
    s1 = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    s2 = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    m = s1 @ s2
    tr_sqrt = math.sqrt(float(m.trace()) + 2 * math.sqrt(float(torch.linalg.det(m))))
    mu1, mu2 = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    expected = 5.0 + 4.0 + 4.0 - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, abs=1e-10)


def test_sqrtm_psd_squares_back_and_matches_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(1)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    spd = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64)
    root = sqrtm_psd(spd)
    assert torch.allclose(root @ root, spd, atol=1e-10)
    assert np.allclose(root.numpy(), np.real(scipy_linalg.sqrtm(spd.numpy())), atol=1e-8)


def test_frechet_distance_with_fewer_samples_than_dimensions():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(10, 50, generator=g)  # rank-deficient covariance
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-6)
    y = x + 3.0  # a shift of the mean by 3 in each of 50 dimensions: FD = 50 · 9
    assert frechet_distance_features(x, y) == pytest.approx(450.0, rel=1e-6)


def test_frechet_distance_estimate_from_samples_approaches_the_truth():
    g = torch.Generator().manual_seed(3)
    n = 20000
    x = torch.randn(n, 2, generator=g) * torch.tensor([1.0, 2.0])
    y = torch.randn(n, 2, generator=g) * torch.tensor([2.0, 2.0]) + torch.tensor([1.0, 0.0])
    # |Δμ|² = 1; (√1 − √4)² + (√4 − √4)² = 1
    assert frechet_distance_features(x, y) == pytest.approx(2.0, abs=0.1)
    mu, cov = gaussian_stats(x)
    assert cov.dtype == torch.float64 and torch.allclose(
        mu, torch.zeros(2, dtype=mu.dtype), atol=0.05
    )


# -- KID -----------------------------------------------------------------------------------------
def test_kid_closed_form_small_case():
    # k(x, y) = (xy + 1)³ in one dimension; X = {0, 1}, Y = {1, 2}:
    # within X: k(0,1) = 1; within Y: k(1,2) = 27; across: (1 + 1 + 8 + 27) / 4 = 9.25
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [2.0]])
    assert float(mmd2_unbiased(x, y)) == pytest.approx(1 + 27 - 2 * 9.25)
    for entries in (1 << 26, 0):  # the precomputed-kernel path and the per-subset path
        mean, std = kernel_inception_distance(
            x, y, subsets=5, subset_size=2, max_kernel_entries=entries
        )
        assert mean == pytest.approx(9.5) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    shifted = torch.randn(600, 8, generator=g) + 0.5
    same, same_std = kernel_inception_distance(a, b, subsets=50, subset_size=300)
    diff, diff_std = kernel_inception_distance(a, shifted, subsets=50, subset_size=300)
    assert abs(same) < 3 * same_std + 1e-3
    assert diff > 10 * max(diff_std, abs(same))
    slow = kernel_inception_distance(a, shifted, subsets=50, subset_size=300, max_kernel_entries=0)
    assert slow == pytest.approx((diff, diff_std), rel=1e-9)


def test_kid_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    kernel_inception_distance(torch.ones(20, 3), torch.zeros(20, 3), subsets=3, subset_size=10)
    assert torch.equal(state, torch.get_rng_state())


# -- precision and recall ------------------------------------------------------------------------
def test_knn_radii_on_a_line():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ValueError):
        knn_radii(x, k=4)


def square(cx: float, cy: float, side: float) -> torch.Tensor:
    return torch.tensor([[cx, cy], [cx + side, cy], [cx, cy + side], [cx + side, cy + side]])


def test_precision_recall_of_a_dropped_mode():
    # Real: unit squares at x = 0 and x = 10 (1-NN radius 1). Fake: a 0.8 square inside the
    # first (1-NN radius 0.8). Every fake lies in the real manifold (precision 1); the fake
    # balls reach the four corners of the first real square only (recall 1/2).
    real = torch.cat([square(0, 0, 1), square(10, 0, 1)])
    fake = square(0.1, 0.1, 0.8)
    assert precision_recall(real, fake, k=1) == pytest.approx((1.0, 0.5))
    # Swapped roles: the real set now drops a mode of the "generated" one.
    assert precision_recall(fake, real, k=1) == pytest.approx((0.5, 1.0))


def test_precision_recall_of_identical_sets_is_one():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(5))
    assert precision_recall(x, x, k=3) == (1.0, 1.0)


# -- mode coverage -------------------------------------------------------------------------------
def test_mode_coverage_hand_computed():
    data = torch.arange(10).repeat(100)  # ten even classes
    half = torch.arange(5).repeat(20)  # a generator that draws only 0-4, evenly
    cov = mode_coverage(half, data, 10)
    assert cov["classes_covered"] == 5 and cov["num_classes"] == 10
    assert cov["class_kl"] == pytest.approx(math.log(2))  # Σ 0.2 log(0.2 / 0.1)
    assert mode_coverage(data, data, 10)["class_kl"] == pytest.approx(0.0)
    # 1,000 samples, class 9 drawn 5 times (< 10% of the expected 100): not covered
    rare = torch.cat([torch.arange(9).repeat(111), torch.full((5,), 9)])
    assert mode_coverage(rare, data, 10)["classes_covered"] == 9
    # drawn 11 times: covered
    rare = torch.cat([torch.arange(9).repeat(111), torch.full((11,), 9)])
    assert mode_coverage(rare, data, 10)["classes_covered"] == 10


def test_kl_divergence_edge_cases():
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.25, 0.25, 0.5])
    assert kl_divergence(p, q) == pytest.approx(math.log(2))
    assert kl_divergence(q, p) == math.inf


# -- extractors and the evaluator ----------------------------------------------------------------
def test_a_registered_extractor_is_found_by_name_with_its_argument(pixels):
    ext = get_extractor(f"{pixels}:12")
    assert isinstance(ext, FeatureExtractor) and ext.dim == 12 and ext.name == "test-pixels:12"
    feats, logits = embed(ext, torch.rand(5, 3, 16, 16) * 2 - 1, batch_size=2)
    assert feats.shape == (5, 12) and logits is None


def test_unknown_extractor_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="digits"):
        get_extractor("digitz")


def make_data(n: int = 90, size: int = 16):
    from ganzoo.data import ImageSet

    g = torch.Generator().manual_seed(6)
    blobs = torch.rand(n, 1, 4, 4, generator=g) * 2 - 1
    images = F.interpolate(blobs, size=(size, size), mode="bilinear", align_corners=False)
    return ImageSet(images, torch.arange(n) % 10, "blobs")


def test_evaluator_scores_the_reference_itself_as_perfect(pixels):
    ev = Evaluator(make_data(), Protocol(features=pixels, kid_subsets=10))
    assert (len(ev.reference), len(ev.held_out)) == (60, 30)
    assert ev.n == 30  # by default as many samples as held-out images
    s = ev.score_images(ev.reference.images)
    assert s["fd"] == pytest.approx(0.0, abs=1e-6)
    assert (s["precision"], s["recall"]) == (1.0, 1.0)
    dark = ev.score_images(torch.rand(30, 1, 16, 16) * 0.1 - 1)  # near-black images
    assert dark["fd"] > 5 * ev.floor()["fd"]
    assert dark["precision"] < 0.2
    assert "classes_covered" not in dark  # this extractor does not classify


def test_evaluator_model_scores_are_seeded_and_leave_rng_alone(pixels):
    import ganzoo

    torch.manual_seed(0)
    model = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, latent_dim=8)
    ev = Evaluator(make_data(), Protocol(features=pixels, n=40, kid_subsets=5, batch_size=16))
    state = torch.get_rng_state()
    a = ev.score_model(model)
    assert torch.equal(state, torch.get_rng_state())
    b = ev.score_model(model)
    assert a == b and a["n"] == 40
    report = ev.report(a, model={"arch": "dcgan", "source": "x", "step": None})
    assert report["protocol"]["n_generated"] == 40
    assert report["fd_over_floor"] == pytest.approx(a["fd"] / report["floor"]["fd"])


def test_training_evaluator_is_off_by_default():
    from ganzoo.training.options import TrainOptions

    assert training_evaluator(TrainOptions(), make_data(), "cpu") is None


def test_inception_without_torch_fidelity_or_weights_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(GanzooError) as info:
        get_extractor("inception")
    message = str(info.value)
    assert "\n" not in message
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        assert "pip install 'ganzoo[inception]'" in message
    else:
        assert "weights-inception-2015-12-05-6726825d.pth" in message
        assert str(tmp_path / "cache" / "features") in message


def test_inception_refuses_a_file_with_the_wrong_checksum(tmp_path, monkeypatch):
    pytest.importorskip("torch_fidelity")
    from ganzoo.metrics.backbones import INCEPTION_FILE

    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / INCEPTION_FILE).write_bytes(b"not the weights")
    with pytest.raises(GanzooError, match="not the published FID Inception file"):
        get_extractor("inception")


def test_digits_extractor_rejects_arguments():
    with pytest.raises(ConfigError):
        get_extractor("digits:large")
    with pytest.raises(ConfigError, match="random-weights"):
        get_extractor("digits", random_weights=True)


@pytest.mark.slow
def test_timm_extractor_offline(hf_env):
    with pytest.raises(UnknownNameError, match="resnet18"):
        get_extractor("timm:resnet181")
    with pytest.raises(GanzooError, match="hf download timm/resnet18"):
        get_extractor("timm:resnet18")
    ext = get_extractor("timm:resnet18", random_weights=True)
    assert ext.dim == 512 and "random" in ext.describe()["weights"]
    images = torch.rand(2, 1, 16, 16) * 2 - 1
    feats, _ = embed(ext, images)
    assert feats.shape == (2, 512) and torch.isfinite(feats).all()
    again, _ = embed(get_extractor("timm:resnet18", random_weights=True), images)
    assert torch.equal(feats, again)  # the random network is seeded: scores are repeatable


# -- the digits classifier (shipped; trained only as the fallback) and the floor ---------------
def test_shipped_digits_classifier_answers_without_training(tmp_path, monkeypatch):
    from ganzoo.metrics import digits_classifier as dc
    from ganzoo.serialization import file_sha256

    assert file_sha256(dc.SHIPPED_FILE) == dc.SHIPPED_SHA256
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    ext = get_extractor("digits")
    assert not (tmp_path / "cache").exists()  # nothing trained, nothing cached
    reference, held_out = dc.training_data()
    assert ext.meta["sha256"] == dc.cache_key(reference)  # trained on exactly this data
    measured = dc.accuracy(ext.net, held_out.images, held_out.labels)
    assert measured >= 0.97
    assert ext.describe()["held_out_accuracy"] == pytest.approx(measured, abs=1e-6)


def test_a_tampered_shipped_classifier_is_refused(tmp_path, monkeypatch):
    from ganzoo.metrics import digits_classifier as dc

    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    changed = bytearray(dc.SHIPPED_FILE.read_bytes())
    changed[-1] ^= 1  # one bit of one weight
    tampered = tmp_path / "digits-cnn-v1.safetensors"
    tampered.write_bytes(bytes(changed))
    with pytest.raises(WeightsError) as exc:
        dc.load_or_train(quiet=True, shipped=tampered)
    message = str(exc.value)
    assert "\n" not in message and "sha256" in message and "reinstall ganzoo" in message
    assert not (tmp_path / "cache").exists()  # refused, not silently replaced by training


@pytest.mark.slow
def test_built_wheel_ships_the_digits_classifier(built_wheel):
    import zipfile

    from ganzoo.metrics import digits_classifier as dc

    with zipfile.ZipFile(built_wheel) as zf:
        data = zf.read("ganzoo/metrics/digits-cnn-v1.safetensors")
        assert "ganzoo/_catalog/catalog.toml" in zf.namelist()
    assert hashlib.sha256(data).hexdigest() == dc.SHIPPED_SHA256


@pytest.mark.slow
def test_digits_classifier_is_trained_and_cached_when_not_shipped(digits_cache):
    from ganzoo.metrics import digits_classifier as dc

    net, meta = dc.load_or_train(quiet=True, shipped=None)
    reference, held_out = dc.training_data()
    files = list((digits_cache / "features").glob("digits-cnn-v1-*.safetensors"))
    assert len(files) == 1 and dc.cache_key(reference)[:16] in files[0].name
    measured = dc.accuracy(net, held_out.images, held_out.labels)
    assert measured >= 0.97
    assert float(meta["held_out_accuracy"]) == pytest.approx(measured, abs=1e-6)
    mtime = files[0].stat().st_mtime_ns
    net2, _ = dc.load_or_train(quiet=True, shipped=None)  # the second call reads the cache
    assert files[0].stat().st_mtime_ns == mtime
    assert dc.accuracy(net2, held_out.images, held_out.labels) == measured


@pytest.mark.slow
def test_digits_floor_and_a_collapsed_generator(digits_cache):
    from ganzoo.data import load_dataset

    ev = Evaluator(load_dataset("digits", 32, 1), Protocol(features="digits"))
    floor = ev.floor()
    assert floor["n"] == 599 and floor["classes_covered"] == 10
    assert floor["class_kl"] < 0.05 and floor["precision"] > 0.8 and floor["recall"] > 0.8
    threes = ev.reference.images[ev.reference.labels == 3]
    collapsed = threes[torch.arange(599) % len(threes)]  # real images, but only of one digit
    s = ev.score_images(collapsed)
    assert s["classes_covered"] == 1
    assert s["class_kl"] > 1.5  # log(1 / p_data[3]) ≈ log 10
    assert s["recall"] < 0.3 < s["precision"]
    assert s["fd"] > 3 * floor["fd"]


@pytest.mark.slow
def test_inception_extractor_runs_torch_fidelity_with_weights_from_safetensors(
    tmp_path, monkeypatch
):
    """The whole path with stand-in weights (the real file cannot be downloaded here): the
    safetensors file in ganzoo's cache is what torch-fidelity's network ends up holding."""
    fidelity = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    from safetensors.torch import save_file

    from ganzoo.metrics.backbones import INCEPTION_SAFETENSORS

    class Shapes(fidelity.FeatureExtractorInceptionV3):  # only to learn the parameter names
        def load_state_dict(self, state_dict, strict=True):
            return None

    monkeypatch.setattr(torch, "load", lambda *a, **k: {})
    shapes = Shapes("shapes", ["2048"], feature_extractor_weights_path="unused")
    monkeypatch.undo()
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=gen) * 0.05 for k, v in shapes.state_dict().items()}
    state = {k: (v if "running_var" not in k else v.abs() + 1) for k, v in state.items()}
    (tmp_path / "features").mkdir()
    save_file(state, str(tmp_path / "features" / INCEPTION_SAFETENSORS))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path))
    ext = get_extractor("inception")
    assert torch.equal(ext.net.fc.weight, state["fc.weight"])
    feats, logits = embed(ext, torch.rand(3, 1, 32, 32) * 2 - 1)
    assert feats.shape == (3, 2048) and logits is None and torch.isfinite(feats).all()
    assert ext.metric_label == "FID"
