"""The trainer's batches: the same images and labels whichever way they are fed, epochs that
visit every image once, flips, and an exact resume when batches are read from the cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganzoo.data import open_dataset
from ganzoo.data.feed import EpochOrder, open_feed, to_training
from ganzoo.training import run
from ganzoo.training.checkpoint import latest_checkpoint
from ganzoo.training.distributed import World
from ganzoo.training.options import TrainOptions

pytestmark = pytest.mark.usefixtures("one_thread")

N = 13  # images 0..12, image i a flat grey 10*i in class i % 3


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "greys"
    for i in range(N):
        path = root / f"class{i % 3}" / f"{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (10, 10), 10 * i).save(path)
    return root


def test_epochs_visit_every_image_once_in_a_seeded_order():
    order = EpochOrder(10, 4, seed=3, flip=False)
    seen = torch.cat([order.take(s)[0] for s in range(5)])  # 20 positions: two epochs
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:].tolist()) == list(range(10))
    assert seen[:10].tolist() != seen[10:].tolist()  # each epoch shuffled anew
    again = EpochOrder(10, 4, seed=3, flip=False)
    assert [again.take(s)[0].tolist() for s in (4, 1)] == [seen[16:].tolist(), seen[4:8].tolist()]
    assert EpochOrder(10, 4, seed=4, flip=False).take(0)[0].tolist() != seen[:4].tolist()
    flips = torch.cat([EpochOrder(1000, 100, 0, True).take(s)[1] for s in range(10)])
    assert 400 < int(flips.sum()) < 600


def test_uint8_to_training_floats():
    pixels = torch.tensor([0, 255, 128], dtype=torch.uint8).view(1, 1, 3, 1).expand(2, 1, 3, 2)
    x = to_training(pixels.contiguous(), torch.tensor([False, True]), channels_last=False)
    assert x.shape == (2, 2, 1, 3) and x.dtype == torch.float32 and x.is_contiguous()
    row = torch.tensor([0.0, 255.0, 128.0]) / 127.5 - 1.0  # 0 -> -1, 255 -> 1
    assert row[:2].tolist() == [-1.0, 1.0]
    assert torch.equal(x[0, :, 0], row.expand(2, 3))
    assert torch.equal(x[1, :, 0], row.flip(0).expand(2, 3))  # mirrored


@pytest.mark.parametrize("flip", [False, True])
def test_every_feed_gives_the_same_batches_and_labels(folder, flip):
    store = open_dataset(folder, 8, 1)
    base = TrainOptions(batch_size=4, d_steps=2, steps=8, seed=1, data_flip=flip)
    ways = {
        "device": {"data_on_device": True},
        "in process": {"data_on_device": False, "data_workers": 0},
        "2 workers": {"data_on_device": False, "data_workers": 2},
    }
    got = {}
    for name, extra in ways.items():
        feed = open_feed(store, dataclasses.replace(base, **extra), World.single(), "cpu", 0)
        got[name] = [feed.batch(step) for step in range(8)]
        feed.close()
    assert (
        "loader, 2 worker processes"
        in open_feed(
            store, dataclasses.replace(base, **ways["2 workers"]), World.single(), "cpu", 0
        ).describe()
    )
    for step in range(8):
        images, labels = got["device"][step]
        assert images.shape == (8, 1, 8, 8)  # batch_size × d_steps
        for other in ("in process", "2 workers"):
            assert torch.equal(images, got[other][step].images), (other, step)
            assert torch.equal(labels, got[other][step].labels), (other, step)
        grey = ((images[:, 0, 0, 0] + 1) * 127.5).round().long()
        assert torch.equal(labels, (grey // 10) % 3)  # each label travels with its image
    # 64 images drawn over 8 steps: every image of each epoch once (13 a epoch)
    drawn = torch.cat(
        [((b.images[:, 0, 0, 0] + 1) * 127.5).round().long() // 10 for b in got["device"]]
    )
    assert sorted(drawn[:13].tolist()) == list(range(N))


def test_a_feed_started_later_continues_the_same_stream(folder):
    store = open_dataset(folder, 8, 1)
    options = TrainOptions(batch_size=4, steps=10, data_on_device=False, data_workers=0)
    whole = open_feed(store, options, World.single(), "cpu", 0)
    later = open_feed(store, options, World.single(), "cpu", 6)
    batches = [whole.batch(step) for step in range(10)]
    for step in range(6, 10):
        assert torch.equal(batches[step].images, later.batch(step).images)


TINY = {
    "image_size": 16,
    "g_width": 8,
    "d_width": 8,
    "latent_dim": 16,
    "batch_size": 4,
    "log_every": 3,
    "progress": False,
    "n_samples": 4,
    "checkpoint_every": 0,
    "data_on_device": False,
    "data_workers": 2,
    "data_flip": True,
}


def test_resume_from_the_cache_through_loader_workers_is_bit_identical(folder, tmp_path):
    def train(out, steps, resume=False):
        if resume:
            plan = run.plan_resume(out, {"steps": steps, "data_workers": 1})
        else:
            plan = run.plan_new_run(
                "dcgan", data=str(folder), layers=[{**TINY, "steps": steps}], out=out
            )
        return run.execute(plan)

    train(tmp_path / "a", 8)
    train(tmp_path / "b", 4)
    train(tmp_path / "b", 8, resume=True)  # another worker count: the same batches
    a = load_file(str(latest_checkpoint(tmp_path / "a") / "generator.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "b") / "generator.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_small_data_goes_to_the_device_whole_and_large_data_through_the_loader(folder, monkeypatch):
    from ganzoo.data import feed as feed_module

    store = open_dataset(folder, 8, 1)
    options = TrainOptions(batch_size=4)
    assert open_feed(store, options, World.single(), "cpu", 0).describe() == "on the device"
    monkeypatch.setattr(feed_module, "CPU_BUDGET", store.nbytes - 1)  # one byte over budget
    chosen = open_feed(store, options, World.single(), "cpu", 0)
    # the run's data line says why the data is not on the device, and how to force it
    assert chosen.describe().startswith("loader, in process (the dataset's 0 MiB exceed")
    assert chosen.describe().endswith("data_on_device=true forces it)")
    chosen.close()
    assert np.asarray(store.labels).dtype == np.int64
