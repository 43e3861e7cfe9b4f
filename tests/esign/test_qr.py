"""QR codes of tokens: alphanumeric mode, error correction M or better, PNG and SVG."""

from __future__ import annotations

from esign import qr, tokens
from tests.esign import helpers


def test_qr_of_a_certificate_token(pki: helpers.Pki) -> None:
    token = tokens.encode_token(helpers.certificate_claims(), pki.seals["SM2"].signer)
    code = qr.make_qr(token)
    assert code.mode == "alphanumeric"
    assert code.error in ("M", "Q", "H")
    print(f"\n{len(token)}-character token: QR version {code.version} ({code.symbol_size(border=0)[0]} modules), "
          f"error correction {code.error}")
    assert code.version <= 14
    png = qr.qr_png(token)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    svg = qr.qr_svg(token)
    assert b"<svg" in svg


def test_a_500_character_token_fits_version_14() -> None:
    assert qr.make_qr("ZB1:" + "A1:" * 165 + "A").version == 14
