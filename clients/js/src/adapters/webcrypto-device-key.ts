/**
 * This device's key on the web: a WebCrypto P-256 key made non-extractable (the private key can
 * sign but never be read out, not even by this app's scripts) and kept as a CryptoKey in IndexedDB.
 */
import type { DeviceKey, DeviceKeyStore } from "../core/holder.js";

const RECORD = "device-key";

export function webCryptoDeviceKey(name = "zhangban-device", subtle: SubtleCrypto = crypto.subtle, factory: IDBFactory = indexedDB): DeviceKeyStore {
  const db = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore("keys");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  const run = async <T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest): Promise<T> => {
    const d = await db();
    try {
      return await new Promise<T>((resolve, reject) => {
        const tx = d.transaction("keys", mode);
        const req = fn(tx.objectStore("keys"));
        tx.oncomplete = () => resolve(req.result as T);
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } finally {
      d.close();
    }
  };
  const wrap = async (pair: CryptoKeyPair): Promise<DeviceKey> => ({
    publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)),
    nonExtractable: !pair.privateKey.extractable,
    sign: async (data) => new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, data as Uint8Array<ArrayBuffer>)),
  });
  return {
    load: async () => {
      const pair = await run<CryptoKeyPair | undefined>("readonly", (s) => s.get(RECORD));
      return pair && pair.privateKey ? wrap(pair) : null;
    },
    create: async () => {
      const pair = (await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
      await run("readwrite", (s) => s.put(pair, RECORD));
      return wrap(pair);
    },
    remove: async () => {
      await run("readwrite", (s) => s.delete(RECORD));
    },
  };
}
