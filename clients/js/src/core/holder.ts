/**
 * The holder's side of `ZB2:` (FORMATS.md §Holder-bound presentations): a key of this device, its
 * registration with the server after a recent L3 proof, and presentations made offline from the
 * presentation credential the server issued to this device, disclosing only the fields chosen.
 * Platform-neutral: the key comes from an adapter (WebCrypto on the web, @noble/curves in mini-programs).
 */
import { base45Encode, base64Decode, base64urlEncode, equalBytes } from "../verifier/base.js";
import { CborValue, Tagged, concat, decodeCanonical, encodeCbor } from "../verifier/cbor.js";
import { Credential, readCredential, sigStructure } from "../verifier/zb2.js";
import type { components } from "../generated/openapi.js";
import type { HttpCore } from "./http.js";
import { ProblemError } from "./problem.js";

/** A signing key of this device (P-256). */
export interface DeviceKey {
  /** The public key, an uncompressed SEC1 point (65 bytes). */
  publicKey: Uint8Array;
  /** true: the private key cannot be read out (WebCrypto, non-extractable); false: it is kept as bytes (mini-programs). */
  nonExtractable: boolean;
  /** ES256 signature of `data` (SHA-256 inside), raw r‖s (64 bytes). */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Where a platform keeps this device's key. */
export interface DeviceKeyStore {
  /** The key made earlier on this device, or null. */
  load(): Promise<DeviceKey | null>;
  /** Makes a new key, replacing any earlier one. */
  create(): Promise<DeviceKey>;
  /** Forgets the key (after the device was revoked). */
  remove(): Promise<void>;
}

function problem(type: string, title: string, detail?: string): ProblemError {
  return new ProblemError({ type, title, status: 400, detail });
}

/** The COSE_Key of a P-256 public key (EC2, compressed: x and the sign of y), as `cnf` carries it. */
export function coseKey(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 65 || publicKey[0] !== 4) throw problem("device_key_invalid", "The device key is not an uncompressed P-256 point");
  return encodeCbor(new Map<CborValue, CborValue>([[1, 2], [-1, 1], [-2, publicKey.slice(1, 33)], [-3, (publicKey[64] & 1) === 1]]));
}

/** The device key in the registration's form: the compressed point, base64url. */
export function compressedKey(publicKey: Uint8Array): string {
  return base64urlEncode(concat([[2 | (publicKey[64] & 1)], publicKey.slice(1, 33)]));
}

/**
 * A presentation credential as the server delivers it: base64url (or the bytes) of its COSE_Sign1
 * with every field's disclosure in `sd_claims`. Throws ProblemError `credential_invalid`.
 */
export function readHeldCredential(input: string | Uint8Array): Credential {
  try {
    return readCredential(decodeCanonical(typeof input === "string" ? base64Decode(input) : input));
  } catch (err) {
    throw problem("credential_invalid", "The presentation credential cannot be read", err instanceof Error ? err.message : String(err));
  }
}

export interface PresentOptions {
  /** Field numbers (the trust list's registry `n`) to disclose; the others stay hidden. */
  fields: number[];
  /** The 16-byte nonce a verifier showed first, when it did. */
  nonce?: Uint8Array;
  /** Unix seconds; default the device's clock. */
  now?: number;
}

/**
 * A `ZB2:` presentation, made offline: the credential with only the chosen disclosures, in the
 * protected header (`kcwt`) of a key binding token signed by the device's key.
 */
export async function makePresentation(credential: Credential, key: DeviceKey, options: PresentOptions): Promise<string> {
  if (!equalBytes(key.publicKey, credential.holderKey)) throw problem("credential_other_device", "The presentation credential belongs to another device key");
  const now = Math.floor(options.now === undefined ? Date.now() / 1000 : options.now);
  if (now >= credential.exp) throw problem("credential_expired", "The presentation credential expired: sync to get a new one");
  const chosen = credential.disclosures.filter((d) => options.fields.indexOf(d.n) >= 0);
  if (chosen.length !== options.fields.length) throw problem("field_unknown", "A chosen field is not in the credential");
  // The credential as issued, with only the chosen disclosures (SD-CWT omits an empty sd_claims).
  const unprotected = new Map<CborValue, CborValue>(chosen.length ? [[17, chosen.map((d) => d.bytes)]] : []);
  const kcwt = new Tagged(18, [credential.protectedBytes, unprotected, credential.payload, credential.signature]);
  const protectedBytes = encodeCbor(new Map<CborValue, CborValue>([[1, -7], [13, kcwt], [16, 294]]));
  const claims = new Map<CborValue, CborValue>([[6, now]]);
  if (options.nonce) claims.set(39, options.nonce);
  const payload = encodeCbor(claims);
  const signature = await key.sign(sigStructure(protectedBytes, payload));
  const token = encodeCbor(new Tagged(18, [protectedBytes, new Map(), payload, signature]));
  return `ZB2:${base45Encode(zlibStored(token))}`;
}

