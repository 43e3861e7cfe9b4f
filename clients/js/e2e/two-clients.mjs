// Two devices of one person against a real server: a mini-program (fake wx runtime enforcing
// WeChat's limits) and a web page (fetch, IndexedDB, WebSocket and EventSource). They go offline in
// turns, queue drafts, uploads and a submission, come back and converge. On the way the network
// loses push answers, delivers batches twice, holds a batch back until after a later one, lets the
// second half of a batch overtake its first; the server is stopped (SIGTERM: live channels close
// with 1012 and resume by last event id) and killed with SIGKILL in the middle of a push, each time
// started again by the test that runs this script. Every mutation takes effect exactly once.
//
// Env: ZB_BASE (server), ZB_SIM (WeChat simulator), ZB_MOTHER (the person's ID number), ZB_SEED
// (the fault driver's seed). The server is stopped and killed by asking on stdout
// (`ZB-CONTROL sigterm|kill9`); the answer comes as a line on stdin. The last stdout line is a
// JSON summary.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { indexedDB } from "fake-indexeddb";
import { WebSocket } from "ws";
import { EventSource } from "eventsource";
import {
  ZhangbanClient, Live, fetchTransport, fetchUploader, indexedDbStorage, wxTransport, wxStorage, wxUploader, wxSocket,
  webSocket, eventSource, wxLoginCode, mergeDraftForms,
} from "../dist/index.js";
import { fakeWx } from "../test/fake-wx.mjs";

const BASE = process.env.ZB_BASE;
const SIM = process.env.ZB_SIM;
const MOTHER = process.env.ZB_MOTHER;
const SEED = Number(process.env.ZB_SEED || 20261206);
const OPENID = `e2e-${randomUUID()}`;
const MATTER = "430200-YB-003"; // 生育津贴申领

// --- the test runner's hands: it stops, kills and restarts the server when asked ------------------
const answers = [];
createInterface({ input: process.stdin }).on("line", (line) => { const next = answers.shift(); if (next) next(line); });
const control = (what) => new Promise((resolve) => { answers.push(resolve); process.stdout.write(`ZB-CONTROL ${what}\n`); });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(what, ok, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `waited ${ms} ms for ${what}`);
    await sleep(50);
  }
}

/** A seeded source of choices (mulberry32), so a failing run can be replayed with its seed. */
function seeded(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}
const rng = seeded(SEED);

const post = async (url, body) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, `${url}: ${r.status} ${text}`);
  return JSON.parse(text);
};
const loginCode = async () => (await post(`${SIM}/_sim/login-codes`, { openid: OPENID })).code;

