import { test } from "node:test";
import assert from "node:assert/strict";
import { wxStorage, ProblemError, memoryStorage } from "../dist/index.js";
import { fakeWx, MB } from "./fake-wx.mjs";

test("the fake wx refuses a value over 1 MB, as WeChat does", async () => {
  const wx = fakeWx();
  await assert.rejects(new Promise((resolve, reject) => wx.setStorage({ key: "k", data: "x".repeat(MB + 1), success: resolve, fail: (e) => reject(new Error(e.errMsg)) })), /size limit/);
});

test("wx storage keeps a 3 MB value of Chinese text in chunks under 1 MB and reads it back", async () => {
  const wx = fakeWx();
  const store = wxStorage(wx);
  const value = "张三的申请材料".repeat(150_000); // 1.05 M characters, 3.15 MB in UTF-8
  await store.set("zb:big", value);
  assert.equal(await store.get("zb:big"), value);
  for (const [k, v] of wx.storage) assert.ok(Buffer.byteLength(k + v) <= MB, `${k} is over 1 MB`);
  assert.ok(wx.storage.size >= 4);
  // Rewriting it smaller removes the old chunks.
  await store.set("zb:big", "small");
  assert.equal(await store.get("zb:big"), "small");
  assert.deepEqual([...wx.storage.keys()], ["zb:big"]);
  assert.deepEqual(await store.keys("zb:"), ["zb:big"]);
  await store.remove("zb:big");
  assert.equal(await store.get("zb:big"), null);
  assert.equal(wx.totalBytes(), 0);
});

test("wx storage over 10 MB in all fails with a storage_full problem and keeps the old value", async () => {
  const wx = fakeWx();
  const store = wxStorage(wx);
  await store.set("a", "x".repeat(6 * MB));
  await store.set("b", "old");
  const err = await store.set("b", "y".repeat(5 * MB)).then(() => null, (e) => e);
  assert.ok(err instanceof ProblemError);
  assert.equal(err.type, "storage_full");
  assert.equal(await store.get("b"), "old");
});

test("memory storage lists keys by prefix", async () => {
  const s = memoryStorage();
  await s.set("zb:a", "1");
  await s.set("other", "2");
  assert.deepEqual(await s.keys("zb:"), ["zb:a"]);
});
