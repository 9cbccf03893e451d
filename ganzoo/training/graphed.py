"""A function captured once in a CUDA graph and replayed: :class:`GraphedCall`.

The trainer's step has its own runner (:class:`ganzoo.training.graphs.StepRunner`); this is the
small general form for loops that call one function on tensors at fixed addresses, such as
Gatys' objective evaluation with or without its optimiser step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .graphs import PREFIX, WARMUP, first_line


class GraphedCall:
    """``fn()`` captured once in a CUDA graph and replayed: for loops that call the same
    function on tensors at fixed addresses (Gatys' objective evaluation, with or without its
    optimiser step).

    The first ``warmup`` calls run eagerly on a side stream (they count: each is a real call),
    the next one is captured and replayed, and every later call replays. The returned tensors
    are the graph's, overwritten by the next call: copy what must be kept. With
    ``capture=False`` (the CPU) every call is eager. A capture that fails is said once
    (``say``) and the calls stay eager.
    """

    def __init__(
        self,
        fn: Callable[[], Any],
        capture: bool,
        warmup: int = WARMUP,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.fn, self.capture, self.warmup, self.say = fn, capture, warmup, say
        self.calls = 0
        self.graph: Any = None
        self.out: Any = None
        self.side = torch.cuda.Stream() if capture else None

    def __call__(self) -> Any:
        if self.graph is not None:
            self.graph.replay()
            return self.out
        if not self.capture:
            return self.fn()
        self.calls += 1
        if self.calls <= self.warmup:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                out = self.fn()
            torch.cuda.current_stream().wait_stream(self.side)
            return out
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                out = self.fn()
        except Exception as exc:
            torch.cuda.synchronize()
            self.capture = False
            if self.say is not None:
                self.say(f"{PREFIX} capture failed ({type(exc).__name__}: {first_line(exc)})")
            return self.fn()
        self.graph, self.out = graph, out
        graph.replay()
        return out
