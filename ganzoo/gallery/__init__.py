"""``ganzoo gallery``: a static site of training runs, to look at, compare and share.

:func:`build_gallery` reads run directories (:mod:`.runs`) and writes a folder of HTML pages
with every image copied in (:mod:`.site`); :func:`serve` serves such a folder on 127.0.0.1.
"""

from __future__ import annotations

from .runs import GalleryError, RunView, find_runs, read_runs
from .serve import make_server, serve
from .site import build_gallery

__all__ = [
    "GalleryError",
    "RunView",
    "build_gallery",
    "find_runs",
    "make_server",
    "read_runs",
    "serve",
]
