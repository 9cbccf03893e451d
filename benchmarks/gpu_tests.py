"""Run the ``gpu``-marked tests of tests/test_fastpath.py where pytest is not installed.

The borrowed GPU machine's image has torch and ganzoo's runtime dependencies but not pytest.
This runner stands in for the few pytest features those tests use (marks, ``parametrize``,
``approx``, ``raises``, the ``tmp_path`` and ``capfd`` fixtures), calls every test marked
``gpu`` and prints one line per test and a pytest-like summary; the exit status is 1 when a
test failed. With pytest installed, benchmarks/gpu_check.sh runs ``pytest -m gpu`` instead.

    python benchmarks/gpu_tests.py
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import sys
import tempfile
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Mark:
    """``pytest.mark.NAME`` and ``pytest.mark.NAME(...)``: records names and parameters."""

    def __getattr__(self, name: str):
        def mark(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:  # @pytest.mark.gpu
                args[0].__dict__.setdefault("marks", []).append((name, (), {}))
                return args[0]

            def decorate(fn):
                fn.__dict__.setdefault("marks", []).append((name, args, kwargs))
                return fn

            return decorate

        return mark


class Approx:
    def __init__(self, expected: float, rel: float | None = None, abs: float | None = None):
        self.expected, self.rel, self.abs = expected, rel or 1e-6, abs or 1e-12

    def __eq__(self, actual: object) -> bool:
        tol = max(self.rel * abs(self.expected), self.abs)
        return math.isclose(actual, self.expected, rel_tol=0, abs_tol=tol)

    def __repr__(self) -> str:
        return f"approx({self.expected})"


def shim() -> types.ModuleType:
    module = types.ModuleType("pytest")
    module.mark = Mark()
    module.approx = Approx
    module.fixture = lambda *a, **k: a[0] if a and callable(a[0]) else (lambda fn: fn)

    @contextlib.contextmanager
    def raises(exc, match=None):
        try:
            yield
        except exc as caught:
            import re

            assert match is None or re.search(match, str(caught)), str(caught)
        else:
            raise AssertionError(f"did not raise {exc.__name__}")

    module.raises = raises
    module.importorskip = __import__
    return module


class CapFD:
    """``capfd``: what the test wrote to stderr since the last ``readouterr``."""

    def __init__(self) -> None:
        self.err = io.StringIO()

    def readouterr(self):
        text = self.err.getvalue()
        self.err.seek(0)
        self.err.truncate()
        return types.SimpleNamespace(out="", err=text)


def as_tuple(value, names: list[str]) -> tuple:
    return tuple(value) if len(names) > 1 else (value,)


def cases(fn):
    """(label, kwargs) for each parametrisation of a test function."""
    runs = [("", {})]
    for name, args, _ in fn.__dict__.get("marks", []):
        if name != "parametrize":
            continue
        names = [n.strip() for n in args[0].split(",")]
        runs = [
            (f"{label}[{value}]", {**kw, **dict(zip(names, as_tuple(value, names), strict=True))})
            for label, kw in runs
            for value in args[1]
        ]
    return runs


def main() -> int:
    sys.modules.setdefault("pytest", shim())
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    import tests.test_fastpath as suite

    passed = failed = 0
    for name, fn in inspect.getmembers(suite, inspect.isfunction):
        marks = [m[0] for m in fn.__dict__.get("marks", [])]
        if not name.startswith("test_") or "gpu" not in marks:
            continue
        skip = [m for m in fn.__dict__.get("marks", []) if m[0] == "skipif" and m[1][0]]
        if skip:
            print(f"SKIPPED {name}: {skip[0][2].get('reason', '')}", flush=True)
            continue
        for label, kwargs in cases(fn):
            params = inspect.signature(fn).parameters
            capfd = CapFD()
            if "tmp_path" in params:
                kwargs["tmp_path"] = Path(tempfile.mkdtemp(prefix="ganzoo-gpu-"))
            if "capfd" in params:
                kwargs["capfd"] = capfd
            try:
                with contextlib.redirect_stderr(capfd.err):
                    fn(**kwargs)
            except Exception:
                failed += 1
                print(f"FAILED {name}{label}\n{traceback.format_exc()}", flush=True)
            else:
                passed += 1
                print(f"PASSED {name}{label}", flush=True)
    print(f"{passed} passed, {failed} failed (benchmarks/gpu_tests.py, pytest not installed)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
