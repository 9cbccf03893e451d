"""Fault injection on training runs: runs never lie about what they hold.

Each test reproduces a fault (NaN weights, a torn or full log, a full disk during a checkpoint,
kill -9 in the middle of one, two trainers on one run, checkpoint steps past 999,999, a broken or
misdirected newest checkpoint, a --steps total below the run's step, a run that failed before its
first checkpoint) and checks what a user relies on: exit status 2 with one line and no
traceback, and nothing already saved lost or mislabelled. ``tests/test_faults_inputs.py`` holds
the hostile-input half (downloads, configs and the traceback list).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo.rundir import RunDir
from ganzoo.serialization import load_model_files
from ganzoo.training.checkpoint import NonFiniteWeights, check_intact, save_checkpoint

from .cli_checks import TINY, ganzoo_cli, ok, one_line_error, resume, train

pytestmark = pytest.mark.usefixtures("one_thread")


def steps_of(run: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in RunDir(run).checkpoints()]


# -- 1. non-finite weights ------------------------------------------------------------------------
def test_a_checkpoint_with_an_infinite_batchnorm_statistic_is_never_written(tmp_path, tiny_dcgan):
    run = tmp_path / "run"
    opts = {"g": torch.optim.Adam(tiny_dcgan.generator.parameters())}
    save_checkpoint(run, 1, tiny_dcgan, opts, {})
    bn = next(m for m in tiny_dcgan.generator.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var[0] = float("inf")  # a buffer, not a parameter: losses would stay finite
    with pytest.raises(NonFiniteWeights, match="running_var"):
        save_checkpoint(run, 2, tiny_dcgan, opts, {})
    assert steps_of(run) == [1] and RunDir(run).latest().name == "step-000001"
    assert not list((run / "checkpoints").glob(".tmp-*"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_every_checkpoint_file_reaches_the_disk_before_the_checkpoint_is_named(
    tmp_path, tiny_dcgan, monkeypatch
):
    """A power loss after the rename must not leave ``latest`` naming empty files: each file
    (and the folder) is fsync'd before the temporary folder is renamed into place."""
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, Path.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(self: Path, target):
        events.append(("rename", str(self)))
        return real_rename(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "rename", rename)
    run = tmp_path / "run"
    opts = {"g": torch.optim.Adam(tiny_dcgan.generator.parameters())}
    final = save_checkpoint(run, 1, tiny_dcgan, opts, {})
    monkeypatch.undo()
    renamed = next(i for i, (kind, p) in enumerate(events) if kind == "rename" and ".tmp-" in p)
    tmp = events[renamed][1]
    flushed = {p for kind, p in events[:renamed] if kind == "fsync"}
    files = [p.relative_to(final) for p in final.rglob("*")]
    assert files and all(f"{tmp}/{f}" in flushed for f in files), (files, flushed)
    assert tmp in flushed
    # the pointer too: its new text is on the disk before it replaces the old one
    assert any(kind == "fsync" and ".latest.tmp-" in p for kind, p in events[renamed:])


def test_a_diverged_run_names_only_a_finite_checkpoint(tmp_path):
    run = tmp_path / "run"
    # lr 1e8: D's BatchNorm running_var overflows at step 4 while every loss is still finite
    result = train(run, 40, "--lr-g", "1e8", "--lr-d", "1e8", "--checkpoint-every", "1")
    message = one_line_error(result, "became non-finite", "running_var", "--lr-g")
    assert steps_of(run), "the run diverged before its first checkpoint: nothing to check"
    for ckpt in RunDir(run).checkpoints():
        check_intact(ckpt)  # every checkpoint written is finite, parameters and buffers
    assert RunDir(run).latest().name in message
    ok(ganzoo_cli("sample", run, "-o", tmp_path / "grid.png", "--n", "4"))


@pytest.mark.parametrize("command", ["sample", "eval", "export"])
def test_commands_refuse_weights_that_hold_nan(tmp_path, tiny_dcgan, command):
    folder = tmp_path / "model"
    tiny_dcgan.save_pretrained(folder, sample=False)
    state = load_file(folder / "generator.safetensors")
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name][...] = float("nan")
    save_file(state, folder / "generator.safetensors")
    args = {
        "sample": ["sample", folder, "-o", tmp_path / "x.png"],
        "eval": ["eval", folder, "--n", "8", "--device", "cpu"],
        "export": ["export", folder, tmp_path / "out"],
    }[command]
    one_line_error(ganzoo_cli(*args), "NaN or infinite", name)
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "out").exists()


