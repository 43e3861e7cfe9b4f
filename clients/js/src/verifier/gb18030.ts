/**
 * GB 18030 to text, for the field values a `ZB1:` token carries as byte strings (FORMATS.md "f").
 *
 * WeChat mini-program runtimes may lack `TextDecoder("gb18030")`, and the libraries that decode it
 * carry every legacy encoding's tables (iconv-lite, the Encoding polyfill: hundreds of KB), so this is
 * a compact table of its own (`gb18030-table.ts`, ~12 KB gzipped, made by `scripts/gb18030_table.py`
 * from the codec the server encodes with) plus the rules that make most of the code space derivable.
 * The table is unpacked on first use. Strict, like the server: a byte sequence that is not GB 18030
 * throws, and the token is then a `format` failure.
 */
import { DERIVED, EXPLICIT, JUMPS, RUNS } from "./gb18030-table.js";

export class Gb18030Error extends Error {}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
const TRAILS = 190; // 40–7E and 80–FE
const SLOTS = 126 * TRAILS;

let twoByte: Uint16Array | null = null; // code point of each two-byte code, by (lead − 81) × 190 + trail index
let fourByte: Uint16Array | null = null; // code point of each four-byte BMP code, by its linear index

function varints(text: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = ALPHABET.indexOf(text[i]);
    value += (digit & 31) * Math.pow(2, shift);
    if (digit & 32) shift += 5;
    else {
      out.push(value);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

function twoByteTable(): Uint16Array {
  if (twoByte) return twoByte;
  const explicit = new Uint16Array(EXPLICIT);
  const jumps = varints(JUMPS);
  const runs = varints(RUNS);
  let n = 0;
  let prev = -1;
  for (let r = 0; r < jumps.length; r++) {
    const z = jumps[r];
    prev += 1 + (z % 2 ? -(z + 1) / 2 : z / 2);
    for (let k = 0; k <= runs[r]; k++) explicit[n++] = prev + k;
    prev += runs[r];
  }
  const used = new Uint8Array(0x9fa6 - 0x4e00);
  for (let i = 0; i < EXPLICIT; i++) if (explicit[i] >= 0x4e00 && explicit[i] <= 0x9fa5) used[explicit[i] - 0x4e00] = 1;
  const table = new Uint16Array(SLOTS);
  let e = 0;
  let derived = 0;
  let cjk = 0;
  for (let slot = 0; slot < SLOTS; slot++) {
    const lead = 0x81 + Math.floor(slot / TRAILS);
    const t = slot % TRAILS;
    const trail = t < 63 ? 0x40 + t : 0x41 + t;
    if (derived < DERIVED && (lead <= 0xa0 || (lead >= 0xaa && trail <= 0xa0))) {
      while (used[cjk]) cjk++;
      table[slot] = 0x4e00 + cjk++;
      derived++;
    } else table[slot] = explicit[e++];
  }
  return (twoByte = table);
}

function fourByteTable(): Uint16Array {
  if (fourByte) return fourByte;
  const inTwo = new Uint8Array(0x10000);
  twoByteTable().forEach((cp) => (inTwo[cp] = 1));
  const table = new Uint16Array(39420);
  let n = 0;
  for (let cp = 0x80; cp <= 0xffff; cp++) if (!inTwo[cp] && (cp < 0xd800 || cp > 0xdfff)) table[n++] = cp;
  return (fourByte = table);
}

/** The text of GB 18030 bytes; throws Gb18030Error for bytes that are not GB 18030. */
export function decodeGb18030(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b1 = bytes[i];
    if (b1 < 0x80) {
      out += String.fromCharCode(b1);
      i += 1;
      continue;
    }
    if (b1 === 0x80 || b1 === 0xff || i + 1 >= bytes.length) throw new Gb18030Error("not GB 18030");
    const b2 = bytes[i + 1];
    if (b2 >= 0x30 && b2 <= 0x39) {
      if (i + 3 >= bytes.length) throw new Gb18030Error("truncated four-byte code");
      const b3 = bytes[i + 2];
      const b4 = bytes[i + 3];
      if (b3 < 0x81 || b3 > 0xfe || b4 < 0x30 || b4 > 0x39) throw new Gb18030Error("not GB 18030");
      const linear = (((b1 - 0x81) * 10 + (b2 - 0x30)) * 126 + (b3 - 0x81)) * 10 + (b4 - 0x30);
      const table = fourByteTable();
      if (linear < table.length) out += String.fromCharCode(table[linear]);
      else {
        const supplementary = linear - 189000; // 90 30 81 30 is U+10000
        if (supplementary < 0 || supplementary > 0xfffff) throw new Gb18030Error("not GB 18030");
        out += String.fromCodePoint(0x10000 + supplementary);
      }
      i += 4;
      continue;
    }
    if (b2 < 0x40 || b2 === 0x7f || b2 === 0xff) throw new Gb18030Error("not GB 18030");
    out += String.fromCharCode(twoByteTable()[(b1 - 0x81) * TRAILS + (b2 < 0x7f ? b2 - 0x40 : b2 - 0x41)]);
    i += 2;
  }
  return out;
}
