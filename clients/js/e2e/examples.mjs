// Runs the documentation's examples (examples/*.mjs, embedded in docs/README.zh-CN.md) against a
// real server, as a mini-program on the fake wx runtime. Env: ZB_BASE, ZB_SIM, ZB_PERSON_NAME,
// ZB_PERSON_ID (a person a department has issued an ID card to).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { fetchTransport } from "../dist/index.js";
import { fakeWx } from "../test/fake-wx.mjs";
import { login } from "../examples/login.mjs";
import { saveDraftOffline } from "../examples/sync.mjs";
import { attachPhoto } from "../examples/upload.mjs";
import { presentCertificate } from "../examples/present.mjs";
import { downloadTrust, verifyOffline } from "../examples/verify.mjs";
import { openWebClient, listenLive } from "../examples/web.mjs";
import { IDBFactory } from "fake-indexeddb";
import { WebSocket } from "ws";
import { EventSource } from "eventsource";

const { ZB_BASE: BASE, ZB_SIM: SIM, ZB_PERSON_NAME: NAME, ZB_PERSON_ID: ID } = process.env;
const post = async (url, body) => {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, text);
  return JSON.parse(text);
};
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const openid = `docs-${randomUUID()}`;
const wx = fakeWx({
  handler: fetchTransport(),
  loginCode: async () => (await post(`${SIM}/_sim/login-codes`, { openid })).code,
  face: (verifyId) => post(`${SIM}/_sim/face-results`, { verify_id: verifyId, verify_ret: 10000 }),
  files: new Map([["wxfile://tmp/invoice.png", PNG]]),
});

const client = await login(wx, BASE, { name: NAME, id_number: ID });
assert.ok(await client.auth.loggedIn());

const form = { mother_id_number: ID, bank_account_no: "6222020202020202" };
const saved = await saveDraftOffline(client, "430200-YB-003", form);
assert.equal(saved.shown.form.bank_account_no, "6222020202020202");
assert.equal(saved.pending, 0);
assert.ok(saved.drafts.some((d) => d.id === saved.draftId));

const sha = await attachPhoto(client, saved.draftId, "430200-YB-003", form, "wxfile://tmp/invoice.png");
assert.match(sha, /^[0-9a-f]{64}$/);

const shown = await presentCertificate(client, ["name"]);
assert.match(shown.qrUrl, /^HTTP:\/\/127\.0\.0\.1:\d+\/V\/ZB1:/);

// The synced wallet item is slim: its token is fetched once, then served from storage.
await client.sync.syncUntilDone(10);
const [card] = client.sync.list("wallet_item").filter((i) => i.data && i.data.token_sha256);
const requestsBefore = wx.requests;
const kept = await client.walletToken(card.id);
assert.match(kept, /^ZB1:/);
assert.equal(await client.walletToken(card.id), kept);
assert.equal(wx.requests, requestsBefore + 1);
assert.equal((await verifyOffline(kept, await downloadTrust(async (u) => (await fetch(u.startsWith("http") ? u : BASE + u)).text(), (await (await fetch(`${BASE}/v1/root-certificate`)).text()).replace(/-----[^-]+-----/g, "").replace(/\s+/g, "")))).ok, true);

const pem = await (await fetch(`${BASE}/v1/root-certificate`)).text();
const rootBase64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
const fetchText = async (url) => (await fetch(url.startsWith("http") ? url : BASE + url)).text();
const trust = await downloadTrust(fetchText, rootBase64);
const verdict = await verifyOffline(shown.qrUrl, trust);
assert.deepEqual(verdict, { ok: true, fields: verdict.fields });
assert.equal(Object.keys(verdict.fields).length, 1);

// The same person on a web page: IndexedDB, the live channel over WebSocket, else EventSource.
for (const platform of [{ indexedDB: new IDBFactory(), WebSocket }, { indexedDB: new IDBFactory(), EventSource }]) {
  const web = await openWebClient(BASE, platform);
  await web.auth.wechatLogin((await post(`${SIM}/_sim/login-codes`, { openid })).code);
  const live = await listenLive(web, platform);
  await new Promise((resolve, reject) => {
    const deadline = Date.now() + 15000;
    const t = setInterval(() => {
      if (web.sync.list("draft").some((d) => d.id === saved.draftId)) resolve(clearInterval(t)); // the sync event pulled it
      else if (Date.now() > deadline) reject(new Error(`no sync over ${Object.keys(platform)[1]}`));
    }, 50);
  });
  live.stop();
  const reloaded = await openWebClient(BASE, platform); // a reload: the copy comes back from IndexedDB
  assert.ok(reloaded.sync.list("draft").some((d) => d.id === saved.draftId));
}
console.log(JSON.stringify({ examples: "ok", fields: verdict.fields }));
process.exit(0);