/**
 * A zlib stream (RFC 1950) of stored deflate blocks. A presentation is keys, hashes, salts and
 * signatures, which do not compress (zlib at level 9 makes it 11 bytes longer, as this does), and a
 * compressor would weigh more in a mini-program's bundle than all of `ZB2:` making.
 */
export function zlibStored(data: Uint8Array): Uint8Array {
  const parts: number[][] = [[0x78, 0x01]];
  for (let at = 0; at < data.length; at += 65535) {
    const n = Math.min(65535, data.length - at);
    parts.push([at + n >= data.length ? 1 : 0, n & 255, n >> 8, ~n & 255, (~n >> 8) & 255], Array.prototype.slice.call(data, at, at + n));
  }
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + data[i]) % 65521;
    b = (b + a) % 65521;
  }
  parts.push([b >> 8, b & 255, a >> 8, a & 255]);
  return concat(parts);
}

/** A device of the holder as the server lists it (`GET /v1/devices`). */
export type Device = components["schemas"]["Device"];

/** What sync delivers for each certificate and device (entity `device_credential`). */
export const CREDENTIAL_ENTITY = "device_credential";

/** Reads the synced records that matter here; `client.sync` is one. */
export interface SyncedRecords {
  list(entity: string): Record<string, unknown>[];
}

/**
 * This device's key and its registration: `register` after a recent L3 proof (the server answers 403
 * `assurance_required` otherwise), the holder's devices listed, one revoked (its credentials too).
 * The presentation credentials then come by sync, one per certificate and device.
 */
export class DeviceKeys {
  private readonly http: HttpCore;
  private readonly store: DeviceKeyStore;

  constructor(http: HttpCore, store: DeviceKeyStore) {
    this.http = http;
    this.store = store;
  }

  /** This device's key, made on first use. */
  async key(): Promise<DeviceKey> {
    return (await this.store.load()) || this.store.create();
  }

  /** Registers this device's key (making it first when there is none) under the holder's name for the device. */
  async register(label: string): Promise<Device> {
    const key = await this.key();
    const body = { label, public_key: compressedKey(key.publicKey), key_storage: key.nonExtractable ? "non_extractable" : "extractable" };
    return (await this.http.call<Device>("POST", "/v1/devices", { body })).data;
  }

  /** The holder's devices, revoked ones included; `this_device` marks the one holding this key. */
  async list(): Promise<Array<Device & { this_device: boolean }>> {
    const key = await this.store.load();
    const mine = key ? compressedKey(key.publicKey) : null;
    return (await this.http.call<{ items: Device[] }>("GET", "/v1/devices")).data.items.map((d) => ({ ...d, this_device: d.public_key === mine }));
  }

  /** Revokes a device (this one or a lost one): its credentials are revoked through their status slots. */
  async revoke(deviceId: string): Promise<Device> {
    return (await this.http.call<Device>("DELETE", `/v1/devices/${encodeURIComponent(deviceId)}`)).data;
  }

  /** Forgets this device's key (after revoking it); the next `register` makes a new one. */
  forget(): Promise<void> {
    return this.store.remove();
  }

  /**
   * The synced presentation credential of a wallet item for this device's key, unexpired at `now`
   * (unix seconds), or null: then register the device, or sync, first.
   */
  async credentialFor(records: SyncedRecords, walletItemId: string, now: number = Date.now() / 1000): Promise<Credential | null> {
    const key = await this.store.load();
    if (!key) return null;
    for (const rec of records.list(CREDENTIAL_ENTITY)) {
      if (rec.wallet_item_id !== walletItemId || typeof rec.credential !== "string") continue;
      try {
        const c = readHeldCredential(rec.credential);
        if (equalBytes(c.holderKey, key.publicKey) && now < c.exp) return c;
      } catch {
        // another release's credential: skipped
      }
    }
    return null;
  }
}
