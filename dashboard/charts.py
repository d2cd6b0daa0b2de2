"""Server-drawn SVG charts: the Content-Security-Policy admits no inline script, and a
cumulative P&L curve needs none, so the page draws it as polylines computed here."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH = 800
HEIGHT = 240
# Room around the plot, so a line on the edge stays visible.
PAD = 8


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    css: str
    points: str  # "x,y x,y ..." for an SVG polyline
    last: str  # the line's final value, a dollar string


@dataclass(frozen=True, slots=True)
class Chart:
    lines: tuple[Line, ...]
    zero_y: float
    width: int = WIDTH
    height: int = HEIGHT


def cumulative_chart(curve: Sequence[dict[str, Any]], series: Sequence[tuple[str, str, str]]) -> Chart | None:
    """``curve`` points ({"ts", key: dollar string...}) as polylines scaled to one box; None
    below two points (no line to draw). ``series`` is (key, label, CSS class)."""
    if len(curve) < 2:
        return None
    values = {key: [Decimal(point[key]) for point in curve] for key, _, _ in series}
    low = min(Decimal(0), *(min(v) for v in values.values()))
    high = max(Decimal(0), *(max(v) for v in values.values()))
    span = (high - low) or Decimal(1)
    first, last = curve[0]["ts"], curve[-1]["ts"]
    duration = (last - first) or 1.0

    def y(value: Decimal) -> float:
        return round(PAD + float((high - value) / span) * (HEIGHT - 2 * PAD), 1)

    def x(ts: float) -> float:
        return round(PAD + (ts - first) / duration * (WIDTH - 2 * PAD), 1)

    lines = tuple(
        Line(
            label,
            css,
            " ".join(f"{x(p['ts'])},{y(v)}" for p, v in zip(curve, values[key], strict=True)),
            curve[-1][key],
        )
        for key, label, css in series
    )
    return Chart(lines, y(Decimal(0)))
