"""What ``--data SOURCE`` names, and how the ``datasets`` library opens it.

=============================================  ================================================
``digits``, ``lfw``, ``photos``, a plugin's    a registered dataset (``ganzoo plugins --all``)
``hf://datasets/ORG/NAME[@REV][:SPLIT]``       a dataset repository of the Hugging Face Hub
a folder of images                             recursive; one subfolder per class gives labels,
                                               as torchvision's ``ImageFolder`` does
a ``.parquet``/``.arrow`` file, or a folder    read by ``datasets``' parquet/arrow builders
of them
a folder written by ``Dataset.save_to_disk``   read by ``datasets.load_from_disk``
=============================================  ================================================

Every source but a registered ``ImageSet`` becomes a ``datasets.Dataset`` (or, streaming, an
``IterableDataset``) whose image column is left undecoded, so that ganzoo's own rules
(:mod:`.decode`) apply to every file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .folder import DATA_FILE_SUFFIXES, folder_fingerprint, list_folder, scan

_HUB = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<rev>[^:]+))?(?::(?P<split>[\w.-]+))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
#: column names taken for an image or label column when no feature type says so
IMAGE_NAMES = ("image", "img", "images", "picture", "photo")
LABEL_NAMES = ("label", "labels", "class", "target", "fine_label")


@dataclass(frozen=True)
class Columns:
    """Which columns hold the image and the class, and the class names."""

    image: str
    label: str | None = None
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Source:
    """One parsed ``--data`` value."""

    text: str  #: as given
    kind: str  #: "registered", "hub", "folder", "files" or "saved"
    name: str = ""  #: registered name
    path: Path | None = None
    repo_id: str = ""
    revision: str | None = None
    split: str | None = None
    config: str | None = None  #: a Hub dataset's configuration (``data_config``)
    files: tuple[Path, ...] = field(default=())
    #: a local folder's fingerprint, taken when it was parsed (see :func:`.folder.scan`)
    scanned: str | None = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """What names this source independently of its contents (the cache folder's key)."""
        if self.kind == "registered":
            return {"kind": self.kind, "name": self.name}
        if self.kind == "hub":
            return {
                "kind": self.kind,
                "repo": self.repo_id,
                "revision": self.revision or "main",
                "split": self.split,
                "config": self.config,
            }
        return {"kind": self.kind, "path": str(self.path), "split": self.split}

    def slug(self) -> str:
        """A readable prefix for the cache folder."""
        base = self.name or self.repo_id or (self.path.name if self.path else "data")
        return re.sub(r"[^\w.-]+", "-", base).strip("-")[:48] or "data"

    def fingerprint(self) -> str | None:
        """What changes when the contents change: a Hub commit, a folder's names, sizes and
        times. None when it cannot be known now (the Hub unreachable)."""
        if self.kind == "hub":
            return resolve_commit(self)
        if self.kind == "files":
            return _stat_hash(self.files)
        if self.kind in ("folder", "saved") and self.path is not None:
            return self.scanned or folder_fingerprint(self.path)
        return None

    def __str__(self) -> str:
        return self.text


def parse_source(
    text: str | Path, *, split: str | None = None, config: str | None = None
) -> Source:
    """Tell the kinds of source apart; an unknown name is a one-line error with a suggestion."""
    from ..plugins import get_registry

    raw = str(text).strip()
    reg = get_registry()
    if raw in reg.datasets:
        return Source(raw, "registered", name=raw)
    if raw.startswith("hf://"):
        rest = raw[len("hf://") :]
        if not rest.startswith("datasets/"):
            raise DataError(
                f"{raw} names a model repository; a Hub dataset is hf://datasets/ORG/NAME"
                "[@REVISION][:SPLIT]"
            )
        m = _HUB.match(rest[len("datasets/") :])
        if not m:
            raise DataError(f"{raw} is not of the form hf://datasets/ORG/NAME[@REVISION][:SPLIT]")
        return Source(
            raw,
            "hub",
            repo_id=m["repo"],
            revision=m["rev"],
            split=m["split"] or split,
            config=config,
        )
    path = Path(raw).expanduser()
    if path.exists():
        path = path.resolve()
        if path.is_file() and path.suffix.lower() in DATA_FILE_SUFFIXES:
            return Source(raw, "files", path=path, split=split, files=(path,))
        if (
            path.is_dir()
            and (path / "state.json").is_file()
            and (path / "dataset_info.json").is_file()
        ):
            return Source(raw, "saved", path=path, split=split)
        if path.is_dir() and (path / "dataset_dict.json").is_file():
            return Source(raw, "saved", path=path, split=split)
        fingerprint, data_files = scan(path)
        if data_files:
            return Source(raw, "files", path=path, split=split, files=tuple(data_files))
        return Source(raw, "folder", path=path, scanned=fingerprint)
    hint = reg.datasets.unknown_message(raw)
    raise DataError(
        f"{raw!r} is neither a dataset name, an existing path nor hf://datasets/ORG/NAME ({hint})"
    )


def _stat_hash(paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        st = p.stat()
        digest.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


# -- the Hub -------------------------------------------------------------------------------------
def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def resolve_commit(source: Source) -> str | None:
    """The commit ``source.revision`` points at now; None when the Hub cannot be asked."""
    if source.revision and _COMMIT.match(source.revision):
        return source.revision
    if hub_offline():
        return None
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi().dataset_info(source.repo_id, revision=source.revision, timeout=10)
    except RevisionNotFoundError:
        raise DataError(f"{source}: the dataset has no revision {source.revision!r}") from None
    except GatedRepoError:
        raise DataError(
            f"{source} is gated: accept its terms on the Hub, then log in (hf auth login)"
        ) from None
    except RepositoryNotFoundError:
        raise DataError(
            f"{source}: no such dataset on the Hub, or it is private (log in: hf auth login)"
        ) from None
    except Exception:  # unreachable, timed out, a proxy error page: decided by the caller
        return None
    return info.sha


def offline_message(source: Source, prepare_hint: str) -> str:
    """The one-line error for a Hub source that cannot be read and has no prepared copy."""
    from .store import cache_root

    why = "HF_HUB_OFFLINE=1 is set" if hub_offline() else "the Hub cannot be reached"
    return (
        f"{source}: {why} and no prepared copy is in the offline cache {cache_root()}: run "
        f"`{prepare_hint}` where the Hub is reachable (then copy that folder here), or set "
        "HF_HUB_OFFLINE=0"
    )


# -- opening with the datasets library -----------------------------------------------------------
def _pick_split(dd: Any, source: Source) -> Any:
    """One split of a DatasetDict: the one named, else ``train``, else the only one."""
    names = list(dd.keys())
    want = source.split
    if want is None:
        if "train" in names:
            want = "train"
        elif len(names) == 1:
            want = names[0]
        else:
            raise DataError(
                f"{source} has splits {', '.join(names)}: add one, e.g. {source}:{names[0]}"
            )
    if want not in names:
        raise DataError(f"{source} has no split {want!r} (it has: {', '.join(names)})")
    return dd[want]


def open_hf(source: Source, *, streaming: bool = False) -> Any:
    """``source`` as a ``datasets.Dataset`` (an ``IterableDataset`` when streaming)."""
    import datasets

    if source.kind == "folder":
        files, labels, classes = list_folder(source.path)
        features = {"image": datasets.Image(decode=False)}
        columns: dict[str, list] = {"image": [str(p) for p in files]}
        if classes is not None:
            features["label"] = datasets.ClassLabel(names=list(classes))
            columns["label"] = labels
        ds = datasets.Dataset.from_dict(columns, features=datasets.Features(features))
        return ds.to_iterable_dataset(num_shards=min(64, max(1, len(ds)))) if streaming else ds
    if source.kind == "saved":
        loaded = datasets.load_from_disk(str(source.path))
        ds = _pick_split(loaded, source) if isinstance(loaded, datasets.DatasetDict) else loaded
        return ds.to_iterable_dataset(num_shards=min(64, max(1, len(ds)))) if streaming else ds
    if source.kind == "files":
        builder = "arrow" if all(p.suffix.lower() == ".arrow" for p in source.files) else "parquet"
        files = [str(p) for p in source.files]
        return _load(
            source, builder, data_files=files, split=source.split or "train", streaming=streaming
        )
    if source.kind == "hub":
        return _load(
            source,
            source.repo_id,
            name=source.config,
            revision=source.revision,
            split=source.split,
            streaming=streaming,
        )
    raise DataError(f"{source} is not a datasets source")


def _load(source: Source, path: str, *, split: str | None, streaming: bool, **kwargs: Any) -> Any:
    import datasets

    try:
        loaded = datasets.load_dataset(path, split=split, streaming=streaming, **kwargs)
    except ConnectionError:
        raise DataError(offline_message(source, prepare_command(source))) from None
    except datasets.exceptions.DatasetNotFoundError as exc:
        raise DataError(f"{source}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        text = str(exc).splitlines()[0]
        known = re.search(r"Unknown split \"(.+?)\"\. Should be one of \[(.*)\]", text)
        if known:
            names = known[2].replace("'", "")
            raise DataError(
                f"{source} has no split {known[1]!r} (it has: {names}): name one as "
                f"hf://datasets/ORG/NAME:SPLIT"
            ) from None
        if "Config name is missing" in text or "BuilderConfig" in text:
            raise DataError(f"{source}: {text} (choose with --set data_config=NAME)") from None
        raise DataError(f"{source}: {text}") from None
    except FileNotFoundError as exc:
        raise DataError(f"{source}: {str(exc).splitlines()[0]}") from None
    if isinstance(loaded, datasets.DatasetDict | datasets.IterableDatasetDict):
        return _pick_split(loaded, source)
    return loaded


def prepare_command(
    source: Source, image_size: int | None = None, channels: int | None = None
) -> str:
    size = f" --image-size {image_size}" if image_size else " --image-size N"
    ch = f" --channels {channels}" if channels else " --channels C"
    return f"ganzoo data prepare {source}{size}{ch}"


def find_columns(features: Any, source: Any, image: str = "", label: str = "") -> Columns:
    """The image and label columns of a dataset with ``features`` (a ``datasets.Features``).

    An explicit name must exist; otherwise the one ``Image`` column is the image and the one
    ``ClassLabel`` column (or an integer column named like a label) the label. ``label="none"``
    drops labels.
    """
    import datasets

    names = list(features)

    def listing() -> str:
        return ", ".join(f"{n} ({_type_name(features[n])})" for n in names)

    if image:
        if image not in features:
            raise DataError(f"{source} has no column {image!r}; its columns: {listing()}")
        image_col = image
    else:
        found = [n for n in names if isinstance(features[n], datasets.Image)]
        if not found:
            found = [n for n in names if n.lower() in IMAGE_NAMES and _binary_like(features[n])]
        if len(found) != 1:
            what = f"several image columns ({', '.join(found)})" if found else "no image column"
            raise DataError(
                f"{source} has {what}; its columns: {listing()}: name one with "
                "--set data_image_column=NAME"
            )
        image_col = found[0]
    if label.lower() == "none":
        return Columns(image_col)
    if label:
        if label not in features:
            raise DataError(f"{source} has no column {label!r}; its columns: {listing()}")
        label_col = label
    else:
        found = [n for n in names if isinstance(features[n], datasets.ClassLabel)]
        if len(found) > 1:
            found = [n for n in found if n.lower() in LABEL_NAMES][:1] or found[:0]
        if not found:
            found = [n for n in names if n.lower() in LABEL_NAMES and _integer(features[n])][:1]
        if not found:
            return Columns(image_col)
        label_col = found[0]
    feat = features[label_col]
    if isinstance(feat, datasets.ClassLabel):
        return Columns(image_col, label_col, tuple(feat.names))
    if not _integer(feat):
        raise DataError(
            f"{source}: column {label_col!r} ({_type_name(feat)}) holds no class indices; name "
            "a ClassLabel or integer column with --set data_label_column=NAME, or none"
        )
    return Columns(image_col, label_col, None)


def _type_name(feature: Any) -> str:
    kind = type(feature).__name__
    return getattr(feature, "dtype", kind) if kind == "Value" else kind


def _binary_like(feature: Any) -> bool:
    return getattr(feature, "dtype", "") in ("binary", "large_binary") or isinstance(feature, dict)


def _integer(feature: Any) -> bool:
    return str(getattr(feature, "dtype", "")).startswith(("int", "uint"))


def identity_key(source: Source, extra: dict[str, Any]) -> str:
    """A short stable hash of what a prepared cache depends on."""
    blob = json.dumps({**source.identity(), **extra}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
