"""``ganzoo eval`` and the trainer's ``eval_every``: the same numbers through both paths."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.metrics import FeatureExtractor
from ganzoo.training import run


class Thumbnails(FeatureExtractor):
    """Grey 4×4 thumbnails as features: cheap, deterministic, no training."""

    dim = 16

    def forward(self, images):
        return F.adaptive_avg_pool2d(images.mean(1, keepdim=True), 4).flatten(1), None


def thumbnails(arg, *, device, random_weights=False):
    return Thumbnails()


class ThumbsPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_features(self, registrar: ganzoo.Registrar) -> None:
        registrar.add_features("test-thumbs", thumbnails, "4×4 thumbnails")


@pytest.fixture
def thumbs(fresh_registry):
    fresh_registry.add_plugin(ThumbsPlugin(), "test-eval-cli")
    return "test-thumbs"


@pytest.fixture
def digits_cache(request, monkeypatch):
    try:
        path = request.config.cache.mkdir("ganzoo-cache")
    except AttributeError:
        path = request.getfixturevalue("tmp_path") / "ganzoo-cache"
    monkeypatch.setenv("GANZOO_CACHE", str(path))
    return path


TINY = {
    "image_size": 16,
    "g_width": 8,
    "d_width": 8,
    "latent_dim": 16,
    "batch_size": 8,
    "log_every": 5,
    "progress": False,
    "n_samples": 4,
    "checkpoint_every": 0,
}


def test_eval_every_logs_scores_that_ganzoo_eval_reproduces(tmp_path, thumbs):
    out = tmp_path / "run"
    plan = run.plan_new_run(
        "dcgan",
        data="digits",
        layers=[{**TINY, "steps": 10, "eval_every": 5, "eval_features": thumbs, "eval_n": 50}],
        out=out,
    )
    run.execute(plan)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval_fd" in r]
    assert [r["step"] for r in evals] == [5, 10]
    assert all(r["eval_n"] == 50 and r["eval_features"] == thumbs for r in evals)
    assert evals[0]["eval_fd"] != evals[1]["eval_fd"]  # the generator changed in between
    assert (out / "loss.png").is_file()  # the loss plot skips the evaluation rows
    assert any("d_loss" in r for r in rows)

    report_path = tmp_path / "eval.json"
    result = CliRunner().invoke(
        cli,
        ["eval", str(out), "--features", thumbs, "--n", "50", "--json", str(report_path)],
    )
    assert result.exit_code == 0, result.output
    assert "floor" in result.output and "test-thumbs" in result.output
    report = json.loads(report_path.read_text())
    assert report["model"] == {"source": str(out), "arch": "dcgan", "step": 10}
    assert report["data"] == "digits" and report["image_size"] == [1, 16, 16]
    assert report["protocol"]["n_generated"] == 50
    assert report["protocol"]["n_reference"] + report["protocol"]["n_held_out"] == 1797
    # the same weights, samples and protocol as the evaluation logged at step 10
    assert report["metrics"]["fd"] == pytest.approx(evals[1]["eval_fd"], rel=1e-6)
    assert report["metrics"]["precision"] == pytest.approx(evals[1]["eval_precision"])
    assert report["floor"]["fd"] == pytest.approx(evals[1]["eval_fd_floor"], rel=1e-9)


def test_eval_output_names_the_kid_scale_and_explains_the_floor_once(tmp_path, thumbs):
    from ganzoo.metrics.report import kid_exponent

    path = tmp_path / "floor.json"
    result = CliRunner().invoke(
        cli, ["eval", "--real", "--data", "digits", "--features", thumbs, "--json", str(path)]
    )
    assert result.exit_code == 0, result.output
    raw = json.loads(path.read_text())["floor"]["kid"]
    exponent = kid_exponent([raw])
    assert 1 <= abs(raw) * 10**exponent < 1000 or raw == 0
    (row,) = [ln for ln in result.output.splitlines() if ln.startswith("KID") and ":" not in ln]
    shown = float(row.split()[-3] if "±" in row else row.split()[-1])
    assert shown == pytest.approx(raw * 10**exponent, rel=0.01)
    if exponent:
        assert row.startswith("KID × 10") and "e+" not in row
    assert result.output.count("floor: held-out real images") == 1


def test_kid_scale_follows_the_papers_and_large_features():
    from ganzoo.metrics.report import kid_exponent, kid_label

    assert kid_label(kid_exponent([0.0213])) == "KID × 10³"  # Inception: as papers print it
    assert kid_label(kid_exponent([49120.0, -15.31])) == "KID × 10⁻³"  # 49.1 and -0.0153
    assert kid_exponent([0.0]) == 0 and kid_label(0) == "KID"


def test_evaluating_during_training_does_not_change_the_training(tmp_path, thumbs):
    from safetensors.torch import load_file

    from ganzoo.training.checkpoint import latest_checkpoint

    finals = []
    for name, extra in (("plain", {}), ("evaluated", {"eval_every": 3, "eval_features": thumbs})):
        plan = run.plan_new_run(
            "dcgan", data="digits", layers=[{**TINY, "steps": 6, **extra}], out=tmp_path / name
        )
        run.execute(plan)
        finals.append(load_file(str(latest_checkpoint(tmp_path / name) / "generator.safetensors")))
    assert finals[0].keys() == finals[1].keys()
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])


def test_eval_real_needs_no_model(thumbs, tmp_path):
    path = tmp_path / "floor.json"
    result = CliRunner().invoke(
        cli, ["eval", "--real", "--data", "digits", "--features", thumbs, "--json", str(path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(path.read_text())
    assert report["metrics"] is None and report["floor"]["n"] == 599
    assert report["protocol"]["n_reference"] == 1198
    assert report["image_size"] == [1, 32, 32]


def test_eval_max_real_scores_a_seeded_sample_of_the_real_images(thumbs, tmp_path):
    """A dataset too large to decode whole is scored against a fixed sample of it: the same
    images every time, so two evaluations compare."""
    reports = []
    for i in range(2):
        path = tmp_path / f"floor{i}.json"
        args = ["eval", "--real", "--data", "digits", "--features", thumbs, "--max-real", "300"]
        result = CliRunner().invoke(cli, [*args, "--json", str(path)])
        assert result.exit_code == 0, result.output
        reports.append(json.loads(path.read_text()))
    protocol = reports[0]["protocol"]
    assert protocol["n_reference"] + protocol["n_held_out"] == 300
    assert protocol["n_held_out"] == 100 and reports[0]["floor"]["n"] == 100
    assert reports[0]["floor"] == reports[1]["floor"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval"], "either SOURCE"),
        (["eval", "--real", "--features", "nosuch"], "unknown feature extractor 'nosuch'"),
        (["eval", "no/such-dir-or-repo-here", "--real"], "either SOURCE"),
        (["eval", "--real", "--max-real", "-1"], "--max-real"),
    ],
)
def test_eval_usage_errors(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.output


def test_eval_inception_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    result = CliRunner().invoke(cli, ["eval", "--real", "--features", "inception"])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: the inception extractor needs")


@pytest.mark.slow
def test_eval_real_digits_reports_the_classifier_and_floor(digits_cache, tmp_path):
    path = tmp_path / "floor.json"
    result = CliRunner().invoke(cli, ["eval", "--real", "--data", "digits", "--json", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(path.read_text())
    feats = report["features"]
    assert feats["name"] == "digits" and feats["dim"] == 64 and feats["held_out_accuracy"] >= 0.97
    floor = report["floor"]
    assert floor["classes_covered"] == 10 and floor["num_classes"] == 10
    assert "held-out accuracy" in result.output and "classes covered" in result.output
