"""The picture of a seal (印章图样) for the verification page: a round red 公章 as SVG.

The department's name runs clockwise along the upper arc, a five-pointed star sits in the middle
and the seal's own name (``电子证照专用章``) is written straight across below it, as on a paper
seal. The picture is a courtesy for people reading the page; nothing is verified from it (the
signature is), so it is drawn from the names alone and needs no stored image. Every name is
escaped before it is written into the SVG.
"""

from __future__ import annotations

import math
from html import escape

RED = "#d0111b"
SIZE = 200
CENTRE = SIZE / 2
FONT = "'SimSun','Songti SC','Noto Serif CJK SC','Source Han Serif SC',serif"


def _star(cx: float, cy: float, outer: float, inner: float) -> str:
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.radians(-90 + 36 * i)
        points.append(f"{cx + radius * math.cos(angle):.2f},{cy + radius * math.sin(angle):.2f}")
    return f'<polygon points="{" ".join(points)}" fill="{RED}"/>'


def _arc_text(text: str, *, radius: float) -> list[str]:
    chars = list(text)[:24]
    if not chars:
        return []
    # Short names keep the spacing of a real seal; long ones spread over at most 250 degrees.
    step = min(22.0, 250.0 / len(chars))
    size = 22 if len(chars) <= 10 else max(12, int(22 * 10 / len(chars)) + 2)
    span = step * len(chars)
    out = []
    for i, ch in enumerate(chars):
        angle = -90 - span / 2 + step * (i + 0.5)
        rad = math.radians(angle)
        x, y = CENTRE + radius * math.cos(rad), CENTRE + radius * math.sin(rad)
        out.append(
            f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size}" transform="rotate({angle + 90:.2f} {x:.2f} {y:.2f})"'
            f' text-anchor="middle" dominant-baseline="central">{escape(ch)}</text>'
        )
    return out


def seal_svg(department: str, seal_name: str, *, title: str | None = None) -> str:
    """An SVG document (text) of a round seal bearing ``department`` and ``seal_name``."""
    label = escape(title or f"{department} {seal_name}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}"'
        f' role="img" aria-label="{label}">',
        f"<title>{label}</title>",
        f'<circle cx="{CENTRE}" cy="{CENTRE}" r="94" fill="none" stroke="{RED}" stroke-width="6"/>',
        f'<g fill="{RED}" font-family="{escape(FONT)}" font-weight="bold">',
        *_arc_text(department, radius=72),
        f'<text x="{CENTRE}" y="148" font-size="14" text-anchor="middle" dominant-baseline="central">'
        f"{escape(seal_name[:16])}</text>",
        "</g>",
        _star(CENTRE, CENTRE, 30, 12),
        "</svg>",
    ]
    return "".join(parts)
