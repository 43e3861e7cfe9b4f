import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpCore, Auth, SyncEngine, Live, ProblemError, memoryStorage, wxTransport, wxStorage, mergeDraftForms } from "../dist/index.js";
import { fakeWx, json } from "./fake-wx.mjs";

const BASE = "https://api.example.cn";

function fakeClock() {
  const sleeps = [];
  return { sleeps, now: () => 1_800_000_000_000, sleep: async (ms) => void sleeps.push(ms) };
}

test("concurrent 401s trigger one refresh, then every call is retried with the new token", async () => {
  let refreshes = 0;
  const transport = async ({ url, headers }) => {
    if (url.endsWith("/v1/auth/refresh")) {
      refreshes += 1;
      await new Promise((r) => setTimeout(r, 20));
      return json(200, { access_token: "new", refresh_token: "r2", expires_in: 900 });
    }
    return headers.authorization === "Bearer new" ? json(200, { ok: true }) : json(401, { type: "unauthorized", title: "Unauthorized", status: 401 });
  };
  const http = new HttpCore(BASE, transport, memoryStorage());
  await http.setTokens({ access_token: "old", refresh_token: "r1" });
  const answers = await Promise.all([1, 2, 3, 4, 5].map(() => http.call("GET", "/v1/me")));
  assert.equal(refreshes, 1);
  assert.ok(answers.every((a) => a.data.ok));
});

test("a refused refresh ends the login: tokens cleared, the call fails with the problem", async () => {
  const transport = async ({ url }) =>
    url.endsWith("/v1/auth/refresh") ? json(401, { type: "refresh_token_invalid", title: "x", status: 401 }) : json(401, { type: "unauthorized", title: "Unauthorized", status: 401 });
  const http = new HttpCore(BASE, transport, memoryStorage());
  let ended = false;
  http.onLoggedOut = () => (ended = true);
  await http.setTokens({ access_token: "old", refresh_token: "r1" });
  const err = await http.call("GET", "/v1/me").then(() => null, (e) => e);
  assert.ok(err instanceof ProblemError && err.status === 401);
  assert.equal(await http.currentTokens(), null);
  assert.ok(ended);
});

test("wx.request's timeout becomes a transient network problem", async () => {
  const wx = fakeWx({ handler: () => new Promise(() => {}) });
  const http = new HttpCore(BASE, wxTransport(wx), wxStorage(wx));
  const err = await http.call("GET", "/v1/me", { auth: false, timeoutMs: 30 }).then(() => null, (e) => e);
  assert.ok(err instanceof ProblemError);
  assert.equal(err.type, "network_error");
  assert.ok(err.transient);
  assert.match(err.problem.detail, /timeout/);
});

test("wechat login stores the tokens, logout revokes them on the server and forgets them", async () => {
  const seen = [];
  const transport = async ({ url, body, headers }) => {
    seen.push([url.replace(BASE, ""), body && JSON.parse(body), headers.authorization]);
    if (url.endsWith("/login")) return json(200, { access_token: "a", refresh_token: "r", expires_in: 900, account: { id: "1" } });
    return { status: 204, headers: {}, text: "" };
  };
  const http = new HttpCore(BASE, transport, memoryStorage());
  const auth = new Auth(http);
  await auth.wechatLogin("code-1");
  assert.ok(await auth.loggedIn());
  await auth.logout();
  assert.equal(await auth.loggedIn(), false);
  assert.deepEqual(seen.map((s) => s[0]), ["/v1/auth/wechat/login", "/v1/auth/logout"]);
  assert.deepEqual(seen[1][1], { refresh_token: "r" });
});

test("real-name: start, the platform's face step, complete, then a refresh", async () => {
  const steps = [];
  const transport = async ({ url }) => {
    const path = url.replace(BASE, "");
    steps.push(path);
    if (path === "/v1/auth/realname/sessions") return json(201, { session_id: "s1", verify_id: "v1" });
    if (path.endsWith("/complete")) return json(200, { assurance_level: "L3" });
    return json(200, { access_token: "a2", refresh_token: "r2", expires_in: 900 });
  };
  const http = new HttpCore(BASE, transport, memoryStorage());
  await http.setTokens({ access_token: "a", refresh_token: "r" });
  const done = await new Auth(http).realname({ name: "张三", id_number: "430202199001010038" }, async (s) => void steps.push(`face ${s.verify_id}`));
  assert.equal(done.assurance_level, "L3");
  assert.deepEqual(steps, ["/v1/auth/realname/sessions", "face v1", "/v1/auth/realname/sessions/s1/complete", "/v1/auth/refresh"]);
  assert.equal((await http.currentTokens()).access_token, "a2");
});

