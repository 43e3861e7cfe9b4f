/**
 * Blob uploads queued while offline. `add()` answers a placeholder (`zb-blob:<local id>`) to put in a
 * queued draft or submission; before the mutation is first sent, the sync engine asks `prepare()`,
 * which uploads what is still waiting (multipart: the server computes the SHA-256) and puts each
 * blob's sha256 in place of its placeholder. A web file's bytes are kept through the storage adapter
 * where it can keep files (IndexedDB), so an upload queued offline survives a reload; they are removed
 * once uploaded. A wx file is a path on disk, kept in the queue itself.
 */
import type { HttpCore } from "./http.js";
import type { KeyValueStore, UploadSource, Uploader } from "./platform.js";
import { uuid4 } from "./platform.js";
import { ProblemError, networkProblem } from "./problem.js";

export const PLACEHOLDER = "zb-blob:";

interface Entry {
  localId: string;
  path?: string;
  name?: string;
  /** The bytes are kept by the storage adapter (under fileKey) until uploaded. */
  stored?: boolean;
  sha256?: string;
}

export interface BlobInfo {
  sha256: string;
  size: number;
  content_type: string;
}

export class BlobQueue {
  private readonly http: HttpCore;
  private readonly upload: Uploader;
  private readonly store: KeyValueStore;
  private readonly key: string;
  private entries: Entry[] | null = null;
  /** Web files in this session; where the storage adapter keeps no files, the only copy. */
  private readonly inMemory = new Map<string, Blob>();
  /** Uploads under way, so one file is sent once however many mutations reference it. */
  private readonly sending = new Map<string, Promise<string>>();
  private readonly random: (n: number) => Uint8Array;

  constructor(http: HttpCore, upload: Uploader, store: KeyValueStore, options: { namespace?: string; random?: (n: number) => Uint8Array } = {}) {
    this.http = http;
    this.upload = upload;
    this.store = store;
    this.key = `zb:blobs:${options.namespace || "default"}`;
    this.random = options.random || ((n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
      return out;
    });
  }

  private async load(): Promise<Entry[]> {
    if (!this.entries) {
      const text = await this.store.get(this.key);
      this.entries = text ? (JSON.parse(text) as Entry[]) : [];
    }
    return this.entries;
  }

  private fileKey(localId: string): string {
    return `${this.key}:file:${localId}`;
  }

  private async save(): Promise<void> {
    await this.store.set(this.key, JSON.stringify(this.entries || []));
  }

  /** Queues a file; answers the placeholder to reference it by. Nothing is sent yet. */
  async add(file: UploadSource): Promise<string> {
    const entries = await this.load();
    const localId = uuid4(this.random);
    const entry: Entry = { localId };
    if ("path" in file) entry.path = file.path;
    else {
      this.inMemory.set(localId, file.blob);
      entry.name = file.name;
      if (this.store.putFile) {
        const bytes = await file.blob.arrayBuffer();
        await this.store.putFile(this.fileKey(localId), { bytes, type: file.blob.type || "application/octet-stream", name: file.name });
        entry.stored = true;
      }
    }
    entries.push(entry);
    await this.save();
    return PLACEHOLDER + localId;
  }

  /** Blobs not yet uploaded. */
  async waiting(): Promise<number> {
    return (await this.load()).filter((e) => !e.sha256).length;
  }

  private async entry(placeholder: string): Promise<Entry> {
    const localId = placeholder.slice(PLACEHOLDER.length);
    const entry = (await this.load()).filter((e) => e.localId === localId)[0];
    if (!entry) throw new ProblemError({ type: "blob_unknown", title: "No queued blob has this placeholder", status: 0, detail: placeholder });
    return entry;
  }

  /**
   * The queued file behind a placeholder (to show a preview), from memory or the storage adapter;
   * null once it is uploaded (its bytes are no longer kept) or when it was lost.
   */
  async file(placeholder: string): Promise<UploadSource | null> {
    const entry = await this.entry(placeholder);
    if (entry.path) return { path: entry.path };
    const held = this.inMemory.get(entry.localId);
    if (held) return { blob: held, name: entry.name };
    if (!entry.stored || !this.store.getFile) return null;
    const kept = await this.store.getFile(this.fileKey(entry.localId));
    if (!kept) return null;
    const blob = new Blob([kept.bytes], { type: kept.type });
    this.inMemory.set(entry.localId, blob);
    return { blob, name: kept.name };
  }

  /** Uploads one queued file now (multipart POST /v1/blobs); answers its sha256. */
  async send(placeholder: string): Promise<string> {
    const under = this.sending.get(placeholder);
    if (under) return under;
    const started = this.upload1(placeholder);
    this.sending.set(placeholder, started);
    try {
      return await started;
    } finally {
      this.sending.delete(placeholder);
    }
  }

  private async upload1(placeholder: string): Promise<string> {
    const entry = await this.entry(placeholder);
    const localId = entry.localId;
    if (entry.sha256) return entry.sha256;
    const file = await this.file(placeholder);
    if (!file) throw new ProblemError({ type: "blob_lost", title: "The file was held only in memory and is gone", status: 0, detail: placeholder });
    const tokens = await this.http.currentTokens();
    const headers: Record<string, string> = { accept: "application/json" };
    if (tokens) headers.authorization = `Bearer ${tokens.access_token}`;
    let response;
    try {
      response = await this.upload({ url: `${this.http.baseUrl}/v1/blobs`, headers, file, field: "file" });
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      throw networkProblem(err instanceof Error ? err.message : String(err));
    }
    if (response.status === 401 && tokens && (await this.http.refresh(tokens))) return this.upload1(placeholder);
    const info = this.http.answer<BlobInfo>(response).data;
    entry.sha256 = info.sha256;
    const stored = entry.stored;
    delete entry.stored;
    await this.save();
    this.inMemory.delete(localId);
    if (stored && this.store.removeFile) await this.store.removeFile(this.fileKey(localId));
    return info.sha256;
  }

  /** `args` with every placeholder replaced by its blob's sha256, uploading what is still waiting. */
  async prepare(args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const walk = async (value: unknown): Promise<unknown> => {
      if (typeof value === "string" && value.indexOf(PLACEHOLDER) === 0) return this.send(value);
      if (Array.isArray(value)) {
        const out: unknown[] = [];
        for (const v of value) out.push(await walk(v));
        return out;
      }
      if (value && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(value as Record<string, unknown>)) out[k] = await walk((value as Record<string, unknown>)[k]);
        return out;
      }
      return value;
    };
    return (await walk(args)) as Record<string, unknown>;
  }
}
