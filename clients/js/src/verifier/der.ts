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
}

export function parseCertificate(der: Uint8Array): Certificate {
  const cert = readDer(der, 0);
  const [tbsEl, , sigEl] = children(der, cert);
  let parts = children(der, tbsEl);
  if (parts[0].tag === 0xa0) parts = parts.slice(1); // explicit version
  const [, , issuer, validity, subject, spki] = parts;
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
  };
}
