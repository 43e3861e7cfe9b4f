"""Compressed answers: gzip when the client accepts it and the answer is worth it."""

from __future__ import annotations

import gzip

from litestar.testing import AsyncTestClient

from api.app import COMPRESS_MIN


async def test_large_answers_are_gzipped_for_clients_that_accept_it(client: AsyncTestClient) -> None:
    plain = await client.get("/v1/bundles", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain.content) > COMPRESS_MIN
    zipped = await client.get("/v1/bundles", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers.get("vary", "").lower()
    assert zipped.json() == plain.json()  # the client decoded it
    raw = gzip.compress(plain.content)
    assert len(raw) < len(plain.content) / 3


async def test_small_answers_go_uncompressed(client: AsyncTestClient) -> None:
    r = await client.get("/health", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and len(r.content) < COMPRESS_MIN
    assert "content-encoding" not in r.headers
