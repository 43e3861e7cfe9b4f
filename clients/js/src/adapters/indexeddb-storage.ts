/**
 * Storage in IndexedDB (browsers): one object store of string values, and of files (a queued upload's
 * bytes as an ArrayBuffer with its type and name) so an upload queued offline survives a reload.
 */
import type { KeyValueStore, StoredFile } from "../core/platform.js";

export function indexedDbStorage(name = "zhangban", factory: IDBFactory = indexedDB): KeyValueStore {
  let opened: Promise<IDBDatabase> | null = null;
  const db = () =>
    (opened =
      opened ||
      new Promise<IDBDatabase>((resolve, reject) => {
        const req = factory.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore("kv");
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      }));
  const run = async <T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const d = await db();
    return new Promise<T>((resolve, reject) => {
      const tx = d.transaction("kv", mode);
      const req = fn(tx.objectStore("kv"));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    get: async (key) => {
      const value = await run<unknown>("readonly", (s) => s.get(key));
      return typeof value === "string" ? value : null;
    },
    set: async (key, value) => {
      await run("readwrite", (s) => s.put(value, key));
    },
    remove: async (key) => {
      await run("readwrite", (s) => s.delete(key));
    },
    putFile: async (key, file) => {
      await run("readwrite", (s) => s.put({ bytes: file.bytes, type: file.type, name: file.name }, key));
    },
    getFile: async (key) => {
      const value = await run<unknown>("readonly", (s) => s.get(key));
      if (!value || typeof value !== "object" || typeof ((value as StoredFile).bytes || {}).byteLength !== "number") return null;
      return value as StoredFile;
    },
    removeFile: async (key) => {
      await run("readwrite", (s) => s.delete(key));
    },
    keys: async (prefix) => {
      const all = await run<IDBValidKey[]>("readonly", (s) => s.getAllKeys());
      return all.map(String).filter((k) => k.indexOf(prefix) === 0);
    },
  };
}
