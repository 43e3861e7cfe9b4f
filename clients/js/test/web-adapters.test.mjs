// The web adapters: IndexedDB storage (fake-indexeddb, an in-memory IndexedDB that follows the
// spec), the WebSocket and EventSource live channels against local servers speaking the server's
// frames (the two-client run drives both against a real `zhangban serve`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { IDBFactory } from "fake-indexeddb";
import { WebSocket, WebSocketServer } from "ws";
import { EventSource } from "eventsource";
import { indexedDbStorage, webSocket, eventSource, SyncEngine, HttpCore } from "../dist/index.js";

test("IndexedDB storage keeps values, lists keys by prefix, removes, and survives a reopen", async () => {
  const factory = new IDBFactory();
  const store = indexedDbStorage("zb-test", factory);
  assert.equal(await store.get("zb:a"), null);
  const big = "张三的申请材料".repeat(200_000); // 4.2 MB: no per-key limit as in wx storage
  await store.set("zb:a", big);
  await store.set("zb:b", "2");
  await store.set("other", "3");
  assert.equal(await store.get("zb:a"), big);
  assert.deepEqual((await store.keys("zb:")).sort(), ["zb:a", "zb:b"]);
  await store.set("zb:b", "two");
  await store.remove("zb:a");
  const reopened = indexedDbStorage("zb-test", factory); // a page reload: same database
  assert.equal(await reopened.get("zb:a"), null);
  assert.equal(await reopened.get("zb:b"), "two");
  assert.deepEqual(await reopened.keys(""), ["other", "zb:b"]);
  assert.deepEqual(await indexedDbStorage("another-app", factory).keys(""), []);
});

test("the sync queue on IndexedDB survives a reload with its seqs", async () => {
  const factory = new IDBFactory();
  const store = indexedDbStorage("zb", factory);
  const http = new HttpCore("http://127.0.0.1:9", async () => { throw new Error("offline"); }, store);
  const first = new SyncEngine(http, store);
  await first.open();
  await first.saveDraft({ draft_id: "d1", matter_code: "m", form: { a: 1 }, materials: [] });
  await first.mutate("notification.read", { notification_id: "n1" });
  const again = new SyncEngine(http, indexedDbStorage("zb", factory));
  await again.open();
  assert.equal(again.clientId, first.clientId);
  assert.deepEqual(again.pending().map((m) => [m.seq, m.name]), [[1, "draft.save"], [2, "notification.read"]]);
  assert.deepEqual(again.get("draft", "d1").form, { a: 1 });
  await again.mutate("draft.delete", { draft_id: "d1" });
  assert.equal(again.pending()[2].seq, 3);
});

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const until = async (ok) => { for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10)); assert.ok(ok()); };

test("the WebSocket adapter turns frames into events and reports the close code once", async () => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const port = await listen(http);
  const urls = [];
  wss.on("connection", (socket, req) => {
    urls.push(req.url);
    socket.send(JSON.stringify({ event: "notification", id: "n1", data: { kind: "x" } }));
    socket.send(JSON.stringify({ event: "sync", data: { version: 3 } }));
    socket.send("not json");
    socket.send(JSON.stringify({ event: "ping" }));
    setTimeout(() => socket.close(1012, "restarting"), 20);
  });
  const events = [], closes = [];
  webSocket(WebSocket)(`http://127.0.0.1:${port}/v1/notifications/socket?ticket=t`, { onEvent: (e) => events.push(e), onClose: (r) => closes.push(r) });
  await until(() => closes.length === 1);
  assert.deepEqual(urls, ["/v1/notifications/socket?ticket=t"]); // http: became ws:
  assert.deepEqual(events, [
    { event: "notification", id: "n1", data: '{"kind":"x"}' },
    { event: "sync", id: null, data: '{"version":3}' },
    { event: "ping", id: null, data: "" },
  ]);
  assert.deepEqual(closes, ["closed 1012"]);
  wss.close();
  http.closeAllConnections();
  http.close();
});

test("the EventSource adapter hands on named events with their ids and ends at the stream's end", async () => {
  const seen = [];
  const http = createServer((req, res) => {
    seen.push(req.url);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("id: n1\nevent: notification\ndata: {\"kind\":\"x\"}\n\n");
    res.write("event: sync\ndata: {\"version\":3}\n\n");
    res.write(": ping\n\n");
    setTimeout(() => res.end(": reconnect\nretry: 2000\n\n"), 20);
  });
  const port = await listen(http);
  const events = [], closes = [];
  const connection = eventSource(EventSource)(`http://127.0.0.1:${port}/v1/notifications/stream?ticket=t`, {
    onEvent: (e) => events.push(e), onClose: (r) => closes.push(r),
  });
  await until(() => closes.length === 1);
  connection.close();
  assert.deepEqual(events, [
    { event: "notification", id: "n1", data: '{"kind":"x"}' },
    { event: "sync", id: null, data: '{"version":3}' },
  ]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.length, 1); // the adapter closed it: the core reconnects with a new ticket, not EventSource
  http.closeAllConnections();
  http.close();
});