# -- 2. metrics.jsonl and full disks --------------------------------------------------------------
def test_a_torn_last_log_line_is_ignored_and_repaired_on_resume(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 4, "--checkpoint-every", "2"))
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 5, "d_lo')  # what a crash or a full disk leaves
    with pytest.warns(UserWarning, match="dropped 1 torn"):  # said, not silently dropped
        ok(resume(run, 6))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert (run / "loss.png").stat().st_size > 0


def fail_writes_to(monkeypatch, suffix: str, after_bytes: int = 0) -> None:
    """Make the disk 'full' for files ending in ``suffix``: the first ``after_bytes`` of a write
    get through (a torn line), then ENOSPC."""
    real_write = os.write

    def write(fd, data):
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else ""
        if target.endswith(suffix):
            if after_bytes and len(data) > after_bytes:
                real_write(fd, bytes(data[:after_bytes]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to find the file")
def test_a_full_disk_while_logging_says_so_and_leaves_no_torn_line(tmp_path, monkeypatch):
    run = tmp_path / "run"
    ok(train(run, 2, "--checkpoint-every", "2"))
    fail_writes_to(monkeypatch, "metrics.jsonl", after_bytes=7)
    one_line_error(resume(run, 4), "no space left", str(run), "--resume", "step-000002 is intact")
    monkeypatch.undo()
    assert all(json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines())
    ok(resume(run, 4))


def test_a_full_disk_during_a_checkpoint_keeps_the_last_one(tmp_path, monkeypatch):
    run = tmp_path / "run"
    ok(train(run, 2, "--checkpoint-every", "2"))
    import ganzoo.serialization

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[1]))

    monkeypatch.setattr(ganzoo.serialization, "write_safetensors", full)
    one_line_error(resume(run, 4), "no space left", "step-000002 is intact", "--resume")
    monkeypatch.undo()
    assert steps_of(run) == [2] and RunDir(run).latest().name == "step-000002"
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    ok(resume(run, 4))
    assert RunDir(run).latest().name == "step-000004"


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 1 MiB file system that fills up (mounting needs root; CI runs as root)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True)  # fmt: skip
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_stops_the_run_cleanly(small_tmpfs):
    run = small_tmpfs / "run"
    result = train(run, 1000, "--checkpoint-every", "1")
    one_line_error(result, "no space left", str(run))
    last = RunDir(run).latest()
    check_intact(last)
    assert not list((run / "checkpoints").glob(".tmp-*"))
    assert all(json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines())
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_tmpfs)], check=True)
    step = steps_of(run)[-1]
    ok(resume(run, step + 1))
    assert RunDir(run).latest().name == f"step-{step + 1:06d}"


def test_leftovers_of_an_interrupted_checkpoint_are_removed_on_the_next_start(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 2, "--checkpoint-every", "1"))
    ckpts = run / "checkpoints"
    shutil.copytree(ckpts / "step-000002", ckpts / ".tmp-step-000003-4242")
    (ckpts / "step-000002").rename(ckpts / ".old-step-000002-4242")  # killed mid-replacement
    with pytest.warns(UserWarning) as notes:
        ok(resume(run, 3))
    said = " ".join(str(w.message) for w in notes)
    assert "removed .tmp-step-000003-4242" in said and "put back step-000002" in said
    assert sorted(p.name for p in ckpts.iterdir()) == [
        "latest", "step-000001", "step-000002", "step-000003"
    ]  # fmt: skip


# -- kill -9 at random points of a checkpoint -----------------------------------------------------
WRITER = textwrap.dedent(
    """
    import itertools, sys, torch, ganzoo
    from ganzoo.training.checkpoint import save_checkpoint
    torch.manual_seed(0)
    model = ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8, latent_dim=16)
    opts = {"g": torch.optim.Adam(model.generator.parameters())}
    print("ready", flush=True)
    for step in itertools.count(int(sys.argv[2])):
        save_checkpoint(sys.argv[1], step, model, opts, {"gen": torch.get_rng_state()}, keep=2)
    """
)


@pytest.mark.slow
def test_kill_9_during_checkpoints_never_leaves_a_broken_one(tmp_path):
    run, rng = tmp_path / "run", random.Random(0)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    start = 1
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, str(script), str(run), str(start)],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.kill()
        proc.wait(timeout=30)
        rundir = RunDir(run)
        if not rundir.checkpoints():
            continue
        for ckpt in rundir.checkpoints():
            check_intact(ckpt)  # nothing named step-N is ever partial
        load_model_files(rundir.latest())
        rundir.clean_leftovers()
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
        start = steps_of(run)[-1] + 1


