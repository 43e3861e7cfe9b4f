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
  const c = verdict.certificate; // 字段按信任列表的类型登记表显示中文名称
  return { ok: true, type: c.type_name, licenceId: c.licence_id, fields: c.fields.map((f) => [f.label || `#${f.n}`, f.value]) };
}
