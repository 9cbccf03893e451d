"""A small Hugging Face Hub-compatible HTTP server for tests, on 127.0.0.1.

It speaks the subset of the Hub's HTTP API that the real ``huggingface_hub`` client uses to push
and pull a model folder, so tests exercise the genuine client over a real socket instead of
patching it:

- ``POST /api/repos/create`` (``create_repo``), ``POST /api/models/ID/branch/BRANCH``
  (``create_branch``), ``POST /api/validate-yaml`` (README metadata check before a commit);
- ``POST /api/models/ID/preupload/REV``: every file is answered ``"uploadMode": "regular"``, so
  the client sends contents base64-encoded inside the commit instead of through LFS/Xet storage;
- ``POST /api/models/ID/commit/REV``: the NDJSON commit (``header``, ``file``, ``deletedFile``,
  ``deletedFolder`` lines) becomes one new commit on the branch;
- ``GET /api/models/ID[/revision/REV]`` (``repo_info``), ``GET /api/models/ID/tree/REV``
  (``list_repo_tree``, used by ``snapshot_download``);
- ``HEAD``/``GET /ID/resolve/REV/PATH`` with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``
  (``hf_hub_download``), and byte ranges (``Range: bytes=A-B``, answered 206) as
  ``HfFileSystem`` reads them.

Dataset repositories answer the same routes under ``/api/datasets/ID/...`` and
``/datasets/ID/resolve/...`` (``seed(..., repo_type="dataset")``), plus what the ``datasets``
library asks of them: ``tree`` listings with folders (non-recursive unless ``recursive=true``)
and ``POST .../paths-info/REV`` (``HfFileSystem.info``).

Errors carry the ``X-Error-Code`` header the client maps to its exception classes
(``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``). Writes need a token from
``HubServer.tokens``; private repos also need one to be read. Repositories live in memory;
``seed`` and ``put_file`` change them behind the client's back (pickle-only repos, tampering).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

try:  # tests/ as a package, or as a plain folder on sys.path
    from .hub_files import (
        HubError,
        byte_range,
        file_entry,
        folder_entry,
        git_blob_sha1,
        tree_entries,
    )
except ImportError:
    from hub_files import (
        HubError,
        byte_range,
        file_entry,
        folder_entry,
        git_blob_sha1,
        tree_entries,
    )

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
#: the write token the test server accepts by default
HUB_TOKEN = "hf_test_token"


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


def repo_key(repo_id: str, repo_type: str = "model") -> str:
    """Where a repo lives in ``HubServer.repos``: models by id, others as ``datasets/ID``."""
    return repo_id if repo_type == "model" else f"{repo_type}s/{repo_id}"


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    repo_type: str = "model"
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch name or a full commit id points at."""
        oid = self.branches.get(revision, revision)
        return self.commits.get(oid)