/** Faults injected between a device and the network; each armed count is spent by the next pushes. */
function faulty(transport) {
  const f = { offline: false, losePushAnswers: 0, doublePushes: 0, holdPushes: 0, overtakePushes: 0, killMidPush: 0,
    pushes: 0, held: [], seen: { lost: 0, doubled: 0, held: 0, overtaken: 0, gap: 0, killed: 0, killedBeforeAnswer: 0 } };
  const results = (answer) => JSON.parse(answer.text).results;
  const lastSeqOf = (req) => Math.max(...JSON.parse(req.body).mutations.map((m) => m.seq));
  /** Held batches arrive, late: processed already (the device sent them again), each mutation a duplicate. */
  f.deliverHeld = async () => {
    for (const stale of f.held.splice(0)) {
      const late = await transport(stale);
      for (const r of results(late)) assert.equal(r.status, "duplicate", late.text);
    }
  };
  f.transport = async (req) => {
    if (f.offline) throw new Error("offline");
    if (!req.url.includes("/v1/sync/push")) {
      const answer = await transport(req);
      if (process.env.ZB_DEBUG && req.url.includes("/v1/sync/pull") && answer.status === 200) {
        const page = JSON.parse(answer.text);
        console.error("pull", req.url.slice(-60), page.reset, page.last_seq, JSON.stringify(page.changes.map((c) => [c.entity, c.id.slice(0, 8), c.op, c.version, c.data && c.data.version])));
      }
      return answer;
    }
    if (process.env.ZB_DEBUG) console.error("push", JSON.stringify(JSON.parse(req.body).mutations.map((m) => [m.seq, m.name, m.base_version])));
    f.pushes += 1;
    const body = JSON.parse(req.body);
    if (f.killMidPush > 0) {
      // The server is killed (SIGKILL) while it works through this batch; the answer never comes.
      f.killMidPush -= 1;
      f.seen.killed += 1;
      const inFlight = transport(req).then(() => "answered", () => "cut");
      await control("kill9");
      if ((await inFlight) === "cut") f.seen.killedBeforeAnswer += 1;
      throw new Error("connection reset: the server died");
    }
    if (f.overtakePushes > 0 && body.mutations.length >= 2) {
      // The batch's second half overtakes its first half: the server must refuse it (gap), apply
      // nothing, and the SDK, told so, sends again from the seq the server waits for.
      f.overtakePushes -= 1;
      f.seen.overtaken += 1;
      const late = body.mutations.slice(Math.ceil(body.mutations.length / 2));
      const answer = await transport({ ...req, body: JSON.stringify({ ...body, mutations: late }) });
      const got = JSON.parse(answer.text);
      assert.equal(got.results[0].status, "gap", answer.text);
      assert.ok(got.last_seq < late[0].seq - 1, answer.text);
      f.seen.gap += 1;
      return answer;
    }
    if (f.holdPushes > 0) {
      // The request is stuck on the way (the device times out); it arrives after a later push.
      f.holdPushes -= 1;
      f.seen.held += 1;
      f.held.push(req);
      throw new Error("request timed out");
    }
    if (f.doublePushes > 0) {
      f.doublePushes -= 1;
      f.seen.doubled += 1;
      await transport(req); // the same batch arrives twice (a retry racing the original)
    }
    const answer = await transport(req);
    if (f.held.length && body.mutations[0].seq > Math.max(...f.held.map(lastSeqOf))) await f.deliverHeld();
    if (f.losePushAnswers > 0) {
      f.losePushAnswers -= 1;
      f.seen.lost += 1;
      throw new Error("connection reset after the server committed");
    }
    return answer;
  };
  f.uploader = (upload) => async (req) => {
    if (f.offline) throw new Error("offline");
    return upload(req);
  };
  return f;
}

const outcomes = new Map(); // mutation id → final statuses seen
const record = (m, r) => {
  if (process.env.ZB_DEBUG) console.error(m.name, m.seq, m.base_version, r.status, r.code, JSON.stringify(r.data && r.data.form));
  outcomes.set(m.id, [...(outcomes.get(m.id) || []), r.status]);
};

// --- the mini-program ---------------------------------------------------------------------------------
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const fa = faulty(fetchTransport());
const wx = fakeWx({ handler: (req) => fa.transport(req), loginCode, files: new Map([["wxfile://tmp/invoice.png", PNG]]) });
const phone = new ZhangbanClient({
  baseUrl: BASE, transport: wxTransport(wx), storage: wxStorage(wx), uploader: fa.uploader(wxUploader(wx)),
  sync: { onConflict: mergeDraftForms, onResult: record, pageSize: 3, pushBatch: 2, maxBackoffMs: 200 },
});
await phone.open();
await phone.auth.wechatLogin(await wxLoginCode(wx));
await phone.auth.realname({ name: "王芳", id_number: MOTHER }, (session) =>
  post(`${SIM}/_sim/face-results`, { verify_id: session.verify_id, verify_ret: 10000 }).then(() => undefined));

