/**
 * The offline-first sync engine (FORMATS.md §Sync): a local copy per entity, a persisted cursor, a
 * queue of mutations with gap-free per-client sequence numbers that is written before it is sent,
 * push then pull with backoff, optimistic effects laid over the server copy (rebased on every
 * pull), resets read into a shadow copy swapped in only after the last page, conflict callbacks.
 */
import type { HttpCore } from "./http.js";
import type { Clock, KeyValueStore } from "./platform.js";
import { systemClock, uuid4 } from "./platform.js";
import { ProblemError } from "./problem.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

export type Entity = "wallet_item" | "application" | "draft" | "notification" | "consent" | string;

export interface StoredRecord {
  version: number;
  data: Record<string, unknown>;
}

export interface Mutation {
  id: string;
  seq: number;
  name: string;
  args: Record<string, unknown>;
  base_version?: number;
}

export interface PendingMutation extends Mutation {
  /** The server copy the edit started from (drafts): the common base handed to conflict callbacks. */
  base?: Record<string, unknown> | null;
}

export interface MutationResult {
  id: string;
  status: "applied" | "duplicate" | "rejected" | "conflict" | "gap";
  code?: string | null;
  version?: number | null;
  data?: unknown;
}

export interface Change {
  entity: Entity;
  id: string;
  op: "put" | "del";
  version: number;
  data?: Record<string, unknown> | null;
}

export interface PullPage {
  changes: Change[];
  cursor: string;
  has_more: boolean;
  reset: boolean;
  last_seq?: number | null;
  checkpoint?: { count: number; digest?: string } | null;
}

export interface Conflict {
  mutation: PendingMutation;
  /** The draft as it was when the local edit began (null when unknown). */
  base: Record<string, unknown> | null;
  /** The local edit's arguments. */
  local: Record<string, unknown>;
  /** The server's copy now (null when the draft was deleted elsewhere). */
  server: Record<string, unknown> | null;
  serverVersion: number | null;
}

/** Answer new args to queue the merged edit again (based on the server copy), or null to give it up. */
export type ConflictHandler = (conflict: Conflict) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>;

/** An optimistic effect: how a queued mutation changes the local view before the server answers. */
export type Effect = (view: LocalView, args: Record<string, unknown>, now: number) => void;

export interface LocalView {
  get(entity: Entity, id: string): Record<string, unknown> | undefined;
  put(entity: Entity, id: string, data: Record<string, unknown>): void;
  del(entity: Entity, id: string): void;
}

export interface SyncOptions {
  /** Storage key prefix, so two accounts or apps on one device keep apart. */
  namespace?: string;
  pageSize?: number;
  pushBatch?: number;
  clock?: Clock;
  random?: (n: number) => Uint8Array;
  onConflict?: ConflictHandler;
  /** Every final result of a pushed mutation (applied, duplicate, rejected, conflict). */
  onResult?: (mutation: PendingMutation, result: MutationResult) => void;
  /** After local data changed (pull or a new mutation). */
  onChange?: () => void;
  effects?: Record<string, Effect>;
  /** Resolves blob placeholders in args before the first send (the blob queue does). */
  prepare?: (args: Record<string, unknown>) => Promise<Record<string, unknown>>;
  maxBackoffMs?: number;
}

interface Meta {
  clientId: string;
  nextSeq: number;
  cursor: string | null;
  etag: string | null;
  gen: number;
  /** A reset being read into generation `gen`, with the cursor of its last stored page. */
  resetting: { gen: number; cursor: string; entities: string[] } | null;
  entities: string[];
}

const FINAL = { applied: true, duplicate: true, rejected: true, conflict: true };

