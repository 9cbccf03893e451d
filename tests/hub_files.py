"""Pieces of the test Hub server (tests/hub_server.py) that answer about files: error
responses, git blob ids, tree and paths-info entries, and byte ranges."""

from __future__ import annotations

import hashlib


class HubError(Exception):
    """An error response: status, message, the client's ``X-Error-Code`` and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict | None = None,
        payload: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}
        self.payload = payload or {}


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob, which the Hub reports as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def file_entry(path: str, data: bytes) -> dict:
    return {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}


def folder_entry(path: str) -> dict:
    return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "path": path}


def tree_entries(files: dict[str, bytes], prefix: str, recursive: bool) -> list[dict]:
    """The Hub's tree listing under ``prefix``: files and folders, one level unless recursive."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    entries: dict[str, dict] = {}
    for path, data in sorted(files.items()):
        if not path.startswith(base):
            continue
        parts = path[len(base) :].split("/")
        for depth in range(1, len(parts)):  # the folders on the way
            folder = base + "/".join(parts[:depth])
            if recursive or depth == 1:
                entries.setdefault(folder, folder_entry(folder))
        if recursive or len(parts) == 1:
            entries[path] = file_entry(path, data)
    if base and not entries:
        raise HubError(404, f"Entry not found: {prefix}", "EntryNotFound")
    return [entries[k] for k in sorted(entries)]


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=A-B`` (or ``A-``, ``-N``) as a half-open (start, end), None for all."""
    if not header or not header.startswith("bytes="):
        return None
    first, _, last = header[len("bytes=") :].split(",")[0].strip().partition("-")
    if not first:
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size:
        raise HubError(416, "Requested range not satisfiable")
    return start, end
