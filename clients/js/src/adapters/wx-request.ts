/** Transport over `wx.request` (mini-programs). The text body is passed through untouched. */
import type { Transport } from "../core/platform.js";
import type { Wx } from "./wx-types.js";

export function wxTransport(wx: Wx, options: { timeoutMs?: number } = {}): Transport {
  return (request) =>
    new Promise((resolve, reject) => {
      wx.request({
        url: request.url,
        method: request.method,
        header: request.headers,
        data: request.body,
        timeout: request.timeoutMs || options.timeoutMs || 15000,
        dataType: "text",
        responseType: "text",
        success: (res) => {
          const headers: Record<string, string> = {};
          for (const k of Object.keys(res.header || {})) headers[k.toLowerCase()] = String(res.header[k]);
          resolve({ status: res.statusCode, headers, text: typeof res.data === "string" ? res.data : res.data == null ? "" : JSON.stringify(res.data) });
        },
        fail: (err) => reject(new Error(err.errMsg)),
      });
    });
}

/** The code of `wx.login`, for `Auth.wechatLogin`. */
export function wxLoginCode(wx: Wx): Promise<string> {
  return new Promise((resolve, reject) => wx.login({ success: (res) => resolve(res.code), fail: (err) => reject(new Error(err.errMsg)) }));
}