function defaultRandom(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c && c.getRandomValues) return c.getRandomValues(out);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** A ready conflict handler for drafts: the server copy's form with this device's fields laid over it. */
export const mergeDraftForms: ConflictHandler = (c) => {
  if (!c.server) return null; // deleted on another device: the deletion wins
  const serverForm = (c.server.form as Record<string, unknown>) || {};
  const localForm = (c.local.form as Record<string, unknown>) || {};
  const baseForm = (c.base && (c.base.form as Record<string, unknown>)) || {};
  const form: Record<string, unknown> = { ...serverForm };
  for (const key of Object.keys(localForm)) {
    // Only the fields this device changed from the common base override the server's.
    if (JSON.stringify(localForm[key]) !== JSON.stringify(baseForm[key])) form[key] = localForm[key];
  }
  return { ...c.local, form };
};

export const defaultEffects: Record<string, Effect> = {
  "draft.save": (view, args) => {
    const id = String(args.draft_id);
    view.put("draft", id, { ...(view.get("draft", id) || {}), ...args, id });
  },
  "draft.delete": (view, args) => view.del("draft", String(args.draft_id)),
  "notification.read": (view, args, now) => {
    const id = String(args.notification_id);
    const current = view.get("notification", id);
    if (current && !current.read_at) view.put("notification", id, { ...current, read_at: new Date(now).toISOString() });
  },
  "consent.revoke": (view, args) => {
    const id = String(args.consent_id);
    const current = view.get("consent", id);
    if (current) view.put("consent", id, { ...current, status: "revoked" });
  },
};

type Table = Map<string, StoredRecord>;

/**
 * The checkpoint of a copy as the server computes it: one line `entity:id:version` per record,
 * sorted by bytes, each ended by LF, hashed with SHA-256 (lower-case hex); `count` the lines.
 */
export function checkpointOf(tables: Map<string, Map<string, StoredRecord>>): { count: number; digest: string } {
  const lines: string[] = [];
  tables.forEach((table, entity) => table.forEach((rec, id) => lines.push(`${entity}:${id.toLowerCase()}:${rec.version}\n`)));
  lines.sort();
  return { count: lines.length, digest: bytesToHex(sha256(utf8ToBytes(lines.join("")))) };
}

/** A draft's own version (what `base_version` names): its data's `version`, else the change's. */
function draftVersion(rec: StoredRecord): number {
  return typeof rec.data.version === "number" ? (rec.data.version as number) : rec.version;
}

export class SyncEngine {
  private readonly http: HttpCore;
  private readonly store: KeyValueStore;
  private readonly ns: string;
  private readonly options: SyncOptions;
  private readonly clock: Clock;
  private meta: Meta | null = null;
  private records = new Map<string, Table>();
  private queue: PendingMutation[] = [];
  private view: Map<string, Map<string, Record<string, unknown>>> | null = null;
  private running: Promise<void> | null = null;
  private failures = 0;
  /** Final results by mutation id, for mutations this engine saw settle. */
  readonly outcomes = new Map<string, MutationResult>();

  constructor(http: HttpCore, store: KeyValueStore, options: SyncOptions = {}) {
    this.http = http;
    this.store = store;
    this.options = options;
    this.ns = `zb:sync:${options.namespace || "default"}:`;
    this.clock = options.clock || systemClock;
  }

  // --- persistence -----------------------------------------------------------------------------

  /** Loads the copy, cursor and queue; resumes where the last run stopped. */
  async open(): Promise<void> {
    if (this.meta) return;
    const text = await this.store.get(this.ns + "meta");
    const random = this.options.random || defaultRandom;
    const meta: Meta = text
      ? (JSON.parse(text) as Meta)
      : { clientId: uuid4(random), nextSeq: 1, cursor: null, etag: null, gen: 0, resetting: null, entities: [] };
    const queueText = await this.store.get(this.ns + "queue");
    this.queue = queueText ? (JSON.parse(queueText) as PendingMutation[]) : [];
    for (const entity of meta.entities) this.records.set(entity, await this.loadTable(meta.gen, entity));
    this.meta = meta;
    if (!text) await this.saveMeta();
  }

