"""Local sources and the prepare-once cache: folders with classes, parquet, save_to_disk,
a plugin's datasets.Dataset, the cache reused (nothing decoded) or rebuilt when it must be."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.data import ImageSet, load_dataset, open_dataset
from ganzoo.data.folder import SkippedImagesWarning
from ganzoo.data.store import META, ImageStore
from ganzoo.errors import DataError

pytestmark = pytest.mark.usefixtures("one_thread")


def flat(path: Path, value: int, size: tuple[int, int] = (12, 10)) -> Path:
    """A flat grey image whose value names it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


def greys(store: ImageStore) -> list[int]:
    return [int(v) for v in store.read(np.arange(store.count))[:, 0, 0, 0]]


def class_folder(root: Path) -> Path:
    flat(root / "dog" / "a.png", 10)
    flat(root / "dog" / "deeper" / "b.png", 20)  # any depth below a class folder
    flat(root / "cat" / "c.png", 30)
    flat(root / "ant" / "d.png", 40)
    flat(root / "ant" / "e.jpg", 50)
    return root


def test_folder_labels_are_torchvision_imagefolder_labels(tmp_path):
    from torchvision.datasets import ImageFolder

    root = class_folder(tmp_path / "pets")
    store = open_dataset(root, 8, 1)
    reference = ImageFolder(str(root))
    assert store.classes == tuple(reference.classes) == ("ant", "cat", "dog")
    assert store.labels.tolist() == [label for _, label in reference.samples]
    assert greys(store) == [40, 50, 30, 10, 20]  # ImageFolder's (sorted) order
    # as a float ImageSet too, classes included
    data = load_dataset(root, 8, 1)
    assert isinstance(data, ImageSet) and data.classes == ("ant", "cat", "dog")
    assert data.images.shape == (5, 1, 8, 8) and data.labels.tolist() == store.labels.tolist()
    # one deliberate difference: hidden folders (.ipynb_checkpoints, ...) are never classes
    flat(root / ".ipynb_checkpoints" / "x.png", 250)
    flat(root / "cat" / ".hidden.png", 250)
    again = open_dataset(root, 8, 1)
    assert again.classes == ("ant", "cat", "dog") and 250 not in greys(again)


def test_images_at_the_top_make_an_unlabelled_recursive_folder(tmp_path):
    flat(tmp_path / "top.png", 10)
    flat(tmp_path / "sub" / "nested.png", 20)
    store = open_dataset(tmp_path, 8, 3)
    assert store.labels is None and store.classes is None
    assert greys(store) == [20, 10] and store.channels == 3


def test_cache_is_reused_without_decoding_and_rebuilt_when_the_folder_changes(tmp_path):
    root = class_folder(tmp_path / "pets")
    first = open_dataset(root, 8, 1)
    assert first.decoded == 5
    images = first.folder / "images.u8"
    stamp = (images.stat().st_ino, images.stat().st_mtime_ns)

    second = open_dataset(root, 8, 1)
    assert second.decoded == 0 and second.folder == first.folder
    assert (images.stat().st_ino, images.stat().st_mtime_ns) == stamp  # not rewritten
    assert greys(second) == greys(first)

    other_size = open_dataset(root, 16, 1)  # another (size, channels): its own cache
    assert other_size.decoded == 5 and other_size.folder != first.folder

    flat(root / "cat" / "f.png", 60)  # the folder changed: prepared again, in place
    third = open_dataset(root, 8, 1)
    assert third.decoded == 6 and third.folder == first.folder and 60 in greys(third)
    assert len([p for p in first.folder.parent.iterdir() if p.is_dir()]) == 2  # no stale copy


def test_an_incomplete_cache_is_never_used(tmp_path):
    root = class_folder(tmp_path / "pets")
    store = open_dataset(root, 8, 1)
    meta = json.loads((store.folder / META).read_text())
    (store.folder / META).write_text(json.dumps({**meta, "complete": False}))
    assert open_dataset(root, 8, 1).decoded == 5
    with open(store.folder / "images.u8", "r+b") as fh:  # a cache cut short
        fh.truncate(100)
    assert ImageStore.open(store.folder) is None
    assert open_dataset(root, 8, 1).decoded == 5


