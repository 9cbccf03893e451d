"""Downloads through olah, a self-hosted Hugging Face Hub mirror, serving local git repos.

olah runs in offline mode with ``mirrors-path`` pointing at plain git repositories
(``mirrors/models/ORG/NAME``, branch ``main``); the real huggingface_hub client reaches it over
HTTP on 127.0.0.1 through ``HF_ENDPOINT``. olah takes seconds to start, so one server serves the
whole module. olah is real Hub-mirror software, so downloads are tested here rather than against
tests/hub_server.py's imitation wherever olah can serve them; uploads, tokens and request counts
(a refused pickle is never downloaded) stay in test_hub_server.py. Skipped when olah is not
installed (``pip install olah``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.errors import HubError

pytest.importorskip("olah", reason="olah is not installed: pip install olah")

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_server import closed_port_url
except ImportError:
    from hub_server import closed_port_url

pytestmark = pytest.mark.slow


@dataclass
class Mirror:
    url: str
    models: dict[str, object]  # "first", "second"
    first_commit: str


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return done.stdout.decode().strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tiny(seed: int):
    torch.manual_seed(seed)
    return ganzoo.create_model("dcgan", image_size=16, g_width=8, d_width=8)


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"olah exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"olah did not answer {url} within {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("olah")
    models = {"first": tiny(1), "second": tiny(2)}
    repo = root / "mirrors" / "models" / "org" / "dcgan-tiny"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    models["first"].save_pretrained(repo, dataset="digits")
    first = commit_all(repo, "first weights")
    git(repo, "branch", "v1")
    models["second"].save_pretrained(repo, dataset="digits")
    commit_all(repo, "second weights")

    url = closed_port_url()
    port = url.rsplit(":", 1)[1]
    (root / "olah.toml").write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nmirrors-path = ["./mirrors"]\n'
        f'repos-path = "./repos"\n[accessibility]\noffline = true\n'
    )
    log = root / "olah.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "-c", "olah.toml", "--log-path", "logs"],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(proc, f"{url}/api/models/org/dcgan-tiny/revision/main", log)
        yield Mirror(url, models, first)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def same_generator(a, b) -> bool:
    sa, sb = a.generator.state_dict(), b.generator.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_download_from_a_git_mirror(mirror, hf_env, tmp_path):
    hf_env.set_endpoint(mirror.url)
    model = ganzoo.from_pretrained("hf://org/dcgan-tiny")
    assert same_generator(model, mirror.models["second"])
    assert model.card_info["dataset"] == "digits"
    hf_env.set_offline(True)  # now cached: loads without the mirror
    assert same_generator(ganzoo.from_pretrained("org/dcgan-tiny"), mirror.models["second"])


def test_revision_pinning_through_the_mirror(mirror, hf_env):
    hf_env.set_endpoint(mirror.url)
    pinned = ganzoo.from_pretrained(f"org/dcgan-tiny@{mirror.first_commit}")
    assert same_generator(pinned, mirror.models["first"])
    assert same_generator(ganzoo.from_pretrained("org/dcgan-tiny@v1"), mirror.models["first"])
    assert same_generator(ganzoo.from_pretrained("org/dcgan-tiny"), mirror.models["second"])


def test_missing_mirror_repo(mirror, hf_env):
    hf_env.set_endpoint(mirror.url)
    with pytest.raises(HubError):
        ganzoo.from_pretrained("org/not-mirrored")
