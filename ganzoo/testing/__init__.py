"""The conformance kit: check that a registered model keeps every promise ganzoo relies on.

A plugin author tests a model with one call::

    from ganzoo.testing import check_model

    def test_conformance():
        check_model("mlpgan")                 # raises ConformanceError naming what failed

or, without writing a test, from any project where ganzoo is installed::

    pytest --ganzoo-plugin mlpgan             # a model name, or a plugin (entry point) name

The checks, in order (:data:`CHECKS`): ``spec`` (the declaration is coherent), ``registration``
(a fresh process registers the model without importing torch), ``build``, ``forward``,
``backward``, ``sample`` (same seed, same images), ``save_load`` (``save_pretrained`` then
``from_pretrained`` gives identical outputs), ``train`` (three steps through the shared trainer),
``capture`` (on CUDA the step replays from a CUDA graph, or the model declares
``capture_blocker``; skipped without CUDA) and ``info`` (``ganzoo info`` and ``ganzoo list``
render). Models that are not GANs get the checks that apply to them (spec, registration,
build, save_load, info).

The model is built from its ``tiny`` preset when it declares one, then ``**overrides``. Nothing
in this package imports torch until a check runs: the pytest plugin is loaded by every pytest
run in an environment where ganzoo is installed and must stay cheap.

:func:`isolated_plugins` gives a test a registry of its own (the core, the installed plugins
and any plugin objects the test passes), so that what one test registers never leaks into the
next::

    with isolated_plugins({"my-test": MyTestPlugin()}) as host:
        ganzoo.create_model("my_test_model")
"""

from __future__ import annotations

from ..plugins import isolated_host as isolated_plugins
from .report import CHECKS, CheckResult, ConformanceError, ConformanceReport, checks_for
from .runner import check_model

__all__ = [
    "CHECKS",
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "check_model",
    "checks_for",
    "isolated_plugins",
]
