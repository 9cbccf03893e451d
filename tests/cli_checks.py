"""Helpers for tests that drive the ganzoo CLI and check its promise about mistakes: exit status
2, one line that says what is wrong, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from ganzoo.cli import cli

#: a DCGAN small enough to train a few steps in about a second
TINY = ["--quiet", "--batch-size", "8", "--set", "image_size=16", "--set", "g_width=8",
        "--set", "d_width=8", "--set", "latent_dim=16", "--set", "n_samples=4",
        "--set", "log_every=1", "--sample-every", "0"]  # fmt: skip


def ganzoo_cli(*args):
    """Run the CLI in this process (arguments may be paths or numbers)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def train(out, steps: int, *extra: str):
    """``ganzoo train dcgan`` of the tiny DCGAN into ``out``."""
    return ganzoo_cli("train", "dcgan", "--out", out, "--steps", steps, *TINY, *extra)


def resume(out, steps: int, *extra: str):
    return ganzoo_cli("train", "--resume", out, "--steps", steps, "--quiet", *extra)


def one_line_error(result, *fragments: str) -> str:
    """The run failed the way the README promises: exit 2, one line, no traceback."""
    out = result.output
    assert result.exit_code == 2, (result.exception, out)
    assert "Traceback" not in out
    errors = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and out.rstrip().endswith(errors[0]), out
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def ok(result) -> None:
    assert result.exit_code == 0, (result.exception, result.output)
