import { test } from "node:test";
import assert from "node:assert/strict";
import { sm3, sm2Verify } from "../dist/index.js";

const hex = (b) => Buffer.from(b).toString("hex");

test("SM3 gives GB/T 32905's example digests", () => {
  assert.equal(hex(sm3(Buffer.from("abc"))), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  assert.equal(hex(sm3(Buffer.from("abcd".repeat(16)))), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  assert.equal(hex(sm3(new Uint8Array(0))), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
});

test("SM2 refuses what is not a signature by the key", async () => {
  const key = Buffer.from("04" + "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0", "hex");
  assert.equal(await sm2Verify(key, Buffer.from("m"), new Uint8Array(64)), false); // r = s = 0
  assert.equal(await sm2Verify(key, Buffer.from("m"), new Uint8Array(63).fill(1)), false);
  assert.equal(await sm2Verify(new Uint8Array(65).fill(4), Buffer.from("m"), new Uint8Array(64).fill(1)), false); // not a point
});
