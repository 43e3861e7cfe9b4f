/**
 * This device's key where there is no WebCrypto (mini-programs: `wx` has none): a P-256 key made
 * with @noble/curves from the platform's secure random source and kept in the SDK's key-value store
 * (wx storage). The key is extractable by nature, and says so (`nonExtractable: false`).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { DeviceKey, DeviceKeyStore } from "../core/holder.js";
import type { KeyValueStore } from "../core/platform.js";
import { base64Decode, base64urlEncode } from "../verifier/base.js";
import { p256 } from "../verifier/p256.js";
import type { Wx } from "./wx-types.js";

const KEY = "zb:device-key";

/** `random(n)`: n bytes from a cryptographically secure source (never Math.random). */
export function nobleDeviceKey(storage: KeyValueStore, random: (n: number) => Promise<Uint8Array>): DeviceKeyStore {
  const wrap = (secret: Uint8Array): DeviceKey => ({
    publicKey: p256().getPublicKey(secret, false),
    nonExtractable: false,
    sign: async (data) => p256().sign(sha256(data), secret, { prehash: false, lowS: false }).toBytes("compact"),
  });
  return {
    load: async () => {
      const held = await storage.get(KEY);
      return held ? wrap(base64Decode(held)) : null;
    },
    create: async () => {
      const secret = p256().utils.randomSecretKey(await random(48)); // 48 bytes reduced mod n: no bias (FIPS 186-5 A.2.1)
      await storage.set(KEY, base64urlEncode(secret));
      return wrap(secret);
    },
    remove: () => storage.remove(KEY),
  };
}

/** The mini-program's key: wx.getRandomValues (base library 2.22+) as the random source. */
export function wxDeviceKey(wx: Wx, storage: KeyValueStore): DeviceKeyStore {
  return nobleDeviceKey(storage, (length) =>
    new Promise((resolve, reject) => {
      if (typeof wx.getRandomValues !== "function") reject(new Error("wx.getRandomValues is missing: base library 2.22 or later is needed"));
      else wx.getRandomValues({ length, success: (res) => resolve(new Uint8Array(res.randomValues)), fail: (err) => reject(new Error(err.errMsg)) });
    }),
  );
}
