"""Trackers: every metrics.jsonl record reaches every logger; TensorBoard's event files, read back
with TensorBoard's own reader, hold the scalars, sample grids and config at the right steps, and
a resumed run continues them without duplicated steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

import ganzoo
from ganzoo.plugins import PluginWarning
from ganzoo.rundir import RunDir
from ganzoo.tracking import Logger, open_tracker, parse_logger_names

from .cli_checks import ganzoo_cli, ok, one_line_error, resume, train

pytestmark = pytest.mark.usefixtures("one_thread")
pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")


def events(run: Path):
    """TensorBoard's own reader over a run directory (everything kept, no sampling)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def steps_of(records, key):
    return [r["step"] for r in records if key in r]


def test_tensorboard_scalars_images_config_and_a_resume_that_appends(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 40, "--log", "tensorboard", "--sample-every", "10", "--set", "log_every=5",
             "--checkpoint-every", "20"))  # fmt: skip
    acc = events(run)
    assert [e.step for e in acc.Scalars("d_loss")] == list(range(5, 45, 5))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "img_per_s"} <= set(acc.Tags()["scalars"])
    images = acc.Images("samples")
    assert [e.step for e in images] == [10, 20, 30, 40]
    assert images[-1].width > 0 and images[-1].height > 0
    from PIL import Image

    with Image.open(run / "samples" / "step-000040.png") as grid:  # the PNG the run wrote
        assert (images[-1].width, images[-1].height) == grid.size
    config = acc.Tensors("config/text_summary")
    assert [e.step for e in config] == [0]
    assert '"arch": "dcgan"' in config[0].tensor_proto.string_val[0].decode()
    # the values are the ones metrics.jsonl holds
    records = RunDir(run).metrics.read()
    assert [round(e.value, 4) for e in acc.Scalars("g_loss")] == [
        round(r["g_loss"], 4) for r in records
    ]

    # a crash after step 40 was logged but before its checkpoint: the run resumes from step 20
    shutil.rmtree(run / "checkpoints" / "step-000040")
    (run / "checkpoints" / "latest").write_text("step-000020\n")
    ok(resume(run, 50))
    acc = events(run)
    d_steps = [e.step for e in acc.Scalars("d_loss")]
    assert d_steps == list(range(5, 55, 5)), "each step once, in order"
    assert [e.step for e in acc.Images("samples")] == [10, 20, 30, 40, 50]
    assert [e.step for e in acc.Tensors("config/text_summary")] == [0, 20]
    records = RunDir(run).metrics.read()
    assert steps_of(records, "d_loss") == d_steps
    resumed = {r["step"]: r["g_loss"] for r in records}
    assert [round(e.value, 4) for e in acc.Scalars("g_loss")] == [
        round(resumed[s], 4) for s in d_steps
    ], "the resumed run's values replace the interrupted run's past the checkpoint"


def test_any_record_kind_reaches_tensorboard_without_being_declared(tmp_path):
    """A record of a kind the logger has never heard of (health diagnosis, or a plugin's) still
    becomes scalars and text, grouped under its kind."""
    tracker = open_tracker(tmp_path, ["tensorboard"])
    tracker.write({"step": 5, "d_loss": 0.7})
    tracker.write({"step": 10, "kind": "health", "diagnosis": "d_dominance", "d_acc": 0.97,
                   "active": True, "detail": {"gap": 3.5}})  # fmt: skip
    tracker.write({"step": 15, "kind": "someones_kind", "x": 2})
    tracker.close()
    acc = events(tmp_path)
    scalars = set(acc.Tags()["scalars"])
    assert {"d_loss", "health/d_acc", "health/active", "health/detail/gap", "someones_kind/x"} <= (
        scalars
    )
    assert [(e.step, e.value) for e in acc.Scalars("health/d_acc")] == [(10, pytest.approx(0.97))]
    assert "health/diagnosis/text_summary" in acc.Tags()["tensors"]
    lines = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [5, 10, 15]


class Recorder(Logger):
    """A third-party tracker in the shape docs/plugins.md shows: it keeps what it is given."""

    seen: ClassVar[list] = []

    def __init__(self, context):
        self.context = context
        Recorder.seen.append(self)
        self.records, self.images, self.configs, self.closed = [], [], [], False

    def log(self, record):
        self.records.append(dict(record))

    def log_image(self, tag, image, step, *, path=None):
        self.images.append((tag, step, image.shape, path.name))

    def log_config(self, config, step):
        self.configs.append((config["arch"], step))

    def close(self):
        self.closed = True


class Broken(Logger):
    def log(self, record):
        raise ConnectionError("tracking server unreachable")


class TrackerPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_loggers(self, registrar):
        registrar.add_logger("recorder", Recorder, "keeps every record (a test)")
        registrar.add_logger("broken", Broken)


