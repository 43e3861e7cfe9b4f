/**
 * `ZB2:` holder-bound presentations (FORMATS.md §Holder-bound presentations), a profile of SD-CWT
 * (draft-ietf-spice-sd-cwt-09): a key binding token signed by the device's key, carrying in its
 * protected header (`kcwt`) the presentation credential the platform's presenter seal signed, with
 * only the disclosures the holder chose. Verified offline in the order FORMATS.md gives: credential
 * signature → its exp → holder_binding → presentation_expired → nonce → disclosure → status.
 *
 * The profile, as the server makes and reads it (esign/zb2.py): the credential is a tagged COSE_Sign1,
 * protected header `{1: alg, 4: kid, 16 (typ): 293 (application/sd-cwt), 170 (sd_alg): -16}`,
 * unprotected `{17: [disclosures]}` (omitted when none); the key binding token's protected header is
 * `{1: -7, 13: credential, 16: 294 (application/kb+cwt)}`, its payload `{6: iat, 39?: cnonce}`. A
 * disclosure's hash is SHA-256 of its encoded bytes. Every item is in canonical CBOR (one spelling).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { base45Decode, equalBytes, hex, utf8Encode } from "./base.js";
import { CborValue, REDACTED_KEYS, Tagged, concat, decodeCanonical } from "./cbor.js";
import { buildLicenceId, creditCodeOk } from "./checks.js";
import { p256 } from "./p256.js";
import { sm2Verify } from "./sm2.js";
import {
  Check, DisclosedField, StatusList, TrustList, Verdict, VerifierError, VerifyOptions, bareToken, bstr, decompress, fieldsOf,
  findSeal, freshness, isInt, iso, sealReasons, sharedEs256, statusReasons,
} from "./verify.js";

const PRIVATE = -65537;
const SD_CLAIMS = 17;
const SD_ALG = 170;
const KCWT = 13;
const CNF = 8;
const CNONCE = 39;
const TYP = 16;
const TYP_SD_CWT = 293;
const TYP_KB_CWT = 294;
/** Longest a presentation credential lives: 7 days. */
export const CREDENTIAL_MAX_SECONDS = 7 * 24 * 3600;
/** How old a presentation may be (`iat`), plus the leeway. */
export const PRESENTATION_SECONDS = 300;

/** One salted disclosure `[salt, value, field number]` and its encoded bytes (what is hashed). */
export interface Disclosure {
  bytes: Uint8Array;
  n: number;
  value: string | number | boolean | null;
}

/** A presentation credential's parts, as a device holds it or a verifier reads it from `kcwt`. */
export interface Credential {
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  alg: number;
  kid: string;
  iss: string;
  iat: number;
  exp: number;
  cti: Uint8Array;
  /** The device key (uncompressed SEC1 point) presentations must be signed by. */
  holderKey: Uint8Array;
  typeCode: string;
  serial: string;
  version: number;
  holderName: string;
  holderId: string;
  status: [number, number];
  credentialStatus: [number, number];
  /** SHA-256 of each field's salted disclosure (hex). */
  hashes: string[];
  disclosures: Disclosure[];
}

/** COSE Sig_structure of a COSE_Sign1 with no external data (RFC 9052 §4.4). */
export const sigStructure = (protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array =>
  concat([[0x84, 0x6a], utf8Encode("Signature1"), bstr(protectedBytes), [0x40], bstr(payload)]);

/** Decodes `data` as one canonical CBOR item; throws VerifierError naming `what`. */
function strict(data: Uint8Array, what: string): CborValue {
  try {
    return decodeCanonical(data);
  } catch {
    throw new VerifierError(`${what} is not canonical CBOR`);
  }
}

/** Whether `m` is a map with exactly the keys `keys`. */
function exactly(m: CborValue, keys: CborValue[]): m is Map<CborValue, CborValue> {
  return m instanceof Map && m.size === keys.length && keys.every((k) => m.has(k));
}

const slot = (v: CborValue): [number, number] => {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0) || (v[1] as number) >= 131072) {
    throw new VerifierError("status slot");
  }
  return [v[0] as number, v[1] as number];
};

