/**
 * Offline verification of `ZB1:` tokens (FORMATS.md §Signed tokens, §Trust list, §Status lists):
 * the same checks, order and reason names as the server's `POST /v1/verify` (signature → seal active
 * at iat → chain → seal types → exp → status). Never throws for a bad token: a string that is not one
 * of ours is `valid: false, reasons: ["format"]`. Takes a bare token or the URL of its QR code.
 * A `ZB2:` token (a holder-bound presentation made on a device) is verified by ./zb2.ts.
 *
 * Claims are of format v2: fields keyed by their number in the trust list's type registry (shown
 * with its zh-CN labels), text values possibly GB 18030 bytes, and the licence identifier rebuilt
 * from the type's GB code, the issuer, the serial and the version.
 */
import { unzlibSync } from "fflate";
import { base45Decode, base64Decode, equalBytes, hex, utf8Encode } from "./base.js";
import { CborValue, Tagged, cborHead, concat, decodeCbor } from "./cbor.js";
import { buildLicenceId, creditCodeOk } from "./checks.js";
import { Certificate, parseCertificate } from "./der.js";
import { Es256Verify, defaultEs256, derToRaw } from "./es256.js";
import { decodeGb18030 } from "./gb18030.js";
import { Sm2Verify, sm2Verify } from "./sm2.js";
import { verifyZb2 } from "./zb2.js";

export const MAX_TOKEN_CHARS = 4500;
export const MAX_DECOMPRESSED = 64 * 1024;
export const LEEWAY_SECONDS = 60;
const PRIVATE = -65537;
const STATUS_SLOTS = 131072;

export interface SealEntry {
  kid: string;
  alg: string;
  role: string;
  status: string;
  creditCode: string;
  departmentName: string;
  validFrom: number;
  validUntil: number;
  cert: Certificate;
  types?: string[];
}

/** A field of a certificate type in the trust list's registry: its stable number and zh-CN label. */
export interface RegistryField {
  n: number;
  key: string;
  label: string;
  type: string;
}

/** A certificate type in the trust list's registry. */
export interface RegistryType {
  code: string;
  name: string;
  gbCode: string;
  holderKind: string;
  fields: RegistryField[];
}

export interface TrustList {
  iss: string;
  iat: number;
  nextUpdate: number;
  graceUntil: number;
  root: Certificate;
  seals: SealEntry[];
  statusLists: Map<number, string>;
  types: Map<string, RegistryType>;
}

export interface StatusList {
  url: string;
  iat: number;
  exp: number;
  bits: Uint8Array;
}

/** A disclosed field, named by the registry (`key` and `label` null for a number it does not know). */
export interface DisclosedField {
  n: number;
  key: string | null;
  label: string | null;
  value: string | number | boolean | null;
}

export interface Disclosed {
  kind: "certificate" | "presentation";
  certificate_id: string;
  type_code: string;
  type_name: string;
  gb_type_code: string;
  licence_id: string;
  holder_name: string;
  holder_id: string;
  fields: DisclosedField[];
  issuer_credit_code: string;
  issuer_name: string | null;
  issued_at: string;
  valid_until: string | null;
  status_ref: [number, number];
  /** `ZB2:` only: made on the holder's device and bound to its key. */
  holder_bound?: true;
}

export type Check = "ok" | "failed" | "skipped";

export interface Verdict {
  valid: boolean;
  reasons: string[];
  checks: Record<string, Check>;
  certificate?: Disclosed;
  seal_kid?: string;
  trust_list?: "fresh" | "stale" | "expired";
  detail?: string;
}

export class VerifierError extends Error {}

/** The `"f"` map: field numbers to text (GB 18030 byte strings read back), numbers, booleans or null. */
export function fieldsOf(f: Map<CborValue, CborValue>): Map<number, string | number | boolean | null> {
  const out = new Map<number, string | number | boolean | null>();
  f.forEach((v, k) => {
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > 0xffffffff) throw new VerifierError("field keys must be numbers");
    if (v instanceof Uint8Array) {
      try {
        out.set(k, decodeGb18030(v));
      } catch {
        throw new VerifierError("a field's bytes are not GB 18030");
      }
    } else if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.set(k, v);
    else throw new VerifierError("field values must be text, numbers, booleans or null");
  });
  return out;
}

// --- JWS (trust list, status lists) --------------------------------------------------------------