  private async loadTable(gen: number, entity: string): Promise<Table> {
    const text = await this.store.get(`${this.ns}g${gen}:${entity}`);
    const table: Table = new Map();
    if (text) {
      const obj = JSON.parse(text) as Record<string, StoredRecord>;
      for (const id of Object.keys(obj)) table.set(id, obj[id]);
    }
    return table;
  }

  private async saveTable(gen: number, entity: string, table: Table): Promise<void> {
    const obj: Record<string, StoredRecord> = {};
    table.forEach((rec, id) => {
      obj[id] = rec;
    });
    await this.store.set(`${this.ns}g${gen}:${entity}`, JSON.stringify(obj));
  }

  private saveMeta(): Promise<void> {
    return this.store.set(this.ns + "meta", JSON.stringify(this.meta));
  }

  private saveQueue(): Promise<void> {
    return this.store.set(this.ns + "queue", JSON.stringify(this.queue));
  }

  private m(): Meta {
    if (!this.meta) throw new Error("SyncEngine.open() first");
    return this.meta;
  }

  get clientId(): string {
    return this.m().clientId;
  }

  get cursor(): string | null {
    return this.m().cursor;
  }

  /** Mutations not yet answered for good, oldest first. */
  pending(): PendingMutation[] {
    return this.queue.map((m) => clone(m));
  }

  // --- the local view --------------------------------------------------------------------------

  /** The server copy only (no queued effects). */
  server(entity: Entity, id: string): StoredRecord | undefined {
    const table = this.records.get(entity);
    const rec = table && table.get(id);
    return rec ? clone(rec) : undefined;
  }

  private buildView(): Map<string, Map<string, Record<string, unknown>>> {
    if (this.view) return this.view;
    const view = new Map<string, Map<string, Record<string, unknown>>>();
    this.records.forEach((table, entity) => {
      const t = new Map<string, Record<string, unknown>>();
      table.forEach((rec, id) => t.set(id, rec.data));
      view.set(entity, t);
    });
    const local: LocalView = {
      get: (entity, id) => {
        const t = view.get(entity);
        return t ? t.get(id) : undefined;
      },
      put: (entity, id, data) => {
        let t = view.get(entity);
        if (!t) view.set(entity, (t = new Map()));
        t.set(id, data);
      },
      del: (entity, id) => {
        const t = view.get(entity);
        if (t) t.delete(id);
      },
    };
    const effects = { ...defaultEffects, ...(this.options.effects || {}) };
    const now = this.clock.now();
    for (const m of this.queue) {
      const effect = effects[m.name];
      if (effect) effect(local, m.args, now);
    }
    this.view = view;
    return view;
  }

  /** A record as the user sees it: the server copy with the queued mutations' effects laid over. */
  get(entity: Entity, id: string): Record<string, unknown> | undefined {
    const t = this.buildView().get(entity);
    const rec = t && t.get(id);
    return rec ? clone(rec) : undefined;
  }

  list(entity: Entity): Record<string, unknown>[] {
    const t = this.buildView().get(entity);
    const out: Record<string, unknown>[] = [];
    if (t) t.forEach((rec, id) => out.push({ ...clone(rec), id }));
    return out;
  }

  private changed(): void {
    this.view = null;
    if (this.options.onChange) this.options.onChange();
  }

  // --- mutations -------------------------------------------------------------------------------

  /**
   * Queues a mutation; it is persisted (with its seq) before this resolves and before it is ever
   * sent, so a restart neither loses nor renumbers it. Answers its id.
   */
  async mutate(name: string, args: Record<string, unknown>, baseVersion?: number): Promise<string> {
    const meta = this.m();
    const random = this.options.random || defaultRandom;
    const m: PendingMutation = { id: uuid4(random), seq: meta.nextSeq, name, args: clone(args) };
    if (baseVersion !== undefined) m.base_version = baseVersion;
    if (name === "draft.save" || name === "draft.delete") {
      const held = this.server("draft", String(args.draft_id));
      const expected = this.expectedVersion(String(args.draft_id));
      if (baseVersion === undefined && expected !== undefined) m.base_version = expected;
      m.base = held ? held.data : null;
    }
    this.queue.push(m);
    meta.nextSeq += 1;
    await this.saveQueue();
    await this.saveMeta();
    this.changed();
    return m.id;
  }

