// Verifies a corpus offline with the SDK: `node scripts/verify-corpus.mjs corpus.json` prints the
// verdict of every token at every time. The corpus: {root_cert (base64 DER), trust_list (JWS),
// status_lists: [JWT], times: {label: unix seconds}, tokens: {name: token}}.
import { readFile } from "node:fs/promises";
import { base64Decode, parseStatusList, parseTrustList, verifyToken } from "../dist/index.js";

const corpus = JSON.parse(await readFile(process.argv[2], "utf8"));
const trust = await parseTrustList(corpus.trust_list, base64Decode(corpus.root_cert));
const out = {};
for (const [label, now] of Object.entries(corpus.times)) {
  const lists = new Map();
  for (const text of corpus.status_lists) {
    const list = await parseStatusList(text, trust);
    for (const [id, url] of trust.statusLists) if (url === list.url) lists.set(id, list);
  }
  out[label] = {};
  for (const [name, token] of Object.entries(corpus.tokens)) {
    const v = await verifyToken(token, trust, lists, { now });
    const c = v.certificate;
    const shown = c ? { type_code: c.type_code, type_name: c.type_name, gb_type_code: c.gb_type_code, licence_id: c.licence_id, fields: c.fields } : null;
    out[label][name] = { valid: v.valid, reasons: v.reasons, checks: v.checks, certificate: shown, detail: v.detail };
  }
}
console.log(JSON.stringify(out));