// --- the web page, same person: IndexedDB for storage ---------------------------------------------------
const fb = faulty(fetchTransport());
const webOptions = {
  baseUrl: BASE, transport: fb.transport, storage: indexedDbStorage("zhangban-e2e", indexedDB), uploader: fb.uploader(fetchUploader()),
  sync: { onConflict: mergeDraftForms, onResult: record, pushBatch: 3, maxBackoffMs: 200 },
};
let web = new ZhangbanClient(webOptions);
await web.open();
await web.auth.wechatLogin(await loginCode());
await Promise.all([phone.sync.syncUntilDone(20), web.sync.syncUntilDone(20)]);

// The phone listens on its wx socket; the web page on a WebSocket and on an event stream.
const pokes = [];
let wake = null;
const live = new Live(phone.http, wxSocket(wx), { kind: "socket", onEvent: (e) => { pokes.push(e.event); if (wake) wake(); } });
await live.start();
/** A live channel of the web page, with what it heard and how its connections began and ended. */
function webLive(kind, connector) {
  const heard = { events: [], urls: [], closes: [] };
  const watched = (url, handlers) => {
    const connection = heard.urls.push(url);
    return connector(url, {
      onEvent: (e) => { heard.events.push({ ...e, connection }); handlers.onEvent(e); },
      onClose: (reason) => { heard.closes.push(reason); handlers.onClose(reason); },
    });
  };
  heard.live = new Live(web.http, watched, { kind, onEvent: () => undefined });
  return heard;
}
const webSocketLive = webLive("socket", webSocket(WebSocket));
const webStreamLive = webLive("stream", eventSource(EventSource));
await Promise.all([webSocketLive.live.start(), webStreamLive.live.start()]);

// 1. The phone goes offline: a draft, a photo, the draft with materials, the submission.
fa.offline = true;
const draftA = randomUUID(), draftB = randomUUID(), appId = randomUUID();
const form = { mother_id_number: MOTHER, bank_account_no: "6222020202020202" };
await phone.sync.saveDraft({ draft_id: draftA, matter_code: MATTER, form: { ...form, note: "从手机" }, materials: [] });
const invoice = await phone.blobs.add({ path: "wxfile://tmp/invoice.png" });
const materials = ["mother_id_card", "birth_medical_certificate", "bank_account", "hospital_invoice"].map((code) => ({ code, blob_sha256: invoice }));
await phone.sync.saveDraft({ draft_id: draftA, matter_code: MATTER, form, materials });
await phone.sync.mutate("application.submit", { application_id: appId, draft_id: draftA, matter_code: MATTER, form, materials });
await assert.rejects(phone.sync.syncUntilDone(2)); // still offline: nothing is lost
assert.equal(phone.sync.pending().length, 3);
assert.equal(phone.sync.get("draft", draftA).materials.length, 4); // optimistic

// 2. Meanwhile the web page, online, saves its own draft.
await web.sync.saveDraft({ draft_id: draftB, matter_code: MATTER, form: { ...form, note: "网页" }, materials: [] });
await web.sync.syncUntilDone(20);

// 3. The phone comes back; its first push answer is lost after the commit, the next batch is sent twice.
fa.offline = false;
fa.losePushAnswers = 1;
fa.doublePushes = 1;
await phone.sync.syncUntilDone(20);
assert.equal(phone.sync.pending().length, 0);
assert.equal(await phone.blobs.waiting(), 0);

// 4. The web goes offline and edits draft B; the phone edits it online first: a conflict, merged.
await web.sync.syncUntilDone(20);
await phone.sync.syncUntilDone(20);
fb.offline = true;
await web.sync.saveDraft({ draft_id: draftB, matter_code: MATTER, form: { ...form, note: "网页改" }, materials: [] });
await phone.sync.saveDraft({ draft_id: draftB, matter_code: MATTER, form: { ...form, note: "网页", extra: "手机加" }, materials: [] });
await phone.sync.syncUntilDone(20);
fb.offline = false;
fb.losePushAnswers = 1;
await web.sync.syncUntilDone(20);
await phone.sync.syncUntilDone(20);

