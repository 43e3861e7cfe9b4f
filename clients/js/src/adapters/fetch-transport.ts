/** Transport over `fetch` (browsers, Node 18+). */
import type { Transport } from "../core/platform.js";

export function fetchTransport(fetchFn: typeof fetch = fetch, options: { timeoutMs?: number } = {}): Transport {
  return async (request) => {
    const controller = typeof AbortController !== "undefined" ? new AbortController() : null;
    const timer = controller ? setTimeout(() => controller.abort(), request.timeoutMs || options.timeoutMs || 15000) : null;
    try {
      const res = await fetchFn(request.url, { method: request.method, headers: request.headers, body: request.body, signal: controller ? controller.signal : undefined });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, key) => {
        headers[key.toLowerCase()] = value;
      });
      return { status: res.status, headers, text: await res.text() };
    } finally {
      if (timer) clearTimeout(timer);
    }
  };
}
