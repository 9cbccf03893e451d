"""Line charts as inline SVG: the gallery's curves need no plotting library in the browser."""

from __future__ import annotations

import math
from html import escape

#: one colour per series, in order (readable on white, distinct for the common colour blindness)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start, stop = math.floor(lo / step), math.ceil(hi / step)
    return [round(i * step, 12) for i in range(start, max(stop, start + 1) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.2e}" if abs(v) < 1e-3 else f"{v:.5g}"


def line_chart(
    title: str,
    series: dict[str, list[tuple[int, float]]],
    *,
    width: int = 560,
    height: int = 220,
) -> str:
    """An SVG chart of ``series`` (name -> [(step, value), ...]) against the step."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return ""
    left, right, top, bottom = 56, 12, 26, 30
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    xticks = nice_ticks(min(xs), max(xs))
    yticks = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xticks[0], xticks[-1], yticks[0], yticks[-1]
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y0) / ((y1 - y0) or 1) * ph

    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for t in yticks:
        y = sy(t)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    for t in xticks:
        x = sx(t)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle">{_fmt(t)}</text>'
        )
    lx = left + 16 + 7 * len(title)  # the legend follows the title, above the plot
    for i, (name, pts) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
        shape = (
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            if len(pts) > 1
            else f'<circle cx="{sx(pts[0][0]):.1f}" cy="{sy(pts[0][1]):.1f}" r="3" '
            f'fill="{colour}"/>'
        )
        out.append(f'<g class="series" data-name="{escape(name)}">{shape}</g>')
        out.append(
            f'<rect x="{lx}" y="10" width="10" height="3" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="16">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)
