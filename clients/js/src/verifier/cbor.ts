import { utf8Encode } from "./base.js";

/** A small strict CBOR decoder (RFC 8949): what COSE tokens hold, nothing more (no floats, no indefinite lengths). */
export class Tagged {
  constructor(readonly tag: number, readonly value: CborValue) {}
}
/** A simple value other than false, true and null: SD-CWT's redacted-claims key is simple(59). */
export class Simple {
  constructor(readonly value: number) {}
}
export type CborValue = number | string | Uint8Array | boolean | null | undefined | CborValue[] | Map<CborValue, CborValue> | Tagged | Simple;

/** SD-CWT's key of the redacted claim hashes in a map (draft-ietf-spice-sd-cwt). */
export const REDACTED_KEYS = new Simple(59);

export class CborError extends Error {}

const text = typeof TextDecoder !== "undefined" ? new TextDecoder("utf-8", { fatal: true }) : null;

function utf8(bytes: Uint8Array): string {
  if (text) return text.decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i++];
    let cp = b;
    if (b >= 0xf0) cp = ((b & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
    else if (b >= 0xe0) cp = ((b & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63);
    else if (b >= 0xc0) cp = ((b & 31) << 6) | (bytes[i++] & 63);
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** Decodes exactly one item filling `data`; throws CborError otherwise. */
export function decodeCbor(data: Uint8Array): CborValue {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > data.length) throw new CborError("truncated");
  };
  const arg = (info: number): number => {
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
    if (size < 0) throw new CborError("unsupported length");
    need(size);
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + data[pos++];
    if (v > Number.MAX_SAFE_INTEGER) throw new CborError("integer too large");
    return v;
  };
  const item = (depth: number): CborValue => {
    if (depth > 16) throw new CborError("too deep");
    need(1);
    const head = data[pos++];
    const major = head >> 5;
    const info = head & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1:
        return -1 - arg(info);
      case 2:
      case 3: {
        const n = arg(info);
        need(n);
        const bytes = data.subarray(pos, pos + n);
        pos += n;
        return major === 2 ? bytes.slice() : utf8(bytes);
      }
      case 4: {
        const n = arg(info);
        if (n > data.length) throw new CborError("array too long");
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = arg(info);
        if (n > data.length) throw new CborError("map too long");
        const out = new Map<CborValue, CborValue>();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (out.has(k)) throw new CborError("duplicate key");
          out.set(k, item(depth + 1));
        }
        return out;
      }
      case 6:
        return new Tagged(arg(info), item(depth + 1));
      default:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 24) {
          need(1);
          if (data[pos] === 59) {
            pos += 1;
            return REDACTED_KEYS; // one instance, so Map.get(REDACTED_KEYS) finds it
          }
        }
        throw new CborError("unsupported simple value");
    }
  };
  const value = item(0);
  if (pos !== data.length) throw new CborError("trailing bytes");
  return value;
}

/** The head of a CBOR item (major type, argument), shortest form. */
export function cborHead(major: number, value: number): number[] {
  const m = major << 5;
  if (value < 24) return [m | value];
  if (value < 0x100) return [m | 24, value];
  if (value < 0x10000) return [m | 25, value >> 8, value & 255];
  return [m | 26, (value >>> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255];
}

export function concat(parts: Array<Uint8Array | number[]>): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Canonical CBOR's key order (RFC 7049 §3.9, as cbor2's canonical mode): shorter encodings first, then bytewise. */
function keyOrder(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Encodes what COSE structures hold (integers, text, bytes, arrays, maps, true/false/null, tags,
 * simple(59)) in canonical form: shortest heads, map keys in canonical order.
 */
export function encodeCbor(value: CborValue): Uint8Array {
  const parts: Array<Uint8Array | number[]> = [];
  const put = (v: CborValue): void => {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER) throw new CborError("only safe integers");
      const [major, n] = v < 0 ? [1, -1 - v] : [0, v];
      if (n > 0xffffffff) {
        const high = Math.floor(n / 0x100000000);
        const low = n >>> 0;
        parts.push([(major << 5) | 27, 0, (high >> 16) & 255, (high >> 8) & 255, high & 255, low >>> 24, (low >> 16) & 255, (low >> 8) & 255, low & 255]);
      } else parts.push(cborHead(major, n));
    } else if (typeof v === "string") {
      const b = utf8Encode(v);
      parts.push(cborHead(3, b.length), b);
    } else if (v instanceof Uint8Array) parts.push(cborHead(2, v.length), v);
    else if (Array.isArray(v)) {
      parts.push(cborHead(4, v.length));
      v.forEach(put);
    } else if (v instanceof Map) {
      parts.push(cborHead(5, v.size));
      const entries: Array<[Uint8Array, CborValue]> = [];
      v.forEach((x, k) => entries.push([encodeCbor(k), x]));
      entries.sort((a, b) => keyOrder(a[0], b[0]));
      for (const [k, x] of entries) {
        parts.push(k);
        put(x);
      }
    } else if (v instanceof Tagged) {
      parts.push(cborHead(6, v.tag));
      put(v.value);
    } else if (v instanceof Simple) parts.push([0xf8, v.value]);
    else parts.push([v === false ? 0xf4 : v === true ? 0xf5 : 0xf6]);
  };
  put(value);
  return concat(parts);
}

/** Decodes one item and insists it was in its canonical encoding (one spelling per token); throws CborError. */
export function decodeCanonical(data: Uint8Array): CborValue {
  const item = decodeCbor(data);
  const again = encodeCbor(item);
  if (again.length !== data.length || keyOrder(again, data) !== 0) throw new CborError("not in canonical CBOR");
  return item;
}