# -- 5. two trainers, one run ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_trainer_on_a_run_gets_one_line_naming_the_first(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ganzoo", "train", "dcgan", "--out", str(run), "--steps",
           "100000", "--checkpoint-every", "1", *TINY]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not RunDir(run).checkpoints() and time.time() < deadline:
            time.sleep(0.1)
        assert RunDir(run).checkpoints(), "the first trainer never wrote a checkpoint"
        one_line_error(resume(run, 10**6), f"process {first.pid}", "in use")
        one_line_error(train(run, 5, "--overwrite"), f"process {first.pid}")
    finally:
        first.kill()
        first.wait(timeout=30)
    step = steps_of(run)[-1]
    ok(resume(run, step + 1))  # the lock died with its process
    rows = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == sorted(set(rows))  # no duplicated log lines


def test_the_lock_is_exclusive_in_one_process_too(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.lock(), pytest.raises(ganzoo.GanzooError, match=str(os.getpid())):
        run.check_free()
    run.check_free()


# -- 3. checkpoint steps past 999,999 -------------------------------------------------------------
def relabel(run: Path, old: int, new: int) -> None:
    """Pretend a run reached step ``new``: its checkpoint, log and latest say so."""
    ckpts = run / "checkpoints"
    folder = ckpts / f"step-{new:06d}"
    (ckpts / f"step-{old:06d}").rename(folder)
    state = json.loads((folder / "trainer.json").read_text())
    (folder / "trainer.json").write_text(json.dumps({**state, "step": new}))
    (ckpts / "latest").write_text(folder.name + "\n")
    (run / "metrics.jsonl").write_text(json.dumps({"step": new, "d_loss": 1.0}) + "\n")


def test_rotation_past_step_999999_keeps_the_newest_checkpoints(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 2, "--checkpoint-every", "2"))
    relabel(run, 2, 999_998)
    ok(resume(run, 1_000_001, "--checkpoint-every", "1", "--set", "keep_checkpoints=2"))
    assert steps_of(run) == [1_000_000, 1_000_001]
    assert RunDir(run).latest().name == "step-1000001"
    check_intact(RunDir(run).latest())


# -- 4. a --steps total below the run's step ------------------------------------------------------
def test_a_total_below_the_runs_step_is_refused_and_changes_nothing(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 4, "--checkpoint-every", "2"))
    before = {p: p.read_bytes() for p in (run / "checkpoints").rglob("*") if p.is_file()}
    one_line_error(resume(run, 2), "already at step 4", "--steps is the new total")
    one_line_error(resume(run, 4), "already at step 4")
    after = {p: p.read_bytes() for p in (run / "checkpoints").rglob("*") if p.is_file()}
    assert before == after


# -- 6. a run that failed before its first checkpoint ---------------------------------------------
@pytest.mark.filterwarnings("ignore::ganzoo.training.trainer.SmallDatasetWarning")  # 2**40
def test_a_run_that_failed_before_its_first_checkpoint_can_start_over(tmp_path):
    run = tmp_path / "run"
    one_line_error(train(run, 2, "--batch-size", str(2**40)), "out of memory", "--overwrite")
    one_line_error(train(run, 2), "stopped before its first checkpoint", "--overwrite")
    one_line_error(resume(run, 2), "no checkpoint", "--overwrite")
    ok(train(run, 2, "--overwrite"))
    assert steps_of(run) == [2]
    one_line_error(train(run, 2, "--overwrite"), "already exists", "--resume")
    assert steps_of(run) == [2]  # --overwrite never deletes a trained checkpoint


def test_a_failure_before_anything_is_written_leaves_no_folder(tmp_path):
    run = tmp_path / "run"
    one_line_error(train(run, 2, "--data", tmp_path / "nowhere"))
    assert not run.exists()


# -- 7. a broken newest checkpoint ----------------------------------------------------------------
def test_resume_skips_a_corrupt_newest_checkpoint_and_says_why(tmp_path):
    run = tmp_path / "run"
    ok(train(run, 4, "--checkpoint-every", "2"))
    weights = run / "checkpoints" / "step-000004" / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="step-000004 is unusable .* resuming from step-000002"):
        ok(resume(run, 6))
    assert RunDir(run).latest().name == "step-000006"
    check_intact(RunDir(run).latest())


# -- 8. a latest pointer that leads elsewhere -----------------------------------------------------
@pytest.mark.parametrize("pointer", ["../../elsewhere", "/etc", "step-000002/../../x"])
def test_a_latest_pointing_outside_the_run_is_refused(tmp_path, pointer):
    run = tmp_path / "run"
    ok(train(run, 2, "--checkpoint-every", "2"))
    (tmp_path / "elsewhere").mkdir()
    (run / "checkpoints" / "latest").write_text(pointer + "\n")
    one_line_error(ganzoo_cli("sample", run, "-o", tmp_path / "x.png"), "refusing")
    one_line_error(resume(run, 4), "refusing")
