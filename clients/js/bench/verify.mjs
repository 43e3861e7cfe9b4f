// Offline verification throughput: `node bench/verify.mjs corpus.json` verifies every token of the
// corpus (as scripts/verify-corpus.mjs reads it) with the full checks, then the raw signature check
// alone (decode + ES256) as the same run's baseline, with WebCrypto and with the pure-JS verifier.
import { readFile } from "node:fs/promises";
import { base64Decode, nobleEs256, parseStatusList, parseTrustList, verifySignatureOnly, verifyToken, webCryptoEs256 } from "../dist/index.js";

const corpus = JSON.parse(await readFile(process.argv[2], "utf8"));
const trust = await parseTrustList(corpus.trust_list, base64Decode(corpus.root_cert));
const lists = new Map();
for (const text of corpus.status_lists) {
  const list = await parseStatusList(text, trust);
  for (const [id, url] of trust.statusLists) if (url === list.url) lists.set(id, list);
}
const tokens = Object.values(corpus.tokens);
const now = Object.values(corpus.times)[0];
const rate = async (fn) => {
  await fn(tokens.slice(0, 20)); // warm up
  const start = performance.now();
  const ok = await fn(tokens);
  return { perSecond: tokens.length / ((performance.now() - start) / 1000), ok };
};
for (const [name, es256] of [["WebCrypto", webCryptoEs256(globalThis.crypto.subtle)], ["pure JS (@noble/curves)", nobleEs256()]]) {
  const full = await rate(async (ts) => {
    let valid = 0;
    for (const t of ts) valid += (await verifyToken(t, trust, lists, { now, es256 })).valid ? 1 : 0;
    return valid;
  });
  const raw = await rate(async (ts) => {
    let valid = 0;
    for (const t of ts) valid += (await verifySignatureOnly(t, trust, es256)) ? 1 : 0;
    return valid;
  });
  if (full.ok !== tokens.length || raw.ok !== tokens.length) throw new Error(`${name}: not every token verified`);
  console.log(`${name}: offline verification ${full.perSecond.toFixed(0)} tokens/s, raw signature ${raw.perSecond.toFixed(0)} tokens/s`);
  console.log(`ratio verification / raw (${name}): ${(full.perSecond / raw.perSecond).toFixed(2)}`);
}