  /** Saves a draft edit based on the version this device holds (the server's, or its own queued edits'). */
  saveDraft(args: Record<string, unknown> & { draft_id: string }): Promise<string> {
    return this.mutate("draft.save", args);
  }

  /** The version a draft will have once this device's queued edits of it are applied. */
  private expectedVersion(draftId: string): number | undefined {
    const held = this.server("draft", draftId);
    let version = held ? draftVersion(held) : undefined;
    for (const m of this.queue) {
      if ((m.name === "draft.save" || m.name === "draft.delete") && String(m.args.draft_id) === draftId) {
        version = (m.base_version === undefined ? 0 : m.base_version) + 1;
      }
    }
    return version;
  }

  /** Re-bases this draft's queued edits, in seq order, on `version` (after a conflict). */
  private rechain(draftId: string, version: number): void {
    let v = version;
    for (const m of this.queue) {
      if ((m.name === "draft.save" || m.name === "draft.delete") && String(m.args.draft_id) === draftId) {
        m.base_version = v;
        v += 1;
      }
    }
  }

  // --- push ------------------------------------------------------------------------------------

  /**
   * Sends the queue in batches until it is empty or the server stops it (gap). A gap the queue can
   * fill (its head is the seq the server waits for: an older batch was overtaken by a later one on
   * the way) is filled at once by sending again, once per head.
   */
  async push(): Promise<void> {
    const meta = this.m();
    const batchSize = this.options.pushBatch || 100;
    let resentFor = -1;
    for (;;) {
      if (!this.queue.length) return;
      if (this.options.prepare) {
        let prepared = false;
        for (const m of this.queue.slice(0, batchSize)) {
          const args = await this.options.prepare(m.args);
          if (JSON.stringify(args) !== JSON.stringify(m.args)) {
            m.args = args;
            prepared = true;
          }
        }
        if (prepared) await this.saveQueue(); // the args the server sees are the args kept
      }
      const batch = this.queue.slice(0, batchSize);
      const answer = await this.http.call<{ results: MutationResult[]; last_seq: number }>("POST", "/v1/sync/push", {
        body: {
          client_id: meta.clientId,
          mutations: batch.map((m) => {
            const out: Mutation = { id: m.id, seq: m.seq, name: m.name, args: m.args };
            if (m.base_version !== undefined) out.base_version = m.base_version;
            return out;
          }),
        },
      });
      const stopped = await this.settle(answer.data.results, answer.data.last_seq);
      if (stopped) {
        const head = this.queue.length ? this.queue[0].seq : -1;
        if (head === resentFor || head !== answer.data.last_seq + 1) return;
        resentFor = head;
      }
    }
  }

  /** Applies push results; answers true when the batch stopped at a gap. */
  private async settle(results: MutationResult[], lastSeq: number | null | undefined): Promise<boolean> {
    const byId = new Map<string, PendingMutation>();
    for (const m of this.queue) byId.set(m.id, m);
    let gap = false;
    const requeue: Array<{ conflict: Conflict }> = [];
    const done = new Set<string>();
    for (const r of results) {
      const m = byId.get(r.id);
      if (!m) continue;
      if (r.status === "gap") {
        gap = true;
        break;
      }
      if (!(r.status in FINAL)) continue;
      done.add(m.id);
      this.outcomes.set(m.id, r);
      if (r.status === "conflict") {
        const server = (r.data as Record<string, unknown> | null) || null;
        const serverVersion = server && typeof server.version === "number" ? (server.version as number) : r.version == null ? null : r.version;
        requeue.push({ conflict: { mutation: m, base: m.base || null, local: m.args, server, serverVersion } });
      }
      if ((r.status === "applied" || r.status === "duplicate") && m.name.indexOf("draft.") === 0) {
        const draftId = String(m.args.draft_id);
        const table = this.records.get("draft") || new Map<string, StoredRecord>();
        this.records.set("draft", table);
        const data = r.data as Record<string, unknown> | null | undefined;
        const held = table.get(draftId);
        if (data == null) table.delete(draftId);
        else if (typeof data.version === "number" && (!held || draftVersion(held) < data.version)) table.set(draftId, { version: held ? held.version : 0, data });
      }
      if (this.options.onResult) this.options.onResult(m, r);
    }
    this.queue = this.queue.filter((m) => !done.has(m.id) && !(lastSeq != null && m.seq <= lastSeq));
    await this.saveQueue();
    for (const { conflict } of requeue) await this.resolve(conflict);
    this.changed();
    return gap;
  }

