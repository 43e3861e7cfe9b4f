/** Base45 (RFC 9285), base64 / base64url, hex. */
const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function base45Encode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 2) {
    let n = i + 1 < bytes.length ? bytes[i] * 256 + bytes[i + 1] : bytes[i];
    const digits = i + 1 < bytes.length ? 3 : 2;
    for (let d = 0; d < digits; d++, n = Math.floor(n / 45)) out += B45[n % 45];
  }
  return out;
}

export function base45Decode(s: string): Uint8Array {
  const out: number[] = [];
  const v = (c: string) => {
    const i = B45.indexOf(c);
    if (i < 0) throw new Error("not Base45");
    return i;
  };
  for (let i = 0; i < s.length; i += 3) {
    const rest = s.length - i;
    if (rest === 1) throw new Error("not Base45");
    const n = v(s[i]) + v(s[i + 1]) * 45 + (rest >= 3 ? v(s[i + 2]) * 2025 : 0);
    if (rest >= 3) {
      if (n > 0xffff) throw new Error("not Base45");
      out.push(n >> 8, n & 255);
    } else {
      if (n > 0xff) throw new Error("not Base45");
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Decode(s: string): Uint8Array {
  const clean = s.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const out: number[] = [];
  let buf = 0;
  let bits = 0;
  for (const c of clean) {
    const i = B64.indexOf(c);
    if (i < 0) throw new Error("not base64");
    buf = (buf << 6) | i;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buf >> bits) & 255);
    }
  }
  return new Uint8Array(out);
}

/** base64url without padding. */
export function base64urlEncode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += B64[(n >> (18 - 6 * c)) & 63];
  }
  return out.replace(/\+/g, "-").replace(/\//g, "_");
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] + 0x100).toString(16).slice(1);
  return s;
}

export function utf8Encode(s: string): Uint8Array {
  if (typeof TextEncoder !== "undefined") return new TextEncoder().encode(s);
  const out: number[] = [];
  const e = unescape(encodeURIComponent(s));
  for (let i = 0; i < e.length; i++) out.push(e.charCodeAt(i));
  return new Uint8Array(out);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
