/** Uploads with `fetch` and `FormData` (multipart; the server computes the SHA-256). */
import type { Uploader } from "../core/platform.js";

export function fetchUploader(fetchFn: typeof fetch = fetch): Uploader {
  return async (request) => {
    if (!("blob" in request.file)) throw new Error("fetch uploads need a Blob");
    const form = new FormData();
    form.append(request.field, request.file.blob, request.file.name || "file");
    const res = await fetchFn(request.url, { method: "POST", headers: request.headers, body: form });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    return { status: res.status, headers, text: await res.text() };
  };
}
