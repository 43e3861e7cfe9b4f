/**
 * P-256 ECDSA on @noble/curves' building blocks: built here from the curve's constants, because
 * `@noble/curves/nist.js` also builds P-384 and P-521 at import, which no bundler can drop.
 */
import { ecdsa, weierstrassN } from "@noble/curves/abstract/weierstrass.js";
import { sha256 } from "@noble/hashes/sha2.js";

// The output is ES2017 (the mini-program base library), whose typings lack BigInt; the runtimes the
// SDK supports have it, as @noble/curves requires.
declare const BigInt: (value: number | string) => bigint;

let curve: ReturnType<typeof ecdsa> | null = null;

/** P-256 with SHA-256 (FIPS 186-5), high S accepted as WebCrypto does; made on first use. */
export function p256(): ReturnType<typeof ecdsa> {
  return (
    curve ||
    (curve = ecdsa(
      weierstrassN<bigint>({
        p: BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
        n: BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
        h: BigInt(1),
        a: BigInt("0xffffffff00000001000000000000000000000000fffffffffffffffffffffffc"),
        b: BigInt("0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
        Gx: BigInt("0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
        Gy: BigInt("0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
      }),
      sha256,
      { lowS: false },
    ))
  );
}
