/** The SDK put together: one object per login on one device. */
import { Api } from "./api.js";
import { Auth } from "./auth.js";
import { BlobQueue } from "./blobs.js";
import { DeviceKeyStore, DeviceKeys } from "./holder.js";
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
  /** Where this device's key for `ZB2:` presentations is kept (webCryptoDeviceKey(), wxDeviceKey(wx, storage)). */
  deviceKeys?: DeviceKeyStore;
}

export class ZhangbanClient {
  readonly http: HttpCore;
  readonly auth: Auth;
  readonly sync: SyncEngine;
  readonly blobs: BlobQueue | null;
  /** Typed calls of the server's API (wallet, applications, notifications, consents, 亮证). */
  readonly api: Api;
  /** This device's key for `ZB2:` presentations made offline, when `deviceKeys` was given. */
  readonly devices: DeviceKeys | null;
  private readonly storage: KeyValueStore;

  constructor(options: ClientOptions) {
    this.storage = options.storage;
    this.http = new HttpCore(options.baseUrl, options.transport, options.storage);
    this.auth = new Auth(this.http);
    this.api = new Api(this.http);
    this.devices = options.deviceKeys ? new DeviceKeys(this.http, options.deviceKeys) : null;
    this.blobs = options.uploader ? new BlobQueue(this.http, options.uploader, options.storage, { namespace: options.sync && options.sync.namespace }) : null;
    const blobs = this.blobs;
    this.sync = new SyncEngine(this.http, options.storage, {
      ...(options.sync || {}),
      prepare: blobs ? (args) => blobs.prepare(args) : options.sync && options.sync.prepare,
    });
  }

  /**
   * A certificate's `ZB1:` token for offline use. Synced wallet items carry only `token_sha256`; the
   * token is fetched once and kept, and fetched again only when the item's `token_sha256` changes.
   */
  async walletToken(itemId: string): Promise<string | null> {
    const item = this.sync.get("wallet_item", itemId);
    const inner = item && item.data && typeof item.data === "object" ? (item.data as Record<string, unknown>) : {};
    const wanted = typeof inner.token_sha256 === "string" ? inner.token_sha256 : null;
    if (!wanted) return null;
    const key = `zb:token:${itemId}`;
    const held = await this.storage.get(key);
    if (held) {
      const kept = JSON.parse(held) as { sha256: string; token: string };
      if (kept.sha256 === wanted) return kept.token;
    }
    const answer = await this.api.call("/v1/wallet/items/{item_id}/token", "get", { path: { item_id: itemId } });
    await this.storage.set(key, JSON.stringify({ sha256: answer.token_sha256, token: answer.token }));
    return answer.token;
  }

  /** Loads what this device holds (queue, copy, cursor). */
  open(): Promise<void> {
    return this.sync.open();
  }
}
