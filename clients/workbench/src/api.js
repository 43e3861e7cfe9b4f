// The workbench's calls to the API through the SDK (@zhangban/sdk): its HTTP core keeps the staff member's
// tokens in sessionStorage (gone when the tab closes) and refreshes them, its Auth logs in with the SMS code and
// the authenticator's code, and failures are its ProblemErrors. Scans and printed pages are bytes, sent and read
// with fetch and the SDK's current token.
import { Auth, HttpCore, ProblemError, fetchTransport } from "@zhangban/sdk";

const store = {
  get: async (key) => sessionStorage.getItem(key),
  set: async (key, value) => sessionStorage.setItem(key, value),
  remove: async (key) => sessionStorage.removeItem(key),
  keys: async (prefix) => Object.keys(sessionStorage).filter((k) => k.startsWith(prefix)),
};

export const http = new HttpCore(location.origin, fetchTransport(), store);
export const auth = new Auth(http);

/** A problem in a sentence for the staff member. */
export function describe(err) {
  if (err instanceof ProblemError) {
    if (err.status === 0) return "网络不可用，请稍后重试";
    const p = err.problem;
    return p.title ? `${p.title}${p.detail ? `（${p.detail}）` : ""}` : `请求失败（${p.status}）`;
  }
  return err && err.message ? err.message : String(err);
}

/** A JSON call; answers the body. */
export async function call(method, path, body) {
  return (await http.call(method, path, body === undefined ? {} : { body })).data;
}

async function bearer() {
  const tokens = await http.currentTokens();
  return tokens ? { Authorization: `Bearer ${tokens.access_token}` } : {};
}

/** PUT the bytes of a scan to the blob store under their SHA-256. */
export async function upload(sha, bytes, type) {
  const r = await fetch(`/v1/blobs/${sha}`, { method: "PUT", body: bytes, headers: { ...(await bearer()), "Content-Type": type } });
  if (!r.ok) http.answer({ status: r.status, headers: {}, text: await r.text() }); // throws its ProblemError
}

/** GET bytes (a printed page). */
export async function download(path) {
  const r = await fetch(path, { headers: await bearer() });
  if (!r.ok) http.answer({ status: r.status, headers: {}, text: await r.text() }); // throws its ProblemError
  return r.blob();
}

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
