"""Charts drawn on the server as SVG: bars and lines with axes, ticks and labels, no JavaScript.

Only presentation attributes are used (no ``style``), so the page's CSP needs no ``unsafe-inline``. Missing
values (None or NaN) leave a gap in a line and no bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 78, 70, 34, 64
BAR_COLOUR, LINE_COLOUR, BAND_COLOURS = "#3b6ea5", "#c0392b", ("#e0a800", "#c0392b")

Value = float | int | None


def _finite(value: Value) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (0 included when the range allows), about ``count`` of them."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, tick = [], first
    while tick < high + step * 0.999:
        ticks.append(round(tick, 10))
        tick += step
    return ticks


def format_number(value: float, percent: bool = False) -> str:
    """A short axis label: 12%, 3.4万, 1.2亿 (Chinese units read the same in both languages here)."""
    if percent:
        return f"{value * 100:.0f}%"
    size = abs(value)
    if size >= 1e8:
        return f"{value / 1e8:.1f}亿"
    if size >= 1e4:
        return f"{value / 1e4:.1f}万"
    return f"{value:g}"


@dataclass(frozen=True)
class Axis:
    """A vertical scale from data values to SVG y coordinates."""

    ticks: list[float]

    @classmethod
    def over(cls, values: Sequence[Value], *, include_zero: bool = True, extra: Sequence[float] = ()) -> Axis:
        """An axis covering the finite values (and zero, and ``extra`` lines such as PSI bands)."""
        finite = [v for v in (_finite(x) for x in values) if v is not None] + list(extra)
        low = min([*finite, 0.0] if include_zero else finite or [0.0])
        high = max([*finite, 0.0] if include_zero else finite or [1.0])
        return cls(nice_ticks(low, high))

    def y(self, value: float) -> float:
        """The y coordinate of ``value``."""
        low, high = self.ticks[0], self.ticks[-1]
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))


def _x_positions(n: int) -> list[float]:
    span = WIDTH - LEFT - RIGHT
    return [LEFT + span * (i + 0.5) / n for i in range(n)]


def _axis_marks(axis: Axis, x: float, anchor: str, percent: bool, gridlines: bool) -> list[str]:
    out = [f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>']
    offset = -6 if anchor == "end" else 6
    for tick in axis.ticks:
        y = axis.y(tick)
        if gridlines:
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x + offset}" y="{y + 4:.1f}" font-size="11" text-anchor="{anchor}" '
                   f'fill="#333">{escape(format_number(tick, percent))}</text>')
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))
    out = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#555"/>']
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every == 0:
            y = HEIGHT - BOTTOM + 16
            out.append(f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="end" fill="#333" '
                       f'transform="rotate(-35 {x:.1f} {y})">{escape(label)}</text>')
    return out


def _frame(title: str, parts: list[str], legend: list[tuple[str, str]]) -> Markup:
    items = []
    for i, (colour, name) in enumerate(legend):
        x = LEFT + i * 260
        items.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 18}" y="18" font-size="12" fill="#222">{escape(name)}</text>')
    body = "".join([*items, *parts])
    return Markup(  # noqa: S704 - every text inside is escaped above
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _line_path(values: Sequence[Value], xs: Sequence[float], axis: Axis) -> str:
    segments: list[list[str]] = []
    current: list[str] = []
    for value, x in zip(values, xs, strict=True):
        number = _finite(value)
        if number is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x:.1f},{axis.y(number):.1f}")
    if current:
        segments.append(current)
    out = []
    for points in segments:
        out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2"/>')
        for point in points:
            px, py = point.split(",")
            out.append(f'<circle cx="{px}" cy="{py}" r="3" fill="{LINE_COLOUR}"/>')
    return "".join(out)


def bar_line_chart(
    labels: Sequence[str],
    bars: Sequence[Value],
    line: Sequence[Value] | None = None,
    *,
    title: str,
    bar_name: str,
    line_name: str = "",
    bars_percent: bool = False,
    line_percent: bool = True,
) -> Markup:
    """Bars on the left axis and, optionally, a line on the right axis (a rate, in percent by default)."""
    if line is not None and len(line) != len(bars):
        raise ValueError("bars and line need one value per label")
    if len(bars) != len(labels):
        raise ValueError("one bar per label")
    if not labels:
        return _frame(title, [], [])
    xs = _x_positions(len(labels))
    left = Axis.over(bars)
    parts = _axis_marks(left, LEFT, "end", bars_percent, gridlines=True)
    width = (WIDTH - LEFT - RIGHT) / len(labels) * 0.7
    zero = left.y(0.0)
    for value, x in zip(bars, xs, strict=True):
        number = _finite(value)
        if number is not None:
            y = left.y(number)
            parts.append(f'<rect x="{x - width / 2:.1f}" y="{min(y, zero):.1f}" width="{width:.1f}" '
                         f'height="{abs(zero - y):.1f}" fill="{BAR_COLOUR}">'
                         f'<title>{escape(format_number(number, bars_percent))}</title></rect>')
    legend = [(BAR_COLOUR, bar_name)]
    if line is not None:
        right = Axis.over(line)
        parts += _axis_marks(right, WIDTH - RIGHT, "start", line_percent, gridlines=False)
        parts.append(_line_path(line, xs, right))
        legend.append((LINE_COLOUR, line_name))
    parts += _x_labels(labels, xs)
    return _frame(title, parts, legend)


def line_chart(
    labels: Sequence[str],
    values: Sequence[Value],
    *,
    title: str,
    name: str,
    percent: bool = False,
    bands: Sequence[float] = (),
) -> Markup:
    """One line on one axis, with dashed horizontal lines at ``bands`` (PSI 0.1 and 0.25, say)."""
    if len(values) != len(labels):
        raise ValueError("one value per label")
    if not labels:
        return _frame(title, [], [])
    xs = _x_positions(len(labels))
    axis = Axis.over(values, extra=bands)
    parts = _axis_marks(axis, LEFT, "end", percent, gridlines=True)
    for i, band in enumerate(bands):
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        y = axis.y(band)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{colour}" '
                     f'stroke-dasharray="6 4"/><text x="{WIDTH - RIGHT + 4}" y="{y + 4:.1f}" font-size="11" '
                     f'fill="{colour}">{escape(format_number(band, percent))}</text>')
    parts.append(_line_path(values, xs, axis).replace(LINE_COLOUR, BAR_COLOUR))
    parts += _x_labels(labels, xs)
    return _frame(title, parts, [(BAR_COLOUR, name)])
