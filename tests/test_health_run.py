"""Health end to end: live records, rollback on a tiny run made to diverge, and ``ganzoo doctor``
on recorded runs (report, JSON, PNG, exit codes)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from ganzoo.cli import cli
from ganzoo.jsonlines import MetricsFile
from ganzoo.training import run
from ganzoo.training.trainer import TrainingDiverged

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"batch_size": 16, "log_every": 2, "progress": False, "n_samples": 4,
        "sample_every": 0, "checkpoint_every": 2}  # fmt: skip
#: with the tiny DCGAN on digits, Adam at this rate blows BatchNorm's statistics up to
#: infinity after a few steps (seed 0: between steps 6 and 8)
DIVERGING_LR = 5e7
#: at this rate the losses explode (above 1e6) within a few steps; they scale with lr², so
#: some halvings bring them down
EXPLODING_LR = 2000.0


def train(out, **options):
    layers = [{**TINY, "steps": 30, **options}]
    return run.execute(
        run.plan_new_run("dcgan", data="digits", preset="tiny", layers=layers, out=out)
    )


def health_records(out):
    return [r for r in MetricsFile(out / "metrics.jsonl").read() if r.get("kind") == "health"]


@pytest.fixture(scope="module")
def rolled_back(tmp_path_factory):
    out = tmp_path_factory.mktemp("health") / "rollback"
    final = train(out, lr_g=EXPLODING_LR, lr_d=EXPLODING_LR, on_diverge="rollback",
                  rollback_tries=12)  # fmt: skip
    return out, final


def test_rollback_goes_back_halves_both_learning_rates_and_finishes(rolled_back):
    out, final = rolled_back
    assert final and all(torch.isfinite(torch.tensor(v)) for v in final.values())
    rollbacks = [r for r in health_records(out) if r["event"] == "rollback"]
    assert rollbacks, health_records(out)
    assert "halved" in rollbacks[-1]["message"]
    n = len(rollbacks)
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["lr_g"] == pytest.approx(EXPLODING_LR / 2**n)
    assert saved["lr_d"] == pytest.approx(EXPLODING_LR / 2**n)
    # the run reached its end and every checkpoint is finite
    assert (out / "checkpoints" / "step-000030").is_dir()
    for ckpt in (out / "checkpoints").glob("step-*"):
        for f in ckpt.glob("*.safetensors"):
            assert all(torch.isfinite(t).all() for t in load_file(str(f)).values()), f
    # the optimisers run at the halved rate: the checkpoint says so too
    state = json.loads((out / "checkpoints/step-000030/trainer.json").read_text())
    assert state["optimizers"]["g"]["param_groups"][0]["lr"] == pytest.approx(saved["lr_g"])
    steps = [r["step"] for r in MetricsFile(out / "metrics.jsonl").read() if "d_loss" in r]
    assert steps == sorted(set(steps)), "a step logged twice after a rollback"


def test_rollback_gives_up_after_the_set_number_of_tries(tmp_path):
    with pytest.raises(TrainingDiverged, match="gave up after 2 rollback"):
        train(tmp_path / "r", lr_g=1e12, lr_d=1e12, on_diverge="rollback", rollback_tries=2)


def test_without_rollback_a_divergence_stops_the_run_and_is_recorded(tmp_path):
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(tmp_path / "r", lr_g=DIVERGING_LR, lr_d=DIVERGING_LR)
    records = health_records(tmp_path / "r")
    assert [r["diagnosis"] for r in records if r["event"] == "start"][-1] == "nonfinite"
    assert not [r for r in records if r["event"] == "rollback"]


def test_doctor_reports_a_rolled_back_run_with_remedies_json_and_a_png(rolled_back):
    out, _ = rolled_back
    result = CliRunner().invoke(cli, ["doctor", str(out)])
    assert result.exit_code == 1, result.output  # something was diagnosed
    assert "rollback" in result.output and "try:" in result.output
    png = out / "health.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    result = CliRunner().invoke(cli, ["doctor", str(out), "--json", "--no-plot"])
    report = json.loads(result.output)
    assert report["healthy"] is False and report["events"]
    assert report["last_step"] == 30 and report["plot"] is None


def test_doctor_on_a_healthy_run_says_so_and_exits_0(tmp_path):
    out = tmp_path / "ok"
    train(out, steps=10)
    records = MetricsFile(out / "metrics.jsonl").read()
    assert all("d_acc" in r and "g_grad_norm" in r and "div" in r for r in records)
    result = CliRunner().invoke(cli, ["doctor", str(out), "--plot", str(tmp_path / "h.png")])
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output and (tmp_path / "h.png").is_file()


def test_doctor_bad_run_paths_are_one_line_errors(tmp_path):
    (tmp_path / "notarun").mkdir()
    for path in (tmp_path / "missing", tmp_path / "notarun"):
        result = CliRunner().invoke(cli, ["doctor", str(path)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_health_off_adds_nothing_to_the_log(tmp_path):
    train(tmp_path / "r", steps=4, health=False)
    for record in MetricsFile(tmp_path / "r" / "metrics.jsonl").read():
        assert not {"d_acc", "g_grad_norm", "div", "kind"} & set(record)


def test_a_long_collapse_rolls_back_to_before_it_began_when_asked(tmp_path, monkeypatch):
    """A stand-in detector that calls every interval from step 10 on a collapse: the rollback
    machinery is what is under test here (the detectors have their own tests)."""
    from ganzoo.health import detectors
    from ganzoo.training.health import TrainingCollapsed

    def from_step_10(history):
        if history[-1]["step"] >= 10:
            return detectors.Finding("mode_collapse", "every sample is the same digit")
        return None

    monkeypatch.setitem(detectors.DETECTORS, "mode_collapse", from_step_10)
    out = tmp_path / "r"
    with pytest.raises(TrainingCollapsed, match="gave up after 2 rollback"):
        train(out, steps=20, checkpoint_every=4, on_collapse="rollback", collapse_patience=2,
              rollback_tries=2)  # fmt: skip
    rollbacks = [r for r in health_records(out) if r["event"] == "rollback"]
    assert [r["diagnosis"] for r in rollbacks] == ["mode_collapse", "mode_collapse"]
    assert "rolled back to step 8" in rollbacks[0]["message"]
    assert "rolled back to step 4" in rollbacks[1]["message"]  # the same collapse again
    kept = sorted(p.name for p in (out / "checkpoints").glob("collapsed*"))
    assert kept, "the checkpoints written during the collapse are kept"
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["lr_g"] == pytest.approx(2e-4 / 4)


def test_a_resumed_run_continues_an_ongoing_diagnosis_without_reporting_it_again(
    tmp_path, monkeypatch
):
    from ganzoo.health import detectors

    def from_step_10(history):
        if history[-1]["step"] >= 10:
            return detectors.Finding("mode_collapse", "every sample is the same digit")
        return None

    monkeypatch.setitem(detectors.DETECTORS, "mode_collapse", from_step_10)
    out = tmp_path / "r"
    train(out, steps=16, checkpoint_every=8)
    run.execute(run.plan_resume(out, {"steps": 24}))
    starts = [r["step"] for r in health_records(out) if r["event"] == "start"]
    assert starts == [10]


def test_a_resumed_run_logs_the_same_health_figures_as_an_uninterrupted_one(tmp_path):
    """``div`` is measured against the real images' diversity; a resume must keep that
    reference (from the checkpoint), not take its first new batch's."""
    train(tmp_path / "a", steps=12, checkpoint_every=6)
    train(tmp_path / "b", steps=6, checkpoint_every=6)
    run.execute(run.plan_resume(tmp_path / "b", {"steps": 12}))
    keys = ("step", "d_loss", "g_loss", "d_acc", "g_grad_norm", "div", "classes", "top_class")

    def rows(out):
        return [
            {k: r[k] for k in keys if k in r}
            for r in MetricsFile(out / "metrics.jsonl").read()
            if "d_loss" in r
        ]

    a, b = rows(tmp_path / "a"), rows(tmp_path / "b")
    assert [r["step"] for r in a] == list(range(2, 13, 2)) and all("div" in r for r in a)
    assert a == b