async function verifyJws(token: string, root: Certificate, typ: string, es256: Es256Verify): Promise<Record<string, unknown>> {
  const parts = token.split(".");
  if (parts.length !== 3 || token.length > 4 * 1024 * 1024) throw new VerifierError("not a compact JWS");
  const header = JSON.parse(new TextDecoder().decode(base64Decode(parts[0]))) as Record<string, unknown>;
  if (header.alg !== "ES256" || header.typ !== typ) throw new VerifierError(`header must say alg ES256 and typ ${typ}`);
  if (!(await es256(root.publicKey, utf8Encode(`${parts[0]}.${parts[1]}`), base64Decode(parts[2])))) throw new VerifierError("JWS signature");
  const payload = JSON.parse(new TextDecoder().decode(base64Decode(parts[1])));
  if (!payload || typeof payload !== "object") throw new VerifierError("JWS payload is not an object");
  return payload as Record<string, unknown>;
}

const int = (v: unknown): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new VerifierError("times and ids must be non-negative integers");
  return v;
};

/** Verifies `GET /v1/trust-list` against the pinned root certificate (DER). Throws VerifierError. */
export async function parseTrustList(jws: string, rootDer: Uint8Array, es256: Es256Verify = defaultEs256()): Promise<TrustList> {
  const root = parseCertificate(rootDer);
  const payload = await verifyJws(jws, root, "trust-list+jwt", es256);
  const seals: SealEntry[] = [];
  for (const item of (payload.seals as Array<Record<string, unknown>>) || []) {
    const department = item.department as { name: string; credit_code: string };
    seals.push({
      kid: String(item.kid), alg: String(item.alg), role: String(item.role), status: String(item.status),
      creditCode: department.credit_code, departmentName: department.name, validFrom: int(item.valid_from), validUntil: int(item.valid_until),
      cert: parseCertificate(base64Decode(String(item.cert))), types: item.types as string[] | undefined,
    });
  }
  const types = new Map<string, RegistryType>();
  for (const t of (payload.types as Array<Record<string, unknown>>) || []) {
    const fields = ((t.fields as Array<Record<string, unknown>>) || []).map((f) => ({ n: int(f.n), key: String(f.key), label: String(f.label), type: String(f.type) }));
    const gbCode = String(t.gb_code);
    if (!/^[0-9A-Z]{18}[0-9]{3}$/.test(gbCode) || !creditCodeOk(gbCode.slice(0, 18))) throw new VerifierError("a type's gb_code is not a credit code and 3 digits");
    types.set(String(t.code), { code: String(t.code), name: String(t.name), gbCode, holderKind: String(t.holder_kind), fields });
  }
  for (const seal of seals) {
    if (seal.types && (seal.role !== "issuer" || !seal.types.every((t) => types.has(t)))) throw new VerifierError("a seal names types it cannot have");
  }
  const statusLists = new Map<number, string>();
  for (const ref of (payload.status_lists as Array<Record<string, unknown>>) || []) {
    if (ref.bits !== 2) throw new VerifierError("status lists must have 2 bits");
    statusLists.set(int(ref.id), String(ref.url));
  }
  return { iss: String(payload.iss), iat: int(payload.iat), nextUpdate: int(payload.next_update), graceUntil: int(payload.grace_until), root, seals, statusLists, types };
}

/** Verifies a status-list JWT (signed by the root of `trust`). Throws VerifierError. */
export async function parseStatusList(jwt: string, trust: TrustList, es256: Es256Verify = defaultEs256()): Promise<StatusList> {
  const payload = await verifyJws(jwt, trust.root, "statuslist+jwt", es256);
  const sl = payload.status_list as { bits: number; lst: string };
  if (!sl || sl.bits !== 2 || typeof payload.sub !== "string") throw new VerifierError("status list needs sub and bits 2");
  const bits = unzlibSync(base64Decode(sl.lst));
  if (bits.length > STATUS_SLOTS / 4) throw new VerifierError("lst is larger than one list");
  return { url: payload.sub, iat: int(payload.iat), exp: int(payload.exp), bits };
}

export function freshness(trust: TrustList, now: number): "fresh" | "stale" | "expired" {
  return now < trust.nextUpdate ? "fresh" : now < trust.graceUntil ? "stale" : "expired";
}

// --- token decoding --------------------------------------------------------------------------------

interface Decoded {
  alg: number;
  kid: string;
  toBeSigned: Uint8Array;
  signature: Uint8Array;
  claims: Claims;
}

