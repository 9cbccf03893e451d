"""Shared fixtures.

Hub fixtures: ``hf_env`` isolates huggingface_hub (a temporary HF_HOME and cache, no token, the
endpoint on a closed loopback port so nothing can reach the internet); ``hub`` starts the
Hub-compatible test server of ``tests/hub_server.py`` and points the endpoint at it.
huggingface_hub reads its environment variables once, at import, into
``huggingface_hub.constants``, so the fixtures set the variables *and* patch those configuration
constants. The client's functions are never patched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import HUB_TOKEN, HubServer, closed_port_url
except ImportError:
    from hub_server import HUB_TOKEN, HubServer, closed_port_url


def _datasets_config(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    """Patch ``datasets.config`` where the library is already imported (it reads its
    environment variables once, at import, like huggingface_hub)."""
    import sys

    config = sys.modules.get("datasets.config")
    for key, value in values.items():
        if config is not None and hasattr(config, key):
            monkeypatch.setattr(config, key, value)


@pytest.fixture(autouse=True)
def data_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test prepares datasets into its own caches, never into ~/.cache."""
    cache = tmp_path / "ganzoo-data-cache"
    monkeypatch.setenv("GANZOO_DATA_CACHE", str(cache))
    hf_datasets = tmp_path / "hf-datasets-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(hf_datasets))
    _datasets_config(monkeypatch, HF_DATASETS_CACHE=hf_datasets)
    return cache


@pytest.fixture
def fresh_registry():
    """A plugin host and registry of this test's own (the core and the installed plugins,
    loaded afresh), made the process-wide one for the test. A test adds a plugin object with
    ``fresh_registry.add_plugin(obj, "name")``; nothing it registers leaks into other tests."""
    from ganzoo.testing import isolated_plugins

    with isolated_plugins() as host:
        yield host


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run a test with one torch thread, then restore the count.

    The tests' networks are tiny: on the shared 2-core machine two OpenMP threads mostly wait for
    each other (test_msggan.py took 86 s instead of 8 s). Modules use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class HFEnv:
    home: Path
    cache: Path
    monkeypatch: pytest.MonkeyPatch

    def set_endpoint(self, url: str) -> None:
        from huggingface_hub import constants

        self.monkeypatch.setenv("HF_ENDPOINT", url)
        self.monkeypatch.setattr(constants, "ENDPOINT", url)
        template = url + "/{repo_id}/resolve/{revision}/{filename}"
        self.monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        _datasets_config(
            self.monkeypatch,
            HF_ENDPOINT=url,
            HUB_DATASETS_URL=url + "/datasets/{repo_id}/resolve/{revision}/{path}",
        )

    def set_offline(self, offline: bool) -> None:
        from huggingface_hub import constants

        self.monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
        self.monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        _datasets_config(self.monkeypatch, HF_HUB_OFFLINE=offline, HF_DATASETS_OFFLINE=offline)

    def set_token(self, token: str | None) -> None:
        if token is None:
            self.monkeypatch.delenv("HF_TOKEN", raising=False)
        else:
            self.monkeypatch.setenv("HF_TOKEN", token)


@pytest.fixture
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HFEnv:
    """huggingface_hub confined to ``tmp_path``, logged out, with no reachable endpoint."""
    from huggingface_hub import constants

    home = tmp_path / "hf_home"
    cache = home / "hub"
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "GANZOO_CATALOG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    env = HFEnv(home, cache, monkeypatch)
    env.set_offline(False)
    env.set_endpoint(closed_port_url())
    return env


@pytest.fixture
def silent_hub_url() -> Iterator[str]:
    """A loopback URL whose server accepts connections but never answers (a stuck proxy or a
    half-dead network): a client without a read timeout waits there for ever."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def hub(hf_env: HFEnv) -> Iterator[HubServer]:
    """A fresh Hub-compatible server on 127.0.0.1, set as the endpoint."""
    with HubServer(tokens=(HUB_TOKEN,)) as server:
        hf_env.set_endpoint(server.url)
        yield server


@pytest.fixture
def tiny_dcgan():
    """A DCGAN small enough to save, push and load in well under a second."""
    import torch

    import ganzoo

    torch.manual_seed(0)
    return ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8)


def _make_run(root: Path, models: dict[int, object], latest: int | None) -> Path:
    import torch
    from safetensors.torch import save_file

    from ganzoo.serialization import save_model_files

    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    run_config = {
        "format": "ganzoo-run",
        "format_version": 1,
        "arch": "dcgan",
        "data": "digits",
        "model": {"image_size": 16},
        "train": {"steps": max(models), "batch_size": 8, "lr_g": 2e-4, "loss": "bce"},
    }
    (run / "config.json").write_text(json.dumps(run_config))
    for step, model in models.items():
        ckpt = run / "checkpoints" / f"step-{step:06d}"
        save_model_files(model, ckpt)
        state = {"rng.cpu": torch.zeros(4, dtype=torch.uint8)}
        save_file(state, ckpt / "training_state.safetensors")
        (ckpt / "trainer.json").write_text(json.dumps({"step": step}))
    if latest is not None:
        (run / "checkpoints" / "latest").write_text(f"step-{latest:06d}\n")
    log = [
        {"step": s, "d_loss": 1.25 + s / 1000, "g_loss": 0.75, "img_per_s": 512.5}
        for s in sorted(models)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    return run


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run({step: model}, latest=step)``: a run directory in the trainer's layout
    (RUN/config.json, checkpoints/step-XXXXXX with training state, latest, metrics.jsonl)."""

    def make(models: dict[int, object], latest: int | None) -> Path:
        return _make_run(tmp_path, models, latest)

    return make


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from this checkout, built once for the session: what a user
    installs from PyPI, so tests can check which package data it carries."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(root)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("ganzoo-*.whl")
    return wheel
