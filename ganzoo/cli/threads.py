"""How many CPU threads a command gives torch: ``--threads N``, ``GANZOO_THREADS``, or a default.

torch starts one thread per physical core and its OpenMP threads spin while they wait for each
other. On a machine whose cores are busy with other work that is ruinous: on a shared 2-core
machine the default ``ganzoo train dcgan`` took 57 minutes instead of 3.5 (see
``benchmarks/RESULTS.md``, "CPU threads"). So the commands that run networks choose the count
themselves, in this order:

1. ``--threads N`` on the command line;
2. the ``GANZOO_THREADS`` environment variable;
3. ``OMP_NUM_THREADS``, when the user has set it (torch reads it too);
4. the default: the cores this process may use, less the ones other programs kept busy over the
   last minute (the load average), at least 1 — split between torchrun's processes on this node.

Only the CLI does this; ``import ganzoo`` never changes torch's settings.
"""

from __future__ import annotations

import os
import sys

import click

ENV = "GANZOO_THREADS"


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Idle cores (usable cores less the 1-minute load average), shared among this node's
    torchrun processes; at least 1."""
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        busy = 0.0
    # rounded down: a thread too few costs at most its share, one too many costs a lot (the
    # threads of one operation wait for the slowest; see benchmarks/RESULTS.md)
    idle = min(cores, int(cores - busy))
    per_node = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, idle // per_node)


def parse_threads(value: str | int, where: str) -> int:
    """A positive thread count, or a one-line error naming ``where`` it came from."""
    from ..errors import ConfigError

    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"{where} must be a positive number of threads, got {value!r}")
    return n


def choose_threads(requested: int | None) -> tuple[int, str]:
    """The thread count and where it came from (for ``--threads`` help and logs)."""
    if requested is not None:
        return parse_threads(requested, "--threads"), "--threads"
    if os.environ.get(ENV, "").strip():
        return parse_threads(os.environ[ENV].strip(), ENV), ENV
    if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        n = int(os.environ["OMP_NUM_THREADS"])
        if n > 0:
            return n, "OMP_NUM_THREADS"
    return default_threads(), "default"


def apply_threads(n: int) -> None:
    """Make torch use ``n`` intra-op threads: now if it is imported, else when it is."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)
    else:
        os.environ["OMP_NUM_THREADS"] = str(n)  # read by torch (and MKL) at import


def _callback(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if ctx.resilient_parsing:
        return
    n, _ = choose_threads(value)
    apply_threads(n)


def threads_option() -> click.Option:
    """The ``--threads`` option the CLI adds to every command that runs networks."""
    return click.Option(
        ["--threads"],
        type=int,
        default=None,
        expose_value=False,
        callback=_callback,
        metavar="N",
        help=f"CPU threads for torch (default: ${ENV}, else the idle cores; 1 on a busy "
        "shared machine).",
    )