/** A scripted sync server: pull pages from a list, push answers recorded. */
function scripted(pages, { onPush } = {}) {
  const calls = [];
  const transport = async ({ url, method, body }) => {
    const u = new URL(url);
    calls.push({ path: u.pathname, query: Object.fromEntries(u.searchParams), body: body && JSON.parse(body), method });
    if (u.pathname === "/v1/sync/pull") {
      const next = pages.shift();
      if (next instanceof Error) throw next;
      return typeof next === "function" ? next(u) : json(200, next);
    }
    if (u.pathname === "/v1/sync/push") return onPush(JSON.parse(body));
    return json(404, { type: "not_found", title: "Not found", status: 404 });
  };
  return { calls, transport };
}

const put = (entity, id, version, data = {}) => ({ entity, id, op: "put", version, data: { id, version, ...data } });

test("the queue is persisted with its seq before it is sent and survives a restart", async () => {
  const store = memoryStorage();
  const { transport } = scripted([], { onPush: () => { throw new Error("offline"); } });
  const http = new HttpCore(BASE, transport, store);
  const a = new SyncEngine(http, store);
  await a.open();
  await a.mutate("notification.read", { notification_id: "n1" });
  await a.mutate("notification.read", { notification_id: "n2" });
  await assert.rejects(a.push(), (e) => e instanceof ProblemError && e.transient);
  // The app is killed; a new engine on the same storage has the queue, the seqs and the client id.
  const b = new SyncEngine(http, store);
  await b.open();
  assert.equal(b.clientId, a.clientId);
  assert.deepEqual(b.pending().map((m) => m.seq), [1, 2]);
  await b.mutate("notification.read", { notification_id: "n3" });
  assert.deepEqual(b.pending().map((m) => m.seq), [1, 2, 3]);
});

test("a pull's last_seq drops mutations whose push answer was lost", async () => {
  const store = memoryStorage();
  const { transport, calls } = scripted([{ changes: [], cursor: "c1", has_more: false, reset: true, last_seq: 2 }], {
    onPush: () => { throw new Error("connection reset"); },
  });
  const http = new HttpCore(BASE, transport, store);
  const engine = new SyncEngine(http, store);
  await engine.open();
  for (const n of ["n1", "n2", "n3"]) await engine.mutate("notification.read", { notification_id: n });
  await assert.rejects(engine.push());
  await engine.pull();
  assert.deepEqual(engine.pending().map((m) => m.seq), [3]);
  assert.equal(calls[calls.length - 1].query.client_id, engine.clientId);
});

test("a reset is read into a shadow copy: the old copy stays until the last page, then is swapped in", async () => {
  const store = memoryStorage();
  const pages = [
    { changes: [put("wallet_item", "w1", 1), put("draft", "d1", 3, { form: { a: 1 } })], cursor: "c1", has_more: false, reset: true },
    // later, a reset that breaks off after its first page
    { changes: [put("wallet_item", "w9", 9)], cursor: "r1", has_more: true, reset: true },
    new Error("offline"),
    // resumed from its last page's cursor
    (u) => (assert.equal(u.searchParams.get("cursor"), "r1"), json(200, { changes: [put("draft", "d9", 9)], cursor: "r2", has_more: false, reset: false, checkpoint: { count: 2 } })),
  ];
  const { transport } = scripted(pages);
  const http = new HttpCore(BASE, transport, store);
  let engine = new SyncEngine(http, store);
  await engine.open();
  await engine.pull();
  assert.ok(engine.get("wallet_item", "w1"));
  await assert.rejects(engine.pull());
  // Mid-reset, the user still sees the old copy, also after a restart.
  engine = new SyncEngine(http, store);
  await engine.open();
  assert.ok(engine.get("wallet_item", "w1"));
  assert.equal(engine.get("wallet_item", "w9"), undefined);
  await engine.pull();
  assert.equal(engine.get("wallet_item", "w1"), undefined);
  assert.deepEqual(engine.list("wallet_item").map((r) => r.id), ["w9"]);
  assert.deepEqual(engine.list("draft").map((r) => r.id), ["d9"]);
  assert.equal(engine.cursor, "r2");
  // Only the new generation is left in storage.
  assert.ok((await store.keys("zb:sync:default:g")).every((k) => k.indexOf(":g2:") > 0));
});

test("a reset whose checkpoint does not match is not swapped in and is read again", async () => {
  const store = memoryStorage();
  const pages = [
    { changes: [put("wallet_item", "w1", 1)], cursor: "c1", has_more: false, reset: true },
    { changes: [put("wallet_item", "w2", 2)], cursor: "c2", has_more: false, reset: true, checkpoint: { count: 5 } },
  ];
  const { transport } = scripted(pages);
  const http = new HttpCore(BASE, transport, store);
  const engine = new SyncEngine(http, store);
  await engine.open();
  await engine.pull();
  const err = await engine.pull().then(() => null, (e) => e);
  assert.equal(err.type, "sync_checkpoint_mismatch");
  assert.ok(engine.get("wallet_item", "w1"));
  assert.equal(engine.get("wallet_item", "w2"), undefined);
  assert.equal(engine.cursor, null); // the next pull starts over
});

