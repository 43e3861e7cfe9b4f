/** ES256 verification: WebCrypto where the platform has it, else @noble/curves (mini-programs). */
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "./base.js";
import { p256 } from "./p256.js";

/** Verifies a raw 64-byte r‖s ES256 signature of `data` by an uncompressed or compressed P-256 point. */
export type Es256Verify = (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array) => Promise<boolean>;

export function nobleEs256(): Es256Verify {
  return async (publicKey, data, signature) => {
    if (signature.length !== 64) return false;
    try {
      return p256().verify(signature, sha256(data), publicKey, { lowS: false, prehash: false });
    } catch {
      return false;
    }
  };
}

interface Subtle {
  importKey(format: "raw", key: Uint8Array, algorithm: { name: string; namedCurve: string }, extractable: boolean, usages: string[]): Promise<unknown>;
  verify(algorithm: { name: string; hash: string }, key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
}

export function webCryptoEs256(subtle: Subtle): Es256Verify {
  const keys = new Map<string, Promise<unknown>>();
  return async (publicKey, data, signature) => {
    if (signature.length !== 64) return false;
    const id = hex(publicKey);
    let key = keys.get(id);
    if (!key) keys.set(id, (key = subtle.importKey("raw", publicKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])));
    try {
      return await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await key, signature, data);
    } catch {
      return false;
    }
  };
}

/** WebCrypto when `crypto.subtle` exists, else the pure-JS verifier. */
export function defaultEs256(): Es256Verify {
  const c = (globalThis as { crypto?: { subtle?: Subtle } }).crypto;
  return c && c.subtle ? webCryptoEs256(c.subtle) : nobleEs256();
}

/** A DER ECDSA signature (certificates) as raw r‖s. */
export function derToRaw(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  let p = 2;
  if (der[1] & 0x80) p += der[1] & 0x7f;
  for (let i = 0; i < 2; i++) {
    if (der[p] !== 0x02) throw new Error("bad ECDSA signature");
    let len = der[p + 1];
    let start = p + 2;
    p = start + len;
    while (len > 32 && der[start] === 0) {
      start += 1;
      len -= 1;
    }
    if (len > 32) throw new Error("bad ECDSA signature");
    out.set(der.subarray(start, start + len), i * 32 + (32 - len));
  }
  return out;
}
