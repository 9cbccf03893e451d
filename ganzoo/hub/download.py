"""``from_pretrained``: load a model from a folder, a run, the Hub or the catalogue.

Downloads go through huggingface_hub's ``snapshot_download``, so its cache, ``revision``,
``local_files_only``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and token handling apply unchanged.
Only ``config.json``, ``*.safetensors``, ``README.md`` and ``sample.png`` are fetched; pickled
weights are never downloaded, let alone loaded. Every failure a user can act on becomes a
one-line :class:`~ganzoo.errors.GanzooError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import constants, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..catalog import PretrainedEntry, get_entry
from ..errors import ConfigError, GanzooError, HubError, WeightsError
from ..serialization import CONFIG_NAME, file_sha256, load_model_files, read_config
from .card import README_NAME, SAMPLE_NAME
from .local import (
    CARD_KEYS,
    is_ganzoo_folder,
    locate_model_folder,
    missing_weights,
    no_such_source,
    refuse_pickles,
)
from .reach import hub_unreachable, network_errors, offline_mode

#: the only files ever downloaded from a repo
ALLOW_PATTERNS = [CONFIG_NAME, "*.safetensors", README_NAME, SAMPLE_NAME]

_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<rev>\S+))?$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[\w.-]+$")


@dataclass(frozen=True)
class Source:
    """What a ``from_pretrained`` argument names."""

    kind: str  #: "local", "hub", "catalog" (from the Hub) or "shipped" (inside ganzoo)
    path: Path | None = None
    repo_id: str = ""
    revision: str | None = None
    entry: PretrainedEntry | None = None

    def __str__(self) -> str:
        if self.kind == "local":
            return str(self.path)
        if self.kind == "shipped" and self.entry is not None:
            return f"{self.entry.name} (shipped with ganzoo)"
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.entry.name} ({self.repo_id}{rev})" if self.entry else self.repo_id + rev


def parse_source(source: str | Path, revision: str | None = None) -> Source:
    """Tell a local folder, a Hub id (``org/name[@rev]``, ``hf://org/name``) and a catalogue
    tag (``arch.tag``) apart. An existing local path always wins."""
    text = str(source).strip()
    if text.startswith("hf://") and not isinstance(source, Path):
        return _hub_source(text[len("hf://") :], revision, text)
    path = Path(text).expanduser()
    if isinstance(source, Path) or path.exists():
        if revision is not None:
            raise ConfigError(f"{text} is a local folder: revision={revision!r} applies to Hub ids")
        return Source("local", path=path)
    if _looks_like_path(text):
        raise no_such_source(text, hub=True)
    if _HUB_ID.match(text):
        return _hub_source(text, revision, text)
    if _TAG.match(text):
        entry = get_entry(text)
        if revision is not None and revision != entry.revision:
            raise ConfigError(
                f"{text} is pinned to revision {entry.revision}; pass a Hub id "
                f"({entry.repo_id}@{revision}) to load another one"
            )
        if entry.shipped:  # the copy inside the package: offline, and the same bytes
            return Source("shipped", path=entry.path, entry=entry)
        if not entry.repo_id:
            raise WeightsError(
                f"{text}: its shipped copy is missing from {entry.path} and it has no Hub "
                "repo_id: reinstall ganzoo (pip install --force-reinstall ganzoo)"
            )
        return Source("catalog", repo_id=entry.repo_id, revision=entry.revision, entry=entry)
    if "/" in text:
        raise no_such_source(text)
    raise ConfigError(
        f"cannot load {text!r}: pass a local folder, a Hub id (org/name or hf://org/name, "
        "optionally @revision) or a catalogue tag (arch.tag, see `ganzoo list --pretrained`)"
    )


def _looks_like_path(text: str) -> bool:
    """A source written as a local path: it starts with ``.``, ``~`` or ``/``, holds a
    backslash or more than one ``/``, ends with ``/``, or its parent folder exists here
    (``runs/typo`` when ``runs/`` does). A Hub id such as ``org/name`` is none of these unless
    a folder ``org`` exists here; ``hf://org/name`` is always the Hub."""
    if text.startswith((".", "~", "/")) or "\\" in text or text.count("/") > 1:
        return True
    if text.endswith("/"):
        return True
    parent = Path(text).parent
    return str(parent) not in ("", ".") and parent.is_dir()


def _hub_source(text: str, revision: str | None, original: str) -> Source:
    match = _HUB_ID.match(text)
    if not match:
        raise ConfigError(f"{original!r} is not a Hub model id of the form org/name[@revision]")
    try:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(match.group("repo"))
    except HFValidationError:
        raise ConfigError(
            f"{original!r} is not a valid Hub model id: org/name of letters, digits, '-', '_' "
            "and '.', not starting or ending with '-' or '.', and no '..'"
        ) from None
    rev = match.group("rev")
    if rev and revision and rev != revision:
        raise ConfigError(f"{original!r} names revision {rev!r}, but revision={revision!r} too")
    return Source("hub", repo_id=match.group("repo"), revision=rev or revision)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def unreachable_message(
    what: str,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    reason: str | None = None,
) -> str:
    """One line saying that the Hub is out of reach and what to do instead."""
    cache = cache_dir or constants.HF_HUB_CACHE
    if local_files_only and not offline_mode():
        return (
            f"local_files_only=True and {what} is not in the Hub cache ({cache}): download it "
            "once without local_files_only, or use a local folder instead of a Hub id"
        )
    if offline_mode():
        return (
            f"HF_HUB_OFFLINE=1 is set and {what} is not in the Hub cache ({cache}): unset "
            "HF_HUB_OFFLINE to download it, or use a local folder instead of a Hub id (a path "
            "such as ./my-model)"
        )
    why = f" ({reason})" if reason else ""
    return (
        f"cannot reach the Hub at {constants.ENDPOINT}{why} and {what} is not in the cache "
        f"({cache}): "
        "check the network (or HF_ENDPOINT); to work offline, set HF_HUB_OFFLINE=1 to load "
        "cached repos, or use a local folder instead of a Hub id (a path such as ./my-model)"
    )


@contextmanager
def hub_errors(
    repo_id: str,
    revision: str | None,
    *,
    action: str = "download",
    cache_dir: Any = None,
    local_files_only: bool = False,
) -> Iterator[None]:
    """Turn huggingface_hub and connection errors into one-line ganzoo errors."""
    what = repo_id + (f"@{revision}" if revision else "")
    try:
        yield
    except RevisionNotFoundError:
        raise HubError(
            f"Hub repo {repo_id} has no revision {revision!r}: check the branch, tag or commit id"
        ) from None
    except GatedRepoError:
        raise HubError(
            f"Hub repo {repo_id} is gated: accept its conditions on the Hub, then log in with "
            "`hf auth login` or set HF_TOKEN"
        ) from None
    except RepositoryNotFoundError:
        raise HubError(
            f"Hub repo {repo_id} was not found at {constants.ENDPOINT}; if it is private, log "
            "in with `hf auth login` or set HF_TOKEN"
        ) from None
    except LocalEntryNotFoundError:
        raise HubError(unreachable_message(what, cache_dir, local_files_only)) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            raise HubError(
                f"the Hub refused to {action} {repo_id} ({status}): log in with `hf auth login` "
                "or set HF_TOKEN to a token with the right access"
            ) from None
        raise HubError(f"the Hub failed to {action} {what}: {_first_line(exc)}") from None
    except GanzooError:
        raise
    except ValueError as exc:  # the client refuses a file name such as ../../x (path traversal)
        raise HubError(f"refusing to {action} {what}: {_first_line(exc)[:200]}") from None
    except network_errors() as exc:
        if action == "download":
            raise HubError(unreachable_message(what, cache_dir)) from None
        raise HubError(
            f"cannot reach the Hub at {constants.ENDPOINT} to {action} {repo_id} "
            f"({_first_line(exc)}): check the network or HF_ENDPOINT"
        ) from None


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
) -> Path:
    """The local snapshot folder of ``repo_id`` at ``revision`` (from the cache when present)."""
    from .. import __version__

    # Ask the Hub once, quickly: huggingface_hub would retry for a minute, or wait without end on
    # a server that never answers. Out of reach, the cache alone answers (or says what to do).
    down = None if (local_files_only or offline_mode()) else hub_unreachable()
    if down is not None and force_download:
        raise HubError(
            f"cannot reach the Hub at {constants.ENDPOINT} ({down}) to download {repo_id} again "
            "(force_download): check the network or HF_ENDPOINT"
        )
    with hub_errors(repo_id, revision, cache_dir=cache_dir, local_files_only=local_files_only):
        try:
            folder = snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=local_files_only or down is not None,
                token=token,
                force_download=force_download,
                allow_patterns=ALLOW_PATTERNS,
                library_name="ganzoo",
                library_version=__version__,
            )
        except LocalEntryNotFoundError:
            if down is None:
                raise
            what = repo_id + (f"@{revision}" if revision else "")
            raise HubError(unreachable_message(what, cache_dir, reason=down)) from None
    return Path(folder)


