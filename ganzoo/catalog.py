"""The catalogue of published weights: ``arch.tag`` -> Hub repository, pinned revision, checksums.

One source of truth: the catalogue file, ``registry/catalog.toml`` in a source checkout
(shipped inside the wheel as ``ganzoo/_catalog/catalog.toml``), or the file named by the
``GANZOO_CATALOG`` environment variable, which replaces it (a private catalogue, or tests).
Plugins do not declare weights of their own: an architecture's published weights are entries of
the catalogue like any other, whichever plugin provides it. Every entry pins a full commit id
and the sha256 of each weight file, so ``ganzoo.from_pretrained("dcgan.digits32")`` downloads
exactly the bytes that were published and verifies them. Nothing here imports torch:
``ganzoo list --pretrained`` stays fast. The schema is documented in ``registry/README.md``.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, UnknownNameError
from .plugins import get_registry

#: environment variable naming a catalogue file that replaces the built-in one
CATALOG_ENV = "GANZOO_CATALOG"
CATALOG_FILE = "catalog.toml"
#: the newest catalogue schema this ganzoo reads
CATALOG_VERSION = 1

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = {
    "repo_id",
    "revision",
    "path",
    "sha256",
    "image_size",
    "dataset",
    "conditional",
    "metrics",
    "license",
    "summary",
    "command",
}


@dataclass(frozen=True)
class PretrainedEntry:
    """One published set of weights."""

    name: str  #: ``arch.tag``
    repo_id: str  #: Hub repository (``org/name``), "" when the weights only ship with ganzoo
    revision: str  #: the full commit id the checksums belong to ("" without a repo_id)
    sha256: Mapping[str, str]  #: weight file name -> hex sha256
    path: Path | None = None  #: the shipped copy: a folder next to the catalogue file
    conditional: bool = False  #: whether the generator takes class labels
    command: str = ""  #: the command that trained these weights
    image_size: int | None = None  #: side of the generated images, in pixels
    dataset: str = ""  #: what the weights were trained on
    metrics: Mapping[str, float] = field(default_factory=dict)  #: e.g. {"fid": 12.3}
    license: str = ""  #: licence of the weights
    summary: str = ""  #: one line for ``ganzoo list --pretrained``
    source: str = ""  #: the catalogue file or plugin that declared it

    @property
    def shipped(self) -> bool:
        """Whether a copy of the weights ships with ganzoo (it is preferred to the Hub's)."""
        return self.path is not None and self.path.is_dir()

    @property
    def size(self) -> int | None:
        """Bytes of the shipped files the catalogue pins (None when none ship)."""
        if not self.shipped:
            return None
        assert self.path is not None
        return sum((self.path / f).stat().st_size for f in self.sha256 if (self.path / f).is_file())

    @property
    def arch(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]


def catalog_path() -> Path | None:
    """The catalogue file in use: ``$GANZOO_CATALOG``, the wheel's copy, or the checkout's."""
    override = os.environ.get(CATALOG_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CATALOG_ENV}={override} does not name a catalogue file")
        return path
    here = Path(__file__).resolve().parent
    for candidate in (here / "_catalog" / CATALOG_FILE, here.parent / "registry" / CATALOG_FILE):
        if candidate.is_file():
            return candidate
    return None


def read_catalog_file(path: Path) -> dict[str, Any]:
    """The raw ``{arch.tag: fields}`` table of a catalogue file (TOML, or JSON by suffix)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"catalogue {path} is unreadable: {exc}") from None
    version = data.get("format_version")
    if not isinstance(version, int):
        raise ConfigError(f"catalogue {path} has no integer format_version")
    if version > CATALOG_VERSION:
        raise ConfigError(
            f"catalogue {path} uses schema {version}, this ganzoo reads up to "
            f"{CATALOG_VERSION}: upgrade ganzoo (pip install -U ganzoo)"
        )
    models = data.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigError(f"catalogue {path}: 'models' must be a table of arch.tag entries")
    return dict(models)


def make_entry(name: str, fields: Mapping[str, Any], source: str) -> PretrainedEntry:
    """Check one declaration and turn it into a :class:`PretrainedEntry`."""
    where = f"pretrained weights {name!r} ({source})"
    if not isinstance(fields, Mapping):
        raise ConfigError(f"{where}: the entry must be a table of fields")
    arch, _, tag = name.partition(".")
    if not arch or not tag:
        raise ConfigError(f"{where}: the name must be arch.tag, e.g. dcgan.digits32")
    unknown = sorted(set(fields) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; fields: {sorted(_KEYS)}")
    rel = fields.get("path")
    if rel is not None and (
        not isinstance(rel, str) or not rel or rel.startswith(("/", "\\")) or ".." in rel
    ):
        raise ConfigError(f"{where}: path must be a folder relative to the catalogue file")
    repo_id = fields.get("repo_id", "")
    if rel is None or "repo_id" in fields or "revision" in fields:
        if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
            raise ConfigError(
                f"{where}: repo_id must be a Hub id such as 'org/name' (or give the shipped "
                "copy's path alone)"
            )
        revision = fields.get("revision", "")
        if not isinstance(revision, str) or not _COMMIT.match(revision):
            raise ConfigError(
                f"{where}: revision must be the full 40-character commit id the checksums belong to"
            )
    else:
        repo_id = revision = ""
    conditional = fields.get("conditional", False)
    if not isinstance(conditional, bool):
        raise ConfigError(f"{where}: conditional must be true or false")
    sha = fields.get("sha256", {})
    if not isinstance(sha, Mapping) or not any(str(f).endswith(".safetensors") for f in sha):
        raise ConfigError(f"{where}: sha256 must map each .safetensors file to its checksum")
    for file, digest in sha.items():
        if not isinstance(file, str) or "/" in file or "\\" in file or file.startswith("."):
            raise ConfigError(f"{where}: sha256 key {file!r} is not a plain file name")
        if not isinstance(digest, str) or not _SHA256.match(digest.lower()):
            raise ConfigError(f"{where}: sha256 of {file} is not 64 hex digits")
    metrics = fields.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(
        isinstance(v, int | float) for v in metrics.values()
    ):
        raise ConfigError(f"{where}: metrics must map names to numbers")
    size = fields.get("image_size")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ConfigError(f"{where}: image_size must be a positive integer")
    return PretrainedEntry(
        name=name,
        repo_id=repo_id,
        revision=revision,
        sha256={str(f): d.lower() for f, d in sha.items()},
        image_size=size,
        dataset=str(fields.get("dataset", "")),
        metrics=dict(metrics),
        license=str(fields.get("license", "")),
        summary=str(fields.get("summary", "")),
        source=source,
        path=None if rel is None else Path(source).parent / rel,
        conditional=conditional,
        command=str(fields.get("command", "")),
    )


def _declarations() -> list[tuple[str, Mapping[str, Any], str]]:
    """Every (name, fields, source) the catalogue file declares."""
    path = catalog_path()
    if path is None:
        return []
    return [(name, fields, str(path)) for name, fields in read_catalog_file(path).items()]


def catalog_entries() -> tuple[dict[str, PretrainedEntry], dict[str, str]]:
    """(valid entries by name, error message by name of invalid ones)."""
    good: dict[str, PretrainedEntry] = {}
    bad: dict[str, str] = {}
    for name, fields, source in _declarations():
        try:
            good[name] = make_entry(name, fields, source)
            bad.pop(name, None)
        except ConfigError as exc:
            bad[name] = str(exc)
            good.pop(name, None)
    return good, bad


def get_entry(name: str) -> PretrainedEntry:
    """The catalogue entry ``arch.tag``; an unknown name suggests close ones."""
    good, bad = catalog_entries()
    if name in good:
        return good[name]
    if name in bad:
        raise ConfigError(bad[name])
    close = difflib.get_close_matches(name, sorted(good), n=3, cutoff=0.5)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    elif good:
        hint = "`ganzoo list --pretrained` shows the published ones"
    else:
        hint = "no weights are published in the catalogue yet; pass a Hub id or a local folder"
    raise UnknownNameError(f"unknown pretrained weights {name!r}; {hint}")


def pretrained_rows(pattern: str = "*", kind: str | None = None) -> list[dict[str, Any]]:
    """One row per published ``arch.tag`` matching ``pattern`` (on the name or the arch)."""
    reg = get_registry()
    good, bad = catalog_entries()
    for message in bad.values():
        warnings.warn(f"skipping a catalogue entry: {message}", stacklevel=2)
    rows = []
    for name in sorted(good):
        entry = good[name]
        if not (fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(entry.arch, pattern)):
            continue
        installed = entry.arch in reg.models
        if kind is not None and (not installed or reg.spec(entry.arch).kind != kind):
            continue
        rows.append(
            {
                "name": name,
                "arch": entry.arch,
                "installed": installed,
                "repo_id": entry.repo_id,
                "revision": entry.revision,
                "shipped": entry.shipped,
                "path": str(entry.path) if entry.path else None,
                "size": entry.size,
                "conditional": entry.conditional,
                "command": entry.command,
                "dataset": entry.dataset,
                "image_size": entry.image_size,
                "model": entry.arch,
                "license": entry.license,
                "metrics": dict(entry.metrics),
                "sha256": dict(entry.sha256),
                "summary": entry.summary
                + ("" if installed else f" (needs a plugin providing {entry.arch!r})"),
                "source": entry.source,
            }
        )
    return rows
