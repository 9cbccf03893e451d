"""``ganzoo gallery --serve``: the gallery folder over HTTP on the loopback interface only."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .runs import GalleryError


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_server(folder: str | Path, port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for ``folder`` bound to 127.0.0.1:``port`` (0: any free port); the
    caller runs ``serve_forever()``. A port in use is a one-line :class:`GalleryError`."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise GalleryError(
            f"cannot serve on 127.0.0.1:{port} ({exc.strerror or exc}): choose another --port"
        ) from None


def serve(folder: str | Path, port: int = 8000, announce: Any = print) -> None:
    """Serve ``folder`` until Ctrl-C."""
    server = make_server(folder, port)
    host, bound = server.server_address[:2]
    announce(f"serving {folder} at http://{host}:{bound}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