interface Claims {
  kind: "c" | "p";
  iss: string;
  iat: number;
  exp: number | null;
  nbf: number | null;
  cti: Uint8Array;
  typeCode: string;
  serial: string;
  version: number;
  holderName: string;
  holderId: string;
  fields: Map<number, string | number | boolean | null>;
  status: [number, number];
}

export function bstr(b: Uint8Array): Uint8Array {
  return concat([cborHead(2, b.length), b]);
}

function inflate(data: Uint8Array): Uint8Array {
  const out = unzlibSync(data);
  if (out.length > MAX_DECOMPRESSED) throw new VerifierError("decompresses past 64 KiB");
  let a = 1;
  let b = 0;
  for (let i = 0; i < out.length; i++) {
    a = (a + out[i]) % 65521;
    b = (b + a) % 65521;
  }
  const n = data.length;
  const adler = ((data[n - 4] << 24) | (data[n - 3] << 16) | (data[n - 2] << 8) | data[n - 1]) >>> 0;
  if (adler !== ((b << 16) | a) >>> 0) throw new VerifierError("Adler-32 mismatch");
  return out;
}

export function decompress(data: Uint8Array): Uint8Array {
  const out = inflate(data);
  // As the server: a set padding bit after the last deflate block would be a second spelling.
  const last = data.length - 5;
  for (let bit = 0; bit < 8; bit++) {
    if (last >= 2 && (data[last] >> bit) & 1) {
      const flipped = data.slice();
      flipped[last] ^= 1 << bit;
      let same = false;
      try {
        same = equalBytes(inflate(flipped), out);
      } catch {
        same = false;
      }
      if (same) throw new VerifierError("non-zero padding after the last deflate block");
    }
  }
  return out;
}

export const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 253402300799;

function claimsOf(payload: Uint8Array): Claims {
  const data = decodeCbor(payload);
  if (!(data instanceof Map)) throw new VerifierError("payload is not a map");
  const keys = Array.from(data.keys());
  for (const k of [1, 6, 7, PRIVATE]) if (!data.has(k)) throw new VerifierError("payload must hold iss, iat, cti and the certificate map");
  for (const k of keys) if ([1, 4, 5, 6, 7, PRIVATE].indexOf(k as number) < 0) throw new VerifierError("unknown claim");
  const p = data.get(PRIVATE);
  if (!(p instanceof Map) || p.get("v") !== 2) throw new VerifierError("unknown version");
  for (const k of Array.from(p.keys())) if (["v", "p", "t", "l", "h", "hi", "f", "s", "d", "n"].indexOf(k as string) < 0) throw new VerifierError("unknown key");
  const kind = p.get("p");
  const iss = data.get(1);
  const iat = data.get(6);
  const exp = data.has(4) ? data.get(4) : null;
  const nbf = data.has(5) ? data.get(5) : null;
  const cti = data.get(7);
  const typeCode = p.get("t");
  const l = p.get("l");
  const s = p.get("s");
  const d = p.get("d");
  const n = p.has("n") ? p.get("n") : null;
  if (kind !== "c" && kind !== "p") throw new VerifierError("kind");
  if (typeof iss !== "string" || !creditCodeOk(iss)) throw new VerifierError("iss");
  if (!isInt(iat) || (exp !== null && !isInt(exp)) || (nbf !== null && !isInt(nbf))) throw new VerifierError("times");
  if (exp !== null && (exp as number) <= iat) throw new VerifierError("exp must be after iat");
  if (!(cti instanceof Uint8Array) || cti.length !== 16) throw new VerifierError("cti");
  if (typeof typeCode !== "string" || !/^[a-z][a-z0-9_]{1,63}$/.test(typeCode)) throw new VerifierError("type code");
  if (!Array.isArray(l) || l.length !== 2 || typeof l[0] !== "string" || !/^[0-9A-Z]{1,40}$/.test(l[0])) throw new VerifierError("licence serial");
  if (typeof l[1] !== "number" || !Number.isInteger(l[1]) || l[1] < 1 || l[1] > 999) throw new VerifierError("licence version");
  if (typeof p.get("h") !== "string" || typeof p.get("hi") !== "string") throw new VerifierError("holder");
  const f = p.get("f");
  if (!(f instanceof Map)) throw new VerifierError("fields");
  const fields = fieldsOf(f);
  if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0) || (s[1] as number) >= STATUS_SLOTS) throw new VerifierError("status");
  if (!(d instanceof Uint8Array) || d.length !== 32) throw new VerifierError("digest");
  if (kind === "p") {
    if (!(n instanceof Uint8Array) || n.length !== 16) throw new VerifierError("nonce");
    if (exp === null) throw new VerifierError("a presentation needs exp");
  } else if (n !== null) throw new VerifierError("only presentations carry a nonce");
  return {
    kind, iss, iat, exp: exp as number | null, nbf: nbf as number | null, cti, typeCode, serial: l[0], version: l[1],
    holderName: p.get("h") as string, holderId: p.get("hi") as string, fields, status: [s[0] as number, s[1] as number],
  };
}

