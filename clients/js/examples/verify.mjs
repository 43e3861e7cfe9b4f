// 离线核验：预置根证书，联网时下载信任列表与状态列表缓存起来；扫码后无需联网即可核验。
import { base64Decode, parseStatusList, parseTrustList, verifyToken } from "@zhangban/sdk";

export async function downloadTrust(fetchText, rootCertBase64) {
  const trust = await parseTrustList(await fetchText("/v1/trust-list"), base64Decode(rootCertBase64));
  const lists = new Map();
  for (const [id, url] of trust.statusLists) lists.set(id, await parseStatusList(await fetchText(url), trust));
  return { trust, lists };
}

export async function verifyOffline(scanned, { trust, lists }) {
  const verdict = await verifyToken(scanned, trust, lists); // 令牌或 /V/ 链接都可以
  if (!verdict.valid) return { ok: false, reasons: verdict.reasons };
  // 字段按信任列表类型登记表里的中文名称显示（verdict.certificate 另有 type_name、licence_id）
  return { ok: true, fields: verdict.certificate.fields.map((f) => [f.label || `#${f.n}`, f.value]) };
}
