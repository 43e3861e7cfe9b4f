"""The printable A4 page of a result certificate (统一窗口出件), as PDF (ReportLab).

One page per certificate: its name, licence number, holder, issuer and fields with their
labels, the issuing seal drawn as on paper (red ring, star, the department's name along the arc,
the seal's name across), the certificate's QR code — the URL a phone camera opens
(``QR_BASE/V/<token>``, FORMATS.md) — and that URL written out for people who type it.

Chinese text uses ReportLab's built-in CID font ``STSong-Light`` (Adobe's Simplified Chinese
collection): nothing to ship or embed, and every PDF reader has it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

import esign as qr

FONT = "STSong-Light"
RED = (0.816, 0.067, 0.106)
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Page:
    type_name: str
    licence_id: str
    holder_name: str
    holder_id_masked: str
    issuer_name: str
    seal_name: str
    issued_at: datetime
    valid_until: datetime | None
    fields: list[tuple[str, str]]  # (label, value)
    token: str


def _font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _seal(c: canvas.Canvas, cx: float, cy: float, radius: float, department: str, seal_name: str) -> None:
    c.saveState()
    c.setStrokeColorRGB(*RED)
    c.setFillColorRGB(*RED)
    c.setLineWidth(2.2)
    c.circle(cx, cy, radius, stroke=1, fill=0)
    outer, inner = radius * 0.28, radius * 0.11
    points = []
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        angle = math.radians(90 - 36 * i)
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    path = c.beginPath()
    path.moveTo(*points[0])
    for p in points[1:]:
        path.lineTo(*p)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    chars = list(department)[:24]
    size = 11 if len(chars) <= 12 else 9
    step = min(20.0, 240.0 / max(1, len(chars)))
    span = step * len(chars)
    for i, ch in enumerate(chars):
        angle = 90 + span / 2 - step * (i + 0.5)
        x = cx + (radius - size - 2) * math.cos(math.radians(angle))
        y = cy + (radius - size - 2) * math.sin(math.radians(angle))
        c.saveState()
        c.translate(x, y)
        c.rotate(angle - 90)
        c.setFont(FONT, size)
        c.drawCentredString(0, -size / 3, ch)
        c.restoreState()
    c.setFont(FONT, 9)
    c.drawCentredString(cx, cy - radius * 0.55, seal_name[:12])
    c.restoreState()


def _when(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y年%m月%d日")


def pdf(pages: list[Page], *, qr_url: Callable[[str], str]) -> bytes:
    """One A4 page per certificate, as PDF bytes; ``qr_url`` makes a token's QR URL (``EsignState.qr_url``)."""
    _font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    c.setTitle("电子证照打印件")
    width, height = A4
    for page in pages:
        url = qr_url(page.token)
        c.setFont(FONT, 22)
        c.drawCentredString(width / 2, height - 35 * mm, page.type_name)
        c.setFont(FONT, 10)
        c.drawCentredString(width / 2, height - 43 * mm, f"证照编号：{page.licence_id}")
        y = height - 60 * mm
        rows = [
            ("持证人", page.holder_name),
            ("证件号码", page.holder_id_masked),
            *page.fields,
            ("签发机关", page.issuer_name),
            ("签发日期", _when(page.issued_at)),
            ("有效期至", _when(page.valid_until) if page.valid_until else "长期"),
        ]
        for label, value in rows:
            c.setFont(FONT, 12)
            c.drawString(30 * mm, y, f"{label}：")
            c.drawString(62 * mm, y, str(value)[:60])
            y -= 9 * mm
        _seal(c, width - 55 * mm, 75 * mm, 20 * mm, page.issuer_name, page.seal_name)
        image = ImageReader(io.BytesIO(qr.qr_png(url, scale=4)))
        c.drawImage(image, 25 * mm, 30 * mm, width=55 * mm, height=55 * mm)
        c.setFont(FONT, 9)
        c.drawString(25 * mm, 24 * mm, "扫码或访问以下地址核验本证照真伪与状态：")
        c.setFont("Helvetica", 6)
        for i in range(0, min(len(url), 600), 110):
            c.drawString(25 * mm, (20 - i / 110 * 3) * mm, url[i : i + 110])
        c.setFont(FONT, 8)
        c.drawString(25 * mm, 8 * mm, "本页为电子证照的打印件，以电子证照核验结果为准。")
        c.showPage()
    c.save()
    return out.getvalue()
