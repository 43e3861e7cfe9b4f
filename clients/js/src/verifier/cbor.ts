/** A small strict CBOR decoder (RFC 8949): what COSE tokens hold, nothing more (no floats, no indefinite lengths). */
export class Tagged {
  constructor(readonly tag: number, readonly value: CborValue) {}
}
export type CborValue = number | string | Uint8Array | boolean | null | undefined | CborValue[] | Map<CborValue, CborValue> | Tagged;

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
