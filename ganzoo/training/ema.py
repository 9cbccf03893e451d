"""Exponential moving average of the generator's weights (Karras et al. 2018).

Updated on the device with fused foreach operations; buffers (BatchNorm statistics, StyleGAN's
tracked mean w) are copied, not averaged.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model for parameters; buffers copied."""
    e_params = [p for p in ema.parameters()]
    m_params = [p.detach() for p in model.parameters()]
    if decay <= 0.0:
        torch._foreach_copy_(e_params, m_params)
    else:
        torch._foreach_lerp_(e_params, m_params, 1.0 - decay)
    for e_buf, m_buf in zip(ema.buffers(), model.buffers(), strict=True):
        e_buf.copy_(m_buf)
