// Making `ZB2:` presentations on the device: `node bench/present.mjs corpus.json [count]` makes
// presentations of two fields from the corpus's credential (tests/esign/vectors/zb2.json's shape) with
// a non-extractable WebCrypto key and with the pure-JS key mini-programs use, beside the same run's
// baseline: raw P-256 signing of a message of the same size with the same key (budget ≤ 50 ms each).
import { readFile } from "node:fs/promises";
import { base64Decode, makePresentation, memoryStorage, nobleDeviceKey, readHeldCredential } from "../dist/index.js";

const corpus = JSON.parse(await readFile(process.argv[2], "utf8"));
const count = Number(process.argv[3] || 500);
const subtle = globalThis.crypto.subtle;
const algorithm = { name: "ECDSA", namedCurve: "P-256" };
const pkcs8 = base64Decode(corpus.device_private_key_pkcs8);
const jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]));
const privateKey = await subtle.importKey("pkcs8", pkcs8, algorithm, false, ["sign"]);
const webKey = {
  publicKey: new Uint8Array([4, ...base64Decode(jwk.x), ...base64Decode(jwk.y)]),
  nonExtractable: true,
  sign: async (data) => new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data)),
};
const credential = readHeldCredential(corpus.credential);
const now = Math.floor(Date.now() / 1000);
const at = Math.min(now, credential.exp - 1);
const sample = await makePresentation(credential, webKey, { fields: [1, 3], now: at });

const time = async (fn) => {
  for (let i = 0; i < 20; i++) await fn(); // warm up
  const start = performance.now();
  for (let i = 0; i < count; i++) await fn();
  return (performance.now() - start) / count;
};
// The pure-JS key signs for itself: its credential would name its own key, so the credential's key check is skipped here.
const nobleKey = await nobleDeviceKey(memoryStorage(), async (n) => globalThis.crypto.getRandomValues(new Uint8Array(n))).create();
const message = new Uint8Array(sample.length);
for (const [name, key] of [["WebCrypto", webKey], ["pure JS (@noble/curves)", { ...nobleKey, publicKey: webKey.publicKey }]]) {
  const make = await time(() => makePresentation(credential, key, { fields: [1, 3], now: at }));
  const raw = await time(() => key.sign(message));
  console.log(`${name}: making a presentation ${make.toFixed(3)} ms, raw P-256 signing ${raw.toFixed(3)} ms (budget ≤ 50 ms)`);
  console.log(`ratio making / raw signing (${name}): ${(make / raw).toFixed(2)}`);
}
console.log(`presentation of two fields: ${sample.length} characters`);
