"""QR codes of tokens: the URL they hold (FORMATS.md "QR codes"), alphanumeric mode, error correction M or
better, PNG and SVG; and the round trip: rendered at several module scales and read back by a decoder
(zxing-cpp), the URL and then the token come out unchanged."""

from __future__ import annotations

import pytest

from esign.codec import qr, tokens
from tests.esign import helpers

BASE = "HTTPS://ZB.EXAMPLE.CN"


def test_qr_of_a_certificate_url(pki: helpers.Pki) -> None:
    token = tokens.encode_token(helpers.certificate_claims(), pki.seals["SM2"].signer)
    url = qr.qr_url(BASE, token)
    assert qr.alphanumeric(url) and qr.token_from_text(url) == token
    code = qr.make_qr(url)
    assert code.mode == "alphanumeric"
    assert code.error in ("M", "Q", "H")
    print(
        f"\n{len(token)}-character token, {len(url)}-character URL: QR version {code.version} "
        f"({code.symbol_size(border=0)[0]} modules), error correction {code.error}"
    )
    assert code.version <= 15
    assert qr.qr_png(url).startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in qr.qr_svg(url)


def test_the_url_escapes_what_a_url_cannot_hold() -> None:
    token = "ZB1:A %B/C%2F D"
    url = qr.qr_url(BASE + "/", token)
    assert url == "HTTPS://ZB.EXAMPLE.CN/V/ZB1:A%20%25B%2FC%252F%20D"
    assert qr.token_from_text(url) == token
    assert qr.token_from_text("https://zb.example.cn/base/v/ZB1%3AA%20%25B%2FC%252F%20D") == token
    assert qr.token_from_text(token) == token and qr.token_from_text("hello") == "hello"


def test_a_500_character_token_fits_version_14() -> None:
    assert qr.make_qr("ZB1:" + "A1:" * 165 + "A").version == 14


def _read(code: object, scale: int) -> list[str]:
    """What a decoder reads from the code rendered at ``scale`` pixels a module (the PNG's pixels, grey)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    rows = [bytes(0 if dark else 255 for dark in row) for row in code.matrix_iter(scale=scale, border=qr.BORDER)]  # type: ignore[attr-defined]
    image = memoryview(b"".join(rows)).cast("B", (len(rows), len(rows[0])))
    return [found.text for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


@pytest.mark.parametrize("alg", ["ES256", "SM2"])
def test_the_qr_url_round_trip(pki: helpers.Pki, alg: str) -> None:
    """Rendered at 8, 6 and 11 pixels a module (one scale alone misses about one token in 500) and read
    back, every code gives the URL it was made of, and that URL the token."""
    signer = pki.seals[alg].signer
    for i in range(40):
        claims = helpers.certificate_claims(
            cti=i.to_bytes(16, "big"), fields={1: "男", 2: "汉", 3: "户主", 4: f"长春市{i}号"}
        )
        token = tokens.encode_token(claims, signer)
        url = qr.qr_url(BASE, token)
        code = qr.make_qr(url)
        read = {scale: _read(code, scale) for scale in (8, 6, 11)}
        assert any(found == [url] for found in read.values()), (i, read)
        assert all(found in ([url], []) for found in read.values()), (i, read)  # never a wrong reading
        assert tokens.decode_token(qr.token_from_text(url)).claims == claims
