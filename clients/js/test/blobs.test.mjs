// Uploads queued offline survive a reload: on the web the bytes are kept in IndexedDB (fake-indexeddb),
// on wx the queue keeps the file's path on disk. A local server speaks the server's multipart upload
// and push, counting what arrives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IDBFactory } from "fake-indexeddb";
import {
  ZhangbanClient, ProblemError, fetchTransport, fetchUploader, indexedDbStorage, memoryStorage, wxStorage, wxTransport, wxUploader,
} from "../dist/index.js";
import { fakeWx } from "./fake-wx.mjs";

const PHOTO = "出生医学证明照片-" + "像素".repeat(5000);
const sha = (text) => createHash("sha256").update(text).digest("hex");

/** Answers POST /v1/blobs (recording each file's content) and POST /v1/sync/push (recording mutations). */
async function fakeServer() {
  const uploads = [];
  const pushed = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString("utf8");
    const answer = (status, value) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.url === "/v1/blobs" && req.method === "POST") {
      const content = body.includes(PHOTO) ? PHOTO : null;
      uploads.push(content);
      if (!content) return answer(400, { type: "bad_upload", title: "No file", status: 400 });
      return answer(201, { sha256: sha(content), size: Buffer.byteLength(content), content_type: "image/jpeg" });
    }
    if (req.url.startsWith("/v1/sync/push")) {
      const batch = JSON.parse(body);
      pushed.push(...batch.mutations);
      const last = batch.mutations[batch.mutations.length - 1];
      return answer(200, { results: batch.mutations.map((m) => ({ id: m.id, status: "applied" })), last_seq: last ? last.seq : 0 });
    }
    return answer(404, { type: "not_found", title: "Not found", status: 404 });
  });
  const port = await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  return { base: `http://127.0.0.1:${port}`, uploads, pushed, close: () => new Promise((r) => server.close(r)) };
}

/** A network switch: while off, requests and uploads fail as they do offline. */
function network() {
  const net = { online: false };
  net.gate = (fn) => async (request) => {
    if (!net.online) throw new TypeError("Failed to fetch");
    return fn(request);
  };
  return net;
}

test("an upload queued offline on the web survives a reload in IndexedDB, is sent once, then its bytes are gone", async () => {
  const server = await fakeServer();
  const factory = new IDBFactory();
  const net = network();
  const open = async () => {
    const c = new ZhangbanClient({
      baseUrl: server.base,
      transport: net.gate(fetchTransport()),
      storage: indexedDbStorage("zb-app", factory),
      uploader: net.gate(fetchUploader()),
      sync: { namespace: "app" },
    });
    await c.open();
    return c;
  };
  try {
    const first = await open();
    const ref = await first.blobs.add({ blob: new Blob([PHOTO], { type: "image/jpeg" }), name: "photo.jpg" });
    await first.sync.mutate("application.submit", { application_id: "a1", bundle_code: "birth", form: {}, materials: [{ code: "m1", blob_sha256: ref }] });
    await assert.rejects(first.sync.push(), (e) => e instanceof ProblemError && e.transient);

    // The page is reloaded, still offline: a new SDK on the same IndexedDB.
    const second = await open();
    assert.equal(await second.blobs.waiting(), 1);
    const preview = await second.blobs.file(ref);
    assert.equal(await preview.blob.text(), PHOTO, "the queued photo can be shown again after the reload");
    assert.deepEqual(second.sync.pending().map((m) => m.name), ["application.submit"]);

    net.online = true;
    await second.sync.push();
    assert.deepEqual(server.uploads, [PHOTO], "the photo is uploaded once");
    assert.equal(server.pushed.length, 1);
    assert.deepEqual(server.pushed[0].args.materials, [{ code: "m1", blob_sha256: sha(PHOTO) }], "the submission lands with the blob's hash");
    assert.equal(second.sync.pending().length, 0);
    assert.equal(await second.blobs.waiting(), 0);
    assert.equal(await second.blobs.file(ref), null, "the uploaded bytes are no longer kept");

    // Another reload and another push: nothing is sent again.
    const third = await open();
    await third.sync.push();
    assert.equal(server.uploads.length, 1);
    assert.equal(server.pushed.length, 1);
  } finally {
    await server.close();
  }
});

test("where storage keeps no files, a reload loses the web file and says so (blob_lost)", async () => {
  const server = await fakeServer();
  const store = memoryStorage();
  const make = () => new ZhangbanClient({ baseUrl: server.base, transport: fetchTransport(), storage: store, uploader: fetchUploader(), sync: { namespace: "m" } });
  try {
    const first = make();
    await first.open();
    const ref = await first.blobs.add({ blob: new Blob([PHOTO]), name: "p.jpg" });
    const second = make();
    await second.open();
    await assert.rejects(second.blobs.send(ref), (e) => e instanceof ProblemError && e.type === "blob_lost");
    assert.deepEqual(server.uploads, []);
  } finally {
    await server.close();
  }
});

test("on wx a queued file's path survives a restart of the mini-program and is uploaded once", async () => {
  const server = await fakeServer();
  const dir = await mkdtemp(join(tmpdir(), "zb-wx-"));
  const path = join(dir, "photo.jpg");
  await writeFile(path, PHOTO);
  const net = network();
  const forward = async ({ url, method, headers, body }) => {
    const res = await fetch(url, { method, headers, body });
    return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
  };
  const wx = fakeWx({ handler: net.gate(forward) });
  const open = async () => {
    const c = new ZhangbanClient({
      baseUrl: server.base, transport: wxTransport(wx), storage: wxStorage(wx), uploader: net.gate(wxUploader(wx)), sync: { namespace: "mp" },
    });
    await c.open();
    return c;
  };
  try {
    const first = await open();
    const ref = await first.blobs.add({ path });
    await first.sync.mutate("application.submit", { application_id: "a2", bundle_code: "birth", form: {}, materials: [{ code: "m1", blob_sha256: ref }] });
    await assert.rejects(first.sync.push(), (e) => e instanceof ProblemError && e.transient);

    const second = await open(); // the mini-program is killed and started again: same wx storage
    assert.deepEqual(await second.blobs.file(ref), { path });
    net.online = true;
    await second.sync.push();
    assert.deepEqual(server.uploads, [PHOTO]);
    assert.deepEqual(server.pushed.map((m) => m.args.materials[0].blob_sha256), [sha(PHOTO)]);
    await (await open()).sync.push();
    assert.equal(server.uploads.length, 1);
  } finally {
    await server.close();
  }
});
