"""The network chart of the strongest rules, drawn as inline SVG by the app itself.

Items sit on a circle, their names pointing outwards; a rule is an arrow from its
antecedent item to its consequent, bowed towards the centre, as thick as its confidence
and as dark as its lift. Items are placed in the order a breadth-first walk from the
strongest rule meets them, so items linked by rules tend to sit side by side and arrows
stay short. No layout library and no JavaScript:
the page works as plain HTML, and every arrow carries its numbers in a ``<title>``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from regulars.baskets.reports import Edge

__all__ = ["network_svg", "node_order"]

SIZE = 800
RADIUS = 260
SHADES = ("#9ec5e8", "#5b9bd5", "#2f6fb0", "#1d4f86", "#0e2f57")


def node_order(edges: Sequence[Edge]) -> list[str]:
    """The items in circle order: a breadth-first walk from the strongest rule's items."""
    links: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        links[edge.source].append(edge.target)
        links[edge.target].append(edge.source)
    order: list[str] = []
    seen: set[str] = set()
    for edge in edges:
        for start in (edge.source, edge.target):
            if start in seen:
                continue
            queue = [start]
            seen.add(start)
            while queue:
                item = queue.pop(0)
                order.append(item)
                for other in links[item]:
                    if other not in seen:
                        seen.add(other)
                        queue.append(other)
    return order


def _shade(lift: float, low: float, high: float) -> str:
    if high <= low:
        return SHADES[-1]
    step = (lift - low) / (high - low) * (len(SHADES) - 1)
    return SHADES[max(0, min(len(SHADES) - 1, round(step)))]


def _short(text: str, length: int = 18) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def network_svg(
    edges: Sequence[Edge],
    *,
    name: Callable[[str], str],
    title: str,
    describe: Callable[[Edge], str],
) -> Markup:
    """The SVG of ``edges``: ``name`` gives an item's label, ``describe`` an arrow's tooltip."""
    order = node_order(edges)
    centre = SIZE / 2
    where: dict[str, tuple[float, float, float]] = {}
    for index, item in enumerate(order):
        angle = 2 * math.pi * index / max(len(order), 1) - math.pi / 2
        where[item] = (
            centre + RADIUS * math.cos(angle),
            centre + RADIUS * math.sin(angle),
            angle,
        )
    lifts = [e.lift for e in edges] or [1.0]
    low, high = min(lifts), max(lifts)
    parts = [
        f'<svg class="chart network" role="img" viewBox="0 0 {SIZE} {SIZE}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" data-testid="network">',
        f"<title>{escape(title)}</title>",
        # Arrow heads in user units: the same size on a thin arrow as on a thick one.
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" '
        'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#1d4f86"/></marker></defs>',
    ]
    for edge in edges:
        x1, y1, _a1 = where[edge.source]
        x2, y2, _a2 = where[edge.target]
        # Bow the arrow towards the centre so arrows between neighbours stay apart.
        cx, cy = (x1 + x2) / 2 * 0.6 + centre * 0.4, (y1 + y2) / 2 * 0.6 + centre * 0.4
        # Stop short of the target's dot so the arrow head stays visible.
        dx, dy = x2 - cx, y2 - cy
        gap = 9 / max(math.hypot(dx, dy), 1e-9)
        ex, ey = x2 - dx * gap, y2 - dy * gap
        width = 1 + 5 * edge.confidence
        parts.append(
            f'<path class="edge" d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" '
            f'fill="none" stroke="{_shade(edge.lift, low, high)}" stroke-width="{width:.1f}" '
            f'stroke-opacity="0.8" marker-end="url(#arrow)">'
            f"<title>{escape(describe(edge))}</title></path>"
        )
    for item, (x, y, angle) in where.items():
        # Labels point away from the centre, so neighbours on the circle never overlap;
        # on the left half they are turned half a turn to read left to right.
        right = math.cos(angle) >= 0
        degrees = math.degrees(angle) + (0 if right else 180)
        lx, ly = x + 10 * math.cos(angle), y + 10 * math.sin(angle)
        label = name(item)
        parts.append(
            f'<g class="node"><circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#0b7a4b">'
            f"<title>{escape(label)}</title></circle>"
            f'<text x="{lx:.1f}" y="{ly:.1f}" dominant-baseline="middle" '
            f'text-anchor="{"start" if right else "end"}" '
            f'transform="rotate({degrees:.1f} {lx:.1f} {ly:.1f})">'
            f"{escape(_short(label))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