def remote_files(repo_id: str, revision: str | None, token: str | bool | None) -> list[str]:
    """The repo's file names, or [] when the Hub cannot be asked (offline)."""
    from huggingface_hub import HfApi

    if offline_mode():
        return []
    try:
        return HfApi(token=token).list_repo_files(repo_id, revision=revision)
    except (HfHubHTTPError, *network_errors()):
        return []


def check_hub_folder(folder: Path, repo_id: str, token: str | bool | None) -> None:
    """Refuse a repo whose weights are pickles only, or that is not a ganzoo model at all."""
    if not missing_weights(folder):
        return
    files = remote_files(repo_id, folder.name, token)
    refuse_pickles(files, f"Hub repo {repo_id}")
    if not is_ganzoo_folder(folder):
        shown = ", ".join(sorted(files)[:5]) or "none could be listed"
        raise WeightsError(
            f"Hub repo {repo_id} is not a ganzoo model: it has no ganzoo {CONFIG_NAME} "
            f"(files: {shown})"
        )


def verify_checksums(folder: Path, entry: PretrainedEntry) -> None:
    """Check every file the catalogue pins, and that every network loaded is pinned."""
    shipped = entry.path is not None and folder.resolve() == entry.path.resolve()
    where = folder if shipped else entry.repo_id
    for name, expected in entry.sha256.items():
        path = folder / name
        if not path.is_file():
            raise WeightsError(f"{entry.name}: {name} is missing from {where}")
        actual = file_sha256(path)
        if actual != expected and shipped:
            raise WeightsError(
                f"{entry.name}: the shipped {path} has sha256 {actual[:16]}..., the catalogue "
                f"pins {expected[:16]}...: the file was modified, so it is not loaded; "
                "reinstall ganzoo (pip install --force-reinstall ganzoo)"
            )
        if actual != expected:
            raise WeightsError(
                f"{entry.name}: {name} has sha256 {actual[:16]}..., the catalogue pins "
                f"{expected[:16]}...: the file is corrupt or was changed; download it again "
                "with force_download=True, and report it if the mismatch stays"
            )
    networks = read_config(folder).get("networks") or []
    unpinned = [n for n in networks if f"{n}.safetensors" not in entry.sha256]
    if unpinned:
        raise WeightsError(
            f"{entry.name}: the catalogue has no checksum for {unpinned[0]}.safetensors, so it "
            "cannot be verified; the catalogue entry needs fixing"
        )