test("optimistic effects are laid over the server copy and rebased on pull", async () => {
  const store = memoryStorage();
  const pages = [
    { changes: [put("notification", "n1", 1, { title: "x", read_at: null }), put("draft", "d1", 1, { form: { a: 1 } })], cursor: "c1", has_more: false, reset: true },
    { changes: [put("draft", "d1", 2, { form: { a: 1, b: 2 } })], cursor: "c2", has_more: false, reset: false },
  ];
  const { transport } = scripted(pages);
  const http = new HttpCore(BASE, transport, store);
  const engine = new SyncEngine(http, store, { clock: fakeClock() });
  await engine.open();
  await engine.pull();
  await engine.mutate("notification.read", { notification_id: "n1" });
  await engine.saveDraft({ draft_id: "d1", form: { a: 5 } });
  assert.ok(engine.get("notification", "n1").read_at);
  assert.deepEqual(engine.get("draft", "d1").form, { a: 5 });
  assert.equal(engine.pending()[1].base_version, 1);
  await engine.pull(); // another device's edit arrives; the local edit still shows on top
  assert.equal(engine.server("draft", "d1").version, 2);
  assert.deepEqual(engine.get("draft", "d1").form, { a: 5 });
});

test("a draft conflict calls back with the common base; the merge is queued on the server copy", async () => {
  const store = memoryStorage();
  let pushes = 0;
  const pages = [{ changes: [put("draft", "d1", 1, { form: { a: 1, b: 1 } })], cursor: "c1", has_more: false, reset: true }];
  const { transport, calls } = scripted(pages, {
    onPush: (body) => {
      pushes += 1;
      const m = body.mutations[0];
      if (pushes === 1) return json(200, { results: [{ id: m.id, status: "conflict", data: { id: "d1", version: 4, form: { a: 1, b: 9 } } }], last_seq: m.seq });
      return json(200, { results: [{ id: m.id, status: "applied", version: 5, data: { id: "d1", version: 5, form: m.args.form } }], last_seq: m.seq });
    },
  });
  const http = new HttpCore(BASE, transport, store);
  const seen = [];
  const engine = new SyncEngine(http, store, { onConflict: (c) => (seen.push(c), mergeDraftForms(c)) });
  await engine.open();
  await engine.pull();
  await engine.saveDraft({ draft_id: "d1", matter_code: "m", form: { a: 2, b: 1 } });
  await engine.push();
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].base.form, { a: 1, b: 1 });
  assert.deepEqual(seen[0].server.form, { a: 1, b: 9 });
  const second = calls.filter((c) => c.path === "/v1/sync/push")[1].body.mutations[0];
  assert.equal(second.base_version, 4);
  assert.equal(second.seq, 2);
  assert.deepEqual(second.args.form, { a: 2, b: 9 }); // this device's change on the other's
  assert.equal(engine.pending().length, 0);
  assert.equal(engine.server("draft", "d1").data.version, 5);
});

test("503 with Retry-After waits as told, network errors back off, then the round completes", async () => {
  const store = memoryStorage();
  let pushes = 0;
  const { transport } = scripted([{ changes: [], cursor: "c1", has_more: false, reset: true, last_seq: 1 }], {
    onPush: (body) => {
      pushes += 1;
      if (pushes === 1) return json(503, { type: "sync_unavailable", title: "Unavailable", status: 503 }, { "retry-after": "7" });
      if (pushes === 2) throw new Error("offline");
      return json(200, { results: body.mutations.map((m) => ({ id: m.id, status: "applied" })), last_seq: 1 });
    },
  });
  const clock = fakeClock();
  const http = new HttpCore(BASE, transport, store);
  const engine = new SyncEngine(http, store, { clock });
  await engine.open();
  await engine.mutate("notification.read", { notification_id: "n1" });
  await engine.syncUntilDone();
  assert.equal(pushes, 3);
  assert.equal(clock.sleeps[0], 7000);
  assert.ok(clock.sleeps[1] >= 250 && clock.sleeps[1] <= 60000);
  assert.equal(engine.pending().length, 0);
});

