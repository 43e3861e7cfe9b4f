// `ZB2:` holder-bound presentations (FORMATS.md): this device's key (WebCrypto non-extractable in
// IndexedDB; @noble/curves in wx storage), presentations made offline from the server's credential,
// and the SDK's offline verifier giving the verdicts of the shared corpus the server's tests make
// (tests/esign/vectors/zb2.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { IDBFactory } from "fake-indexeddb";
import {
  base64Decode, makePresentation, memoryStorage, nobleDeviceKey, parseStatusList, parseTrustList, readHeldCredential,
  verifyToken, webCryptoDeviceKey, wxDeviceKey, wxStorage, decodePresentation, ProblemError,
} from "../dist/index.js";
import { fakeWx } from "./fake-wx.mjs";

const VECTORS = new URL("../../../tests/esign/vectors/zb2.json", import.meta.url);
const vectors = existsSync(VECTORS) ? JSON.parse(readFileSync(VECTORS, "utf8")) : null;

async function material() {
  const trust = await parseTrustList(vectors.trust_list, base64Decode(vectors.root_certificate));
  const lists = new Map();
  for (const [id, text] of Object.entries(vectors.status_lists)) lists.set(Number(id), await parseStatusList(text, trust));
  return { trust, lists };
}

/** The corpus's device key, imported non-extractable as a device would hold it. */
async function corpusDevice() {
  const subtle = globalThis.crypto.subtle;
  const privateKey = await subtle.importKey("pkcs8", base64Decode(vectors.device_private_key_pkcs8), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", base64Decode(vectors.device_private_key_pkcs8), { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]));
  const publicKey = new Uint8Array([4, ...base64Decode(jwk.x), ...base64Decode(jwk.y)]);
  return { publicKey, nonExtractable: true, sign: async (data) => new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data)) };
}

test("the offline verifier gives every verdict of the server's ZB2 corpus", { skip: !vectors && "no corpus" }, async () => {
  const { trust, lists } = await material();
  for (const c of vectors.cases) {
    const v = await verifyToken(c.token, trust, lists, { now: c.at, nonce: c.cnonce ? base64Decode(c.cnonce) : undefined });
    assert.equal(v.valid, c.valid, `${c.name}: ${JSON.stringify(v)}`);
    if (c.reasons) assert.deepEqual(v.reasons, c.reasons, c.name);
    if (c.fields) assert.deepEqual(v.certificate.fields.map((f) => [f.n, f.value]), c.fields, c.name);
    if (c.checks) assert.deepEqual(v.checks, c.checks, c.name);
    if (c.valid) assert.equal(v.certificate.holder_bound, true);
  }
  // Its QR code's URL too, as a phone camera gives it.
  const two = vectors.cases.find((c) => c.name === "two_fields");
  const url = `HTTP://127.0.0.1:8000/V/${two.token.replace(/%/g, "%25").replace(/ /g, "%20").replace(/\//g, "%2F")}`;
  assert.equal((await verifyToken(url, trust, lists, { now: two.at })).valid, true);
});

test("a presentation made offline discloses only the chosen fields, carries the nonce, and ages out", { skip: !vectors && "no corpus" }, async () => {
  const { trust, lists } = await material();
  const credential = readHeldCredential(vectors.credential);
  const device = await corpusDevice();
  const now = vectors.cases[0].at;
  const token = await makePresentation(credential, device, { fields: [3, 1], now });
  assert.match(token, /^ZB2:[0-9A-Z $%*+\-./:]+$/);
  const v = await verifyToken(token, trust, lists, { now: now + 10 });
  assert.deepEqual([v.valid, v.reasons], [true, []]);
  assert.deepEqual(v.certificate.fields.map((f) => [f.n, f.label, f.value]), [[1, "性别", "男"], [3, "与户主关系", "户主"]]);
  // The other fields are not in the token at all: only their salted hashes are.
  assert.equal(decodePresentation(token).credential.disclosures.length, 2);
  assert.ok(!token.includes("湖南") && decodePresentation(token).credential.disclosures.every((d) => d.n !== 4));
  assert.deepEqual((await verifyToken(token, trust, lists, { now: now + 360 })).reasons, ["presentation_expired"]);
  // A verifier that showed a nonce first accepts only a presentation that carries it.
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(16));
  const answered = await makePresentation(credential, device, { fields: [4], nonce, now });
  assert.equal((await verifyToken(answered, trust, lists, { now, nonce })).valid, true);
  assert.deepEqual((await verifyToken(token, trust, lists, { now, nonce })).reasons, ["nonce"]);
  // Three of its four fields, ES256: within the size budget (1,100 characters).
  assert.ok((await makePresentation(credential, device, { fields: [1, 2, 4], now })).length <= 1100);
});

test("a copied credential is useless without the device's key", { skip: !vectors && "no corpus" }, async () => {
  const { trust, lists } = await material();
  const credential = readHeldCredential(vectors.credential);
  const thief = await nobleDeviceKey(memoryStorage(), async (n) => globalThis.crypto.getRandomValues(new Uint8Array(n))).create();
  await assert.rejects(makePresentation(credential, thief, { fields: [1] }), (err) => err instanceof ProblemError && err.type === "credential_other_device");
  // Claiming the device's public key does not help: the signature is checked against it.
  const device = await corpusDevice();
  const forged = await makePresentation(credential, { ...thief, publicKey: device.publicKey }, { fields: [1], now: vectors.cases[0].at });
  assert.deepEqual((await verifyToken(forged, trust, lists, { now: vectors.cases[0].at })).reasons, ["holder_binding"]);
});

test("the web device key is non-extractable and kept in IndexedDB across reloads", async () => {
  const factory = new IDBFactory();
  const store = webCryptoDeviceKey("zb-device-test", globalThis.crypto.subtle, factory);
  assert.equal(await store.load(), null);
  const made = await store.create();
  assert.equal(made.nonExtractable, true);
  assert.equal(made.publicKey.length, 65);
  const again = await webCryptoDeviceKey("zb-device-test", globalThis.crypto.subtle, factory).load(); // a page reload
  assert.deepEqual(again.publicKey, made.publicKey);
  const data = new TextEncoder().encode("Signature1");
  const key = await globalThis.crypto.subtle.importKey("raw", made.publicKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  assert.ok(await globalThis.crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, await again.sign(data), data));
  await store.remove();
  assert.equal(await store.load(), null);
});

test("the mini-program's device key comes from wx.getRandomValues, is kept in wx storage and says it is extractable", async () => {
  const wx = fakeWx();
  const storage = wxStorage(wx);
  const made = await wxDeviceKey(wx, storage).create();
  assert.equal(made.nonExtractable, false);
  const again = await wxDeviceKey(wx, wxStorage(wx)).load();
  assert.deepEqual(again.publicKey, made.publicKey);
  const data = new TextEncoder().encode("key binding");
  const key = await globalThis.crypto.subtle.importKey("raw", made.publicKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  assert.ok(await globalThis.crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, await again.sign(data), data));
  const old = { ...wx, getRandomValues: undefined };
  await assert.rejects(wxDeviceKey(old, wxStorage(old)).create(), /getRandomValues/);
});
