// 亮证：从卡包选一张证照，只披露选中的字段，得到 300 秒内有效的二维码内容。
export async function presentCertificate(client, fields) {
  const wallet = await client.api.wallet.items({ kind: "certificate" });
  const item = wallet.items[0];
  const shown = await client.api.wallet.present(item.id, { fields, ttl_seconds: 120, png: false });
  // 二维码内容：QR_BASE + "/V/" + 令牌，任何扫码都能打开核验页。
  const qrUrl = `${client.http.baseUrl.toUpperCase()}/V/${shown.qr.replace(/%/g, "%25").replace(/ /g, "%20").replace(/\//g, "%2F")}`;
  return { token: shown.qr, qrUrl, expiresAt: shown.expires_at };
}
