/** Base45 (RFC 9285), base64 / base64url, hex. */
const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

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
