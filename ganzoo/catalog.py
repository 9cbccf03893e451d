"""The catalogue of published weights: ``arch.tag`` -> Hub repository, revision and checksums.

Plugins declare tags in ``ModelSpec.pretrained``; ``ganzoo list --pretrained`` shows them.
"""

from __future__ import annotations

from typing import Any

from .plugins import get_registry


def pretrained_rows(pattern: str = "*", kind: str | None = None) -> list[dict[str, Any]]:
    """One row per published ``arch.tag`` matching ``pattern``."""
    reg = get_registry()
    rows = []
    for name in reg.list_models(pattern, kind=kind, pretrained=True):
        arch, tag = name.split(".", 1)
        entry = dict(reg.spec(arch).pretrained[tag])
        rows.append(
            {
                "name": name,
                "repo_id": entry.get("repo_id", ""),
                "revision": entry.get("revision", ""),
                "dataset": entry.get("dataset", ""),
                "summary": entry.get("summary", ""),
            }
        )
    return rows
