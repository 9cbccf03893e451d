"""``hf://datasets/...`` through the real ``datasets`` and ``huggingface_hub`` clients, over HTTP
on 127.0.0.1, against the Hub-compatible test server (tests/hub_server.py). Nothing is patched
but the endpoint and cache locations (conftest's ``hub`` fixture)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.data import open_dataset
from ganzoo.errors import DataError

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = ["circle", "square", "star"]


def parquet(values: list[int], labels: list[int], second_image: bool = False) -> bytes:
    """A parquet file with an Image column (flat colour ``values[i]``) and a ClassLabel."""
    import datasets
    from PIL import Image

    images = [Image.new("RGB", (30, 20), (v, v, v)) for v in values]
    columns = {"image": images, "label": labels}
    features = {"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSES)}
    if second_image:
        columns["mask"] = images
        features["mask"] = datasets.Image()
    ds = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
    buf = io.BytesIO()
    ds.to_parquet(buf)
    return buf.getvalue()


TRAIN = list(range(10, 130, 10))  # 12 images, each a flat grey that names it
TEST = [200, 210, 220]


def seed_repo(hub, repo: str = "org/shapes") -> str:
    files = {
        "data/train-00000-of-00001.parquet": parquet(TRAIN, [i % 3 for i in range(12)]),
        "data/test-00000-of-00001.parquet": parquet(TEST, [0, 1, 2]),
    }
    return hub.seed(repo, files, repo_type="dataset")


def greys(store) -> list[int]:
    pixels = store.read(np.arange(store.count))
    assert (pixels == pixels[:, :1, :1, :1]).all()  # flat images stay flat
    return [int(v) for v in pixels[:, 0, 0, 0]]


def test_hub_dataset_prepares_once_with_labels_splits_and_revisions(hub):
    first = seed_repo(hub)
    store = open_dataset("hf://datasets/org/shapes", 8, 3)
    assert store.decoded == 12 and store.count == 12
    assert store.classes == tuple(CLASSES)
    assert greys(store) == TRAIN and store.labels.tolist() == [i % 3 for i in range(12)]
    assert hub.count("GET", "train-00000-of-00001.parquet") >= 1  # fetched over HTTP

    again = open_dataset("hf://datasets/org/shapes", 8, 3)  # same commit: nothing decoded
    assert again.decoded == 0 and again.folder == store.folder
    assert greys(again) == TRAIN

    test = open_dataset("hf://datasets/org/shapes:test", 8, 1)
    assert greys(test) == TEST and test.channels == 1

    # a new commit on main is noticed and prepared again; @first still reads the old data
    hub.put_file(
        "org/shapes",
        "data/train-00000-of-00001.parquet",
        parquet([50, 60], [2, 2]),
        repo_type="dataset",
    )
    newer = open_dataset("hf://datasets/org/shapes", 8, 3)
    assert newer.decoded == 2 and greys(newer) == [50, 60]
    pinned = open_dataset(f"hf://datasets/org/shapes@{first}", 8, 3)
    assert greys(pinned) == TRAIN


def test_offline_uses_the_prepared_copy_and_otherwise_says_how_to_prepare(hub, hf_env):
    seed_repo(hub)
    open_dataset("hf://datasets/org/shapes", 8, 3)
    hf_env.set_offline(True)
    offline = open_dataset("hf://datasets/org/shapes", 8, 3)
    assert offline.decoded == 0 and greys(offline) == TRAIN
    hub.seed("org/never-seen", {"data/train.parquet": parquet([1], [0])}, repo_type="dataset")
    with pytest.raises(DataError) as err:
        open_dataset("hf://datasets/org/never-seen", 8, 3)
    message = str(err.value)
    assert "HF_HUB_OFFLINE=1" in message and "ganzoo-data-cache" in message
    assert "ganzoo data prepare hf://datasets/org/never-seen --image-size 8 --channels 3" in message
    assert "\n" not in message

    # the Hub unreachable (not offline by choice): the same advice
    hf_env.set_offline(False)
    from tests.hub_server import closed_port_url

    hf_env.set_endpoint(closed_port_url())
    with pytest.raises(DataError, match=r"cannot be reached.*ganzoo data prepare"):
        open_dataset("hf://datasets/org/never-seen", 8, 3)
    assert greys(open_dataset("hf://datasets/org/shapes", 8, 3)) == TRAIN  # cached: fine


def test_a_hub_repo_of_image_files_in_class_folders(hub):
    from PIL import Image

    files = {}
    for i, (cls, value) in enumerate([("cat", 30), ("dog", 60), ("cat", 90)]):
        buf = io.BytesIO()
        Image.new("L", (10, 10), value).save(buf, "PNG")
        files[f"train/{cls}/{i}.png"] = buf.getvalue()
    hub.seed("org/pets", files, repo_type="dataset")
    store = open_dataset("hf://datasets/org/pets", 8, 1)
    assert store.classes == ("cat", "dog")
    pairs = sorted(zip(greys(store), store.labels.tolist(), strict=True))
    assert pairs == [(30, 0), (60, 1), (90, 0)]


def test_column_choice_errors_list_the_columns(hub):
    hub.seed(
        "org/two",
        {"data/train.parquet": parquet([10, 20], [0, 1], second_image=True)},
        repo_type="dataset",
    )
    with pytest.raises(DataError, match=r"several image columns \(image, mask\); its columns: "):
        open_dataset("hf://datasets/org/two", 8, 1)
    store = open_dataset("hf://datasets/org/two", 8, 1, image_column="mask", label_column="none")
    assert greys(store) == [10, 20] and store.labels is None
    with pytest.raises(DataError, match="has no column 'picture'"):
        open_dataset("hf://datasets/org/two", 8, 1, image_column="picture")
    with pytest.raises(DataError, match="no split 'valid'"):
        open_dataset("hf://datasets/org/two:valid", 8, 1, image_column="mask")
    with pytest.raises(DataError, match="no such dataset on the Hub"):
        open_dataset("hf://datasets/org/missing", 8, 1)


def test_streaming_reads_the_hub_without_preparing(hub, data_caches):
    seed_repo(hub)
    stream = open_dataset("hf://datasets/org/shapes", 8, 3, streaming=True)
    assert stream.classes == tuple(CLASSES)
    batches = stream.batches(4, shuffle_buffer=0)
    seen = [next(batches) for _ in range(3)]  # one epoch of 12
    values = [int(v) for px, _ in seen for v in px[:, 0, 0, 0]]
    labels = [int(v) for _, lab in seen for v in lab]
    assert values == TRAIN and labels == [i % 3 for i in range(12)]
    assert next(batches)[0].shape == (4, 8, 8, 3)  # and it goes on, epoch after epoch
    assert not data_caches.exists()  # nothing was prepared


def test_train_cli_on_a_hub_dataset(hub, tmp_path):
    seed_repo(hub)
    out = tmp_path / "run"
    args = ["train", "dcgan", "--data", "hf://datasets/org/shapes", "--steps", "2", "--quiet"]
    args += ["--batch-size", "4", "--set", "image_size=16", "--set", "g_width=8"]
    args += ["--set", "d_width=8", "--set", "channels=3", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-000002"
    result = CliRunner().invoke(cli, ["data", "info", "hf://datasets/org/shapes"])
    assert result.exit_code == 0, result.output
    assert "classes:  3: circle, square, star" in result.output
    assert "prepared: 16px × 3ch: 12 images" in result.output