/** The COSE_Key of `cnf` (EC2, P-256, compressed: x and the sign of y) as an uncompressed point. */
function holderKeyOf(cnf: CborValue): Uint8Array {
  const key = exactly(cnf, [1]) ? cnf.get(1) : null;
  if (!exactly(key, [1, -1, -2, -3]) || key.get(1) !== 2 || key.get(-1) !== 1) throw new VerifierError("cnf must hold an EC2 P-256 COSE_Key");
  const x = key.get(-2);
  const y = key.get(-3);
  if (!(x instanceof Uint8Array) || x.length !== 32 || typeof y !== "boolean") throw new VerifierError("cnf must hold a compressed point");
  try {
    return p256().Point.fromBytes(concat([[y ? 3 : 2], x])).toBytes(false);
  } catch {
    throw new VerifierError("cnf is not a P-256 point");
  }
}

/** A disclosure's bytes read: `[salt (16 bytes), value, field number]`. */
export function readDisclosure(bytes: Uint8Array): Disclosure {
  const d = strict(bytes, "a disclosure");
  if (!Array.isArray(d) || d.length !== 3 || !(d[0] instanceof Uint8Array) || d[0].length !== 16 || !isInt(d[2]) || d[2] > 0xffffffff) {
    throw new VerifierError("a disclosure is [16-byte salt, value, field number]");
  }
  const value = fieldsOf(new Map([[d[2], d[1]]])).get(d[2] as number) as Disclosure["value"];
  return { bytes, n: d[2] as number, value };
}

/** A presentation credential: a tagged COSE_Sign1 with its `sd_claims`; throws VerifierError. */
export function readCredential(item: CborValue): Credential {
  const arr = item instanceof Tagged && item.tag === 18 ? item.value : null;
  if (!Array.isArray(arr) || arr.length !== 4) throw new VerifierError("the credential is not a tagged COSE_Sign1");
  const [protectedBytes, unprotected, payload, signature] = arr;
  if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new VerifierError("the credential is not a tagged COSE_Sign1");
  }
  if (!(exactly(unprotected, []) || exactly(unprotected, [SD_CLAIMS]))) throw new VerifierError("the credential's unprotected header holds only sd_claims");
  const sd = unprotected.has(SD_CLAIMS) ? unprotected.get(SD_CLAIMS) : [];
  if (!Array.isArray(sd) || !sd.every((b) => b instanceof Uint8Array) || (unprotected.size && !sd.length)) throw new VerifierError("sd_claims");
  const header = strict(protectedBytes, "the credential's protected header");
  if (!exactly(header, [1, 4, TYP, SD_ALG]) || header.get(TYP) !== TYP_SD_CWT || header.get(SD_ALG) !== -16) {
    throw new VerifierError("the credential's protected header holds alg, kid, typ 293 and sd_alg -16");
  }
  const alg = header.get(1);
  const kid = header.get(4);
  if (alg !== -7 && alg !== -65600) throw new VerifierError("unknown alg");
  if (!(kid instanceof Uint8Array) || kid.length !== 8) throw new VerifierError("kid");
  const claims = strict(payload, "the credential's payload");
  if (!exactly(claims, [1, 4, 6, 7, CNF, PRIVATE])) throw new VerifierError("the credential holds iss, exp, iat, cti, cnf and the certificate map");
  const [iss, iat, exp, cti] = [claims.get(1), claims.get(6), claims.get(4), claims.get(7)];
  if (typeof iss !== "string" || !creditCodeOk(iss)) throw new VerifierError("iss");
  if (!isInt(iat) || !isInt(exp) || exp <= iat || exp - iat > CREDENTIAL_MAX_SECONDS) throw new VerifierError("credential times");
  if (!(cti instanceof Uint8Array) || cti.length !== 16) throw new VerifierError("cti");
  const p = claims.get(PRIVATE);
  if (!exactly(p, ["v", "p", "t", "l", "h", "hi", "d", "s", "c", REDACTED_KEYS]) || p.get("v") !== 2 || p.get("p") !== "k") {
    throw new VerifierError("unknown version or keys in the credential's map");
  }
  const [t, l, h, hi, d] = [p.get("t"), p.get("l"), p.get("h"), p.get("hi"), p.get("d")];
  if (typeof t !== "string" || !/^[a-z][a-z0-9_]{1,63}$/.test(t)) throw new VerifierError("type code");
  if (!Array.isArray(l) || l.length !== 2 || typeof l[0] !== "string" || !/^[0-9A-Z]{1,40}$/.test(l[0]) || !isInt(l[1]) || l[1] < 1 || l[1] > 999) {
    throw new VerifierError("licence");
  }
  if (typeof h !== "string" || typeof hi !== "string") throw new VerifierError("holder");
  if (!(d instanceof Uint8Array) || d.length !== 32) throw new VerifierError("digest");
  const listed = p.get(REDACTED_KEYS);
  if (!Array.isArray(listed) || !listed.every((x) => x instanceof Uint8Array && x.length === 32)) throw new VerifierError("redacted claim hashes");
  const hashes = (listed as Uint8Array[]).map(hex);
  if (hashes.some((x, i) => hashes.indexOf(x) !== i)) throw new VerifierError("redacted claim hashes must be distinct");
  return {
    protectedBytes, payload, signature, alg, kid: hex(kid), iss, iat, exp, cti, holderKey: holderKeyOf(claims.get(CNF)), typeCode: t,
    serial: l[0], version: l[1] as number, holderName: h, holderId: hi, status: slot(p.get("s")), credentialStatus: slot(p.get("c")),
    hashes, disclosures: (sd as Uint8Array[]).map((b) => {
      try {
        return readDisclosure(b);
      } catch {
        return { bytes: b, n: -1, value: null }; // unreadable: fails `disclosure`, as an altered one does
      }
    }),
  };
}

