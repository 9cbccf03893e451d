"""Append a benchmark's figures to benchmarks/RESULTS.md with the machine, command and date."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """A one-line description of where the benchmark ran."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    desc = f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, {threads} threads"
    if torch.cuda.is_available():
        desc += f", GPU {torch.cuda.get_device_name(0)}"
    return desc


def append(title: str, lines: list[str]) -> None:
    """Append a section: title, machine, command, date, then the given markdown lines."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"\n## {title}\n",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        f"- date: {stamp}",
        "",
        *lines,
        "",
    ]
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nEach section is appended by the script "
            "named in its command line.\n",
            encoding="utf-8",
        )
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(block))