// 5. Converged: both devices see the same records, as the server has them.
const state = (c) => JSON.stringify(["draft", "application"].map((e) => c.sync.list(e).sort((x, y) => (x.id < y.id ? -1 : 1))));
assert.equal(state(phone), state(web));
const apps = phone.sync.list("application");
assert.deepEqual(apps.map((a) => a.id), [appId]);
assert.equal(phone.sync.get("draft", draftA), undefined); // submitted drafts are gone
const merged = web.sync.get("draft", draftB).form;
assert.equal(merged.note, "网页改"); // the web's change
assert.equal(merged.extra, "手机加"); // laid over the phone's
const bearer = async () => ({ authorization: `Bearer ${(await web.http.currentTokens()).access_token}` });
const server = await (await fetch(`${BASE}/v1/applications/${appId}`, { headers: await bearer() })).json();
assert.equal(server.id, appId);
assert.ok(server.materials.some((m) => m.blob_sha256 && !String(m.blob_sha256).startsWith("zb-blob:")));

// 6. The socket poked the phone; WeChat closes it in the background, the SDK opens a new one.
if (!pokes.includes("sync")) await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 10000); });
assert.ok(pokes.includes("sync"), `socket events: ${pokes}`);
const before = wx.sockets.size;
wx.background();
await until("the phone's new socket", () => wx.sockets.size >= before && wx.sockets.size > 0);
live.stop();

// 7. The server is stopped (SIGTERM) and started again. The web page's socket closes with 1012 and
// its event stream ends; both come back with a new ticket, the socket resuming after the last
// notification it heard (the submission's 申请已受理).
const notes = (heard) => heard.events.filter((e) => e.event === "notification").map((e) => e.id);
await until("the submission's notification on the web page's socket", () => notes(webSocketLive).length > 0);
const lastNote = notes(webSocketLive).slice(-1)[0];
const opened = { socket: webSocketLive.urls.length, stream: webStreamLive.urls.length };
await control("sigterm");
await until("the socket's close", () => webSocketLive.closes.length > 0);
assert.deepEqual(webSocketLive.closes, ["closed 1012"]); // service restart, said before the server went
await until("the stream's end", () => webStreamLive.closes.length > 0);
const back = (heard, n) => heard.events.some((e) => e.connection > n && e.event === "sync");
await until("both web channels back", () => back(webSocketLive, opened.socket) && back(webStreamLive, opened.stream), 60000);
const resumed = new URL(webSocketLive.urls[webSocketLive.urls.length - 1]);
assert.equal(resumed.searchParams.get("last_event_id"), lastNote);
assert.equal(new Set(notes(webSocketLive)).size, notes(webSocketLive).length); // nothing heard twice
webSocketLive.live.stop();
webStreamLive.live.stop();

// 8. A seeded driver: each round both devices edit drafts of their own while the network loses
// answers, sends batches twice, holds one back until after a later one, or lets a batch's second
// half overtake its first. Each draft's server version must equal the saves made of it.
const saves = new Map(); // draft id → { saves, note, by }
const devices = [{ name: "phone", client: () => phone, faults: fa }, { name: "web", client: () => web, faults: fb }];
const own = { phone: [], web: [] };
async function edit(device, round, i) {
  const mine = own[device.name];
  const id = mine.length < 2 || rng.next() < 0.2 ? randomUUID() : rng.pick(mine);
  if (!mine.includes(id)) mine.push(id);
  const note = `${device.name}-${round}-${i}`;
  await device.client().sync.saveDraft({ draft_id: id, matter_code: MATTER, form: { ...form, note }, materials: [] });
  const s = saves.get(id) || { saves: 0, note: "", by: device.name };
  saves.set(id, { ...s, saves: s.saves + 1, note });
}
const FAULTS = ["losePushAnswers", "doublePushes", "holdPushes", "overtakePushes", null];
const ROUNDS = 6;
for (let round = 0; round < ROUNDS; round++) {
  for (const [d, device] of devices.entries()) {
    const n = 1 + rng.int(4);
    for (let i = 0; i < n; i++) await edit(device, round, i);
    const fault = round < 2 ? FAULTS[round * 2 + d] : rng.pick(FAULTS); // each kind at least once
    if (fault) device.faults[fault] += 1;
  }
  await Promise.all(devices.map((d) => d.client().sync.syncUntilDone(50)));
}

