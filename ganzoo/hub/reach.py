"""Can the Hub be reached? One quick question before a download, so that offline fails fast.

huggingface_hub retries a request that finds nothing in the cache with growing pauses (1, 2, 4,
8, 8 s, and timm asks for several files in turn), and some of its calls wait without a read
timeout on a server that accepts a connection but never answers: offline, a download could take
minutes before it failed. Before downloading, ganzoo asks the endpoint once, through
huggingface_hub's own HTTP session (so proxies, certificates and ``HF_ENDPOINT`` apply), with a
short timeout; when that fails it says so at once, with a hint, instead of waiting.

``HF_HUB_OFFLINE=1`` skips the question: nothing is sent, only the cache is read.
"""

from __future__ import annotations

import sys

#: seconds to wait for the endpoint to connect, and then to answer, before calling it unreachable
PROBE_TIMEOUT_S = 5.0


def offline_mode() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set: huggingface_hub reads only its cache."""
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check() if callable(check) else getattr(constants, "HF_HUB_OFFLINE", False))


def network_errors() -> tuple[type[BaseException], ...]:
    """Connection failures of whichever HTTP library huggingface_hub uses (already imported)."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            found.append(cls)
    requests_exc = sys.modules.get("requests.exceptions")
    if requests_exc is not None:
        found += [requests_exc.ConnectionError, requests_exc.Timeout]
    return tuple(found)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if "timeout" in type(exc).__name__.lower() or "timed out" in (text[0] if text else ""):
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    if text and "refused" in text[0].lower():
        return "connection refused"
    return text[0] if text else type(exc).__name__


def hub_unreachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when the Hub at ``endpoint`` (default ``HF_ENDPOINT``) answers at all (any HTTP
    status will do), else a few words saying why not ("connection refused", ...).

    One request, no retry. Only network failures count: if the question itself cannot be
    asked for another reason, the answer is ``None`` and the download goes ahead as usual.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    url = (endpoint or constants.ENDPOINT).rstrip("/") + "/"
    try:
        get_session().head(url, timeout=timeout, follow_redirects=False)
    except network_errors() as exc:
        return _reason(exc)
    except Exception:  # not a network failure: let the real request decide
        return None
    return None