test("a rejected mutation (a business no) is dropped and does not block the next", async () => {
  const store = memoryStorage();
  const results = [];
  const { transport } = scripted([], {
    onPush: (body) => json(200, { results: [{ id: body.mutations[0].id, status: "rejected", code: "server_owned" }, { id: body.mutations[1].id, status: "applied" }], last_seq: 2 }),
  });
  const http = new HttpCore(BASE, transport, store);
  const engine = new SyncEngine(http, store, { onResult: (m, r) => results.push(r.status) });
  await engine.open();
  await engine.mutate("wallet.delete", { id: "x" });
  await engine.mutate("notification.read", { notification_id: "n1" });
  await engine.push();
  assert.deepEqual(results, ["rejected", "applied"]);
  assert.equal(engine.pending().length, 0);
});

test("the checkpoint digest is the server's: sorted entity:id:version lines hashed with SHA-256", async () => {
  const { checkpointOf } = await import("../dist/index.js");
  assert.deepEqual(checkpointOf(new Map()), { count: 0, digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" });
  const tables = new Map([["draft", new Map([["B", { version: 3, data: {} }]])], ["application", new Map([["a", { version: 12, data: {} }]])]]);
  const { createHash } = await import("node:crypto");
  const expected = createHash("sha256").update("application:a:12\ndraft:b:3\n").digest("hex");
  assert.deepEqual(checkpointOf(tables), { count: 2, digest: expected });
});

test("a gap the queue can fill (a later half overtook the first) is filled by sending again at once", async () => {
  const store = memoryStorage();
  let lastSeq = 0;
  const sent = [];
  const { transport } = scripted([{ changes: [], cursor: "c1", has_more: false, reset: true, last_seq: 2 }], {
    onPush: (body) => {
      sent.push(body.mutations.map((m) => m.seq));
      if (sent.length === 1) return json(200, { results: [{ id: body.mutations[1].id, status: "gap" }], last_seq: 0 });
      lastSeq = body.mutations[body.mutations.length - 1].seq;
      return json(200, { results: body.mutations.map((m) => ({ id: m.id, status: "applied" })), last_seq: lastSeq });
    },
  });
  const engine = new SyncEngine(new HttpCore(BASE, transport, store), store);
  await engine.open();
  await engine.mutate("notification.read", { notification_id: "n1" });
  await engine.mutate("notification.read", { notification_id: "n2" });
  await engine.sync();
  assert.deepEqual(sent, [[1, 2], [1, 2]]);
  assert.equal(engine.pending().length, 0);
});

test("a gap the queue cannot fill stops the push instead of sending forever", async () => {
  const store = memoryStorage();
  let pushes = 0;
  const { transport } = scripted([{ changes: [], cursor: "c1", has_more: false, reset: true }], {
    onPush: (body) => {
      pushes += 1;
      return json(200, { results: [{ id: body.mutations[0].id, status: "gap" }], last_seq: 0 });
    },
  });
  const engine = new SyncEngine(new HttpCore(BASE, transport, store), store);
  await engine.open();
  await engine.mutate("notification.read", { notification_id: "n1" });
  await engine.sync();
  assert.equal(pushes, 2); // sent again once for the head the server waits for, then left queued
  assert.equal(engine.pending().length, 1);
});

test("live: after the server's 1012 a new ticket, with backoff, resuming after the last notification", async () => {
  let tickets = 0;
  const transport = async ({ url }) => {
    if (url.endsWith("/v1/notifications/stream-tickets")) {
      tickets += 1;
      if (tickets === 2) throw new Error("connection refused"); // the server is still restarting
      return json(201, { ticket: `t${tickets}`, expires_in: 60 });
    }
    return json(404, { type: "not_found", title: "Not found", status: 404 });
  };
  const store = memoryStorage();
  const http = new HttpCore(BASE, transport, store);
  await http.setTokens({ access_token: "a", refresh_token: "r" });
  const connections = [];
  const connector = (url, handlers) => {
    connections.push({ url, handlers });
    return { close: () => undefined };
  };
  const clock = fakeClock();
  const heard = [];
  const live = new Live(http, connector, { kind: "socket", clock, onEvent: (e) => heard.push(e.event) });
  await live.start();
  connections[0].handlers.onEvent({ event: "notification", id: "n-7", data: "{}" });
  connections[0].handlers.onEvent({ event: "ping", id: null, data: "" });
  connections[0].handlers.onClose("closed 1012");
  for (let i = 0; i < 50 && connections.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(connections.length, 2);
  const url = new URL(connections[1].url);
  assert.equal(url.pathname, "/v1/notifications/socket");
  assert.equal(url.searchParams.get("ticket"), "t3");
  assert.equal(url.searchParams.get("last_event_id"), "n-7");
  assert.ok(clock.sleeps.length === 2 && clock.sleeps[1] > clock.sleeps[0], `backoff: ${clock.sleeps}`);
  assert.deepEqual(heard, ["notification"]); // pings are the channel's, not the app's
  live.stop();
});
