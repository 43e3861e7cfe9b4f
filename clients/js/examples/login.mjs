// 登录：wx.login 换取令牌，再做实人认证（人脸核身由小程序自己调用，SDK 只把 verify_id 交给它）。
import { ZhangbanClient, wxTransport, wxStorage, wxUploader, wxLoginCode } from "@zhangban/sdk";

export async function login(wx, baseUrl, person) {
  const client = new ZhangbanClient({
    baseUrl,
    transport: wxTransport(wx), // wx.request
    storage: wxStorage(wx), // wx 本地存储，按 1 MB 一块分片
    uploader: wxUploader(wx), // wx.uploadFile
  });
  await client.open();
  if (!(await client.auth.loggedIn())) {
    await client.auth.wechatLogin(await wxLoginCode(wx));
  }
  // 实人认证：开始 → 小程序人脸核身 → 服务端完成；完成后令牌自动刷新为 L3。
  await client.auth.realname(person, (session) =>
    new Promise((resolve, reject) =>
      wx.startFacialRecognitionVerify({ verifyId: session.verify_id, success: () => resolve(), fail: reject })));
  return client;
}
