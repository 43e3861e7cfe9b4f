// 亮证：从卡包选一张证照，只披露选中的字段，得到 300 秒内有效的二维码内容。
export async function presentCertificate(client, fields) {
  const wallet = await client.api.wallet.items({ kind: "certificate" });
  const item = wallet.items[0];
  const shown = await client.api.wallet.present(item.id, { fields, ttl_seconds: 120, png: false });
  // 二维码内容 shown.qr_url：QR_BASE + "/V/" + 令牌（空格、%、/ 已转义），全是二维码字母数字模式的字符，
  // 手机相机或微信扫一扫即可打开核验页；核验 App 也可直接从中取出令牌离线核验。
  return { token: shown.qr, qrUrl: shown.qr_url, expiresAt: shown.expires_at };
}
