"""docs/bench.svg: answer latency against offered rate, Shareline beside raw Temporal, drawn as
plain SVG (no plotting library): both axes logarithmic, p50 solid, p99 dashed, the goals as
grey lines. The percentiles are of the answered requests; a hollow marker says some requests at
that rate failed or were abandoned unanswered (stack.bench_load), so its real tail is worse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 760, 430
LEFT, RIGHT, TOP, BOTTOM = 70, 200, 40, 60  # margins around the plot
X_RANGE = (10.0, 2000.0)  # offered requests/s
GOALS = ((200.0, "inbound p99 goal, 200 ms"), (50.0, "status p99 goal, 50 ms"))


@dataclass(frozen=True)
class Series:
    """One line pair: p50 and p99 latency (ms; None where nothing was answered) at each rate, and
    whether any request at that rate failed."""

    label: str
    colour: str
    points: Sequence[tuple[float, float | None, float | None, bool]]  # (offered rate, p50, p99, failed)


def _log_scale(low: float, high: float, start: float, end: float) -> tuple[float, float]:
    """(offset, factor) mapping log10(value) in [low, high] onto [start, end]."""
    factor = (end - start) / (math.log10(high) - math.log10(low))
    return start - factor * math.log10(low), factor


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def chart(title: str, series: Sequence[Series]) -> str:
    """The SVG document."""
    latencies = [v for s in series for _, *pair, _ in s.points for v in pair if v is not None]
    y_low = 10 ** math.floor(math.log10(max(min(latencies, default=1.0), 0.1)))
    y_high = 10 ** math.ceil(math.log10(max(latencies, default=1000.0)))
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    x_offset, x_factor = _log_scale(*X_RANGE, LEFT, plot_right)
    y_offset, y_factor = _log_scale(y_low, y_high, plot_bottom, TOP)

    def x(rate: float) -> float:
        return x_offset + x_factor * math.log10(rate)

    def y(ms: float) -> float:
        return y_offset + y_factor * math.log10(ms)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{title}</text>',
    ]
    rates = sorted({point[0] for s in series for point in s.points})
    for rate in rates:
        out.append(
            f'<line x1="{x(rate):.1f}" y1="{TOP}" x2="{x(rate):.1f}" y2="{plot_bottom}" stroke="#eee"/>'
        )
        out.append(f'<text x="{x(rate):.1f}" y="{plot_bottom + 16}" text-anchor="middle">{rate:g}</text>')
    decade = y_low
    while decade <= y_high:
        out.append(
            f'<line x1="{LEFT}" y1="{y(decade):.1f}" x2="{plot_right}" y2="{y(decade):.1f}" stroke="#ddd"/>'
        )
        out.append(f'<text x="{LEFT - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{_number(decade)}</text>')
        decade *= 10
    for ms, label in GOALS:
        if y_low <= ms <= y_high:
            out.append(
                f'<line x1="{LEFT}" y1="{y(ms):.1f}" x2="{plot_right}" y2="{y(ms):.1f}"'
                ' stroke="#999" stroke-dasharray="2,3"/>'
            )
            out.append(f'<text x="{LEFT + 4}" y="{y(ms) - 4:.1f}" fill="#777" font-size="10">{label}</text>')
    out += [
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_right - LEFT}" height="{plot_bottom - TOP}"'
        ' fill="none" stroke="#333"/>',
        f'<text x="{(LEFT + plot_right) / 2}" y="{HEIGHT - 18}" text-anchor="middle">'
        "offered rate, requests/s (log scale, open loop)</text>",
        f'<text transform="translate(18 {(TOP + plot_bottom) / 2}) rotate(-90)" text-anchor="middle">'
        "latency from scheduled send, ms (log scale)</text>",
    ]
    for index, s in enumerate(series):
        for column, dash in ((1, ""), (2, ' stroke-dasharray="6,4"')):
            points = [(x(point[0]), y(v), point[3]) for point in s.points if (v := point[column]) is not None]
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>')
            out += [
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" stroke="{s.colour}"'
                f' fill="{"white" if failed else s.colour}"/>'
                for px, py, failed in points
            ]
        legend_y = TOP + 10 + index * 44
        out += [
            f'<text x="{plot_right + 14}" y="{legend_y}" font-weight="bold" fill="{s.colour}">'
            f"{s.label}</text>",
            f'<line x1="{plot_right + 14}" y1="{legend_y + 12}" x2="{plot_right + 40}" y2="{legend_y + 12}"'
            f' stroke="{s.colour}" stroke-width="2"/>',
            f'<text x="{plot_right + 46}" y="{legend_y + 16}">p50</text>',
            f'<line x1="{plot_right + 80}" y1="{legend_y + 12}" x2="{plot_right + 106}" y2="{legend_y + 12}"'
            f' stroke="{s.colour}" stroke-width="2" stroke-dasharray="6,4"/>',
            f'<text x="{plot_right + 112}" y="{legend_y + 16}">p99</text>',
        ]
    note_y = TOP + 10 + len(series) * 44
    out += [
        f'<circle cx="{plot_right + 18}" cy="{note_y}" r="3.5" stroke="#333" fill="white"/>',
        f'<text x="{plot_right + 26}" y="{note_y + 4}" font-size="10">some requests failed</text>',
        "</svg>",
    ]
    return "\n".join(out) + "\n"
