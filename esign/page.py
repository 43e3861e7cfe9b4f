"""The verification page behind ``GET /v/{token}``: the verdict in plain Chinese, sized for a phone.

No JavaScript and no external resources: one HTML document with its style and the seal picture
inline, so it renders the same from a camera app's browser on a slow connection. Every value that
comes from the token or the database is escaped (the token is attacker-controlled input).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape

from esign.models import VerifyOut

CHINA = timezone(timedelta(hours=8))

CHECKS = {
    "format": "证照码格式",
    "signature": "电子签名",
    "chain": "签章印章与平台根证书",
    "validity": "有效期",
    "status": "吊销 / 暂停状态",
    "presentation_fresh": "亮证码时效",
    "holder_binding": "持证人设备签名",
    "nonce": "核验方随机码",
    "disclosure": "出示内容完整性",
}
RESULTS = {"ok": ("通过", "ok"), "failed": ("未通过", "bad"), "skipped": ("未检查", "skip")}
REASONS = {
    "format": "这不是本平台的电子证照码，或证照码已损坏。",
    "unknown_seal": "签章所用的印章不在平台信任列表中。",
    "signature": "电子签名校验失败，证照内容可能被篡改。",
    "trust_list_expired": "平台信任列表已过期，无法确认印章。",
    "seal_revoked": "签章所用的印章已被吊销。",
    "seal_not_active": "签发时印章不在有效期内。",
    "seal_role": "印章用途与证照不符。",
    "issuer_mismatch": "签发机关与印章所属单位不一致。",
    "chain": "印章证书不受平台根证书信任。",
    "seal_type": "该印章无权签发此类证照。",
    "not_yet_valid": "证照尚未生效。",
    "expired": "证照已过有效期。",
    "revoked": "证照已被签发机关吊销。",
    "suspended": "证照已被签发机关暂停使用。",
    "status_unavailable": "暂时无法查询证照状态。",
    "presentation_lifetime": "亮证码的有效时长不符合规定。",
    "presentation_expired": "亮证码已过期，请持证人重新出示。",
    "credential_expired": "持证人设备上的亮证凭证已过期，请持证人联网更新。",
    "holder_binding": "亮证码不是由登记的持证人设备生成的，可能是他人复制。",
    "nonce": "亮证码未包含本次核验的随机码，可能是截图或重放。",
    "disclosure": "出示的证照内容与签发内容不符。",
}

STYLE = """
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
background:#f4f5f7;color:#1f2329;font-size:16px;line-height:1.5}
main{max-width:480px;margin:0 auto;padding:0 0 24px}
.verdict{color:#fff;text-align:center;padding:28px 16px 22px}
.verdict.ok{background:#1a7f37}.verdict.bad{background:#c62828}
.mark{font-size:64px;line-height:1;font-weight:bold}
h1{font-size:28px;margin:8px 0 4px}
.verdict p{margin:4px 0;font-size:16px}
section.card{background:#fff;margin:12px;border-radius:10px;padding:12px 16px}
h2{font-size:17px;margin:4px 0 8px;color:#444}
ul.checks{list-style:none;margin:0;padding:0}
ul.checks li{display:flex;justify-content:space-between;padding:6px 0;border-bottom:1px solid #eee}
.r.ok{color:#1a7f37}.r.bad{color:#c62828;font-weight:bold}.r.skip{color:#999}
dl{margin:0}dt{color:#777;font-size:14px;margin-top:8px}dd{margin:0;font-size:17px;word-break:break-all}
.seal{text-align:center}.seal svg{width:160px;height:160px}
footer{color:#888;font-size:13px;text-align:center;padding:8px 16px}
"""


def _time(t: datetime | None) -> str:
    return t.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M") if t else "长期有效"


def render_page(result: VerifyOut, *, seal_svg: str | None, checked_at: datetime) -> str:
    """The whole HTML document for one verdict; fields are shown by the labels of the trust list's type
    registry. ``seal_svg`` is trusted (made by ``esign.seal_image``)."""
    ok = result.valid
    title = "证照有效" if ok else "证照无效"
    cert = result.certificate
    if cert is not None and cert.kind == "presentation" and ok:
        title = "亮证码有效"
    reasons = "".join(f"<p>{escape(REASONS.get(r, r))}</p>" for r in result.reasons)
    lead = "电子签名、印章和状态均已核验通过。" if ok else ""
    checks = "".join(
        f"<li><span>{escape(CHECKS.get(name, name))}</span>"
        f'<span class="r {RESULTS.get(value, (value, "skip"))[1]}">{escape(RESULTS.get(value, (value,))[0])}</span></li>'
        for name, value in result.checks.items()
    )
    parts = [
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{escape(title)} - 电子证照核验</title><style>{STYLE}</style></head><body><main>",
        f'<section class="verdict {"ok" if ok else "bad"}" id="verdict">',
        f'<div class="mark">{"✓" if ok else "✗"}</div><h1>{escape(title)}</h1>',
        f"<p>{escape(lead)}</p>" if lead else "",
        reasons,
        "</section>",
        f'<section class="card"><h2>核验项目</h2><ul class="checks">{checks}</ul></section>',
    ]
    if cert is not None:
        rows = [
            ("证照类型", cert.type_name or cert.type_code),
            ("证照标识", cert.licence_id),
            ("持证人", cert.holder_masked.name),
            ("证件号码", cert.holder_masked.id),
            ("签发机关", cert.issuer.name or cert.issuer.credit_code),
            ("签发时间", _time(cert.issued_at)),
            ("有效期至", _time(cert.valid_until) if cert.kind == "certificate" else "以证照为准"),
        ]
        if cert.kind == "presentation":
            rows.append(
                (
                    "出示方式",
                    "持证人设备离线生成（已绑定设备密钥）" if cert.holder_bound else "服务端生成（未绑定持证人设备）",
                )
            )
        rows += [(f.label or f.key or f"#{f.n}", str(f.value)) for f in cert.fields]
        items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows if v)
        parts.append(f'<section class="card"><h2>证照信息</h2><dl>{items}</dl></section>')
    if seal_svg:
        parts.append(f'<section class="card seal"><h2>签章</h2>{seal_svg}</section>')
    freshness = {"fresh": "最新", "stale": "待更新", "expired": "已过期"}.get(result.trust_list or "", "")
    parts.append(
        f"<footer>核验时间 {escape(_time(checked_at))}"
        + (f" · 信任列表{escape(freshness)}" if freshness else "")
        + "<br>掌办电子证照核验服务</footer></main></body></html>"
    )
    return "".join(parts)