/** The token a QR code holds: a bare token, or its URL QR_BASE + "/V/" + the token with space, % and / escaped. */
export function bareToken(input: string): string {
  let token = input;
  const url = typeof token === "string" && !/^ZB[12]:/.test(token) ? /\/[Vv]\/([^/]+)$/.exec(token) : null;
  if (url) {
    try {
      token = decodeURIComponent(url[1]);
    } catch {
      throw new VerifierError("not a token's URL");
    }
  }
  if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS) throw new VerifierError("too long");
  return token;
}

/** A token's parts (not verified); throws VerifierError. Accepts a bare token or a `/V/` QR URL. */
export function decodeToken(input: string): Decoded {
  const token = bareToken(input);
  if (token.indexOf("ZB1:") !== 0 || token.indexOf("\n") >= 0) throw new VerifierError("not a ZB1 token");
  let raw: Uint8Array;
  try {
    raw = base45Decode(token.slice(4));
  } catch {
    throw new VerifierError("not Base45");
  }
  if (raw.length < 7) throw new VerifierError("too short");
  const data = decompress(raw);
  const item = decodeCbor(data);
  if (!(item instanceof Tagged) || item.tag !== 18 || !Array.isArray(item.value) || item.value.length !== 4) throw new VerifierError("not a COSE_Sign1");
  const [protectedBytes, unprotected, payload, signature] = item.value;
  if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map) || unprotected.size || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new VerifierError("not a COSE_Sign1 with an empty unprotected header");
  }
  const canonical = concat([cborHead(6, 18), [0x84], bstr(protectedBytes), [0xa0], bstr(payload), bstr(signature)]);
  if (!equalBytes(canonical, data)) throw new VerifierError("not canonical");
  const header = decodeCbor(protectedBytes);
  if (!(header instanceof Map) || header.size !== 2 || !header.has(1) || !header.has(4)) throw new VerifierError("protected header must hold exactly alg and kid");
  const alg = header.get(1);
  const kid = header.get(4);
  if (alg !== -7 && alg !== -65600) throw new VerifierError("unknown alg");
  if (!(kid instanceof Uint8Array) || kid.length !== 8) throw new VerifierError("kid");
  const toBeSigned = concat([[0x84, 0x6a], utf8Encode("Signature1"), bstr(protectedBytes), [0x40], bstr(payload)]);
  return { alg, kid: hex(kid), toBeSigned, signature, claims: claimsOf(payload) };
}

// --- verification ----------------------------------------------------------------------------------

export const ALG_NAME: Record<number, string> = { [-7]: "ES256", [-65600]: "SM2" };

/** Whether a seal certificate was signed by the root: checked once per seal and verifier. */
const issuedByRoot = new WeakMap<SealEntry, WeakMap<Es256Verify, Promise<boolean>>>();

function signedByRoot(seal: SealEntry, root: Certificate, es256: Es256Verify): Promise<boolean> {
  let byVerifier = issuedByRoot.get(seal);
  if (!byVerifier) issuedByRoot.set(seal, (byVerifier = new WeakMap()));
  let answer = byVerifier.get(es256);
  if (!answer) {
    answer = (async () => {
      if (!equalBytes(seal.cert.issuer, root.subject)) return false;
      try {
        return await es256(root.publicKey, seal.cert.tbs, derToRaw(seal.cert.signature));
      } catch {
        return false;
      }
    })();
    byVerifier.set(es256, answer);
  }
  return answer;
}

/** Whether the root is its own issuer (a CA certificate issued by another, a seal made a CA, is no root). */
const selfSigned = new WeakMap<Certificate, WeakMap<Es256Verify, Promise<boolean>>>();

