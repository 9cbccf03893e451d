"""Rewrite the shipped-weights samples of equalized_golden.safetensors (tests/test_equalized.py)
after ``msggan.digits32`` or ``stylegan_lite.digits32`` is republished, with the plugins' own
layer copies of main at 8823995 (before they moved to ganzoo.nn); the tiny-model entries and
the metadata are kept:

    git worktree add --detach ../old 8823995
    PYTHONPATH=../old:../old/plugins python tests/data/make_equalized_golden.py
"""

import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import ganzoo
from ganzoo.api import get_spec

TAGS = ("msggan.digits32", "stylegan_lite.digits32")
MAIN = Path(__file__).resolve().parents[2]
GOLDEN = MAIN / "tests" / "data" / "equalized_golden.safetensors"


def old_readable_copy(tag: str) -> Path:
    """A copy of the shipped folder without the config options the old code does not know
    (``conditional=false`` and its companions, the fade-in lengths): they are unconditional
    defaults, which is what the old networks are."""
    copy = Path(tempfile.mkdtemp()) / tag
    shutil.copytree(MAIN / "registry" / "weights" / tag, copy)
    meta = json.loads((copy / "config.json").read_text())
    known = {f.name for f in dataclasses.fields(get_spec(meta["arch"]).config)}
    dropped = {k: v for k, v in meta["config"].items() if k not in known}
    assert not dropped.get("conditional") and not dropped.get("num_classes"), dropped
    print(f"{tag}: left out {dropped}", file=sys.stderr)
    meta["config"] = {k: v for k, v in meta["config"].items() if k in known}
    (copy / "config.json").write_text(json.dumps(meta))
    return copy


def main() -> None:
    if Path(ganzoo.__file__).resolve().is_relative_to(MAIN):
        raise SystemExit("put the old code first on PYTHONPATH (see this file's docstring)")
    torch.set_num_threads(1)  # as the test compares: bit for bit holds for one thread count
    with safe_open(str(GOLDEN), "pt") as fh:
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        metadata = fh.metadata()
    tensors = {k: v for k, v in tensors.items() if not k.startswith(TAGS)}  # rewritten below
    for tag in TAGS:
        model = ganzoo.from_pretrained(old_readable_copy(tag))
        assert model.generator_ema is None, "the catalogue ships one generator"
        tensors[f"{tag}.sample"] = model.sample(4, seed=0).contiguous()
    save_file(tensors, str(GOLDEN), metadata=metadata)
    print(f"wrote {GOLDEN}: {sorted(tensors)}", file=sys.stderr)


if __name__ == "__main__":
    main()