class HubServer:
    """An in-memory Hub on a free loopback port; ``url`` is what ``HF_ENDPOINT`` should be."""

    def __init__(self, tokens: tuple[str, ...] = (HUB_TOKEN,)) -> None:
        self.tokens = set(tokens)
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        # serve_forever polls for shutdown every poll_interval (0.5 s by default): each test's
        # teardown waited that long; 0.02 s costs nothing measurable while serving
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- direct manipulation (what the test controls, not the client) --------------------
    def new_commit(
        self, repo: Repo, branch: str, files: dict[str, bytes], message: str, parent: str | None
    ) -> str:
        seed = f"{repo.repo_id}\0{branch}\0{message}\0{next(self._counter)}"
        digest = hashlib.sha1(seed.encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_sha1(files[path]).encode())
        oid = digest.hexdigest()
        repo.commits[oid] = Commit(oid, parent, message, dict(files))
        repo.branches[branch] = oid
        return oid

    def create(self, repo_id: str, private: bool = False, repo_type: str = "model") -> Repo:
        repo = Repo(repo_id, private, repo_type)
        self.repos[repo_key(repo_id, repo_type)] = repo
        self.new_commit(repo, "main", {".gitattributes": GITATTRIBUTES}, "initial commit", None)
        return repo

    def seed(
        self,
        repo_id: str,
        files: dict[str, bytes],
        private: bool = False,
        repo_type: str = "model",
    ) -> str:
        """Create ``repo_id`` holding exactly ``files`` (plus .gitattributes); the commit id."""
        with self._lock:
            repo = self.create(repo_id, private, repo_type)
            head = repo.branches["main"]
            return self.new_commit(
                repo, "main", {**repo.commits[head].files, **files}, "seed", head
            )

    def put_file(
        self,
        repo_id: str,
        path: str,
        data: bytes,
        branch: str = "main",
        repo_type: str = "model",
    ) -> str:
        """Replace one file in a new commit on ``branch`` (e.g. to tamper with weights)."""
        with self._lock:
            repo = self.repos[repo_key(repo_id, repo_type)]
            head = repo.branches[branch]
            files = {**repo.commits[head].files, path: data}
            return self.new_commit(repo, branch, files, f"replace {path}", head)

    def files(
        self, repo_id: str, revision: str = "main", repo_type: str = "model"
    ) -> dict[str, bytes]:
        commit = self.repos[repo_key(repo_id, repo_type)].resolve(revision)
        assert commit is not None
        return dict(commit.files)

    def count(self, method: str, path_part: str) -> int:
        """How many requests of ``method`` had ``path_part`` in their path."""
        return sum(1 for m, p in self.requests if m == method and path_part in p)

    # -- request handling ----------------------------------------------------------------
    def token_ok(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[len("Bearer ") :] in self.tokens

    def repo(
        self, repo_id: str, headers: Any, write: bool = False, repo_type: str = "model"
    ) -> Repo:
        repo = self.repos.get(repo_key(repo_id, repo_type))
        if write and not self.token_ok(headers):
            raise HubError(401, "Invalid credentials in Authorization header")
        if repo is None or (repo.private and not self.token_ok(headers)):
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def commit_at(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit


def _split_api_path(path: str) -> tuple[str, str, list[str]]:
    """``/api/models/ORG/NAME/ACTION/REST...`` -> (repo_id, action, rest), unquoted."""
    parts = path.split("/")[3:]
    if len(parts) < 2:
        raise HubError(404, "not found")
    repo_id = f"{unquote(parts[0])}/{unquote(parts[1])}"
    action = parts[2] if len(parts) > 2 else ""
    return repo_id, action, [unquote(p) for p in parts[3:]]


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        # -- plumbing --------------------------------------------------------------------
        def body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def send(
            self,
            status: int,
            payload: Any = None,
            *,
            raw: bytes | None = None,
            headers: dict[str, str] | None = None,
            head: bool = False,
        ) -> None:
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            kind = "application/octet-stream" if raw is not None else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            path, self.query = url.path, parse_qs(url.query)
            with hub._lock:
                hub.requests.append((method, path))
            body = self.body() if method == "POST" else b""
            try:
                with hub._lock:
                    route = self.route(method, path, body)
                status, payload, raw, headers = route
                self.send(status, payload, raw=raw, headers=headers, head=method == "HEAD")
            except HubError as err:
                headers = {"X-Error-Message": err.message, **err.headers}
                if err.code:
                    headers["X-Error-Code"] = err.code
                payload = {"error": err.message, **err.payload}
                self.send(err.status, payload, headers=headers, head=method == "HEAD")

        def do_GET(self) -> None:
            self.dispatch("GET")

        def do_HEAD(self) -> None:
            self.dispatch("HEAD")

        def do_POST(self) -> None:
            self.dispatch("POST")

        # -- routes ----------------------------------------------------------------------
        def route(self, method: str, path: str, body: bytes) -> tuple[int, Any, bytes | None, dict]:
            if method == "POST" and path == "/api/repos/create":
                return self.create_repo(json.loads(body))
            if method == "POST" and path == "/api/validate-yaml":
                return 200, {"errors": [], "warnings": []}, None, {}
            for kind in ("model", "dataset"):
                if path.startswith(f"/api/{kind}s/"):
                    return self.api_route(method, kind, *_split_api_path(path), body)
            parts = [unquote(p) for p in path.split("/")]
            kind = "model"
            if len(parts) > 1 and parts[1] == "datasets":
                kind, parts = "dataset", parts[1:]
            if method in ("GET", "HEAD") and len(parts) >= 6 and parts[3] == "resolve":
                return self.resolve(f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:]), kind)
            raise HubError(404, f"no route for {method} {path}")

        def api_route(
            self, method: str, kind: str, repo_id: str, action: str, rest: list[str], body: bytes
        ) -> tuple[int, Any, bytes | None, dict]:
            if method == "GET" and action in ("", "revision"):
                return self.repo_info(repo_id, rest[0] if rest else "main", kind)
            if method == "GET" and action == "tree":
                return self.tree(repo_id, rest[0], "/".join(rest[1:]), kind)
            if method == "POST" and action == "paths-info":
                return self.paths_info(repo_id, rest[0], parse_qs(body.decode()), kind)
            if kind == "model" and method == "POST" and action == "preupload":
                return self.preupload(repo_id, rest[0], json.loads(body))
            if kind == "model" and method == "POST" and action == "commit":
                return self.commit(repo_id, rest[0], body)
            if kind == "model" and method == "POST" and action == "branch":
                return self.create_branch(repo_id, rest[0], json.loads(body or b"{}"))
            raise HubError(404, f"no route for {method} {kind} {action}")

        def create_repo(self, payload: dict) -> tuple[int, Any, None, dict]:
            if not hub.token_ok(self.headers):
                raise HubError(401, "Invalid credentials in Authorization header")
            repo_id = f"{payload['organization']}/{payload['name']}"
            if repo_id in hub.repos:
                # the Hub answers a conflict with the existing repo's url (create_repo reads it)
                url = f"{hub.url}/{repo_id}"
                raise HubError(409, "You already created this model repo", payload={"url": url})
            hub.create(repo_id, private=payload.get("visibility") == "private")
            return 200, {"url": f"{hub.url}/{repo_id}", "name": repo_id}, None, {}

        def create_branch(self, repo_id: str, branch: str, payload: dict) -> tuple:
            repo = hub.repo(repo_id, self.headers, write=True)
            if branch in repo.branches:
                raise HubError(409, f"Branch {branch} already exists")
            start = hub.commit_at(repo, payload.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
            return 200, {}, None, {}

        def repo_info(self, repo_id: str, revision: str, kind: str) -> tuple:
            repo = hub.repo(repo_id, self.headers, repo_type=kind)
            commit = hub.commit_at(repo, revision)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            info = {
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": commit.oid,
                "lastModified": now,
                "createdAt": now,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            }
            return 200, info, None, {}

        def tree(self, repo_id: str, revision: str, prefix: str, kind: str) -> tuple:
            commit = hub.commit_at(hub.repo(repo_id, self.headers, repo_type=kind), revision)
            recursive = self.query.get("recursive", ["false"])[0].lower() == "true"
            return 200, tree_entries(commit.files, prefix, recursive), None, {}

        def paths_info(self, repo_id: str, revision: str, form: dict, kind: str) -> tuple:
            commit = hub.commit_at(hub.repo(repo_id, self.headers, repo_type=kind), revision)
            entries = []
            for wanted in form.get("paths", []):
                wanted = wanted.strip("/")
                if wanted in commit.files:
                    entries.append(file_entry(wanted, commit.files[wanted]))
                elif any(p.startswith(wanted + "/") for p in commit.files):
                    entries.append(folder_entry(wanted))
            return 200, entries, None, {}

        def preupload(self, repo_id: str, revision: str, payload: dict) -> tuple:
            repo = hub.repo(repo_id, self.headers, write=True)
            commit = hub.commit_at(repo, revision)
            files = []
            for f in payload["files"]:
                existing = commit.files.get(f["path"])
                files.append(
                    {
                        "path": f["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": git_blob_sha1(existing) if existing is not None else None,
                    }
                )
            return 200, {"files": files, "commitOid": commit.oid}, None, {}

        def commit(self, repo_id: str, revision: str, body: bytes) -> tuple:
            repo = hub.repo(repo_id, self.headers, write=True)
            if revision not in repo.branches:
                raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            head = repo.branches[revision]
            files = dict(repo.commits[head].files)
            message = "commit"
            for line in body.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    message = value["summary"]
                    if value.get("parentCommit") not in (None, head):
                        raise HubError(412, "parentCommit is not the head of the branch")
                elif key == "file":
                    if value.get("encoding") != "base64":
                        raise HubError(400, "only base64 file contents are supported")
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    files = {p: d for p, d in files.items() if not p.startswith(folder)}
                else:
                    raise HubError(400, f"the test Hub does not support {key!r} commit lines")
            oid = hub.new_commit(repo, revision, files, message, head)
            return (
                200,
                {
                    "success": True,
                    "commitOid": oid,
                    "commitUrl": f"{hub.url}/{repo_id}/commit/{oid}",
                    "pullRequestUrl": None,
                },
                None,
                {},
            )

        def resolve(self, repo_id: str, revision: str, filename: str, kind: str) -> tuple:
            commit = hub.commit_at(hub.repo(repo_id, self.headers, repo_type=kind), revision)
            data = commit.files.get(filename)
            if data is None:
                raise HubError(
                    404,
                    f"Entry not found: {filename}",
                    "EntryNotFound",
                    {"X-Repo-Commit": commit.oid},
                )
            headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha1(data)}"'}
            wanted = byte_range(self.headers.get("Range"), len(data))
            if wanted is None:
                return 200, None, data, headers
            start, end = wanted
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            return 206, None, data[start:end], headers

    return Handler
