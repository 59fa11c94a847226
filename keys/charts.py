"""Bar charts drawn on the server as SVG: no script, readable without one, the numbers also in a table."""

from dataclasses import dataclass

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 160, 44, 22, 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    top: int
    width: int = WIDTH
    height: int = HEIGHT
    axis_x: int = PAD_LEFT
    axis_y: int = HEIGHT - PAD_BOTTOM
    first_label: str = ""
    last_label: str = ""


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(title: str, points: list[tuple[str, int]]) -> Chart:
    top = _nice_top(max((v for _, v in points), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        height = plot_h * value / top
        x = PAD_LEFT + index * slot + slot * 0.15
        bars.append(
            Bar(
                round(x, 1),
                round(HEIGHT - PAD_BOTTOM - height, 1),
                round(slot * 0.7, 1),
                round(height, 1),
                label,
                value,
            )
        )
    return Chart(
        title, bars, top, first_label=points[0][0] if points else "", last_label=points[-1][0] if points else ""
    )