  private async resolve(conflict: Conflict): Promise<void> {
    const handler = this.options.onConflict;
    const merged = handler ? await handler(conflict) : null;
    const name = conflict.mutation.name;
    if (!merged || !conflict.server || conflict.serverVersion == null || (name !== "draft.save" && name !== "draft.delete")) return;
    const draftId = String(conflict.mutation.args.draft_id);
    const table = this.records.get("draft") || new Map<string, StoredRecord>();
    this.records.set("draft", table);
    const held = table.get(draftId);
    if (!held || draftVersion(held) < conflict.serverVersion) table.set(draftId, { version: held ? held.version : 0, data: conflict.server });
    // Laid over the server copy, based on its version; the server copy becomes the next common base.
    const meta = this.m();
    const random = this.options.random || defaultRandom;
    const args = name === "draft.save" ? clone({ ...merged, draft_id: draftId }) : { draft_id: draftId };
    this.queue.push({ id: uuid4(random), seq: meta.nextSeq, name, args, base_version: conflict.serverVersion, base: conflict.server });
    meta.nextSeq += 1;
    this.rechain(draftId, conflict.serverVersion);
    await this.saveQueue();
    await this.saveMeta();
  }

  // --- pull ------------------------------------------------------------------------------------

  /** Pulls every page; a reset is read into a shadow copy that replaces the local copy only at its end. */
  async pull(): Promise<void> {
    const meta = this.m();
    const limit = this.options.pageSize || 200;
    for (;;) {
      const resetting = meta.resetting;
      const cursor = resetting ? resetting.cursor : meta.cursor;
      const headers: Record<string, string> = {};
      if (!resetting && meta.etag && cursor) headers["if-none-match"] = meta.etag;
      const answer = await this.http.call<PullPage>("GET", "/v1/sync/pull", {
        query: { cursor: cursor || undefined, limit, client_id: meta.clientId },
        headers,
      });
      if (answer.status === 304) return;
      const page = answer.data;
      if (page.reset) {
        if (meta.resetting) await this.dropGeneration(meta.resetting.gen, meta.resetting.entities);
        meta.resetting = { gen: meta.gen + 1, cursor: "", entities: [] };
        this.shadow = new Map();
      }
      if (meta.resetting) {
        await this.applyShadow(page);
      } else {
        await this.applyLive(page);
        meta.cursor = page.cursor;
        meta.etag = !page.has_more ? answer.headers.etag || null : null;
        await this.saveMeta();
      }
      if (page.last_seq != null) await this.dropUpTo(page.last_seq);
      this.changed();
      if (!page.has_more) return;
    }
  }

  private shadow: Map<string, Table> | null = null;