def test_a_plugins_logger_gets_every_record_image_and_the_config(tmp_path, fresh_registry):
    fresh_registry.add_plugin(TrackerPlugin(), "trackers")
    assert fresh_registry.registry.loggers.entry("recorder").plugin == "trackers"
    Recorder.seen.clear()
    run = tmp_path / "run"
    ok(train(run, 12, "--log", "recorder", "--sample-every", "6", "--set", "log_every=3",
             "--eval-every", "6", "--set", "eval_n=40"))  # fmt: skip
    (rec,) = Recorder.seen
    written = RunDir(run).metrics.read()
    assert rec.records == written, "exactly the records of metrics.jsonl, eval scores included"
    assert steps_of(written, "eval_fd") == [6, 12]
    assert [(t, s) for t, s, _, _ in rec.images] == [("samples", 6), ("samples", 12)]
    assert rec.images[0][3] == "step-000006.png" and len(rec.images[0][2]) in (2, 3)
    assert rec.configs == [("dcgan", 0)] and rec.closed
    assert rec.context.run_dir == run and rec.context.resume_step is None


def test_a_failing_logger_is_switched_off_and_the_run_goes_on(tmp_path, fresh_registry):
    fresh_registry.add_plugin(TrackerPlugin(), "trackers")
    run = tmp_path / "run"
    with pytest.warns(ganzoo.tracking.LoggerWarning, match="'broken' failed"):
        ok(train(run, 6, "--log", "broken,recorder"))
    assert steps_of(RunDir(run).metrics.read(), "d_loss") == [1, 2, 3, 4, 5, 6]
    assert RunDir(run).checkpoints()


def test_unknown_logger_is_a_one_line_error_before_anything_is_written(tmp_path):
    run = tmp_path / "run"
    one_line_error(train(run, 2, "--log", "tensorbord"), "unknown logger 'tensorbord'",
                   "did you mean 'tensorboard'")  # fmt: skip
    assert not run.exists()


def test_missing_tensorboard_names_the_install_command(tmp_path):
    # a Python without the tensorboard package: the import system refuses it
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "from ganzoo.cli import main; sys.argv[0] = 'ganzoo'; sys.exit(main())"
    )
    args = ["train", "dcgan", "--out", str(tmp_path / "run"), "--steps", "2", "--quiet",
            "--log", "tensorboard"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "--log tensorboard needs the tensorboard package: pip install tensorboard" in (
        proc.stderr
    )
    assert not (tmp_path / "run").exists()


def test_log_option_takes_repeats_and_comma_lists_and_resume_may_change_it(tmp_path):
    assert parse_logger_names(["tensorboard,json", "x", "tensorboard"]) == ("tensorboard", "x")
    run = tmp_path / "run"
    ok(train(run, 2))
    assert not list(run.glob("events.out.tfevents.*"))
    ok(resume(run, 4, "--log", "json,tensorboard"))
    saved = RunDir(run).read_config()["train"]["loggers"]
    assert saved == ["tensorboard"]
    assert [e.step for e in events(run).Scalars("d_loss")] == [3, 4]


def test_plugins_list_shows_the_loggers():
    result = ganzoo_cli("plugins", "--all")
    ok(result)
    assert "tensorboard" in result.output and "json" in result.output


def test_the_documented_wandb_logger_uses_only_real_api(tmp_path):
    """docs/plugins.md's W&B logger: its blocks compile, its imports name ganzoo's real API,
    its registration hook registers through a real registrar, and check() names the install."""
    import importlib.util
    import re

    text = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## Trackers", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the plugin module and the logger module"
    register_src, logger_src = blocks
    logger_ns: dict = {}
    exec(compile(logger_src, "ganzoo_wandb/logger.py", "exec"), logger_ns)
    wandb_logger = logger_ns["WandbLogger"]
    assert issubclass(wandb_logger, Logger)
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(ganzoo.GanzooError, match="pip install"):
            wandb_logger.check()
    from types import ModuleType

    from ganzoo.testing import isolated_plugins

    plugin = ModuleType("ganzoo_wandb")
    exec(compile(register_src, "ganzoo_wandb/__init__.py", "exec"), plugin.__dict__)
    assert plugin.GANZOO_API == ">=1.2,<2"
    with isolated_plugins({"wandb": plugin}, installed=False) as host:
        entry = host.registry.loggers.entry("wandb")
        assert entry.plugin == "wandb" and entry.value == "ganzoo_wandb.logger:WandbLogger"


class BadLoggerPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_loggers(self, registrar):
        registrar.add_logger("numbers", 42)


def test_a_logger_that_is_not_a_factory_is_refused_at_registration(fresh_registry):
    with pytest.warns(PluginWarning, match="logger 'numbers' must be a callable factory"):
        info = fresh_registry.add_plugin(BadLoggerPlugin(), "bad-logger")
    assert not info.ok and "numbers" not in fresh_registry.registry.loggers
    assert "tensorboard" in fresh_registry.registry.loggers  # the others are untouched
