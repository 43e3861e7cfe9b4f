"""The verification page ``/v/{token}``: the verdict in plain Chinese, everything escaped, and the same page
read by a real headless Chromium from a real server for a valid and a revoked certificate."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.config import Settings
from tests import browser
from tests.esign.api import auth, household, issue


def page_url(token: str) -> str:
    return "/v/" + quote(token, safe="")


async def test_a_valid_certificate_page(client: AsyncTestClient, police_issuer: str, police_seal: dict) -> None:
    cert = await issue(client, police_issuer, household())
    r = await client.get(page_url(cert["token"]))
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"  # the charset once
    assert r.headers["cache-control"] == "no-store" and "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert '<html lang="zh-CN">' in html and "width=device-width" in html and "<script" not in html
    assert 'class="verdict ok"' in html and "证照有效" in html
    for text in (
        "居民户口簿",
        cert["licence_id"],
        "张*丰",
        "110***********002X",
        "株洲市公安局",
        "户主姓名",
        "与户主关系",
        "登记日期",
        "2020-01-02",
        "电子签名",
        "<svg",
        "电子证照专用章",
    ):
        assert text in html, text
    assert "泰山路" not in html  # a sensitive field is not in the token, so not on the page


async def test_revoked_and_garbage_pages_are_red(
    client: AsyncTestClient, police_issuer: str, police_seal: dict
) -> None:
    cert = await issue(client, police_issuer, household())
    r = await client.post(
        f"/v1/dept/certificates/{cert['id']}/revoke", json={"reason": "注销"}, headers=auth(police_issuer)
    )
    assert r.status_code == 200
    html = (await client.get(page_url(cert["token"]))).text
    assert 'class="verdict bad"' in html and "证照无效" in html and "证照已被签发机关吊销" in html
    for junk in ("ZB1:NOT-A-TOKEN", "hello world", "ZB1:%2F%2F", "ZB1:%41%"):
        r = await client.get(page_url(junk))
        assert r.status_code == 200 and "证照无效" in r.text and "不是本平台的电子证照码" in r.text


async def test_everything_on_the_page_is_escaped(
    client: AsyncTestClient, police_issuer: str, police_seal: dict
) -> None:
    body = household()
    body["fields"]["household_head"] = '<script>alert("x")</script>&'
    cert = await issue(client, police_issuer, body)
    html = (await client.get(page_url(cert["token"]))).text
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, installed with apt-get on first use when missing (skips only if that fails)."""
    return browser.chromium()


def _visible(dom: str) -> str:
    text = re.sub(r"<style.*?</style>|<svg.*?</svg>", "", dom, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


async def test_headless_chromium_reads_the_verdicts(
    chromium_path: str, settings: Settings, client: AsyncTestClient, police_issuer: str, police_seal: dict
) -> None:
    valid = await issue(client, police_issuer, household())
    revoked = await issue(client, police_issuer, household("440524188001010014", "李四"))
    r = await client.post(
        f"/v1/dept/certificates/{revoked['id']}/revoke", json={"reason": "注销"}, headers=auth(police_issuer)
    )
    assert r.status_code == 200
    with browser.live_server(create_app(settings)) as base:
        good = await asyncio.to_thread(browser.dump_dom, base + page_url(valid["token"]))
        bad = await asyncio.to_thread(browser.dump_dom, base + page_url(revoked["token"]))
    seen = _visible(good)
    assert "证照有效" in seen and "证照无效" not in seen
    for text in (
        "电子签名、印章和状态均已核验通过",
        "居民户口簿",
        valid["licence_id"],
        "株洲市公安局",
        "张*丰",
        "通过",
    ):
        assert text in seen, text
    assert 'class="verdict ok"' in good and "<svg" in good
    seen = _visible(bad)
    assert "证照无效" in seen and "证照已被签发机关吊销" in seen and "未通过" in seen and "李*" in seen
    assert 'class="verdict bad"' in bad


async def test_percent_signs_in_a_token_survive_the_path(
    client: AsyncTestClient, police_issuer: str, police_seal: dict
) -> None:
    """Base45 uses %, space and /; the page reads the token exactly as the client percent-encoded it."""
    for _n in range(12):
        cert = await issue(client, police_issuer, household())
        if "%" in cert["token"] and "/" in cert["token"]:
            break
    html = (await client.get(page_url(cert["token"]))).text
    assert "证照有效" in html, cert["token"]


async def test_the_qr_url_opens_the_same_page(client: AsyncTestClient, police_issuer: str, police_seal: dict) -> None:
    """A certificate's QR code holds QR_BASE/V/<token> (upper case, the token's space, % and / escaped): that path
    serves the page /v/ serves, and POST /v1/verify takes the URL as it takes the token."""
    for _ in range(12):  # a token with all three characters that need escaping, to show they survive
        cert = await issue(client, police_issuer, household())
        if all(ch in cert["token"] for ch in " %/"):
            break
    url = cert["qr_url"]
    assert url == "HTTP://127.0.0.1:8000/V/" + cert["token"].replace("%", "%25").replace(" ", "%20").replace("/", "%2F")
    assert all(ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:" for ch in url)
    upper = await client.get(url.removeprefix("HTTP://127.0.0.1:8000"))
    lower = await client.get(page_url(cert["token"]))
    assert upper.status_code == lower.status_code == 200
    assert upper.headers["content-type"] == "text/html; charset=utf-8" and "证照有效" in upper.text
    assert re.sub(r"核验时间[^<]*", "", upper.text) == re.sub(r"核验时间[^<]*", "", lower.text)
    by_url = (await client.post("/v1/verify", json={"token": url})).json()
    by_token = (await client.post("/v1/verify", json={"token": cert["token"]})).json()
    assert by_url == by_token and by_url["valid"] is True
    lower_url = "https://zb.example.cn/v/" + quote(cert["token"], safe="")  # a link typed or shared by hand
    assert (await client.post("/v1/verify", json={"token": lower_url})).json() == by_token