  private async applyShadow(page: PullPage): Promise<void> {
    const meta = this.m();
    const resetting = meta.resetting!;
    if (!this.shadow) {
      this.shadow = new Map();
      for (const entity of resetting.entities) this.shadow.set(entity, await this.loadTable(resetting.gen, entity));
    }
    const touched = this.applyChanges(this.shadow, page.changes);
    for (const entity of touched) {
      if (resetting.entities.indexOf(entity) < 0) resetting.entities.push(entity);
      await this.saveTable(resetting.gen, entity, this.shadow.get(entity)!);
    }
    resetting.cursor = page.cursor;
    if (page.has_more) {
      await this.saveMeta();
      return;
    }
    if (page.checkpoint && typeof page.checkpoint.count === "number") {
      const { count, digest } = checkpointOf(this.shadow);
      if (count !== page.checkpoint.count || (page.checkpoint.digest !== undefined && digest !== page.checkpoint.digest)) {
        // The state read does not add up to the server's: read it again from the start.
        await this.dropGeneration(resetting.gen, resetting.entities);
        meta.resetting = null;
        meta.cursor = null;
        meta.etag = null;
        this.shadow = null;
        await this.saveMeta();
        throw new ProblemError({ type: "sync_checkpoint_mismatch", title: "The reset's state did not match the server's checkpoint", status: 0 });
      }
    }
    // The swap: one write of meta names the new generation; then the old one is removed.
    const old = { gen: meta.gen, entities: meta.entities };
    meta.gen = resetting.gen;
    meta.entities = resetting.entities.slice();
    meta.cursor = page.cursor;
    meta.etag = null;
    meta.resetting = null;
    await this.saveMeta();
    this.records = this.shadow;
    this.shadow = null;
    await this.dropGeneration(old.gen, old.entities);
  }

  private async applyLive(page: PullPage): Promise<void> {
    const meta = this.m();
    const touched = this.applyChanges(this.records, page.changes);
    for (const entity of touched) {
      if (meta.entities.indexOf(entity) < 0) meta.entities.push(entity);
      await this.saveTable(meta.gen, entity, this.records.get(entity)!);
    }
  }

  private applyChanges(tables: Map<string, Table>, changes: Change[]): string[] {
    const touched: string[] = [];
    for (const c of changes) {
      let table = tables.get(c.entity);
      if (!table) tables.set(c.entity, (table = new Map()));
      const held = table.get(c.id);
      if (held && held.version > c.version) continue;
      // A draft taken from a push answer is newer than a change that carries an older copy of it.
      if (held && c.op === "put" && c.data && typeof c.data.version === "number" && draftVersion(held) > (c.data.version as number)) continue;
      if (c.op === "del") table.delete(c.id);
      else table.set(c.id, { version: c.version, data: c.data || {} });
      if (touched.indexOf(c.entity) < 0) touched.push(c.entity);
    }
    return touched;
  }

  private async dropGeneration(gen: number, entities: string[]): Promise<void> {
    for (const entity of entities) await this.store.remove(`${this.ns}g${gen}:${entity}`);
  }

  /** Drops queued mutations the server has processed (pull's `last_seq`), also after a lost push answer. */
  private async dropUpTo(lastSeq: number): Promise<void> {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => m.seq > lastSeq);
    if (this.queue.length !== before) await this.saveQueue();
  }

  // --- the loop --------------------------------------------------------------------------------

  /** One round: push the queue, then pull. Concurrent callers share the round in flight. */
  sync(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        await this.push();
        await this.pull();
        this.failures = 0;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /**
   * Rounds until one succeeds: on a network error, 503 or 429 it waits (the server's Retry-After,
   * else exponential backoff with jitter, at most `maxBackoffMs`) and tries again; other problems
   * reject. `attempts` bounds the tries.
   */
  async syncUntilDone(attempts = Infinity): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await this.sync();
        return;
      } catch (err) {
        if (!(err instanceof ProblemError) || !err.transient || i >= attempts) throw err;
        this.failures += 1;
        await this.clock.sleep(this.backoffMs(err.retryAfter));
      }
    }
  }

  backoffMs(retryAfter: number | null): number {
    const cap = this.options.maxBackoffMs || 60000;
    if (retryAfter != null) return Math.min(cap, retryAfter * 1000);
    const base = Math.min(cap, 500 * Math.pow(2, Math.min(this.failures, 16)));
    const jitter = (this.options.random || defaultRandom)(1)[0] / 255;
    return Math.round(base / 2 + (base / 2) * jitter);
  }
}
