"""The trainer's seams: what a step ends with (due_at), shared by the loop and the EMA's
BatchNorm refresh, and Adam's capturable switch following whether the step is captured."""

from __future__ import annotations

import torch

import ganzoo
from ganzoo.training.bookkeeping import due_at
from ganzoo.training.ema import batchnorm_layers, refresh_ema_statistics
from ganzoo.training.graphs import adam_flags
from ganzoo.training.options import TrainOptions

GPU = torch.device("cuda")  # a device name only: nothing here runs on it


def test_due_at_follows_the_every_options():
    options = TrainOptions(steps=100, sample_every=4, eval_every=0, checkpoint_every=6)
    due = {done: due_at(options, done) for done in range(1, 13)}
    assert [d for d, x in due.items() if x.sample] == [4, 8, 12]
    assert [d for d, x in due.items() if x.checkpoint] == [6, 12]
    assert not any(x.evaluate for x in due.values())  # eval_every=0: never in the loop
    assert [d for d, x in due.items() if x.any] == [4, 6, 8, 12]


def test_ema_batchnorm_is_refreshed_exactly_when_something_is_due():
    torch.manual_seed(0)
    model = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, latent_dim=16)
    model.enable_ema()
    layer = batchnorm_layers(model.generator_ema)[0]
    options = TrainOptions(steps=100, sample_every=0, eval_every=0, checkpoint_every=5)

    def refreshed(done: int, stopping: bool = False) -> bool:
        layer.running_mean.fill_(123.0)
        refresh_ema_statistics(model, options, done, stopping)
        return not bool((layer.running_mean == 123.0).all())

    assert [d for d in range(1, 11) if refreshed(d)] == [5, 10]
    assert refreshed(3, stopping=True)  # an interruption saves the EMA
    assert refreshed(100)  # the end of the run


def test_adam_is_capturable_only_for_a_captured_step():
    options = TrainOptions()
    assert adam_flags(options, GPU, captured=True)["capturable"]
    assert not adam_flags(options, GPU, captured=False)["capturable"]  # an eager CUDA run
    assert adam_flags(options, GPU)["capturable"]  # unsaid: whenever cuda_graphs is on
    assert not adam_flags(TrainOptions(cuda_graphs=False), GPU)["capturable"]
    assert adam_flags(options, torch.device("cpu"), captured=True) == {
        "fused": None,
        "capturable": False,
    }
