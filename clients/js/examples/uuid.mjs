// 小程序没有 crypto.randomUUID：用 SDK 的 uuid4 和 wx.getRandomValues / Math.random 都可以。
import { uuid4 } from "@zhangban/sdk";

export function randomUUID() {
  return uuid4((n) => Uint8Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
}
