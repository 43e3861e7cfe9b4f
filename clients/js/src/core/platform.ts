/** What the core needs from a platform; adapters (one file per capability) provide it. */

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  url: string;
  headers: Record<string, string>;
  /** JSON text, or form-encoded text; never an object. */
  body?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The body as text ("" when empty). */
  text: string;
}

/** Sends one HTTP request. Rejects (with anything) only when no answer came: network down, timeout. */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

/** An asynchronous string key-value store (wx storage, IndexedDB, memory). */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
  keys(prefix: string): Promise<string[]>;
  /**
   * Where the platform can keep files beside the values (IndexedDB), a queued upload's bytes are kept
   * under `key` so the upload survives a reload; stores without these hold web files in memory only.
   */
  putFile?(key: string, file: StoredFile): Promise<void>;
  getFile?(key: string): Promise<StoredFile | null>;
  removeFile?(key: string): Promise<void>;
}

/** A file's bytes as a storage adapter keeps them. */
export interface StoredFile {
  bytes: ArrayBuffer;
  type: string;
  name?: string;
}

/** A file to upload: a path on disk (wx), or a Blob (web). */
export type UploadSource = { path: string } | { blob: Blob; name?: string };

export interface UploadRequest {
  url: string;
  headers: Record<string, string>;
  file: UploadSource;
  /** The multipart part's name ("file"). */
  field: string;
}

/** Uploads a file as multipart/form-data; answers like a Transport. */
export type Uploader = (request: UploadRequest) => Promise<HttpResponse>;

/** A live channel (WebSocket, wx socket, EventSource) delivering the server's events. */
export interface LiveEvent {
  id: string | null;
  event: string;
  data: string;
}

export interface LiveHandlers {
  onEvent(event: LiveEvent): void;
  onClose(reason: string): void;
}

export interface LiveConnection {
  close(): void;
}

export type LiveConnector = (url: string, handlers: LiveHandlers) => LiveConnection;

/** Time and waiting, injectable so tests and platforms agree. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A random UUID v4 from a source of random bytes. */
export function uuid4(random: (n: number) => Uint8Array): string {
  const b = random(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.prototype.map.call(b, (x: number) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
