"""Datasets: bundled data and folders of images with bad files in them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from ganzoo.data import load_dataset
from ganzoo.data.folder import SkippedImagesWarning
from ganzoo.errors import DataError


def test_digits_are_labelled_in_range_and_resized():
    data = load_dataset("digits", 32, 1)
    assert data.images.shape == (1797, 1, 32, 32)
    assert data.images.min() == -1 and data.images.max() == 1
    assert sorted(data.labels.unique().tolist()) == list(range(10))
    assert data.classes == tuple("0123456789")
    assert data.images.mean() < -0.2  # mostly dark background, bright ink
    rgb = load_dataset("digits", 16, 3)
    assert rgb.images.shape == (1797, 3, 16, 16)


def test_bundled_data_goes_through_the_uint8_store_with_its_labels():
    from ganzoo.data import open_dataset

    store = open_dataset("digits", 32, 1)
    floats = load_dataset("digits", 32, 1)
    assert store.in_memory and store.count == 1797 and store.classes == tuple("0123456789")
    assert store.labels.tolist() == floats.labels.tolist()
    pixels = store.read(np.arange(5))
    assert pixels.dtype == np.uint8 and pixels.shape == (5, 32, 32, 1)
    back = pixels.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1
    assert np.abs(back - floats.images[:5].numpy()).max() <= 1 / 255 + 1e-6  # half a uint8 step


def test_lfw_faces_and_photos_ship_offline():
    faces = load_dataset("lfw", 32, 3)
    assert faces.images.shape == (200, 3, 32, 32)
    photos = load_dataset("photos", 64, 3)
    assert photos.images.shape[1:] == (3, 64, 64) and len(photos) > 100
    assert photos.images.std() > 0.2  # real content, not a constant


def test_folder_with_corrupt_grayscale_rgba_and_non_image_files(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "rgb.jpg")
    sub = tmp_path / "nested"
    sub.mkdir()
    Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8), "L").save(sub / "gray.png")
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, fully transparent: composited onto white
    Image.fromarray(rgba, "RGBA").save(sub / "clear.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.warns(SkippedImagesWarning, match="skipped 1 of 4 files"):
        data = load_dataset(str(tmp_path), 16, 3)
    assert data.images.shape == (3, 3, 16, 16)
    assert len(data.skipped) == 1 and data.skipped[0][0].endswith("broken.png")
    clear = data.images[0]  # sorted paths: broken (skipped), nested/clear, nested/gray, rgb
    assert clear.min() > 0.99  # transparent pixels became white
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gray = load_dataset(str(tmp_path), 16, 1)
    assert gray.images.shape == (3, 1, 16, 16)


def test_folder_without_images_and_unknown_names_are_clear_errors(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="holds no images"):
        load_dataset(str(tmp_path), 16, 1)
    with pytest.raises(DataError, match="did you mean 'digits'"):
        load_dataset("digts", 16, 1)