interface Presentation {
  credential: Credential;
  iat: number;
  cnonce: Uint8Array | null;
  toBeSigned: Uint8Array;
  signature: Uint8Array;
}

/** A `ZB2:` token's parts (not verified); throws VerifierError. */
export function decodePresentation(input: string): Presentation {
  const token = bareToken(input);
  if (token.indexOf("ZB2:") !== 0) throw new VerifierError("not a ZB2 token");
  let raw: Uint8Array;
  try {
    raw = base45Decode(token.slice(4));
  } catch {
    throw new VerifierError("not Base45");
  }
  if (raw.length < 7) throw new VerifierError("too short");
  const item = strict(decompress(raw), "the presentation");
  if (!(item instanceof Tagged) || item.tag !== 18 || !Array.isArray(item.value) || item.value.length !== 4) throw new VerifierError("not a tagged COSE_Sign1");
  const [protectedBytes, unprotected, payload, signature] = item.value;
  if (!(protectedBytes instanceof Uint8Array) || !exactly(unprotected, []) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new VerifierError("not a COSE_Sign1 with an empty unprotected header");
  }
  const header = strict(protectedBytes, "the key binding token's protected header");
  if (!exactly(header, [1, KCWT, TYP]) || header.get(1) !== -7 || header.get(TYP) !== TYP_KB_CWT) {
    throw new VerifierError("the key binding token's header holds alg ES256, kcwt and typ 294");
  }
  const claims = strict(payload, "the key binding token's payload");
  if (!(exactly(claims, [6]) || exactly(claims, [6, CNONCE]))) throw new VerifierError("the key binding token holds iat and at most cnonce");
  const iat = claims.get(6);
  const cnonce = claims.has(CNONCE) ? claims.get(CNONCE) : null;
  if (!isInt(iat)) throw new VerifierError("iat");
  if (cnonce !== null && (!(cnonce instanceof Uint8Array) || cnonce.length < 1 || cnonce.length > 64)) throw new VerifierError("cnonce must be 1 to 64 bytes");
  return { credential: readCredential(header.get(KCWT)), iat, cnonce, toBeSigned: sigStructure(protectedBytes, payload), signature };
}

