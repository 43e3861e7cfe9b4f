/** Storage in memory: tests, and web pages that keep nothing across reloads. */
import type { KeyValueStore } from "../core/platform.js";

export function memoryStorage(): KeyValueStore & { size(): number } {
  const data = new Map<string, string>();
  return {
    get: async (key) => (data.has(key) ? (data.get(key) as string) : null),
    set: async (key, value) => {
      data.set(key, value);
    },
    remove: async (key) => {
      data.delete(key);
    },
    keys: async (prefix) => Array.from(data.keys()).filter((k) => k.indexOf(prefix) === 0),
    size: () => data.size,
  };
}
