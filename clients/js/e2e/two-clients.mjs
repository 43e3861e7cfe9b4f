// Two devices of one person against a real server: a mini-program (fake wx runtime enforcing
// WeChat's limits) and a web page (fetch, memory storage). They go offline in turns, queue drafts,
// uploads and a submission, lose push answers and send batches twice, come back and converge.
// Every mutation takes effect once. Env: ZB_BASE (server), ZB_SIM (WeChat simulator), ZB_MOTHER
// (the person's ID number).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  ZhangbanClient, Live, fetchTransport, fetchUploader, memoryStorage, wxTransport, wxStorage, wxUploader, wxSocket,
  wxLoginCode, mergeDraftForms,
} from "../dist/index.js";
import { fakeWx } from "../test/fake-wx.mjs";

const BASE = process.env.ZB_BASE;
const SIM = process.env.ZB_SIM;
const MOTHER = process.env.ZB_MOTHER;
const OPENID = `e2e-${randomUUID()}`;
const MATTER = "430200-YB-003"; // 生育津贴申领

const post = async (url, body) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, `${url}: ${r.status} ${text}`);
  return JSON.parse(text);
};
const loginCode = async () => (await post(`${SIM}/_sim/login-codes`, { openid: OPENID })).code;

/** Faults injected between a device and the network. */
function faulty(transport) {
  const f = { offline: false, losePushAnswers: 0, doublePushes: 0, pushes: 0 };
  f.transport = async (req) => {
    if (f.offline) throw new Error("offline");
    if (req.url.includes("/v1/sync/push")) {
      f.pushes += 1;
      if (f.doublePushes > 0) {
        f.doublePushes -= 1;
        await transport(req); // the same batch arrives twice (a retry racing the original)
      }
      const answer = await transport(req);
      if (f.losePushAnswers > 0) {
        f.losePushAnswers -= 1;
        throw new Error("connection reset after the server committed");
      }
      return answer;
    }
    return transport(req);
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
  sync: { onConflict: mergeDraftForms, onResult: record, pageSize: 3, maxBackoffMs: 200 },
});
await phone.open();
await phone.auth.wechatLogin(await wxLoginCode(wx));
await phone.auth.realname({ name: "王芳", id_number: MOTHER }, (session) =>
  post(`${SIM}/_sim/face-results`, { verify_id: session.verify_id, verify_ret: 10000 }).then(() => undefined));

// --- the web page, same person ------------------------------------------------------------------------
const fb = faulty(fetchTransport());
const web = new ZhangbanClient({
  baseUrl: BASE, transport: fb.transport, storage: memoryStorage(), uploader: fb.uploader(fetchUploader()),
  sync: { onConflict: mergeDraftForms, onResult: record, maxBackoffMs: 200 },
});
await web.open();
await web.auth.wechatLogin(await loginCode());
await Promise.all([phone.sync.syncUntilDone(20), web.sync.syncUntilDone(20)]);

// The phone listens on its socket; the web's pushes poke it.
const pokes = [];
let wake = null;
const live = new Live(phone.http, wxSocket(wx), { kind: "socket", onEvent: (e) => { pokes.push(e.event); if (wake) wake(); } });
await live.start();

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
const server = await (await fetch(`${BASE}/v1/applications/${appId}`, { headers: { authorization: `Bearer ${(await web.http.currentTokens()).access_token}` } })).json();
assert.equal(server.id, appId);
assert.ok(server.materials.some((m) => m.blob_sha256 && !String(m.blob_sha256).startsWith("zb-blob:")));

// Every mutation was answered once for good, none was applied twice.
for (const [id, statuses] of outcomes) {
  assert.ok(statuses.length === 1 || statuses.every((s) => s === "duplicate" || s === "applied"), `${id}: ${statuses}`);
}

// 6. The socket poked the phone; WeChat closes it in the background, the SDK opens a new one.
if (!pokes.includes("sync")) await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 10000); });
assert.ok(pokes.includes("sync"), `socket events: ${pokes}`);
const before = wx.sockets.size;
wx.background();
await new Promise((resolve) => { const t = setInterval(() => { if (wx.sockets.size >= before && wx.sockets.size > 0) { clearInterval(t); resolve(); } }, 50); });
live.stop();

const storageKeys = [...wx.storage.keys()].length;
console.log(JSON.stringify({ converged: true, mutations: outcomes.size, pushes: fa.pushes + fb.pushes, wx_storage_keys: storageKeys, wx_storage_bytes: wx.totalBytes(), socket_events: pokes.length }));
process.exit(0);