/** Verifies a `ZB2:` presentation offline (called by verifyToken for a `ZB2:` token or its URL). */
export async function verifyZb2(token: string, trust: TrustList, lists: Map<number, StatusList>, options: VerifyOptions): Promise<Verdict> {
  const now = options.now as number;
  const leeway = options.leeway as number;
  const es256 = options.es256 || sharedEs256();
  const fresh = freshness(trust, now);
  const checks: Record<string, Check> = {};
  for (const n of ["format", "signature", "chain", "validity", "holder_binding", "presentation_fresh", "nonce", "disclosure", "status"]) checks[n] = "skipped";
  let pres: Presentation;
  try {
    pres = decodePresentation(token);
  } catch (err) {
    checks.format = "failed";
    return { valid: false, reasons: ["format"], checks, trust_list: fresh, detail: err instanceof Error ? err.message : String(err) };
  }
  checks.format = "ok";
  const c = pres.credential;
  const found = await findSeal(trust, { kid: c.kid, alg: c.alg, toBeSigned: sigStructure(c.protectedBytes, c.payload), signature: c.signature }, options.sm2 || sm2Verify, es256);
  if (!found.seal) {
    checks.signature = "failed";
    return { valid: false, reasons: [found.reason], checks, trust_list: fresh };
  }
  const seal = found.seal;
  checks.signature = "ok";
  const reasons = await sealReasons(seal, trust, "presenter", c.iat, null, fresh, es256);
  const ctype = trust.types.get(c.typeCode);
  if (!ctype) reasons.push("seal_type");
  checks.chain = reasons.length ? "failed" : "ok";
  if (reasons.length || !ctype) return { valid: false, reasons, checks, seal_kid: seal.kid, trust_list: fresh };

  const validity = c.iat > now + leeway ? ["not_yet_valid"] : [];
  if (now - leeway >= c.exp) validity.push("credential_expired");
  checks.validity = validity.length ? "failed" : "ok";
  if (!(await es256(c.holderKey, pres.toBeSigned, pres.signature))) {
    // Nothing the token says is the holder's: stop here, as the server does.
    checks.holder_binding = "failed";
    return { valid: false, reasons: validity.concat("holder_binding"), checks, seal_kid: seal.kid, trust_list: fresh };
  }
  checks.holder_binding = "ok";
  const seen: number[] = [];
  const disclosureOk = c.disclosures.every((d) => {
    const ok = d.n >= 0 && seen.indexOf(d.n) < 0 && c.hashes.indexOf(hex(sha256(d.bytes))) >= 0;
    seen.push(d.n);
    return ok;
  });
  const status = statusReasons(trust, lists, c.status, now).concat(statusReasons(trust, lists, c.credentialStatus, now));
  const steps: Array<[string, string[]]> = [
    ["validity", validity],
    ["presentation_fresh", pres.iat > now + leeway || now - leeway >= pres.iat + PRESENTATION_SECONDS ? ["presentation_expired"] : []],
  ];
  if (options.nonce) steps.push(["nonce", pres.cnonce && equalBytes(pres.cnonce, options.nonce) ? [] : ["nonce"]]);
  steps.push(["disclosure", disclosureOk ? [] : ["disclosure"]], ["status", status.filter((r, i) => status.indexOf(r) === i)]);
  for (const [name, found] of steps) {
    checks[name] = found.length ? "failed" : "ok";
    reasons.push(...found);
  }
  const fields: DisclosedField[] = disclosureOk
    ? c.disclosures.slice().sort((a, b) => a.n - b.n).map((d) => {
        const known = ctype.fields.filter((f) => f.n === d.n)[0];
        return { n: d.n, key: known ? known.key : null, label: known ? known.label : null, value: d.value };
      })
    : [];
  return {
    valid: reasons.length === 0,
    reasons,
    checks,
    certificate: {
      kind: "presentation", certificate_id: "", type_code: c.typeCode, type_name: ctype.name, gb_type_code: ctype.gbCode,
      licence_id: buildLicenceId(ctype.gbCode, c.iss, c.serial, c.version), holder_name: c.holderName, holder_id: c.holderId, fields,
      issuer_credit_code: c.iss, issuer_name: null, issued_at: iso(pres.iat), valid_until: null, status_ref: c.status,
      holder_bound: true,
    },
    seal_kid: seal.kid,
    trust_list: fresh,
  };
}
