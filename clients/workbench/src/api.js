// The workbench's calls to the API: the staff member's token in sessionStorage (gone when the tab closes),
// JSON in and out, RFC 9457 problems turned into Error objects carrying the problem.
const KEY = "zb-workbench-token";

export const token = { get: () => sessionStorage.getItem(KEY), set: (t) => sessionStorage.setItem(KEY, t),
                       clear: () => sessionStorage.removeItem(KEY) };

export class Problem extends Error {
  constructor(body, status) {
    super(body.title ? `${body.title}${body.detail ? `（${body.detail}）` : ""}` : `请求失败（${status}）`);
    this.problem = body;
    this.status = status;
  }
}

export async function call(method, path, body, { raw = false, headers = {} } = {}) {
  const h = { ...headers };
  if (token.get()) h.Authorization = `Bearer ${token.get()}`;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) payload = body;
  else if (body !== undefined) { h["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers: h, body: payload });
  if (!r.ok) {
    const problem = await r.json().catch(() => ({}));
    if (r.status === 401) token.clear();
    throw new Problem(problem, r.status);
  }
  if (raw) return r.blob();
  return r.status === 204 ? null : r.json();
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