// 9. The web page queues a batch; the server is killed (SIGKILL) in the middle of its push and
// started again. The page reloads from IndexedDB meanwhile and pushes with backoff until it answers.
for (let i = 0; i < 7; i++) await edit(devices[1], "kill", i);
fb.killMidPush = 1;
await assert.rejects(web.sync.sync()); // the push dies with the server
const queued = web.sync.pending().map((m) => m.id);
assert.equal(queued.length, 7); // no answer came: all of it stays queued, whatever the server did
web = new ZhangbanClient(webOptions); // a reload: the queue and its seqs come back from IndexedDB
devices[1].client = () => web;
await web.open();
assert.deepEqual(web.sync.pending().map((m) => m.id), queued);
await web.sync.syncUntilDone(1000);
for (const d of devices) await d.client().sync.syncUntilDone(50);
for (const d of devices) await d.client().sync.syncUntilDone(50);
for (const d of devices) assert.equal(d.client().sync.pending().length, 0, d.name);
await fa.deliverHeld(); // a batch still stuck on the way arrives at last
await fb.deliverHeld();

// 10. The server's state, read afresh over HTTP, is each device's; every save took effect once.
async function serverState() {
  const tables = { draft: new Map(), application: new Map() };
  let cursor = "";
  for (;;) {
    const r = await fetch(`${BASE}/v1/sync/pull?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { headers: await bearer() });
    assert.equal(r.status, 200);
    const page = await r.json();
    for (const c of page.changes) {
      if (!(c.entity in tables)) continue;
      if (c.op === "del") tables[c.entity].delete(c.id);
      else tables[c.entity].set(c.id, c.data);
    }
    cursor = page.cursor;
    if (!page.has_more) return tables;
  }
}
const truth = await serverState();
for (const [id, s] of saves) {
  const draft = truth.draft.get(id);
  assert.ok(draft, `draft ${id} (${s.by}) is on the server`);
  assert.equal(draft.version, s.saves, `draft ${id} (${s.by}): ${s.saves} saves, server version ${draft.version}`);
  assert.equal(draft.form.note, s.note);
}
assert.deepEqual([...truth.application.keys()], [appId]);
const sorted = (xs) => xs.sort((x, y) => (x.id < y.id ? -1 : 1));
const asServer = sorted([...truth.draft].map(([id, d]) => ({ id, version: d.version, note: d.form.note })));
for (const d of devices) {
  const local = sorted(d.client().sync.list("draft").map((x) => ({ id: x.id, version: x.version, note: x.form.note })));
  assert.deepEqual(local, asServer, d.name);
  assert.deepEqual(d.client().sync.list("application").map((a) => a.id), [appId], d.name);
}

// Every mutation was answered once for good, none was applied twice.
for (const [id, statuses] of outcomes) {
  assert.ok(statuses.length === 1 || statuses.every((s) => s === "duplicate" || s === "applied"), `${id}: ${statuses}`);
}
const seen = {};
for (const key of Object.keys(fa.seen)) seen[key] = fa.seen[key] + fb.seen[key];
assert.ok(seen.gap > 0 && seen.held > 0 && seen.doubled > 0 && seen.lost > 0 && seen.killed === 1, JSON.stringify(seen));

const storageKeys = [...wx.storage.keys()].length;
console.log(JSON.stringify({
  converged: true, seed: SEED, mutations: outcomes.size, drafts: saves.size, pushes: fa.pushes + fb.pushes, faults: seen,
  wx_storage_keys: storageKeys, wx_storage_bytes: wx.totalBytes(), socket_events: pokes.length,
  web_socket_closes: webSocketLive.closes, web_stream_closes: webStreamLive.closes,
}));
process.exit(0);