function rootSelfSigned(root: Certificate, es256: Es256Verify): Promise<boolean> {
  let byVerifier = selfSigned.get(root);
  if (!byVerifier) selfSigned.set(root, (byVerifier = new WeakMap()));
  let answer = byVerifier.get(es256);
  if (!answer) {
    answer = equalBytes(root.issuer, root.subject) ? es256(root.publicKey, root.tbs, derToRaw(root.signature)).catch(() => false) : Promise.resolve(false);
    byVerifier.set(es256, answer);
  }
  return answer;
}

/**
 * The server's chain check (esign/x509.py `chain_problem`): the root a CA (basicConstraints cA) whose
 * key may sign certificates (keyUsage keyCertSign, where it says) and is its own issuer; the seal no
 * CA, its key one that signs (keyUsage digitalSignature), issued by the root; both valid at `at`.
 */
export async function chainOk(seal: SealEntry, root: Certificate, at: number, es256: Es256Verify): Promise<boolean> {
  const cert = seal.cert;
  if (root.ca !== true || cert.ca !== false) return false;
  if (!cert.keyUsage || !(cert.keyUsage[0] & 0x80)) return false;
  if (root.keyUsage && !(root.keyUsage[0] & 0x04)) return false;
  if (!(await signedByRoot(seal, root, es256)) || !(await rootSelfSigned(root, es256))) return false;
  return root.notBefore <= at && at <= root.notAfter && cert.notBefore <= at && at <= cert.notAfter;
}

export function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

let shared: Es256Verify | null = null;
export function sharedEs256(): Es256Verify {
  return shared || (shared = defaultEs256()); // one key cache for every call
}

/** What the status lists say of a status slot: [] (valid), or revoked, suspended, status_unavailable. */
export function statusReasons(trust: TrustList, lists: Map<number, StatusList>, ref: [number, number], now: number): string[] {
  const url = trust.statusLists.get(ref[0]);
  const list = lists.get(ref[0]);
  if (url === undefined || !list || list.url !== url || now >= list.exp || ref[1] >= list.bits.length * 4) return ["status_unavailable"];
  const value = (list.bits[ref[1] >> 2] >> (2 * (ref[1] & 3))) & 3;
  return value === 0 ? [] : [value === 1 ? "revoked" : value === 2 ? "suspended" : "status_unavailable"];
}

export interface VerifyOptions {
  /** Unix seconds; default the device's clock. */
  now?: number;
  leeway?: number;
  es256?: Es256Verify;
  /** SM2 seals' check (default: ./sm2.js, on @noble/curves). */
  sm2?: Sm2Verify;
  /** The 16 bytes this verifier showed as a nonce QR before scanning a `ZB2:` presentation. */
  nonce?: Uint8Array;
}

/** The trust list's seal whose key made `signature` (kids may collide: each candidate is tried). */
export async function findSeal(trust: TrustList, d: { kid: string; alg: number; toBeSigned: Uint8Array; signature: Uint8Array }, sm2: Sm2Verify, es256: Es256Verify): Promise<{ seal: SealEntry | null; reason: string }> {
  const candidates = trust.seals.filter((s) => s.kid === d.kid && s.alg === ALG_NAME[d.alg]);
  for (const s of candidates) {
    if (await (s.alg === "SM2" ? sm2 : es256)(s.cert.publicKey, d.toBeSigned, d.signature)) return { seal: s, reason: "" };
  }
  return { seal: null, reason: candidates.length ? "signature" : "unknown_seal" };
}

/** The seal's standing when it signed at `iat`: trust list, revocation, validity, role and chain, in the server's order. */
export async function sealReasons(seal: SealEntry, trust: TrustList, role: string, iat: number, iss: string | null, fresh: string, es256: Es256Verify): Promise<string[]> {
  const reasons: string[] = [];
  if (fresh === "expired") reasons.push("trust_list_expired");
  if (seal.status !== "active") reasons.push("seal_revoked");
  if (!(seal.validFrom <= iat && iat <= seal.validUntil)) reasons.push("seal_not_active");
  if (seal.role !== role) reasons.push("seal_role");
  if (iss !== null && iss !== seal.creditCode) reasons.push("issuer_mismatch");
  if (!(await chainOk(seal, trust.root, iat, es256))) reasons.push("chain");
  return reasons;
}

