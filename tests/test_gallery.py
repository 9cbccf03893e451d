"""``ganzoo gallery``: the static site of runs, its bad inputs, --serve, and the pages in a real
headless browser (Chromium): runs listed, images loaded, the slider, no console errors."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
from pathlib import Path

import pytest

from ganzoo.gallery import build_gallery, make_server
from ganzoo.rundir import RunDir

from .browser import Browser, find_browser
from .cli_checks import ganzoo_cli, ok, one_line_error, train

pytestmark = pytest.mark.usefixtures("one_thread")

HEALTH = {"step": 5, "kind": "health", "diagnosis": "d_dominance", "active": True,
          "message": "D is winning: lower lr_d or set d_skip_below", "d_acc": 0.97}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two tiny runs that differ in lr_d and steps; the second evaluated, with a health
    record and an interpolation GIF."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    os.environ.setdefault("GANZOO_DATA_CACHE", str(root.parent / "data-cache"))
    ok(train(root / "alpha", 6, "--sample-every", "2"))
    ok(train(root / "beta", 8, "--sample-every", "2", "--lr-d", "1e-3", "--eval-every", "4",
             "--set", "eval_n=40"))  # fmt: skip
    RunDir(root / "beta").metrics.append(HEALTH)  # as the training health diagnosis writes one
    ok(ganzoo_cli("sample", root / "beta", "--interpolate", "--n", "2", "--frames", "2",
                  "-o", root / "beta" / "walk.gif"))  # fmt: skip
    torch.set_num_threads(threads)
    return root


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "gallery"
    ok(ganzoo_cli("gallery", runs, "-o", out))
    return out


def local_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#?]+)', html)


def test_every_page_and_asset_is_in_the_folder(site):
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} == {
        "index.html", "compare.html", "runs/alpha/index.html", "runs/beta/index.html"
    }  # fmt: skip
    for page in pages:
        html = page.read_text()
        text = html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
        assert "http://" not in text and "https://" not in text, f"{page} refers to the network"
        for ref in local_refs(html):
            if not ref.startswith("data:"):
                assert (page.parent / ref).is_file(), f"{page}: {ref} is not in the folder"
    for asset in site.joinpath("assets").iterdir():
        assert "http" not in asset.read_text().replace("http://www.w3.org", "")
    assert len(list(site.glob("runs/alpha/samples/step-*.png"))) == 3  # steps 2, 4, 6
    assert (site / "runs/beta/walk.gif").is_file()


def test_index_and_run_pages_hold_what_the_runs_hold(site, runs):
    index = (site / "index.html").read_text()
    assert index.count('class="run"') == 2
    best = min(r["eval_fd"] for r in RunDir(runs / "beta").metrics.read() if "eval_fd" in r)
    assert f"{best:.2f}" in index
    beta = (site / "runs/beta/index.html").read_text()
    assert "Health records" in beta and "d_dominance" in beta
    assert "<svg" in beta and 'data-name="d_loss"' in beta and 'data-name="eval_fd"' in beta
    assert 'id="sample-slider"' in beta and 'max="3"' in beta  # 4 grids: steps 2, 4, 6, 8
    assert "train.lr_d" in beta and "walk.gif" in beta
    data = (site / "assets/data.js").read_text()
    entries = json.loads(data.split("=", 1)[1].rstrip().rstrip(";"))["runs"]
    assert [(e["name"], e["steps"]) for e in entries] == [("alpha", 6), ("beta", 8)]


def test_rebuild_replaces_the_gallery_but_never_other_files(runs, tmp_path):
    out = tmp_path / "g"
    ok(ganzoo_cli("gallery", runs / "alpha", "-o", out))
    ok(ganzoo_cli("gallery", runs / "beta", "-o", out))
    assert [p.name for p in (out / "runs").iterdir()] == ["beta"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    one_line_error(ganzoo_cli("gallery", runs, "-o", mine), "did not write")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_bad_inputs_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(ganzoo_cli("gallery"), "no runs to show")
    (tmp_path / "empty").mkdir()
    one_line_error(ganzoo_cli("gallery", "empty"), "is not a ganzoo run")
    one_line_error(ganzoo_cli("gallery", "nowhere"), "does not exist")
    (tmp_path / "file.txt").write_text("x")
    one_line_error(ganzoo_cli("gallery", "file.txt"), "is not a ganzoo run")
    assert not (tmp_path / "gallery").exists()


def test_serve_answers_on_loopback(site):
    server = make_server(site, port=0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=30) as reply:
            assert reply.status == 200 and b"alpha" in reply.read()
        path = "runs/alpha/samples/step-000006.png"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=30) as reply:
            assert reply.read()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        server.shutdown()
        server.server_close()


def test_build_gallery_from_python(runs, tmp_path):
    index = build_gallery([runs / "beta"], tmp_path / "g")
    assert index == tmp_path / "g" / "index.html" and index.is_file()


def browser_or_skip() -> str:
    """The Chromium to drive; without one the test is skipped, except under CI (CI set),
    whose .ci/run installs it: there a missing browser is a failure."""
    path = find_browser()
    if path is None:
        message = (
            "no Chromium found for the gallery's browser test: apt-get install chromium "
            "(or set GANZOO_BROWSER to a Chromium or Chrome executable)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


IMAGES_LOADED = """(async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.onload = r; i.onerror = r; })));
  return imgs.map(i => [i.getAttribute('src'), i.naturalWidth]);
})()"""


@pytest.mark.slow
def test_gallery_in_a_real_browser(site, tmp_path):
    shots = Path(os.environ.get("GANZOO_SCREENSHOTS", tmp_path))  # where a person can look
    shots.mkdir(parents=True, exist_ok=True)
    with Browser(browser_or_skip()) as browser:
        check_pages(browser, site, shots)


def check_pages(browser: Browser, site: Path, shots: Path) -> None:
    browser.open((site / "index.html").as_uri())
    names = browser.eval("Array.from(document.querySelectorAll('#runs tr.run a'))"
                         ".map(a => a.textContent)")  # fmt: skip
    assert names == ["alpha", "beta"]
    images = browser.eval(IMAGES_LOADED)
    assert len(images) == 2 and all(width > 0 for _, width in images), images
    browser.screenshot(shots / "gallery-index.png")

    browser.open((site / "runs" / "beta" / "index.html").as_uri())
    images = browser.eval(IMAGES_LOADED)
    assert images and all(width > 0 for _, width in images), images
    assert any(src.endswith("walk.gif") for src, _ in images)
    assert browser.eval("document.getElementById('sample-image').dataset.step") == "8"
    moved = browser.eval("""(async () => {
      const s = document.getElementById('sample-slider');
      const img = document.getElementById('sample-image');
      s.value = 0; s.dispatchEvent(new Event('input'));
      await (img.complete ? null : new Promise(r => { img.onload = r; img.onerror = r; }));
      return [img.dataset.step, img.getAttribute('src'), img.naturalWidth,
              document.getElementById('sample-step').textContent];
    })()""")  # fmt: skip
    assert moved[:2] == ["2", "samples/step-000002.png"] and moved[2] > 0, moved
    assert moved[3].startswith("step 2 ")
    assert browser.eval("document.querySelectorAll('svg.chart').length") >= 3
    browser.screenshot(shots / "gallery-run.png")

    browser.open((site / "compare.html").as_uri() + "?a=alpha&b=beta")
    diff = browser.eval("Array.from(document.querySelectorAll('#config-diff tr.diff'))"
                        ".map(r => r.dataset.key)")  # fmt: skip
    assert {"train.lr_d", "train.steps", "train.eval_every"} <= set(diff)
    assert "train.batch_size" not in diff
    shown = browser.eval("""(() => {
      const box = document.getElementById('only-diff');
      box.click();
      return Array.from(document.querySelectorAll('#config-diff tr[data-key]'))
        .filter(r => r.offsetParent !== null).map(r => r.dataset.key);
    })()""")  # fmt: skip
    assert sorted(shown) == sorted(diff), "the checkbox hides the options that agree"
    images = browser.eval(IMAGES_LOADED)
    assert len(images) == 2 and all(width > 0 for _, width in images), images
    assert browser.eval("document.querySelectorAll('.compare-grid svg.chart').length") == 2
    browser.screenshot(shots / "gallery-compare.png")
    assert browser.errors() == []
    assert (shots / "gallery-run.png").stat().st_size > 10_000


@pytest.mark.slow
def test_built_wheel_ships_the_page_templates(built_wheel):
    import zipfile

    with zipfile.ZipFile(built_wheel) as zf:
        names = set(zf.namelist())
    for name in ("page.html", "gallery.css", "gallery.js"):
        assert f"ganzoo/gallery/templates/{name}" in names


def test_cli_serve_builds_then_serves_until_ctrl_c(runs, tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "g"
    cmd = [sys.executable, "-m", "ganzoo", "gallery", str(runs / "alpha"), "-o", str(out),
           "--serve", "--port", "0"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        seen = []  # "serving ... at http://127.0.0.1:PORT/ (Ctrl-C stops)", after any warning
        while not (url := re.search(r"http://127\.0\.0\.1:\d+/", seen[-1] if seen else "")):
            seen.append(proc.stderr.readline())
            assert seen[-1] and len(seen) < 50, seen
        with urllib.request.urlopen(url.group(0) + "runs/alpha/index.html", timeout=30) as reply:
            assert b'id="sample-slider"' in reply.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert "gallery of 1 run" in proc.stdout.read()
