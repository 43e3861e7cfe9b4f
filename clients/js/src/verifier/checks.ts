/** GB 32100 credit codes and GB/T 36904-style licence identifiers (FORMATS.md §Identifiers). */
const CREDIT = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function creditCodeOk(code: string): boolean {
  if (typeof code !== "string" || code.length !== 18 || !/^[0-9A-Z]{2}[0-9]{6}/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = CREDIT.indexOf(code[i]);
    if (v < 0) return false;
    sum += v * CREDIT_WEIGHTS[i];
  }
  const check = (31 - (sum % 31)) % 31;
  return CREDIT[check] === code[17];
}

const ALPHA = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const LICENCE_PREFIX = "1.2.156.3005.2.";

/** ISO/IEC 7064 MOD 37,36 (hybrid) check character. */
export function checkChar(text: string): string {
  let state = 18; // as the server: the run starts at 18
  for (const ch of text) state = (((state || 36) * 2) % 37 + ALPHA.indexOf(ch)) % 36;
  return ALPHA[(((1 - ((state || 36) * 2) % 37) % 36) + 36) % 36];
}

export interface LicenceId {
  typeCode: string;
  issuerCode: string;
  serial: string;
  version: string;
}

export function parseLicenceId(value: string): LicenceId | null {
  if (typeof value !== "string" || value.indexOf(LICENCE_PREFIX) !== 0) return null;
  const parts = value.slice(LICENCE_PREFIX.length).split(".");
  if (parts.length !== 5) return null;
  const [typeCode, issuerCode, serial, version, check] = parts;
  if (!/^[0-9A-Z]{18}[0-9]{3}$/.test(typeCode) || !creditCodeOk(typeCode.slice(0, 18)) || !creditCodeOk(issuerCode)) return null;
  if (!/^[0-9A-Z]{1,40}$/.test(serial) || !/^[0-9]{3}$/.test(version)) return null;
  if (checkChar(typeCode + issuerCode + serial + version) !== check) return null;
  return { typeCode, issuerCode, serial, version };
}

export function buildLicenceId(typeCode: string, issuerCode: string, serial: string, version: number): string {
  const v = (version + 1000).toString().slice(1);
  return `${LICENCE_PREFIX}${typeCode}.${issuerCode}.${serial}.${v}.${checkChar(typeCode + issuerCode + serial + v)}`;
}