/** Verifies one token offline against a verified trust list and status lists (by id). */
export async function verifyToken(token: string, trust: TrustList, lists: Map<number, StatusList>, options: VerifyOptions = {}): Promise<Verdict> {
  const now = options.now === undefined ? Date.now() / 1000 : options.now;
  const leeway = options.leeway === undefined ? LEEWAY_SECONDS : options.leeway;
  const es256 = options.es256 || sharedEs256();
  const fresh = freshness(trust, now);
  if (typeof token === "string" && /^ZB2:|\/ZB2:[^/]*$/.test(token)) return verifyZb2(token, trust, lists, { ...options, now, leeway, es256 });
  const names = ["format", "signature", "chain", "validity", "status"];
  const checks: Record<string, Check> = {};
  let decoded: Decoded;
  try {
    decoded = decodeToken(token);
  } catch (err) {
    for (const n of names) checks[n] = "skipped";
    checks.format = "failed";
    return { valid: false, reasons: ["format"], checks, trust_list: fresh, detail: err instanceof Error ? err.message : String(err) };
  }
  const c = decoded.claims;
  for (const n of names) checks[n] = "skipped";
  if (c.kind === "p") checks.presentation_fresh = "skipped";
  checks.format = "ok";
  const found = await findSeal(trust, decoded, options.sm2 || sm2Verify, es256);
  if (!found.seal) {
    checks.signature = "failed";
    return { valid: false, reasons: [found.reason], checks, trust_list: fresh };
  }
  const seal = found.seal;
  checks.signature = "ok";
  const reasons = await sealReasons(seal, trust, c.kind === "c" ? "issuer" : "presenter", c.iat, c.kind === "c" ? c.iss : null, fresh, es256);
  const ctype = trust.types.get(c.typeCode);
  if (!ctype || (seal.types && seal.types.indexOf(c.typeCode) < 0)) reasons.push("seal_type");
  checks.chain = reasons.length ? "failed" : "ok";
  if (reasons.length || !ctype) return { valid: false, reasons, checks, seal_kid: seal.kid, trust_list: fresh };

  const validity: string[] = [];
  if (c.iat > now + leeway || (c.nbf !== null && c.nbf > now + leeway)) validity.push("not_yet_valid");
  if (c.kind === "c" && c.exp !== null && now - leeway >= c.exp) validity.push("expired");
  const status = statusReasons(trust, lists, c.status, now);
  const steps: Array<[string, string[]]> = [["validity", validity], ["status", status]];
  if (c.kind === "p") {
    const freshness: string[] = [];
    if (c.exp === null || c.exp - c.iat > 300) freshness.push("presentation_lifetime");
    if (c.exp !== null && now - leeway >= c.exp) freshness.push("presentation_expired");
    steps.push(["presentation_fresh", freshness]);
  }
  for (const [name, found] of steps) {
    checks[name] = found.length ? "failed" : "ok";
    reasons.push(...found);
  }
  return {
    valid: reasons.length === 0,
    reasons,
    checks,
    certificate: {
      kind: c.kind === "c" ? "certificate" : "presentation",
      certificate_id: hex(c.cti),
      type_code: c.typeCode,
      type_name: ctype.name,
      gb_type_code: ctype.gbCode,
      licence_id: buildLicenceId(ctype.gbCode, c.iss, c.serial, c.version),
      holder_name: c.holderName,
      holder_id: c.holderId,
      fields: Array.from(c.fields.keys()).sort((a, b) => a - b).map((n) => {
        const known = ctype.fields.filter((f) => f.n === n)[0];
        return { n, key: known ? known.key : null, label: known ? known.label : null, value: c.fields.get(n) as DisclosedField["value"] };
      }),
      issuer_credit_code: c.iss,
      issuer_name: c.kind === "c" ? seal.departmentName : null,
      issued_at: iso(c.iat),
      valid_until: c.kind === "c" && c.exp !== null ? iso(c.exp) : null,
      status_ref: c.status,
    },
    seal_kid: seal.kid,
    trust_list: fresh,
  };
}

/** The raw signature check alone (the benchmark's baseline): decode and verify against the seal of its kid. */
export async function verifySignatureOnly(token: string, trust: TrustList, es256: Es256Verify): Promise<boolean> {
  const d = decodeToken(token);
  const seal = trust.seals.filter((s) => s.kid === d.kid)[0];
  return !!seal && es256(seal.cert.publicKey, d.toBeSigned, d.signature);
}