@pytest.mark.slow
def test_a_prepare_killed_halfway_leaves_nothing_that_is_used(tmp_path, data_caches):
    root = tmp_path / "many"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(400):
        noise = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(noise).save(root / f"{i:04d}.jpg")
    cmd = [sys.executable, "-m", "ganzoo", "data", "prepare", str(root)]
    cmd += ["--image-size", "64", "--channels", "3", "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not list(data_caches.glob("*.tmp-*/images.u8")) and time.monotonic() < deadline:
        assert proc.poll() is None, "prepare ended before it could be interrupted"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert [p for p in data_caches.iterdir() if (p / META).exists()] == []
    store = open_dataset(root, 64, 3)  # prepared from scratch; the dead attempt is gone
    assert store.decoded == 400 and store.count == 400
    assert not list(data_caches.glob("*.tmp-*"))


def test_streaming_training_through_the_cli_prepares_nothing(tmp_path, data_caches):
    root = class_folder(tmp_path / "pets")
    (root / "cat" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    args = ["train", "dcgan", "--data", str(root), "--steps", "3", "--quiet", "--out", str(out)]
    args += ["--batch-size", "2", "--set", "image_size=16", "--set", "g_width=8"]
    args += ["--set", "d_width=8", "--set", "data_streaming=true", "--set", "data_flip=true"]
    with pytest.warns(SkippedImagesWarning, match="broken.png"):
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-000003"
    assert not data_caches.exists()


def test_parquet_files_and_save_to_disk_folders(tmp_path):
    import datasets

    images = [Image.new("RGB", (9, 9), (v, v, v)) for v in (10, 20, 30)]
    features = datasets.Features(
        {"img": datasets.Image(), "kind": datasets.ClassLabel(names=["x", "y"])}
    )
    ds = datasets.Dataset.from_dict({"img": images, "kind": [1, 0, 1]}, features=features)
    ds.to_parquet(str(tmp_path / "part.parquet"))
    store = open_dataset(tmp_path / "part.parquet", 4, 1)
    assert greys(store) == [10, 20, 30] and store.classes == ("x", "y")
    assert store.labels.tolist() == [1, 0, 1]
    ds.save_to_disk(str(tmp_path / "saved"))
    saved = open_dataset(tmp_path / "saved", 4, 3)
    assert greys(saved) == [10, 20, 30] and saved.labels.tolist() == [1, 0, 1]


PLUGIN = """
    import ganzoo

    def load(image_size, channels):
        import datasets
        from PIL import Image

        images = [Image.new("L", (20, 20), v) for v in (5, 15, 25, 35)]
        features = datasets.Features(
            {"image": datasets.Image(), "label": datasets.ClassLabel(names=["lo", "hi"])}
        )
        return datasets.Dataset.from_dict(
            {"image": images, "label": [0, 0, 1, 1]}, features=features
        )

    @ganzoo.hookimpl
    def ganzoo_register_datasets(registrar):
        registrar.add_dataset("greys", load, "four flat greys as a datasets.Dataset")
"""


def test_a_plugin_dataset_may_be_a_datasets_dataset(tmp_path, monkeypatch):
    from ganzoo import plugins

    from .plugin_dist import write_distribution

    site = tmp_path / "site"
    write_distribution(site, "ganzoo-thirdparty-greys", "ganzoo_thirdparty_greys", PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    plugins.reset()
    try:
        store = open_dataset("greys", 8, 1)
        assert greys(store) == [5, 15, 25, 35] and store.classes == ("lo", "hi")
        assert open_dataset("greys", 8, 1).decoded == 0  # same fingerprint: the cache
        out = tmp_path / "run"
        args = ["train", "dcgan", "--data", "greys", "--steps", "1", "--quiet", "--out", str(out)]
        args += ["--batch-size", "2", "--set", "image_size=16", "--set", "g_width=8"]
        result = CliRunner().invoke(cli, [*args, "--set", "d_width=8"])
        assert result.exit_code == 0, result.output
    finally:
        plugins.reset()
        sys.modules.pop("ganzoo_thirdparty_greys", None)


def test_cli_prepare_and_info(tmp_path, data_caches):
    root = class_folder(tmp_path / "pets")
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "info", str(root)])
    assert result.exit_code == 0, result.output
    assert "images:   5" in result.output
    assert "classes:  3: ant (2), cat (1), dog (2)" in result.output
    assert "sizes:    12×10 to 12×10" in result.output and "prepared: none yet" in result.output
    args = ["data", "prepare", str(root), "--image-size", "8", "--channels", "3", "--quiet"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "prepared: 5 images of 8×8×3, 3 classes" in result.output
    assert str(data_caches) in result.output
    assert "already prepared" in runner.invoke(cli, args).output
    info = runner.invoke(cli, ["data", "info", str(root)]).output
    assert "prepared: 8px × 3ch: 5 images" in info
    for bad in (["data", "info", str(tmp_path / "nowhere")], ["data", "info", "hf://org/x"]):
        result = runner.invoke(cli, bad)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_empty_and_unknown_sources_are_one_line_errors(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="holds no images"):
        open_dataset(tmp_path, 8, 1)
    with pytest.raises(DataError, match="did you mean 'digits'"):
        open_dataset("digts", 8, 1)
    with pytest.raises(DataError, match=r"hf://datasets/ORG/NAME"):
        open_dataset("hf://someone/model", 8, 1)