def resolve_folder(
    source: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
) -> tuple[Path, Source]:
    """The local model folder ``source`` stands for (downloaded and verified when remote)."""
    src = parse_source(source, revision)
    if src.kind == "shipped":
        assert src.path is not None and src.entry is not None
        verify_checksums(src.path, src.entry)
        return src.path, src
    if src.kind == "local":
        assert src.path is not None
        folder = locate_model_folder(src.path)
        if missing_weights(folder):
            refuse_pickles([p.name for p in folder.iterdir()], str(folder))
        return folder, src
    folder = download(
        src.repo_id,
        src.revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
    )
    check_hub_folder(folder, src.repo_id, token)
    if src.entry is not None:
        verify_checksums(folder, src.entry)
    return folder, src


def from_pretrained(
    source: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
    device: Any = "cpu",
) -> Any:
    """Load a model saved with ``save_pretrained`` (or a training checkpoint).

    ``source`` is one of: a local model folder or checkpoint folder; a run directory (its
    newest checkpoint); a Hub id ``org/name``, ``org/name@REVISION`` or ``hf://org/name``; a
    catalogue tag ``arch.tag`` (pinned revision, checksums verified). Hub downloads use the
    huggingface_hub cache (``cache_dir``), so a repo fetched once loads again offline
    (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``). The model comes back in eval mode on
    ``device``; ``model.card_info`` keeps the dataset, licence, recipe and metrics it was
    published with and ``model.pretrained_from`` where it came from.
    """
    folder, src = resolve_folder(
        source,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
    )
    model = load_model_files(folder, map_location=device)
    meta = read_config(folder)
    model.card_info = {k: meta[k] for k in CARD_KEYS if k in meta}
    model.pretrained_from = str(src) if src.kind != "hub" else f"{src.repo_id}@{folder.name}"
    model.eval()
    return model
