"""What ``ganzoo data info SOURCE`` reports: count, classes, image sizes, the prepared caches.

Nothing is decoded or prepared: image sizes come from the headers of a sample of files, and a
Hub dataset is described from its metadata (``datasets.load_dataset_builder``) without
downloading its data files.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .store import META, cache_root

#: image headers read to describe the sizes of a source
SIZE_SAMPLE = 64


def prepared_caches(identity: dict[str, Any]) -> list[dict[str, Any]]:
    """Every complete cache prepared from the source with this identity."""
    root = cache_root()
    out = []
    if not root.is_dir():
        return out
    for meta_file in sorted(root.glob(f"*/{META}")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("identity") != identity or not meta.get("complete"):
            continue
        folder = meta_file.parent
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        out.append(
            {
                "path": str(folder),
                "image_size": meta["image_size"],
                "channels": meta["channels"],
                "count": meta["count"],
                "skipped": meta.get("skipped", 0),
                "bytes": size,
                "prepared_at": meta.get("prepared_at"),
                "fingerprint": meta.get("fingerprint"),
            }
        )
    return out


def _header_sizes(values: list[Any]) -> list[tuple[int, int]]:
    from .decode import _open, _own_pixel_cap

    sizes = []
    for value in values:
        try:
            with _own_pixel_cap():
                sizes.append(_open(value).size)
        except Exception:  # a bad file: counted when the dataset is prepared
            continue
    return sizes


def _size_summary(sizes: list[tuple[int, int]]) -> dict[str, Any] | None:
    if not sizes:
        return None
    common = Counter(sizes).most_common(1)[0][0]
    areas = sorted(sizes, key=lambda s: s[0] * s[1])
    return {
        "sampled": len(sizes),
        "smallest": list(areas[0]),
        "largest": list(areas[-1]),
        "most_common": list(common),
    }


def describe(text: str, *, config: str | None = None) -> dict[str, Any]:
    """A JSON-able description of a source (see the module docstring)."""
    from ..plugins import get_registry
    from .folder import list_folder
    from .sources import find_columns, parse_source

    source = parse_source(text, config=config)
    out: dict[str, Any] = {"source": str(source), "kind": source.kind}
    if source.kind == "registered":
        from . import ImageSet

        entry = get_registry().datasets.entry(source.name)
        out.update(summary=entry.summary, plugin=entry.plugin)
        loaded = get_registry().datasets.get(source.name)(32, 1)  # any size: just to count
        if isinstance(loaded, ImageSet):
            out["count"] = len(loaded)
            out["in_memory"] = True
            if loaded.classes:
                out["classes"] = list(loaded.classes)
        else:
            out["count"] = len(loaded) if hasattr(loaded, "__len__") else None
            columns = find_columns(loaded.features, source)
            if columns.classes is not None:
                out["classes"] = list(columns.classes)
    elif source.kind == "folder":
        files, labels, classes = list_folder(source.path)
        out["count"] = len(files)
        if classes is not None:
            counts = Counter(labels)
            out["classes"] = {name: counts.get(i, 0) for i, name in enumerate(classes)}
        picks = files[:: max(1, len(files) // SIZE_SAMPLE)][:SIZE_SAMPLE]
        out["image_sizes"] = _size_summary(_header_sizes([str(p) for p in picks]))
    elif source.kind == "hub":
        out.update(_hub_description(source))
    else:
        from .sources import open_hf

        ds = open_hf(source)
        columns = find_columns(ds.features, source)
        out["count"] = len(ds)
        out["columns"] = {"image": columns.image, "label": columns.label}
        if columns.classes is not None:
            out["classes"] = list(columns.classes)
        step = max(1, len(ds) // SIZE_SAMPLE)
        sample = ds.select(range(0, len(ds), step)[:SIZE_SAMPLE])
        import datasets

        raw = sample.cast_column(columns.image, datasets.Image(decode=False))[columns.image]
        out["image_sizes"] = _size_summary(_header_sizes(list(raw)))
    out["prepared"] = prepared_caches(source.identity())
    out["cache_root"] = str(cache_root())
    return out


def _hub_description(source: Any) -> dict[str, Any]:
    import datasets

    from ..errors import DataError
    from .sources import find_columns, offline_message, prepare_command

    try:
        builder = datasets.load_dataset_builder(
            source.repo_id, name=source.config, revision=source.revision
        )
    except ConnectionError:
        raise DataError(offline_message(source, prepare_command(source))) from None
    except (ValueError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise DataError(f"{source}: {str(exc).splitlines()[0]}") from None
    info = builder.info
    out: dict[str, Any] = {}
    if info.splits:
        out["splits"] = {name: split.num_examples for name, split in info.splits.items()}
    if info.features is not None:
        columns = find_columns(info.features, source)
        out["columns"] = {"image": columns.image, "label": columns.label}
        if columns.classes is not None:
            out["classes"] = list(columns.classes)
    return out


def format_description(desc: dict[str, Any]) -> str:
    """``describe``'s result as the lines ``ganzoo data info`` prints."""
    lines = [f"source:   {desc['source']} ({desc['kind']})"]
    if "summary" in desc:
        lines.append(f"about:    {desc['summary']} (plugin {desc['plugin']})")
    if desc.get("count") is not None:
        lines.append(f"images:   {desc['count']:,}")
    if "splits" in desc:
        splits = ", ".join(f"{k} {v:,}" if v else k for k, v in desc["splits"].items())
        lines.append(f"splits:   {splits}")
    if desc.get("columns"):
        cols = desc["columns"]
        lines.append(f"columns:  image {cols['image']!r}, label {cols['label']!r}")
    classes = desc.get("classes")
    if isinstance(classes, dict):
        shown = ", ".join(f"{k} ({v:,})" for k, v in list(classes.items())[:20])
        more = f", ... ({len(classes)} in all)" if len(classes) > 20 else ""
        lines.append(f"classes:  {len(classes)}: {shown}{more}")
    elif classes:
        shown = ", ".join(classes[:20]) + (
            f", ... ({len(classes)} in all)" if len(classes) > 20 else ""
        )
        lines.append(f"classes:  {len(classes)}: {shown}")
    elif desc.get("count") is not None:
        lines.append("classes:  none (unlabelled)")
    sizes = desc.get("image_sizes")
    if sizes:
        fmt = "×".join
        lines.append(
            f"sizes:    {fmt(map(str, sizes['smallest']))} to {fmt(map(str, sizes['largest']))}, "
            f"mostly {fmt(map(str, sizes['most_common']))} ({sizes['sampled']} headers read)"
        )
    prepared = desc.get("prepared") or []
    if desc.get("in_memory"):
        lines.append("prepared: never: its loader makes it in memory at the size asked for")
    elif not prepared:
        lines.append(f"prepared: none yet in {desc['cache_root']} (ganzoo data prepare)")
    for p in prepared:
        skipped = f", {p['skipped']:,} skipped" if p["skipped"] else ""
        lines.append(
            f"prepared: {p['image_size']}px × {p['channels']}ch: {p['count']:,} images{skipped}, "
            f"{p['bytes'] / 2**20:,.1f} MiB, {p['prepared_at']}"
        )
        lines.append(f"          {p['path']}")
    return "\n".join(lines)
