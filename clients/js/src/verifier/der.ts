/** Just enough DER to read an X.509 certificate: the signed part, its key, validity, issuer and subject. */
export interface Der {
  tag: number;
  start: number; // of the whole element
  body: number; // of its contents
  end: number;
}

export function readDer(data: Uint8Array, pos: number): Der {
  const tag = data[pos];
  let len = data[pos + 1];
  let body = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + data[body + i];
    body += n;
  }
  const end = body + len;
  if (end > data.length) throw new Error("DER truncated");
  return { tag, start: pos, body, end };
}

export function children(data: Uint8Array, el: Der): Der[] {
  const out: Der[] = [];
  for (let p = el.body; p < el.end; ) {
    const c = readDer(data, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

function time(data: Uint8Array, el: Der): number {
  const s = String.fromCharCode.apply(null, Array.prototype.slice.call(data.subarray(el.body, el.end)) as number[]);
  const full = el.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? "19" : "20") + s : s; // UTCTime or GeneralizedTime
  return Date.UTC(+full.slice(0, 4), +full.slice(4, 6) - 1, +full.slice(6, 8), +full.slice(8, 10), +full.slice(10, 12), +full.slice(12, 14)) / 1000;
}

export interface Certificate {
  tbs: Uint8Array;
  signature: Uint8Array; // DER ECDSA signature
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  publicKey: Uint8Array; // the SEC1 point
  /** basicConstraints' cA (false when the extension leaves it out); null without the extension. */
  ca: boolean | null;
  /** keyUsage's bits (bit 0 digitalSignature = 0x80 of byte 0, keyCertSign = 0x04); null without it. */
  keyUsage: Uint8Array | null;
}

const BASIC_CONSTRAINTS = "551d13"; // 2.5.29.19
const KEY_USAGE = "551d0f"; // 2.5.29.15

function hexOf(data: Uint8Array, el: Der): string {
  let out = "";
  for (let i = el.body; i < el.end; i++) out += (data[i] + 0x100).toString(16).slice(1);
  return out;
}

/** basicConstraints and keyUsage from a TBSCertificate's `[3] Extensions`, where present. */
function extensions(der: Uint8Array, parts: Der[]): { ca: boolean | null; keyUsage: Uint8Array | null } {
  const out = { ca: null as boolean | null, keyUsage: null as Uint8Array | null };
  const tagged = parts.filter((p) => p.tag === 0xa3)[0];
  if (!tagged) return out;
  for (const ext of children(der, children(der, tagged)[0])) {
    const fields = children(der, ext);
    const value = fields[fields.length - 1]; // OCTET STRING after extnID and the optional critical flag
    const inner = readDer(der, value.body);
    const oid = hexOf(der, fields[0]);
    if (oid === BASIC_CONSTRAINTS) {
      const first = children(der, inner)[0];
      out.ca = !!first && first.tag === 0x01 && der[first.body] !== 0;
    } else if (oid === KEY_USAGE) {
      out.keyUsage = der.slice(inner.body + 1, inner.end); // BIT STRING: skip the unused-bits byte
    }
  }
  return out;
}

export function parseCertificate(der: Uint8Array): Certificate {
  const cert = readDer(der, 0);
  const [tbsEl, , sigEl] = children(der, cert);
  let parts = children(der, tbsEl);
  if (parts[0].tag === 0xa0) parts = parts.slice(1); // explicit version
  const [, , issuer, validity, subject, spki] = parts;
  const { ca, keyUsage } = extensions(der, parts.slice(6));
  const [nb, na] = children(der, validity);
  const [, keyBits] = children(der, spki);
  return {
    tbs: der.slice(tbsEl.start, tbsEl.end),
    signature: der.slice(sigEl.body + 1, sigEl.end), // BIT STRING: skip the unused-bits byte
    issuer: der.slice(issuer.start, issuer.end),
    subject: der.slice(subject.start, subject.end),
    notBefore: time(der, nb),
    notAfter: time(der, na),
    publicKey: der.slice(keyBits.body + 1, keyBits.end),
    ca,
    keyUsage,
  };
}
