"""Bar charts drawn on the server as SVG: no script, readable without one, the numbers also in a table."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 160, 44, 22, 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: datetime.date
    value: int
    label: str  # the value as people read it (money as a decimal, say)


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    top: int
    top_label: str
    width: int = WIDTH
    height: int = HEIGHT
    axis_x: int = PAD_LEFT
    axis_y: int = HEIGHT - PAD_BOTTOM
    first_day: datetime.date | None = None
    last_day: datetime.date | None = None


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(title: str, points: list[tuple[datetime.date, int]], label: Callable[[int], str] = str) -> Chart:
    """Bars of whole numbers; `label` writes a value as people read it (whole nanos as money, say)."""
    top = _nice_top(max((v for _, v in points), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(points), 1)
    bars = []
    for index, (day, value) in enumerate(points):
        height = plot_h * value / top
        x = PAD_LEFT + index * slot + slot * 0.15
        bars.append(
            Bar(
                round(x, 1),
                round(HEIGHT - PAD_BOTTOM - height, 1),
                round(slot * 0.7, 1),
                round(height, 1),
                day,
                value,
                label(value),
            )
        )
    return Chart(
        title,
        bars,
        top,
        label(top),
        first_day=points[0][0] if points else None,
        last_day=points[-1][0] if points else None,
    )
