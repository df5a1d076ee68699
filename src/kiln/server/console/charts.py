"""Hand-drawn SVG line charts (console.js draws the same markup while a job runs)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["line_chart"]

WIDTH, HEIGHT = 600, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 12, 12, 24


def _label(value: float) -> str:
    return f"{value:.4g}"


def line_chart(title: str, points: Sequence[tuple[float, float]], x_label: str = "seconds") -> Markup:
    """One series as an SVG polyline with min/max labels; ``data-points`` counts the points."""
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" data-points="{len(points)}">',
        f'<rect class="frame" x="{PAD_LEFT}" y="{PAD_TOP}" width="{inner_w}" height="{inner_h}"/>',
    ]
    if points:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        span_x = (x1 - x0) or 1.0
        span_y = (y1 - y0) or 1.0
        coords = " ".join(
            f"{PAD_LEFT + (x - x0) / span_x * inner_w:.1f},"
            f"{PAD_TOP + inner_h - (y - y0) / span_y * inner_h:.1f}"
            for x, y in points
        )
        parts += [
            f'<polyline class="line" points="{coords}"/>',
            f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 10}" text-anchor="end">{_label(y1)}</text>',
            f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + inner_h}" text-anchor="end">{_label(y0)}</text>',
            f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}">{_label(x0)}</text>',
            f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
            f"{_label(x1)} {escape(x_label)}</text>",
        ]
        if len(points) == 1:
            cx, cy = coords.split(",")
            parts.append(f'<circle class="dot" cx="{cx}" cy="{cy}" r="3"/>')
    else:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no values yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
