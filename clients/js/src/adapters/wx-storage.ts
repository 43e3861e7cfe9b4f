/**
 * Mini-program storage (`wx.getStorage` / `wx.setStorage`), chunked under WeChat's limits: 1 MB per
 * key, 10 MB in all. A value longer than one chunk is written as chunks of a new generation first,
 * then the head key naming them, then the old chunks are removed: a crash leaves the old or the new
 * value, never a mix.
 */
import type { KeyValueStore } from "../core/platform.js";
import { ProblemError } from "../core/problem.js";
import type { Wx, WxFail } from "./wx-types.js";

/** Characters per chunk: at most 3 bytes each in UTF-8, so a chunk stays under 1 MB. */
export const WX_CHUNK_CHARS = 300 * 1024;
const HEAD = "\u0000zbc:";

function call<T>(fn: (done: (value: T) => void, fail: (err: WxFail) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn(resolve, reject));
}

function storageError(err: WxFail, key: string): ProblemError {
  const full = /exceed|limit|quota/i.test(err.errMsg);
  return new ProblemError({
    type: full ? "storage_full" : "storage_failed",
    title: full ? "The mini-program's storage is full (10 MB)" : "Writing to storage failed",
    status: 0,
    detail: `${key}: ${err.errMsg}`,
  });
}

export function wxStorage(wx: Wx, options: { chunkChars?: number } = {}): KeyValueStore {
  const chunk = options.chunkChars || WX_CHUNK_CHARS;
  const rawGet = (key: string) =>
    call<string | null>((done) =>
      wx.getStorage({ key, success: (res) => done(typeof res.data === "string" ? res.data : res.data == null ? null : JSON.stringify(res.data)), fail: () => done(null) }));
  const rawSet = (key: string, data: string) =>
    call<void>((done, fail) => wx.setStorage({ key, data, success: () => done(undefined), fail })).catch((err: WxFail) => {
      throw storageError(err, key);
    });
  const rawRemove = (key: string) => call<void>((done) => wx.removeStorage({ key, success: () => done(undefined), fail: () => done(undefined) }));
  const head = (value: string | null): { gen: string; n: number } | null => {
    if (!value || value.indexOf(HEAD) !== 0) return null;
    const [gen, n] = value.slice(HEAD.length).split(":");
    return { gen, n: Number(n) };
  };
  const removeChunks = async (key: string, h: { gen: string; n: number } | null) => {
    if (h) for (let i = 0; i < h.n; i++) await rawRemove(`${key}#${h.gen}.${i}`);
  };
  return {
    async get(key) {
      const value = await rawGet(key);
      const h = head(value);
      if (!h) return value;
      const parts: string[] = [];
      for (let i = 0; i < h.n; i++) {
        const part = await rawGet(`${key}#${h.gen}.${i}`);
        if (part === null) return null;
        parts.push(part);
      }
      return parts.join("");
    },
    async set(key, value) {
      const old = head(await rawGet(key));
      if (value.length <= chunk && value.indexOf(HEAD) !== 0) {
        await rawSet(key, value);
      } else {
        const gen = old ? String(Number(old.gen) + 1) : "1";
        const n = Math.ceil(value.length / chunk);
        for (let i = 0; i < n; i++) await rawSet(`${key}#${gen}.${i}`, value.slice(i * chunk, (i + 1) * chunk));
        await rawSet(key, `${HEAD}${gen}:${n}`);
      }
      await removeChunks(key, old);
    },
    async remove(key) {
      const old = head(await rawGet(key));
      await rawRemove(key);
      await removeChunks(key, old);
    },
    async keys(prefix) {
      const info = await call<{ keys: string[] }>((done, fail) => wx.getStorageInfo({ success: done, fail }));
      return info.keys.filter((k) => k.indexOf(prefix) === 0 && k.indexOf("#") < 0);
    },
  };
}
