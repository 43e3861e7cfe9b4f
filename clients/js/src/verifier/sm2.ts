/**
 * SM2 signature verification with SM3 (GB/T 32918.2, GB/T 32905), signer id `1234567812345678`,
 * as the server signs (esign/sm2.py): `e = SM3(Z_A ‖ M)`, the signature raw `r ‖ s`.
 *
 * The curve arithmetic is @noble/curves' (already the SDK's, for ES256); SM3 is here, small and
 * checked against the standard's examples and against the server's signatures in the corpus test.
 */
import { weierstrassN } from "@noble/curves/abstract/weierstrass.js";

// The output is ES2017 (the mini-program base library), whose typings lack BigInt; the runtimes the
// SDK supports have it, as @noble/curves requires.
declare const BigInt: (value: number | string) => bigint;

const P = BigInt("0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff");
const A = BigInt("0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc");
const B = BigInt("0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
const N = BigInt("0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123");
const GX = BigInt("0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
const GY = BigInt("0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");
const DEFAULT_ID = [0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38];

let point: ReturnType<typeof weierstrassN<bigint>> | null = null;
const Point = () => point || (point = weierstrassN<bigint>({ p: P, n: N, h: BigInt(1), a: A, b: B, Gx: GX, Gy: GY }));

// --- SM3 ---------------------------------------------------------------------------------------------

const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
const rotl = (x: number, n: number) => ((x << (n & 31)) | (x >>> ((32 - (n & 31)) & 31))) >>> 0;
const p0 = (x: number) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const p1 = (x: number) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;

/** SM3 (GB/T 32905) of `data`: 32 bytes. */
export function sm3(data: Uint8Array): Uint8Array {
  const bitLength = data.length * 8;
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const v = IV.slice();
  const w = new Array<number>(68);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) w[j] = view.getUint32(off + 4 * j);
    for (let j = 16; j < 68; j++) w[j] = (p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6]) >>> 0;
    let [a, b, c, d, e, f, g, h] = v;
    for (let j = 0; j < 64; j++) {
      const t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
      const ss1 = rotl((rotl(a, 12) + e + rotl(t, j)) >>> 0, 7);
      const ss2 = (ss1 ^ rotl(a, 12)) >>> 0;
      const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
      const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
      const tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) >>> 0;
      const tt2 = (gg + h + ss1 + w[j]) >>> 0;
      d = c;
      c = rotl(b, 9);
      b = a;
      a = tt1;
      h = g;
      g = rotl(f, 19);
      f = e;
      e = p0(tt2);
    }
    const next = [a, b, c, d, e, f, g, h];
    for (let i = 0; i < 8; i++) v[i] = (v[i] ^ next[i]) >>> 0;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, v[i]);
  return out;
}

// --- SM2 ---------------------------------------------------------------------------------------------

function bytes32(x: bigint): number[] {
  const out: number[] = [];
  for (let i = 31; i >= 0; i--) out.push(Number((x >> BigInt(8 * i)) & BigInt(255)));
  return out;
}

function toBigInt(b: Uint8Array): bigint {
  let x = BigInt(0);
  for (let i = 0; i < b.length; i++) x = (x << BigInt(8)) | BigInt(b[i]);
  return x;
}

/** Verifies a raw 64-byte `r ‖ s` SM2-with-SM3 signature of `data` by an SEC1 SM2 public key. */
export type Sm2Verify = (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array) => Promise<boolean>;

export const sm2Verify: Sm2Verify = async (publicKey, data, signature) => {
  if (signature.length !== 64) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  const zero = BigInt(0);
  if (r <= zero || r >= N || s <= zero || s >= N) return false;
  try {
    const Pt = Point();
    const key = Pt.fromBytes(publicKey);
    key.assertValidity();
    const { x: xA, y: yA } = key.toAffine();
    const z = sm3(Uint8Array.from([0x00, 0x80, ...DEFAULT_ID, ...bytes32(A), ...bytes32(B), ...bytes32(GX), ...bytes32(GY), ...bytes32(xA), ...bytes32(yA)]));
    const message = new Uint8Array(32 + data.length);
    message.set(z);
    message.set(data, 32);
    const e = toBigInt(sm3(message));
    const t = (r + s) % N;
    if (t === zero) return false;
    const sum = Pt.BASE.multiply(s).add(key.multiplyUnsafe(t));
    if (sum.is0()) return false;
    return (e + sum.toAffine().x) % N === r;
  } catch {
    return false;
  }
};
