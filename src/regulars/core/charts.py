"""Small SVG charts rendered on the server, so pages need no chart library or CDN.

Written here rather than taken from a library: the pages need only horizontal bars and a
few polylines, every label must come from the translation catalogue, and the SVG must work
with no JavaScript at all; charting packages either ship a JS runtime or pull in a plotting
stack far bigger than these hundred lines. Every chart has a table beside it on the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#4b5563")


def _number(value: float) -> str:
    """A compact label: 1234567 → 1.23M, 0.1234 → 0.123."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if magnitude >= 10_000:
        return f"{value / 1_000:.1f}k"
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 22,
    percent: bool = False,
) -> Markup:
    """Horizontal bars with their labels and values (negative values drawn in red)."""
    label_width, gap, top = 150, 6, 28
    height = top + len(bars) * (bar_height + gap) + 8
    peak = max((abs(v) for _label, v in bars), default=0.0) or 1.0
    room = width - label_width - 70
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(bars):
        y = top + index * (bar_height + gap)
        length = max(1.0, room * abs(value) / peak)
        colour = "#dc2626" if value < 0 else PALETTE[index % len(PALETTE)]
        shown = f"{value * 100:.1f}%" if percent else _number(value)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height * 0.7:.1f}">'
            f"{escape(shown)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def line_chart(
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    x_labels: Sequence[str],
    width: int = 560,
    height: int = 260,
    percent: bool = False,
    y_max: float | None = None,
    diagonal: bool = False,
) -> Markup:
    """One or more lines over shared x labels, with a legend (``diagonal``: the y = x line)."""
    left, right, top, bottom = 52, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _name, points in series for v in points]
    peak = y_max if y_max is not None else (max(values, default=0.0) or 1.0)
    count = max((len(points) for _name, points in series), default=0)
    step = plot_w / max(1, count - 1)

    def at(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top + plot_h - plot_h * (value / peak if peak else 0.0)

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="#9ca3af"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
        f'stroke="#9ca3af"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = peak * fraction
        y = top + plot_h - plot_h * fraction
        shown = f"{value * 100:.0f}%" if percent else _number(value)
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(shown)}</text>'
        )
    if diagonal and count > 1:
        x0, y0 = at(0, 0.0)
        x1, y1 = at(count - 1, peak)
        parts.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            f'stroke="#d1d5db" stroke-dasharray="4 3"/>'
        )
    label_every = max(1, count // 8)
    for index, label in enumerate(x_labels):
        if index % label_every == 0 or index == count - 1:
            x, _y = at(index, 0.0)
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for number, (name, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(i, v) for i, v in enumerate(points)))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
            f"<title>{escape(name)}</title></polyline>"
            f'<rect x="{left + number * 140}" y="{height - 14}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + number * 140 + 14}" y="{height - 5}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
