/** The SDK put together: one object per login on one device. */
import { Api } from "./api.js";
import { Auth } from "./auth.js";
import { BlobQueue } from "./blobs.js";
import { HttpCore } from "./http.js";
import type { KeyValueStore, Transport, Uploader } from "./platform.js";
import { SyncEngine } from "./sync.js";
import type { SyncOptions } from "./sync.js";

export interface ClientOptions {
  baseUrl: string;
  transport: Transport;
  storage: KeyValueStore;
  uploader?: Uploader;
  sync?: SyncOptions;
}

export class ZhangbanClient {
  readonly http: HttpCore;
  readonly auth: Auth;
  readonly sync: SyncEngine;
  readonly blobs: BlobQueue | null;
  /** Typed calls of the server's API (wallet, applications, notifications, consents, 亮证). */
  readonly api: Api;

  constructor(options: ClientOptions) {
    this.http = new HttpCore(options.baseUrl, options.transport, options.storage);
    this.auth = new Auth(this.http);
    this.api = new Api(this.http);
    this.blobs = options.uploader ? new BlobQueue(this.http, options.uploader, options.storage, { namespace: options.sync && options.sync.namespace }) : null;
    const blobs = this.blobs;
    this.sync = new SyncEngine(this.http, options.storage, {
      ...(options.sync || {}),
      prepare: blobs ? (args) => blobs.prepare(args) : options.sync && options.sync.prepare,
    });
  }

  /** Loads what this device holds (queue, copy, cursor). */
  open(): Promise<void> {
    return this.sync.open();
  }
}
