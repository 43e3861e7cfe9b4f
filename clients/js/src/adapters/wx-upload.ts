/** Uploads with `wx.uploadFile` (multipart from a file on disk; the server computes the SHA-256). */
import type { Uploader } from "../core/platform.js";
import type { Wx } from "./wx-types.js";

export function wxUploader(wx: Wx, options: { timeoutMs?: number } = {}): Uploader {
  return (request) =>
    new Promise((resolve, reject) => {
      if (!("path" in request.file)) {
        reject(new Error("wx.uploadFile needs a file path"));
        return;
      }
      wx.uploadFile({
        url: request.url,
        filePath: request.file.path,
        name: request.field,
        header: request.headers,
        timeout: options.timeoutMs || 60000,
        success: (res) => {
          const headers: Record<string, string> = {};
          for (const k of Object.keys(res.header || {})) headers[k.toLowerCase()] = String((res.header as Record<string, string>)[k]);
          resolve({ status: res.statusCode, headers, text: res.data || "" });
        },
        fail: (err) => reject(new Error(err.errMsg)),
      });
    });
}
